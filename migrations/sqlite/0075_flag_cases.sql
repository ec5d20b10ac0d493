-- Red flags taken up as cases on the inspector's desk (domain/flag_case.py): one row per
-- case as it stands, and one row per thing that happened to it (opened, note, closed,
-- reopened). Read by inspectors and administrators only, never by the officer concerned.
CREATE TABLE flag_case (
    case_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    flag_kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    outcome TEXT,
    closed_at TEXT
);
CREATE INDEX flag_case_kind ON flag_case (flag_kind, closed_at);
CREATE TABLE flag_case_entry (
    case_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    text TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (case_id, version)
);
