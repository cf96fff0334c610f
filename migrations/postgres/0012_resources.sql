-- The resource inventory (docs/resources.md): every resource a step created, with the team that
-- owns it, the run and step that made it, its cost, its secrets and its state. A row is written
-- `creating` before the provider acts (the claim), so two runs never create the same resource
-- and a step resumed after a crash finds its own claim instead of creating it twice; it turns
-- `live` when the provider answers, `destroyed` when a rollback or a delete removes it,
-- `orphaned` when a rollback of it failed, `drifted` when the provider no longer has it.
ALTER TABLE runs ADD COLUMN owner_team TEXT;

CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    -- The capability binding (`infrastructure`, `infrastructure/label`) and its provider.
    binding TEXT NOT NULL,
    provider TEXT NOT NULL,
    -- The provider's unit the resource is addressed by (an infrastructure workspace).
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    environment TEXT NOT NULL,
    owner TEXT NOT NULL,
    requester TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    template TEXT,
    monthly_cost_cents BIGINT,
    secrets TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL,
    note TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ended_at BIGINT,
    ended_by_run TEXT
);
-- One holder per provider unit: what is being created, live, or left behind by a failed rollback.
CREATE UNIQUE INDEX resources_held ON resources (binding, scope)
    WHERE state IN ('creating', 'live', 'orphaned');
CREATE INDEX resources_by_run ON resources (run_id, step_id);
CREATE INDEX resources_by_owner ON resources (owner, state);
