-- Analytics read stays that ended in a period and dossiers resolved in it (by time range);
-- open stays already have review_step_open.
CREATE INDEX review_step_left ON review_step (left_at);
CREATE INDEX review_dossier_result ON review_dossier (result_ready_at);
