-- Citizens' feedback (phản ánh, kiến nghị), one row per case: the assignee's list, the
-- citizen's page and the handling times. The dossier's id is kept only so the citizen's
-- page finds its own cases; the staff pages never show it.
CREATE TABLE feedback_case (
    feedback_id uuid PRIMARY KEY,
    version INTEGER NOT NULL,
    dossier_id uuid NOT NULL,
    procedure_code TEXT NOT NULL,
    about_payment BOOLEAN NOT NULL,
    text TEXT NOT NULL,
    received_at timestamptz NOT NULL,
    due_on date NOT NULL,
    unit_code TEXT NOT NULL DEFAULT '',
    handler TEXT NOT NULL DEFAULT '',
    from_unit TEXT,
    escalated_at timestamptz,
    answer TEXT,
    answered_by TEXT,
    answered_unit TEXT,
    answered_at timestamptz,
    closed_at timestamptz
);
CREATE INDEX feedback_case_dossier ON feedback_case (dossier_id);
CREATE INDEX feedback_case_unit ON feedback_case (unit_code, answered_at);
CREATE INDEX feedback_case_received ON feedback_case (received_at);
