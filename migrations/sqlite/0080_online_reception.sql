-- Issue 16: how long the counter takes to answer an online submission. When it received it
-- (AcceptedOnline) or refused to receive it (RefusedToReceive), and which; received_at is the
-- citizen's submission. Filled from the events by the review projection (hoso rebuild fills
-- them for dossiers answered before this migration).
ALTER TABLE review_dossier ADD COLUMN reception_decided_at TEXT;
ALTER TABLE review_dossier ADD COLUMN reception_decision TEXT;
