-- Plugins (content-addressed blobs and immutable name@version), single-action runs, their
-- logs, plugin state and secrets. Timestamps are milliseconds since the Unix epoch.
CREATE TABLE plugin_blobs (
    digest TEXT PRIMARY KEY,
    bytes BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE plugins (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL REFERENCES plugin_blobs (digest),
    manifest TEXT NOT NULL,
    limits TEXT NOT NULL,
    grants TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    action_version TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    requester TEXT NOT NULL,
    environment TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX runs_by_status ON runs (status, created_at);

CREATE TABLE run_logs (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    source TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE plugin_state (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
