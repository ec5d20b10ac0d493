-- Supplements, extensions, refusals and withdrawals.
ALTER TABLE public_status ADD COLUMN paused_from_stage text;
ALTER TABLE public_status ADD COLUMN extensions integer NOT NULL DEFAULT 0;
ALTER TABLE public_status ADD COLUMN citizen_notice text;
ALTER TABLE public_status ADD COLUMN due_date_basis text;
ALTER TABLE dossier_list ADD COLUMN paused_from_stage text;
ALTER TABLE dossier_list ADD COLUMN extensions integer NOT NULL DEFAULT 0;
