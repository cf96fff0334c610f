-- Identity, policies, approvals and the audit trail.

-- API tokens: only the SHA-256 of the secret is kept; a revoked token stays for the record.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
);

-- Approval policies (Rego), versioned; the highest version of a name is the active one.
CREATE TABLE policies (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- What the policy decided for a run.
ALTER TABLE runs ADD COLUMN approval_route TEXT;
ALTER TABLE runs ADD COLUMN policy_version TEXT;

-- One approval stage of a run (or of one of its steps, when step_id is set).
CREATE TABLE approval_stages (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    step_id TEXT,
    stage_order BIGINT NOT NULL,
    groups_json TEXT NOT NULL,
    required BIGINT NOT NULL,
    status TEXT NOT NULL,
    reasons TEXT NOT NULL,
    sla_ms BIGINT NOT NULL,
    escalate_to TEXT,
    expire_ms BIGINT,
    on_expiry TEXT NOT NULL,
    context TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    opened_at BIGINT,
    notified_at BIGINT,
    reminded_at BIGINT,
    escalated_at BIGINT,
    expired_at BIGINT,
    decided_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX approval_stages_by_run ON approval_stages (run_id, position);
CREATE INDEX approval_stages_open ON approval_stages (status);

-- One person's decision on one stage: the key makes a person count once.
CREATE TABLE approval_decisions (
    stage_id TEXT NOT NULL REFERENCES approval_stages (id),
    approver TEXT NOT NULL,
    decision TEXT NOT NULL,
    comment TEXT NOT NULL,
    via TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (stage_id, approver)
);

-- One-click link nonces already spent (links are single-use).
CREATE TABLE used_link_nonces (
    nonce TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL
);

-- Notifications sent for approvals, with the context they carried.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stage_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipients TEXT NOT NULL,
    body TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX notifications_by_stage ON notifications (stage_id, id);

-- Append-only audit trail; each row's hash covers the previous row's hash.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    run_id TEXT,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    policy_version TEXT,
    prev_hash TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_run ON audit_log (run_id, seq);
