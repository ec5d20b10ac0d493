-- Optional second factor for staff: an authenticator app's time-based one-time codes
-- (RFC 6238). A row without confirmed_at is an enrolment not yet confirmed with a code;
-- last_step is the newest 30-second step whose code was accepted, so no code is accepted twice.
CREATE TABLE staff_totp (
    user_id text PRIMARY KEY,
    secret text NOT NULL,
    created_at timestamptz NOT NULL,
    confirmed_at timestamptz,
    last_step bigint NOT NULL DEFAULT 0
);
