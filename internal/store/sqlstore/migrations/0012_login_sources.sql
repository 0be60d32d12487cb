-- When the next attempt on an account-wide sign-in throttle past its
-- threshold may begin (store.LoginThrottle.NextAdmission): such attempts
-- are admitted one per delay.
ALTER TABLE login_throttles ADD COLUMN next_admission_at TIMESTAMPTZ;

-- The sources (client address, an IPv6 client by its /64) each user
-- completed a sign-in from lately, a few per user: they skip the
-- account-wide throttle.
CREATE TABLE login_sources (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    last_sign_in_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, source)
);
