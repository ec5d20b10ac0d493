-- Issue 19: the fee schedule a dossier was received under, shown on the citizen's page
-- (a published schedule: no personal data).
ALTER TABLE public_status ADD COLUMN fee_schedule TEXT;
