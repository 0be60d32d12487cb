-- Sign-in attempts in flight: one row per attempt and throttled key, held
-- from before the secret is checked until the attempt is settled (or
-- expires_at, for an attempt whose process died). A slot is not a failure;
-- the slots bound how many secrets are checked at once before a lock.
CREATE TABLE login_attempts (
    attempt_id   TEXT NOT NULL,
    throttle_key TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (attempt_id, throttle_key)
);
CREATE INDEX login_attempts_key ON login_attempts (throttle_key, expires_at);
