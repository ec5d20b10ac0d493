-- Public status page (keyed by a hash of the tracking token) and the clerks' dossier list.
CREATE TABLE public_status (
    dossier_id uuid PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    version integer NOT NULL,
    procedure_code text NOT NULL,
    stage text NOT NULL,
    holder_unit text NOT NULL,
    due_date date NOT NULL,
    received_at timestamptz NOT NULL,
    result_ready_at timestamptz,
    dispatch_method text,
    postal_tracking_number text,
    delivered_at timestamptz,
    updated_at timestamptz NOT NULL
);

CREATE TABLE public_status_step (
    dossier_id uuid NOT NULL REFERENCES public_status (dossier_id),
    version integer NOT NULL,
    kind text NOT NULL,
    stage text NOT NULL,
    unit_code text NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (dossier_id, version)
);

CREATE TABLE dossier_list (
    dossier_id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    version integer NOT NULL,
    procedure_code text NOT NULL,
    holder_unit text NOT NULL,
    stage text NOT NULL,
    due_date date NOT NULL,
    received_at timestamptz NOT NULL,
    result_ready_at timestamptz,
    updated_at timestamptz NOT NULL
);

CREATE INDEX dossier_list_by_holder ON dossier_list (holder_unit, due_date, received_at);
CREATE INDEX dossier_list_by_due ON dossier_list (due_date, received_at);
