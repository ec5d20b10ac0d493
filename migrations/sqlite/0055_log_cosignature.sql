-- Issue 17.3: witnesses' cosignatures of the log's checkpoints (c2sp.org/tlog-cosignature),
-- published with the checkpoint. Append-only like the checkpoints they vouch for.
CREATE TABLE log_cosignature (
    tree_size INTEGER NOT NULL REFERENCES log_checkpoint (tree_size),
    witness TEXT NOT NULL,
    signature TEXT NOT NULL,
    cosigned_at TEXT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE TRIGGER log_cosignature_no_update BEFORE UPDATE ON log_cosignature
BEGIN SELECT RAISE(ABORT, 'log_cosignature is append-only'); END;
CREATE TRIGGER log_cosignature_no_delete BEFORE DELETE ON log_cosignature
BEGIN SELECT RAISE(ABORT, 'log_cosignature is append-only'); END;
