-- Public status page (keyed by a hash of the tracking token) and the clerks' dossier list.
CREATE TABLE public_status (
    dossier_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    procedure_code TEXT NOT NULL,
    stage TEXT NOT NULL,
    holder_unit TEXT NOT NULL,
    due_date TEXT NOT NULL,
    received_at TEXT NOT NULL,
    result_ready_at TEXT,
    dispatch_method TEXT,
    postal_tracking_number TEXT,
    delivered_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE public_status_step (
    dossier_id TEXT NOT NULL REFERENCES public_status (dossier_id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    stage TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (dossier_id, version)
);

CREATE TABLE dossier_list (
    dossier_id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    procedure_code TEXT NOT NULL,
    holder_unit TEXT NOT NULL,
    stage TEXT NOT NULL,
    due_date TEXT NOT NULL,
    received_at TEXT NOT NULL,
    result_ready_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE INDEX dossier_list_by_holder ON dossier_list (holder_unit, due_date, received_at);
CREATE INDEX dossier_list_by_due ON dossier_list (due_date, received_at);
