-- Open dossiers by desk, read in due-date order with keyset pagination.
CREATE TABLE desk_queue (
    dossier_id uuid PRIMARY KEY,
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    procedure_code TEXT NOT NULL,
    stage TEXT NOT NULL,
    paused_from_stage TEXT,
    holder_unit TEXT NOT NULL,
    holder_officer TEXT,
    pending_from_unit TEXT,
    arrived_at timestamptz NOT NULL,
    step_started_at timestamptz,
    step_due_at timestamptz,
    due_date date NOT NULL,
    received_at timestamptz NOT NULL,
    result_ready_at timestamptz,
    extensions INTEGER NOT NULL DEFAULT 0,
    phone_hash TEXT NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX desk_queue_unit ON desk_queue (holder_unit, due_date, received_at, dossier_id)
    WHERE pending_from_unit IS NULL;
CREATE INDEX desk_queue_officer ON desk_queue (holder_officer, due_date, received_at, dossier_id)
    WHERE pending_from_unit IS NULL;
CREATE INDEX desk_queue_incoming ON desk_queue (holder_unit, due_date, received_at, dossier_id)
    WHERE pending_from_unit IS NOT NULL;
CREATE INDEX desk_queue_phone ON desk_queue (phone_hash);
CREATE INDEX desk_queue_code ON desk_queue (code);
