-- Issue 19: every payment and refund of a fee, for the collected amounts in analytics and
-- public statistics and for the fee red flags. Amounts in whole đồng; a refund is negative.
-- Filled from the events by the review projection (the running follower, or `hoso rebuild`).
CREATE TABLE review_payment (
    dossier_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    procedure_code TEXT NOT NULL,
    receiving_unit TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_vnd INTEGER NOT NULL,
    method TEXT,
    owed_vnd INTEGER,
    after_result INTEGER NOT NULL DEFAULT 0,
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (dossier_id, version)
);
CREATE INDEX review_payment_occurred ON review_payment (occurred_at);
