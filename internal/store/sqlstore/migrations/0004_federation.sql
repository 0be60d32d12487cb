-- 0004_federation: links between users and identities at federated
-- providers (OIDC, GitHub). A user may have several links; one identity
-- belongs to at most one user.

CREATE TABLE federated_identities (
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX federated_identities_user_id_idx ON federated_identities (user_id);
