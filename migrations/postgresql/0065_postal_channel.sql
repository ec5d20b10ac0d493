-- Issue 23: the postal channel. What the inspector's figures and red flags need of the post's
-- legs: when it collected a dossier at the citizen's address and handed it to the counter,
-- when a result went out by post, its failed delivery attempts and its return to the counter.
ALTER TABLE review_dossier ADD COLUMN collected_at TIMESTAMPTZ;
ALTER TABLE review_dossier ADD COLUMN handed_over_at TIMESTAMPTZ;
ALTER TABLE review_dossier ADD COLUMN posted_at TIMESTAMPTZ;
ALTER TABLE review_dossier ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE review_dossier ADD COLUMN returned_at TIMESTAMPTZ;
