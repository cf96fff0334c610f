-- The outbound HTTP exchanges of each step attempt (bodies bounded, secret values masked), kept
-- so a plugin author can replay a real step against a local build (`lever plugin test
-- --replay`). Only attempts that made requests have a row.
CREATE TABLE step_http (
    run_id TEXT NOT NULL REFERENCES runs (id),
    step_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    exchanges TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, step_id, attempt)
);

-- Who signed a published component: the name of the trusted key its signature verified with
-- (`plugins.trusted_keys` in lever.yaml); NULL when it was published unsigned.
ALTER TABLE plugins ADD COLUMN signed_by TEXT;
