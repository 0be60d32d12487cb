-- 0014_ai: the assistant's chats, messages, plans and settings (issue 14),
-- and the usage ledger.
--
-- A chat, its messages and its plans belong to one user in one workspace
-- (optionally one project): deleting the organization, the workspace, the
-- project or the user removes them through the cascades below. The
-- (org_id, workspace_id) references make a chat or plan naming a workspace
-- of another organization a foreign-key violation.
--
-- The usage ledger, like the audit log, references no other table: its
-- entries outlive the workspaces, users and organizations they name, for
-- the metering and billing that read them later.

CREATE UNIQUE INDEX workspaces_org_id_id_key ON workspaces (org_id, id);

-- next_seq is the Seq the chat's next message gets: AppendMessages takes
-- it under the chat row's lock.
CREATE TABLE ai_chats (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    project_id   TEXT,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL DEFAULT '',
    next_seq     BIGINT NOT NULL DEFAULT 1,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (org_id, workspace_id) REFERENCES workspaces (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_chats_user_id_idx ON ai_chats (user_id, workspace_id, id);
CREATE INDEX ai_chats_workspace_id_idx ON ai_chats (workspace_id, project_id);
CREATE INDEX ai_chats_org_id_idx ON ai_chats (org_id, workspace_id);

-- plan_id is a reference kept for the record, not a foreign key.
CREATE TABLE ai_messages (
    id           TEXT PRIMARY KEY,
    chat_id      TEXT NOT NULL REFERENCES ai_chats (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    role         TEXT NOT NULL,
    content      TEXT NOT NULL DEFAULT '',
    tool_calls   TEXT NOT NULL DEFAULT '',
    tool_call_id TEXT NOT NULL DEFAULT '',
    tool_name    TEXT NOT NULL DEFAULT '',
    tool_args    TEXT NOT NULL DEFAULT '',
    is_error     BOOLEAN NOT NULL DEFAULT FALSE,
    plan_id      TEXT NOT NULL DEFAULT '',
    model        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (chat_id, seq)
);

-- chat_id is NULL for a plan made over MCP.
CREATE TABLE ai_plans (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id           TEXT NOT NULL,
    project_id             TEXT,
    user_id                TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id                TEXT REFERENCES ai_chats (id) ON DELETE CASCADE,
    tool                   TEXT NOT NULL,
    args                   TEXT NOT NULL DEFAULT '',
    summary                TEXT NOT NULL DEFAULT '',
    method                 TEXT NOT NULL,
    path                   TEXT NOT NULL,
    body                   TEXT NOT NULL DEFAULT '',
    hash                   TEXT NOT NULL,
    guard_path             TEXT NOT NULL DEFAULT '',
    guard_resource_version TEXT NOT NULL DEFAULT '',
    object_before          TEXT NOT NULL DEFAULT '',
    object_after           TEXT NOT NULL DEFAULT '',
    diff                   TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL,
    result                 TEXT NOT NULL DEFAULT '',
    created_at             TIMESTAMPTZ NOT NULL,
    expires_at             TIMESTAMPTZ NOT NULL,
    decided_at             TIMESTAMPTZ,
    FOREIGN KEY (org_id, workspace_id) REFERENCES workspaces (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_plans_chat_id_idx ON ai_plans (chat_id, created_at, id);
CREATE INDEX ai_plans_workspace_id_idx ON ai_plans (workspace_id, project_id);
CREATE INDEX ai_plans_org_id_idx ON ai_plans (org_id, workspace_id);
CREATE INDEX ai_plans_user_id_idx ON ai_plans (user_id);

-- One row per organization that set its assistant settings; the others
-- have the defaults (enabled, no budget).
CREATE TABLE ai_settings (
    org_id               TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    enabled              BOOLEAN NOT NULL,
    monthly_token_budget BIGINT NOT NULL DEFAULT 0,
    updated_at           TIMESTAMPTZ NOT NULL,
    version              BIGINT NOT NULL
);

-- workspace_id and user_id are '' when an entry is not about one.
CREATE TABLE usage_ledger (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    workspace_id TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL DEFAULT '',
    meter        TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    quantity     BIGINT NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX usage_ledger_org_idx ON usage_ledger (org_id, recorded_at);
CREATE INDEX usage_ledger_meter_idx ON usage_ledger (meter, recorded_at);
