-- The citizen's rating: the public page swaps its form for a thank-you once rated.
ALTER TABLE public_status ADD COLUMN rated_at TEXT;
