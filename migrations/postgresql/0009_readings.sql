-- Who opened which dossier: for the "reading dossiers one has no part in" red flag.
CREATE TABLE review_reading (
    log_id uuid NOT NULL,
    version INTEGER NOT NULL,
    dossier_id uuid NOT NULL,
    viewer_id TEXT NOT NULL,
    viewer_unit TEXT NOT NULL,
    purpose TEXT NOT NULL,
    page TEXT NOT NULL,
    opened_at timestamptz NOT NULL,
    PRIMARY KEY (log_id, version)
);
CREATE INDEX review_reading_dossier ON review_reading (dossier_id, viewer_id);
CREATE INDEX review_reading_opened ON review_reading (opened_at);
