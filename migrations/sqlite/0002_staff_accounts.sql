-- Staff sign-in: argon2id password hashes only.
CREATE TABLE staff_account (
    user_id TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
