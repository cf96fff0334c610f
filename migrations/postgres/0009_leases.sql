-- Runs are claimed by a node with a lease (owner node id, expiry in ms) that the owner renews
-- while it executes them; a run whose lease has expired is claimed by another node.
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at BIGINT;
CREATE INDEX runs_by_lease ON runs (status, lease_expires_at);
