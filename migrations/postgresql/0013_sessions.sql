-- Staff sessions kept on the server: the browser holds only a random id (in a __Host-
-- cookie over HTTPS), stored here as its SHA-256, so a copy of this table opens no session.
-- A session ends by signing out, by idle or absolute expiry, or by a new sign-in (rotation).
CREATE TABLE staff_session (
    session_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    data TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ended_at timestamptz,
    end_reason TEXT
);
CREATE INDEX staff_session_user ON staff_session (user_id, ended_at);

-- Every sign-in attempt, success or failure: the record the rate limits count, and what an
-- inspector reads after a password-guessing attempt.
CREATE TABLE signin_attempt (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL,
    address TEXT NOT NULL,
    succeeded boolean NOT NULL,
    outcome TEXT NOT NULL,
    attempted_at timestamptz NOT NULL
);
CREATE INDEX signin_attempt_user ON signin_attempt (user_id, attempted_at);
CREATE INDEX signin_attempt_address ON signin_attempt (address, attempted_at);
