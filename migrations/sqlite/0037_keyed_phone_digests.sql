-- Issue 17, item 7: the phone digests in desk_queue and review_dossier were unkeyed
-- (sha256("hoso-phone:" + phone), reversed by trying every number). They become HMAC digests
-- with a key kept outside the database (projections/phone_digest.py), which SQL cannot
-- compute: the two read models are emptied with their tracking positions, so that the next
-- process following the log (hoso serve, hoso project) or `hoso rebuild` builds them again
-- from the events, keyed. No unkeyed digest is left behind in the meantime.
DELETE FROM desk_queue;
-- The library's own row ('__migration__': its tracking table's format) stays.
DELETE FROM desk_queue_tracking WHERE application_name <> '__migration__';
DELETE FROM review_event;
DELETE FROM review_step;
DELETE FROM review_pause;
DELETE FROM review_dossier;
DELETE FROM review_tracking WHERE application_name <> '__migration__';
