-- A fencing token per run: every claim of a run increments it, and every write a node makes for
-- the run is conditional on the token it claimed with, so a node that lost the run (cut off,
-- then back) cannot land a write after another node took it over (docs/operations.md).
ALTER TABLE runs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
