-- The transparency log: one canonical entry per dossier event, in global order (see
-- docs/transparency-log.md). Append-only: a rebuild never empties it, and the triggers refuse
-- any change to what was written.
CREATE TABLE log_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    salt TEXT NOT NULL
);
CREATE TRIGGER log_settings_no_update BEFORE UPDATE ON log_settings
BEGIN SELECT RAISE(ABORT, 'log_settings is append-only'); END;
CREATE TRIGGER log_settings_no_delete BEFORE DELETE ON log_settings
BEGIN SELECT RAISE(ABORT, 'log_settings is append-only'); END;

CREATE TABLE log_entry (
    position INTEGER PRIMARY KEY,
    dossier_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    entry TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    UNIQUE (dossier_id, version)
);
CREATE TRIGGER log_entry_no_update BEFORE UPDATE ON log_entry
BEGIN SELECT RAISE(ABORT, 'log_entry is append-only'); END;
CREATE TRIGGER log_entry_no_delete BEFORE DELETE ON log_entry
BEGIN SELECT RAISE(ABORT, 'log_entry is append-only'); END;
