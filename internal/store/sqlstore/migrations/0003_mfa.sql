-- 0003_mfa: two-factor authentication (TOTP enrolments, backup codes,
-- second-factor challenges of sign-ins in progress) and the organization's
-- require_2fa flag.

CREATE TABLE user_mfa (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTEA NOT NULL,              -- sealed TOTP key
    enabled_at TIMESTAMPTZ,                 -- NULL while pending
    last_step  BIGINT NOT NULL DEFAULT 0,   -- replay guard (RFC 6238 step)
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE mfa_backup_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method      TEXT NOT NULL DEFAULT '',
    fingerprint TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_id_idx ON mfa_challenges (user_id);

ALTER TABLE organizations ADD COLUMN require_2fa BOOLEAN NOT NULL DEFAULT FALSE;
