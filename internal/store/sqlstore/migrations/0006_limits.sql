-- Failed sign-in counters and lockouts, one row per throttled key
-- ("email:<address>", "ip:<address>").
CREATE TABLE login_throttles (
    throttle_key    TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ
);
