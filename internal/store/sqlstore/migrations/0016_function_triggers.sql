-- 0016_function_triggers: cron and event triggers of functions (issue 15,
-- package functions/triggers), the fires of cron triggers and the events a
-- function failed to handle.
--
-- Everything here belongs to a function: deleting it (or its project,
-- workspace or organization, through the functions table's own cascades)
-- removes its triggers, fires and dead letters. function_name is the
-- function's (immutable) name, kept so that a fire needs no join.

-- next_fire_at is the next scheduled time of a cron trigger that has not
-- been fired yet (NULL for an event trigger, or a schedule that ends).
CREATE TABLE function_triggers (
    id            TEXT PRIMARY KEY,
    function_id   TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    function_name TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    schedule      TEXT NOT NULL DEFAULT '',
    time_zone     TEXT NOT NULL DEFAULT '',
    topic         TEXT NOT NULL DEFAULT '',
    alias         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    next_fire_at  TIMESTAMPTZ,
    UNIQUE (function_id, name)
);
CREATE INDEX function_triggers_due_idx ON function_triggers (kind, next_fire_at);
CREATE INDEX function_triggers_topic_idx ON function_triggers (project_id, topic, kind);

-- One row per fire of a cron trigger: the primary key is what makes a
-- scheduled time fire once, whatever the number of schedulers. task_id is
-- the task that runs it ('' until one claims it).
CREATE TABLE function_cron_fires (
    trigger_id   TEXT NOT NULL REFERENCES function_triggers (id) ON DELETE CASCADE,
    scheduled_at TIMESTAMPTZ NOT NULL,
    task_id      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (trigger_id, scheduled_at)
);
CREATE INDEX function_cron_fires_unclaimed_idx ON function_cron_fires (task_id, created_at);

-- Events a function failed to handle after its last attempt. The trigger
-- is named, not referenced: a dead letter outlives its trigger. One event
-- is dead-lettered once per trigger (the unique key), however often its
-- last delivery is repeated.
CREATE TABLE function_dead_letters (
    id           TEXT PRIMARY KEY,
    function_id  TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    trigger_name TEXT NOT NULL,
    topic        TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    last_error   TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX function_dead_letters_function_idx ON function_dead_letters (function_id, id);
CREATE UNIQUE INDEX function_dead_letters_event_key ON function_dead_letters (function_id, trigger_name, event_id);
