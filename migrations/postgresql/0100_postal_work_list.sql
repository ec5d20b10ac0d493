-- Issue 23: the post office's own work list (/post). For each dossier the post holds: when
-- its current postal leg began (asked to collect, collected, sent out, the last failed
-- attempt, the citizen's new choice), the failed attempts so far, whether the citizen chose
-- the counter instead, and the postal tracking number. The queue is emptied with its tracking
-- position, as in 0037, so that the next process following the log (hoso serve, hoso
-- project) or `hoso rebuild` builds it again from the events with these columns filled.
ALTER TABLE desk_queue ADD COLUMN postal_since TIMESTAMPTZ;
ALTER TABLE desk_queue ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE desk_queue ADD COLUMN counter_chosen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE desk_queue ADD COLUMN postal_tracking_number TEXT;
CREATE INDEX desk_queue_postal ON desk_queue (holder_unit, stage, postal_since);
DELETE FROM desk_queue;
-- The library's own row ('__migration__': its tracking table's format) stays.
DELETE FROM desk_queue_tracking WHERE application_name <> '__migration__';
