-- Template runs: a run names either an action (single-action run) or a template; its steps
-- and its events are rows of their own.
ALTER TABLE runs ADD COLUMN template TEXT;
ALTER TABLE runs ADD COLUMN template_version BIGINT;
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
ALTER TABLE runs ADD COLUMN resubmitted_from TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN wake_at BIGINT;
CREATE INDEX runs_waking ON runs (status, wake_at);
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key);

CREATE TABLE run_steps (
    run_id TEXT NOT NULL REFERENCES runs (id),
    step_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    poll_deadline BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, step_id)
);

CREATE TABLE run_events (
    id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    kind TEXT NOT NULL,
    step_id TEXT,
    data TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX run_events_by_run ON run_events (run_id, id);
