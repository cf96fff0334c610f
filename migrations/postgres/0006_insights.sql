-- The periodic "would you recommend Lever?" answers (0-10) behind the NPS, and an index for
-- the insights' window queries over runs.
CREATE TABLE nps_responses (
    user_id TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX nps_by_time ON nps_responses (created_at);
CREATE INDEX runs_by_time ON runs (created_at);
