-- Signed tree heads of the transparency log, in the order they were made. Append-only: the
-- proof that matters is the copy outsiders keep, but this one must not quietly change either.
CREATE TABLE log_checkpoint (
    tree_size INTEGER PRIMARY KEY,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    previous_size INTEGER,
    consistency_proof TEXT NOT NULL,
    made_at TEXT NOT NULL
);
CREATE TRIGGER log_checkpoint_no_update BEFORE UPDATE ON log_checkpoint
BEGIN SELECT RAISE(ABORT, 'log_checkpoint is append-only'); END;
CREATE TRIGGER log_checkpoint_no_delete BEFORE DELETE ON log_checkpoint
BEGIN SELECT RAISE(ABORT, 'log_checkpoint is append-only'); END;
