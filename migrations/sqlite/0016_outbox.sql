-- Citizen notifications and partners' webhooks (see docs/notifications.md).
-- The outbox is a record, not a cache: `hoso rebuild` never empties it (a rebuild would
-- otherwise send every message again); it only catches up on events it has not seen.

-- What the outbox remembers of each dossier to address and describe its messages: the
-- applicant's email (from the receipt, if given) and the public facts a partner is sent.
CREATE TABLE outbox_dossier (
    dossier_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    code TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    receiving_unit TEXT NOT NULL,
    email TEXT,
    stage TEXT NOT NULL,
    holder_unit TEXT NOT NULL,
    due_date TEXT NOT NULL,
    received_at TEXT NOT NULL,
    result_ready_at TEXT,
    paused_at TEXT,
    paused_from_stage TEXT,
    extensions INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);

-- Every unit a dossier is routed to, transferred to or handed to: what a partner's
-- subscription by unit matches.
CREATE TABLE outbox_dossier_unit (
    dossier_id TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    PRIMARY KEY (dossier_id, unit_code)
);

-- Partners' subscriptions, never deleted: a removed one keeps removed_at, so the record of
-- who was sent what stays readable.
CREATE TABLE webhook_subscription (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    unit_code TEXT,
    procedure_code TEXT,
    created_at TEXT NOT NULL,
    removed_at TEXT,
    CHECK (unit_code IS NOT NULL OR procedure_code IS NOT NULL)
);

-- One row per (event, recipient), written in the transaction that tracks the event.
CREATE TABLE outbox_message (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    dossier_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    code TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    last_attempt_at TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_message_due ON outbox_message (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_message_status ON outbox_message (status, last_attempt_at);
CREATE INDEX outbox_message_dossier ON outbox_message (dossier_id, version);
