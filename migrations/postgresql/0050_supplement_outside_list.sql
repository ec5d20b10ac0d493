-- Issue 16: how many of a supplement request's items were typed outside the procedure's
-- published document list (counted per officer by the red flags). Requests recorded before
-- the list was checked (SupplementRequested version 1) count none.
ALTER TABLE review_pause ADD COLUMN outside_items INTEGER NOT NULL DEFAULT 0;
