-- A foreign key to log_checkpoint made TRUNCATE of the checkpoints fail on the key instead
-- of on their append-only trigger (and would make the checkpoints' owner cascade into the
-- cosignatures). A cosignature names its checkpoint by tree size; hoso verify reads both.
ALTER TABLE log_cosignature DROP CONSTRAINT IF EXISTS log_cosignature_tree_size_fkey;
