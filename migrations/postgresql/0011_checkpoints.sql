-- Signed tree heads of the transparency log, in the order they were made. Append-only: the
-- proof that matters is the copy outsiders keep, but this one must not quietly change either.
CREATE TABLE log_checkpoint (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    previous_size BIGINT,
    consistency_proof TEXT NOT NULL,
    made_at timestamptz NOT NULL
);
CREATE FUNCTION log_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log_checkpoint is append-only';
END;
$$;
CREATE TRIGGER log_checkpoint_no_change BEFORE UPDATE OR DELETE ON log_checkpoint
    FOR EACH ROW EXECUTE FUNCTION log_checkpoint_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON log_checkpoint FROM PUBLIC;
