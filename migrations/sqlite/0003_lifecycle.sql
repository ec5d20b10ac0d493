-- Supplements, extensions, refusals and withdrawals.
ALTER TABLE public_status ADD COLUMN paused_from_stage TEXT;
ALTER TABLE public_status ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE public_status ADD COLUMN citizen_notice TEXT;
ALTER TABLE public_status ADD COLUMN due_date_basis TEXT;
ALTER TABLE dossier_list ADD COLUMN paused_from_stage TEXT;
ALTER TABLE dossier_list ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
