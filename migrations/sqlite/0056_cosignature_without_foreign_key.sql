-- PostgreSQL drops log_cosignature's foreign key here (TRUNCATE of log_checkpoint must meet
-- its append-only trigger, not the key). SQLite has no TRUNCATE, and its DELETE trigger on
-- log_checkpoint fires first: nothing to change (a statement that prints nothing: yoyo prints
-- what a SELECT returns, and `hoso migrate` prints one line).
DROP TABLE IF EXISTS _hoso_nothing_to_change;
