-- The transparency log covers every aggregate's events (issues 17 and 25). An entry's place
-- in the Merkle tree becomes a column of its own, apart from its event's position: the
-- events of other aggregates stored before this are logged once (`hoso migrate`, see
-- docs/transparency-log.md) at the end of the tree, after every leaf already signed.
DROP TRIGGER log_entry_no_update;
ALTER TABLE log_entry ADD COLUMN leaf_index INTEGER;
UPDATE log_entry SET leaf_index = ranked.n
FROM (SELECT position, row_number() OVER (ORDER BY position) - 1 AS n FROM log_entry) AS ranked
WHERE ranked.position = log_entry.position;
CREATE UNIQUE INDEX log_entry_leaf_index ON log_entry (leaf_index);
CREATE TRIGGER log_entry_no_update BEFORE UPDATE ON log_entry
BEGIN SELECT RAISE(ABORT, 'log_entry is append-only'); END;
CREATE TRIGGER log_entry_needs_leaf_index BEFORE INSERT ON log_entry WHEN NEW.leaf_index IS NULL
BEGIN SELECT RAISE(ABORT, 'a log entry needs its leaf index'); END;

-- Done once per store: how far the backfill reached and how many entries it added. A store
-- whose log was empty had nothing to backfill.
CREATE TABLE log_backfill (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through_position INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    done_at TEXT NOT NULL
);
CREATE TRIGGER log_backfill_no_update BEFORE UPDATE ON log_backfill
BEGIN SELECT RAISE(ABORT, 'log_backfill is append-only'); END;
CREATE TRIGGER log_backfill_no_delete BEFORE DELETE ON log_backfill
BEGIN SELECT RAISE(ABORT, 'log_backfill is append-only'); END;
INSERT INTO log_backfill (id, through_position, entries, done_at)
SELECT 1, 0, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE NOT EXISTS (SELECT 1 FROM log_entry);
