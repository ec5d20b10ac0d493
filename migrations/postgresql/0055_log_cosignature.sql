-- Issue 17.3: witnesses' cosignatures of the log's checkpoints (c2sp.org/tlog-cosignature),
-- published with the checkpoint. Append-only like the checkpoints they vouch for.
CREATE TABLE log_cosignature (
    tree_size BIGINT NOT NULL REFERENCES log_checkpoint (tree_size),
    witness TEXT NOT NULL,
    signature TEXT NOT NULL,
    cosigned_at timestamptz NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE FUNCTION log_cosignature_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log_cosignature is append-only';
END;
$$;
CREATE TRIGGER log_cosignature_no_change BEFORE UPDATE OR DELETE ON log_cosignature
    FOR EACH ROW EXECUTE FUNCTION log_cosignature_append_only();
CREATE TRIGGER log_cosignature_no_truncate BEFORE TRUNCATE ON log_cosignature
    FOR EACH STATEMENT EXECUTE FUNCTION log_cosignature_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON log_cosignature FROM PUBLIC;
