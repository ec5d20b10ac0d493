-- Staff sign-in: argon2id password hashes only.
CREATE TABLE staff_account (
    user_id text PRIMARY KEY,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL
);
