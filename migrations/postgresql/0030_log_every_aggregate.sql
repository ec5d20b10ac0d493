-- The transparency log covers every aggregate's events (issues 17 and 25). An entry's place
-- in the Merkle tree becomes a column of its own, apart from its event's position: the
-- events of other aggregates stored before this are logged once (`hoso migrate`, see
-- docs/transparency-log.md) at the end of the tree, after every leaf already signed.
ALTER TABLE log_entry ADD COLUMN leaf_index BIGINT;
ALTER TABLE log_entry DISABLE TRIGGER log_entry_no_change;
UPDATE log_entry SET leaf_index = ranked.n
FROM (SELECT position, row_number() OVER (ORDER BY position) - 1 AS n FROM log_entry) AS ranked
WHERE ranked.position = log_entry.position;
ALTER TABLE log_entry ENABLE TRIGGER log_entry_no_change;
ALTER TABLE log_entry ALTER COLUMN leaf_index SET NOT NULL;
ALTER TABLE log_entry ADD CONSTRAINT log_entry_leaf_index_key UNIQUE (leaf_index);

-- Done once per store: how far the backfill reached and how many entries it added. A store
-- whose log was empty had nothing to backfill.
CREATE TABLE log_backfill (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through_position BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    done_at TEXT NOT NULL
);
CREATE TRIGGER log_backfill_no_change BEFORE UPDATE OR DELETE ON log_backfill
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_backfill_no_truncate BEFORE TRUNCATE ON log_backfill
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON log_backfill FROM PUBLIC;
INSERT INTO log_backfill (id, through_position, entries, done_at)
SELECT 1, 0, 0, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
WHERE NOT EXISTS (SELECT 1 FROM log_entry);

-- Issue 17.4: the checkpoints could be emptied with TRUNCATE, which row triggers never see.
CREATE TRIGGER log_checkpoint_no_truncate BEFORE TRUNCATE ON log_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION log_checkpoint_append_only();
