-- Resource versions: every update of an organization, workspace, project or
-- group bumps its row's version, the resource_version of the API, so that
-- a write with a stale version can be refused (412).
ALTER TABLE organizations ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE workspaces ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE workspace_groups ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
