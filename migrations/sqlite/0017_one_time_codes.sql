-- One-time codes sent to a citizen's email or phone (online submission, look-up, download of
-- an electronic result). Only digests are kept: the subject (purpose and address or dossier)
-- as SHA-256, the code as SHA-256 of the challenge id and the code. A code is spent once.
CREATE TABLE one_time_code (
    challenge_id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    spent_at TEXT
);
CREATE INDEX one_time_code_subject ON one_time_code (purpose, subject_hash, created_at);
