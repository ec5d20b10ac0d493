-- The transparency log: one canonical entry per dossier event, in global order (see
-- docs/transparency-log.md). Append-only: a rebuild never empties it, the triggers refuse any
-- change to what was written (the owner included), and nobody else is granted the right.
CREATE TABLE log_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    origin TEXT NOT NULL,
    salt TEXT NOT NULL
);
CREATE TABLE log_entry (
    position BIGINT PRIMARY KEY,
    dossier_id uuid NOT NULL,
    version INTEGER NOT NULL,
    entry TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    UNIQUE (dossier_id, version)
);
CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER log_settings_no_change BEFORE UPDATE OR DELETE ON log_settings
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_settings_no_truncate BEFORE TRUNCATE ON log_settings
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_entry_no_change BEFORE UPDATE OR DELETE ON log_entry
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_entry_no_truncate BEFORE TRUNCATE ON log_entry
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON log_settings, log_entry FROM PUBLIC;
