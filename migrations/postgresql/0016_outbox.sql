-- Citizen notifications and partners' webhooks (see docs/notifications.md).
-- The outbox is a record, not a cache: `hoso rebuild` never empties it (a rebuild would
-- otherwise send every message again); it only catches up on events it has not seen.

-- What the outbox remembers of each dossier to address and describe its messages: the
-- applicant's email (from the receipt, if given) and the public facts a partner is sent.
CREATE TABLE outbox_dossier (
    dossier_id uuid PRIMARY KEY,
    version integer NOT NULL,
    code text NOT NULL,
    procedure_code text NOT NULL,
    receiving_unit text NOT NULL,
    email text,
    stage text NOT NULL,
    holder_unit text NOT NULL,
    due_date date NOT NULL,
    received_at timestamptz NOT NULL,
    result_ready_at timestamptz,
    paused_at timestamptz,
    paused_from_stage text,
    extensions integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);

-- Every unit a dossier is routed to, transferred to or handed to: what a partner's
-- subscription by unit matches.
CREATE TABLE outbox_dossier_unit (
    dossier_id uuid NOT NULL,
    unit_code text NOT NULL,
    PRIMARY KEY (dossier_id, unit_code)
);

-- Partners' subscriptions, never deleted: a removed one keeps removed_at, so the record of
-- who was sent what stays readable.
CREATE TABLE webhook_subscription (
    id text PRIMARY KEY,
    partner_id text NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    unit_code text,
    procedure_code text,
    created_at timestamptz NOT NULL,
    removed_at timestamptz,
    CHECK (unit_code IS NOT NULL OR procedure_code IS NOT NULL)
);

-- One row per (event, recipient), written in the transaction that tracks the event.
CREATE TABLE outbox_message (
    id uuid PRIMARY KEY,
    position bigint NOT NULL,
    dossier_id uuid NOT NULL,
    version integer NOT NULL,
    code text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient text NOT NULL,
    kind text NOT NULL,
    payload text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    last_attempt_at timestamptz,
    delivered_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX outbox_message_due ON outbox_message (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_message_status ON outbox_message (status, last_attempt_at);
CREATE INDEX outbox_message_dossier ON outbox_message (dossier_id, version);
