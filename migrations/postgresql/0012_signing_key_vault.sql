-- Officers' private signing keys, each sealed with its officer's passphrase (Argon2id +
-- AES-256-GCM). Not an event: a revoked key's row is deleted for good.
CREATE TABLE signing_key_vault (
    key_id TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    created_at timestamptz NOT NULL
);
