-- 0007_oauth_codes: codes of the platform's own OAuth authorization server
-- (authorization codes with PKCE, device authorizations), stored hashed.

CREATE TABLE oauth_auth_codes (
    code_hash         TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    scope             TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    used_at           TIMESTAMPTZ,
    issued_session_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth_auth_codes_expires_at_idx ON oauth_auth_codes (expires_at);

CREATE TABLE oauth_device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    user_id          TEXT NOT NULL DEFAULT '',
    poll_interval    INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    decided_at       TIMESTAMPTZ,
    last_polled_at   TIMESTAMPTZ
);
CREATE INDEX oauth_device_codes_expires_at_idx ON oauth_device_codes (expires_at);
