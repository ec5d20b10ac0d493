-- Partner systems' API keys (the post office, the national public-service portal, another
-- department's system). Only the key's SHA-256 is kept: the key is shown once, when made.
-- partner_id names the directory member the partner acts as, so every event it records
-- names it; scopes (comma-separated) are the API actions the key may take.
CREATE TABLE partner_key (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX partner_key_partner ON partner_key (partner_id);
