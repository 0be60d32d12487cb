-- 0015_functions: functions of projects (issue 15), their immutable
-- versions (the uploaded code) and the record of their invocations.
--
-- A function belongs to one project: deleting the organization, the
-- workspace or the project removes it, and deleting a function removes its
-- versions and invocations, through the cascades below. The (org_id,
-- workspace_id) and (workspace_id, project_id) references make a function
-- naming a workspace of another organization, or a project of another
-- workspace, a foreign-key violation.
--
-- aliases is JSON ([{name, targets: [{version, weight}], previous}]);
-- secrets is JSON of name → value sealed by the service under the master
-- key (the plain values are never stored).
CREATE TABLE functions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id   TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    runtime        TEXT NOT NULL,
    access         TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    latest_version INTEGER NOT NULL,
    aliases        TEXT NOT NULL DEFAULT '[]',
    secrets        TEXT NOT NULL DEFAULT '{}',
    expires_at     TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    version        BIGINT NOT NULL,
    FOREIGN KEY (org_id, workspace_id) REFERENCES workspaces (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX functions_project_id_name_key ON functions (project_id, name);
CREATE INDEX functions_workspace_id_idx ON functions (workspace_id, project_id);
CREATE INDEX functions_org_id_idx ON functions (org_id, workspace_id);
CREATE INDEX functions_expires_at_idx ON functions (expires_at);

-- env and limits are JSON.
CREATE TABLE function_versions (
    function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    filename    TEXT NOT NULL,
    content     BYTEA NOT NULL,
    env         TEXT NOT NULL DEFAULT '{}',
    limits      TEXT NOT NULL DEFAULT '{}',
    created_by  TEXT NOT NULL DEFAULT '',
    build_ms    BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (function_id, version)
);

-- response is JSON ('' when not kept). trigger_kind, not trigger: a
-- reserved word.
CREATE TABLE function_invocations (
    id           TEXT PRIMARY KEY,
    function_id  TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    alias        TEXT NOT NULL DEFAULT '',
    trigger_kind TEXT NOT NULL,
    status       TEXT NOT NULL,
    exit_reason  TEXT NOT NULL DEFAULT '',
    cold_start   BOOLEAN NOT NULL DEFAULT FALSE,
    started_at   TIMESTAMPTZ NOT NULL,
    duration_ms  DOUBLE PRECISION NOT NULL DEFAULT 0,
    logs         TEXT NOT NULL DEFAULT '',
    response     TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    finished_at  TIMESTAMPTZ
);
-- Listing a function's invocations newest first, and retention.
CREATE INDEX function_invocations_function_idx ON function_invocations (function_id, started_at, id);
CREATE INDEX function_invocations_started_at_idx ON function_invocations (started_at);
