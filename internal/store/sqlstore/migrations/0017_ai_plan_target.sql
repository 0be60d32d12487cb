-- What an assistant plan's request goes to: 'workspace' (the workspace
-- cluster's API server, every plan stored before this column) or
-- 'platform' (the platform's own API, such as a function's deploy). It is
-- part of the plan's hash, so a plan cannot be replayed against the other.
ALTER TABLE ai_plans ADD COLUMN target TEXT NOT NULL DEFAULT 'workspace';
