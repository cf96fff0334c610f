-- Each person's in-app inbox (docs/web.md): what the built-in `notifier` (`builtin:inbox`)
-- delivered to them and the approval requests addressed to them, one row per recipient so
-- that reading one's inbox and counting what is unread are one indexed query each.
CREATE TABLE inbox (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- The run it is about, when it is about one.
    run_id TEXT,
    -- `message` (a template's notifier.send), `approval-requested`, `reminder`, `escalated`,
    -- `expired`.
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- JSON: [{"label", "url", "kind"}], this recipient's own links.
    links TEXT NOT NULL,
    at BIGINT NOT NULL,
    read_at BIGINT,
    -- A step's idempotency key: a retried or resumed step's message is delivered once.
    delivery_key TEXT
);
CREATE INDEX inbox_by_user ON inbox (user_id, id);
CREATE UNIQUE INDEX inbox_once ON inbox (user_id, delivery_key);
