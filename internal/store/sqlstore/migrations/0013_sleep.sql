-- Sleep and wake (docs/controlplane.md "Sleep and wake"):
-- sleep_after_seconds: idle time without gateway traffic before the
--   workspace sleeps; -1 = the operator's default, 0 = never.
-- hibernation: the workspace's hibernation schedules, JSON ('' = none).
-- slept_at: when it last went to sleep; wake_at: when scheduled work (its
--   earliest CronJob run) needs it awake, NULL when none.
ALTER TABLE workspaces ADD COLUMN sleep_after_seconds BIGINT NOT NULL DEFAULT -1;
ALTER TABLE workspaces ADD COLUMN hibernation TEXT NOT NULL DEFAULT '';
ALTER TABLE workspaces ADD COLUMN slept_at TIMESTAMPTZ;
ALTER TABLE workspaces ADD COLUMN wake_at TIMESTAMPTZ;
