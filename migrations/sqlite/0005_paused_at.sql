-- While a supplement is awaited the clock stands still: lateness is judged at the pause.
ALTER TABLE public_status ADD COLUMN paused_at TEXT;
ALTER TABLE dossier_list ADD COLUMN paused_at TEXT;
ALTER TABLE desk_queue ADD COLUMN paused_at TEXT;
