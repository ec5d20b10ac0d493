-- Inspectors' read models: one row per dossier event, per step at a desk, per dossier.
-- Analytics and red flags read these; none of them holds an applicant's personal data
-- (the phone only as a salted hash, to see one phone behind many dossiers).
CREATE TABLE review_event (
    dossier_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_unit TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recording_delay_s INTEGER NOT NULL,
    off_hours INTEGER NOT NULL,
    PRIMARY KEY (dossier_id, version)
);
CREATE INDEX review_event_actor ON review_event (actor_id, occurred_at);
CREATE INDEX review_event_unit ON review_event (actor_unit, occurred_at);
CREATE INDEX review_event_occurred ON review_event (occurred_at);

CREATE TABLE review_step (
    dossier_id TEXT NOT NULL,
    opened_version INTEGER NOT NULL,
    procedure_code TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    from_unit TEXT,
    route_position INTEGER,
    off_route INTEGER NOT NULL DEFAULT 0,
    arrived_at TEXT NOT NULL,
    accepted_at TEXT,
    step_due_at TEXT,
    left_at TEXT,
    left_by TEXT,
    officer_id TEXT,
    -- Whose desk: who opened it (for a receipt, the clerk who received it).
    accepted_by TEXT,
    PRIMARY KEY (dossier_id, opened_version)
);
CREATE INDEX review_step_unit ON review_step (unit_code, arrived_at);
CREATE INDEX review_step_open ON review_step (dossier_id) WHERE left_at IS NULL;

CREATE TABLE review_pause (
    dossier_id TEXT NOT NULL,
    request_number INTEGER NOT NULL,
    unit_code TEXT NOT NULL,
    officer_id TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    due_date TEXT NOT NULL,
    justified INTEGER NOT NULL,
    provided_at TEXT,
    PRIMARY KEY (dossier_id, request_number)
);

CREATE TABLE review_dossier (
    dossier_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    receiving_unit TEXT NOT NULL,
    channel TEXT NOT NULL,
    phone_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    first_due_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    paused_working_days INTEGER NOT NULL DEFAULT 0,
    supplement_requests INTEGER NOT NULL DEFAULT 0,
    extensions INTEGER NOT NULL DEFAULT 0,
    last_extended_at TEXT,
    result_kind TEXT,
    result_ready_at TEXT,
    result_by TEXT,
    delivered_at TEXT,
    withdrawn_at TEXT,
    satisfaction INTEGER,
    came_back INTEGER,
    unofficial_request INTEGER,
    rated_at TEXT
);
CREATE INDEX review_dossier_received ON review_dossier (received_at);
CREATE INDEX review_dossier_phone ON review_dossier (phone_hash);
