-- The Pod Security Standard each project's namespace enforces: baseline
-- (the default) or restricted.
ALTER TABLE projects ADD COLUMN pod_security TEXT NOT NULL DEFAULT 'baseline';
