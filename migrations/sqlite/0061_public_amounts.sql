-- Issue 19: what the citizen was asked to pay and has paid (whole đồng), so the citizen's
-- page shows what is still owed and offers to pay it online.
ALTER TABLE public_status ADD COLUMN amount_due_vnd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE public_status ADD COLUMN amount_paid_vnd INTEGER NOT NULL DEFAULT 0;
