-- The insights' rollup: finished runs and decided approval stages counted per hour and per day
-- (`span` is the bucket's length in ms), kept by triggers in the very transaction that changes
-- a run or a stage, so a rollup row can never disagree with the rows it counts. A change takes
-- the old row's contribution away and adds the new one's; runs still in flight are not here
-- (the insights read those few from `runs`, as they read the window's partial first and last
-- hour). Durations go into bins of the E12 series (10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68,
-- 82 times a power of ten): a percentile read from a bin is within 12 % of the exact one.
--
-- The same tables and triggers, in PL/pgSQL, are in the PostgreSQL migration of this number.

-- The E12 bin of a run's submit-to-end time and of a stage's wait (the lower bound, in ms;
-- under 10 ms the value itself).
ALTER TABLE runs ADD COLUMN took_bin BIGINT GENERATED ALWAYS AS (
    CASE WHEN updated_at - created_at < 10 THEN updated_at - created_at ELSE CAST(
        (CASE
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 12 THEN '10'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 15 THEN '12'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 18 THEN '15'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 22 THEN '18'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 27 THEN '22'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 33 THEN '27'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 39 THEN '33'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 47 THEN '39'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 56 THEN '47'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 68 THEN '56'
            WHEN CAST(substr(CAST(updated_at - created_at AS TEXT), 1, 2) AS INTEGER) < 82 THEN '68'
            ELSE '82' END)
        || substr('0000000000000000000', 1, length(CAST(updated_at - created_at AS TEXT)) - 2) AS INTEGER) END
) VIRTUAL;

ALTER TABLE approval_stages ADD COLUMN wait_bin BIGINT GENERATED ALWAYS AS (
    CASE WHEN decided_at IS NULL OR opened_at IS NULL THEN NULL
    WHEN decided_at - opened_at < 10 THEN decided_at - opened_at ELSE CAST(
        (CASE
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 12 THEN '10'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 15 THEN '12'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 18 THEN '15'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 22 THEN '18'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 27 THEN '22'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 33 THEN '27'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 39 THEN '33'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 47 THEN '39'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 56 THEN '47'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 68 THEN '56'
            WHEN CAST(substr(CAST(decided_at - opened_at AS TEXT), 1, 2) AS INTEGER) < 82 THEN '68'
            ELSE '82' END)
        || substr('0000000000000000000', 1, length(CAST(decided_at - opened_at AS TEXT)) - 2) AS INTEGER) END
) VIRTUAL;

-- Finished runs per template (`action:NAME` for single actions), final status and approval
-- route ('' none, 'automatic', 'stages').
CREATE TABLE insights_runs (
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL,
    route TEXT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (span, bucket, label, status, route)
);

-- Finished runs per requester.
CREATE TABLE insights_requesters (
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    requester TEXT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (span, bucket, requester)
);

-- Succeeded runs per template and bin of their submit-to-end time.
CREATE TABLE insights_durations (
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    label TEXT NOT NULL,
    bin BIGINT NOT NULL,
    runs BIGINT NOT NULL,
    PRIMARY KEY (span, bucket, label, bin)
);

-- Failed and rolled-back runs per template and error kind, with the latest message seen.
CREATE TABLE insights_failures (
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    runs BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    last_message TEXT NOT NULL,
    PRIMARY KEY (span, bucket, label, kind)
);

-- Decided approval stages per policy version, stage name and bin of their wait (bucketed by
-- when they opened); how many were decided after their SLA.
CREATE TABLE insights_stage_waits (
    span BIGINT NOT NULL,
    bucket BIGINT NOT NULL,
    policy_version TEXT NOT NULL,
    name TEXT NOT NULL,
    bin BIGINT NOT NULL,
    decided BIGINT NOT NULL,
    breaches BIGINT NOT NULL,
    PRIMARY KEY (span, bucket, policy_version, name, bin)
);

CREATE TABLE insights_spans (span BIGINT PRIMARY KEY);
INSERT INTO insights_spans (span) VALUES (3600000), (86400000);

-- What the insights read raw: a team's runs, one template's, undecided stages, the ratings.
CREATE INDEX runs_by_requester ON runs (requester, created_at);
CREATE INDEX runs_by_label ON runs (COALESCE(template, 'action:' || action), created_at);
CREATE INDEX run_ratings_by_time ON run_ratings (created_at);
CREATE INDEX nps_by_user ON nps_responses (user_id, created_at);
CREATE INDEX approval_stages_undecided ON approval_stages (opened_at) WHERE decided_at IS NULL;
CREATE INDEX approval_stages_by_opening ON approval_stages (opened_at);

-- A run's contribution, `n` = 1 to add and -1 to take away, for every span.
CREATE TRIGGER insights_run_inserted AFTER INSERT ON runs
WHEN NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
BEGIN
    INSERT INTO insights_runs (span, bucket, label, status, route, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action), NEW.status,
           CASE WHEN NEW.approval_route IS NULL THEN '' WHEN NEW.approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END, 1
    FROM insights_spans s WHERE true
    ON CONFLICT (span, bucket, label, status, route) DO UPDATE SET runs = insights_runs.runs + 1;
    INSERT INTO insights_requesters (span, bucket, requester, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, NEW.requester, 1 FROM insights_spans s WHERE true
    ON CONFLICT (span, bucket, requester) DO UPDATE SET runs = insights_requesters.runs + 1;
    INSERT INTO insights_durations (span, bucket, label, bin, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action), NEW.took_bin, 1
    FROM insights_spans s WHERE NEW.status = 'succeeded'
    ON CONFLICT (span, bucket, label, bin) DO UPDATE SET runs = insights_durations.runs + 1;
    INSERT INTO insights_failures (span, bucket, label, kind, runs, last_at, last_message)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action),
           COALESCE(json_extract(NEW.error, '$.kind'), 'unknown'), 1, NEW.updated_at, COALESCE(json_extract(NEW.error, '$.message'), '')
    FROM insights_spans s
    WHERE NEW.status IN ('failed', 'rolled-back', 'rollback-failed') AND json_valid(NEW.error)
    ON CONFLICT (span, bucket, label, kind) DO UPDATE SET runs = insights_failures.runs + 1,
        last_message = CASE WHEN excluded.last_at >= insights_failures.last_at THEN excluded.last_message ELSE insights_failures.last_message END,
        last_at = max(excluded.last_at, insights_failures.last_at);
END;

CREATE TRIGGER insights_run_updated AFTER UPDATE ON runs
WHEN (OLD.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
      OR NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected'))
 AND (OLD.status IS NOT NEW.status OR OLD.updated_at IS NOT NEW.updated_at OR OLD.created_at IS NOT NEW.created_at
      OR OLD.error IS NOT NEW.error OR OLD.approval_route IS NOT NEW.approval_route OR OLD.requester IS NOT NEW.requester
      OR OLD.template IS NOT NEW.template OR OLD.action IS NOT NEW.action)
BEGIN
    -- Take the old row away.
    INSERT INTO insights_runs (span, bucket, label, status, route, runs)
    SELECT s.span, OLD.created_at / s.span * s.span, COALESCE(OLD.template, 'action:' || OLD.action), OLD.status,
           CASE WHEN OLD.approval_route IS NULL THEN '' WHEN OLD.approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END, -1
    FROM insights_spans s
    WHERE OLD.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
    ON CONFLICT (span, bucket, label, status, route) DO UPDATE SET runs = insights_runs.runs - 1;
    INSERT INTO insights_requesters (span, bucket, requester, runs)
    SELECT s.span, OLD.created_at / s.span * s.span, OLD.requester, -1 FROM insights_spans s
    WHERE OLD.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
    ON CONFLICT (span, bucket, requester) DO UPDATE SET runs = insights_requesters.runs - 1;
    INSERT INTO insights_durations (span, bucket, label, bin, runs)
    SELECT s.span, OLD.created_at / s.span * s.span, COALESCE(OLD.template, 'action:' || OLD.action), OLD.took_bin, -1
    FROM insights_spans s WHERE OLD.status = 'succeeded'
    ON CONFLICT (span, bucket, label, bin) DO UPDATE SET runs = insights_durations.runs - 1;
    INSERT INTO insights_failures (span, bucket, label, kind, runs, last_at, last_message)
    SELECT s.span, OLD.created_at / s.span * s.span, COALESCE(OLD.template, 'action:' || OLD.action),
           COALESCE(json_extract(OLD.error, '$.kind'), 'unknown'), -1, 0, ''
    FROM insights_spans s
    WHERE OLD.status IN ('failed', 'rolled-back', 'rollback-failed') AND json_valid(OLD.error)
    ON CONFLICT (span, bucket, label, kind) DO UPDATE SET runs = insights_failures.runs - 1;
    -- Add the new one.
    INSERT INTO insights_runs (span, bucket, label, status, route, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action), NEW.status,
           CASE WHEN NEW.approval_route IS NULL THEN '' WHEN NEW.approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END, 1
    FROM insights_spans s
    WHERE NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
    ON CONFLICT (span, bucket, label, status, route) DO UPDATE SET runs = insights_runs.runs + 1;
    INSERT INTO insights_requesters (span, bucket, requester, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, NEW.requester, 1 FROM insights_spans s
    WHERE NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
    ON CONFLICT (span, bucket, requester) DO UPDATE SET runs = insights_requesters.runs + 1;
    INSERT INTO insights_durations (span, bucket, label, bin, runs)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action), NEW.took_bin, 1
    FROM insights_spans s WHERE NEW.status = 'succeeded'
    ON CONFLICT (span, bucket, label, bin) DO UPDATE SET runs = insights_durations.runs + 1;
    INSERT INTO insights_failures (span, bucket, label, kind, runs, last_at, last_message)
    SELECT s.span, NEW.created_at / s.span * s.span, COALESCE(NEW.template, 'action:' || NEW.action),
           COALESCE(json_extract(NEW.error, '$.kind'), 'unknown'), 1, NEW.updated_at, COALESCE(json_extract(NEW.error, '$.message'), '')
    FROM insights_spans s
    WHERE NEW.status IN ('failed', 'rolled-back', 'rollback-failed') AND json_valid(NEW.error)
    ON CONFLICT (span, bucket, label, kind) DO UPDATE SET runs = insights_failures.runs + 1,
        last_message = CASE WHEN excluded.last_at >= insights_failures.last_at THEN excluded.last_message ELSE insights_failures.last_message END,
        last_at = max(excluded.last_at, insights_failures.last_at);
END;

-- A stage counts once decided.
CREATE TRIGGER insights_stage_inserted AFTER INSERT ON approval_stages
WHEN NEW.wait_bin IS NOT NULL
BEGIN
    INSERT INTO insights_stage_waits (span, bucket, policy_version, name, bin, decided, breaches)
    SELECT s.span, NEW.opened_at / s.span * s.span, NEW.policy_version, NEW.name, NEW.wait_bin, 1,
           CASE WHEN NEW.decided_at - NEW.opened_at > NEW.sla_ms THEN 1 ELSE 0 END
    FROM insights_spans s WHERE true
    ON CONFLICT (span, bucket, policy_version, name, bin) DO UPDATE SET decided = insights_stage_waits.decided + 1,
        breaches = insights_stage_waits.breaches + excluded.breaches;
END;

CREATE TRIGGER insights_stage_updated AFTER UPDATE ON approval_stages
WHEN (OLD.wait_bin IS NOT NULL OR NEW.wait_bin IS NOT NULL)
 AND (OLD.opened_at IS NOT NEW.opened_at OR OLD.decided_at IS NOT NEW.decided_at OR OLD.sla_ms IS NOT NEW.sla_ms
      OR OLD.policy_version IS NOT NEW.policy_version OR OLD.name IS NOT NEW.name)
BEGIN
    INSERT INTO insights_stage_waits (span, bucket, policy_version, name, bin, decided, breaches)
    SELECT s.span, OLD.opened_at / s.span * s.span, OLD.policy_version, OLD.name, OLD.wait_bin, -1,
           CASE WHEN OLD.decided_at - OLD.opened_at > OLD.sla_ms THEN -1 ELSE 0 END
    FROM insights_spans s WHERE OLD.wait_bin IS NOT NULL
    ON CONFLICT (span, bucket, policy_version, name, bin) DO UPDATE SET decided = insights_stage_waits.decided - 1,
        breaches = insights_stage_waits.breaches + excluded.breaches;
    INSERT INTO insights_stage_waits (span, bucket, policy_version, name, bin, decided, breaches)
    SELECT s.span, NEW.opened_at / s.span * s.span, NEW.policy_version, NEW.name, NEW.wait_bin, 1,
           CASE WHEN NEW.decided_at - NEW.opened_at > NEW.sla_ms THEN 1 ELSE 0 END
    FROM insights_spans s WHERE NEW.wait_bin IS NOT NULL
    ON CONFLICT (span, bucket, policy_version, name, bin) DO UPDATE SET decided = insights_stage_waits.decided + 1,
        breaches = insights_stage_waits.breaches + excluded.breaches;
END;

-- What was there before this migration.
INSERT INTO insights_runs (span, bucket, label, status, route, runs)
SELECT s.span, r.created_at / s.span * s.span, COALESCE(r.template, 'action:' || r.action), r.status,
       CASE WHEN r.approval_route IS NULL THEN '' WHEN r.approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END, COUNT(*)
FROM runs r, insights_spans s
WHERE r.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO insights_requesters (span, bucket, requester, runs)
SELECT s.span, r.created_at / s.span * s.span, r.requester, COUNT(*)
FROM runs r, insights_spans s
WHERE r.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
GROUP BY 1, 2, 3;
INSERT INTO insights_durations (span, bucket, label, bin, runs)
SELECT s.span, r.created_at / s.span * s.span, COALESCE(r.template, 'action:' || r.action), r.took_bin, COUNT(*)
FROM runs r, insights_spans s WHERE r.status = 'succeeded'
GROUP BY 1, 2, 3, 4;
INSERT INTO insights_failures (span, bucket, label, kind, runs, last_at, last_message)
SELECT s.span, r.created_at / s.span * s.span, COALESCE(r.template, 'action:' || r.action),
       COALESCE(json_extract(r.error, '$.kind'), 'unknown'), COUNT(*), MAX(r.updated_at), ''
FROM runs r, insights_spans s
WHERE r.status IN ('failed', 'rolled-back', 'rollback-failed') AND json_valid(r.error)
GROUP BY 1, 2, 3, 4;
UPDATE insights_failures SET last_message = COALESCE((
    SELECT json_extract(r.error, '$.message') FROM runs r
    WHERE r.status IN ('failed', 'rolled-back', 'rollback-failed') AND json_valid(r.error)
      AND r.created_at / insights_failures.span * insights_failures.span = insights_failures.bucket
      AND COALESCE(r.template, 'action:' || r.action) = insights_failures.label
      AND COALESCE(json_extract(r.error, '$.kind'), 'unknown') = insights_failures.kind
    ORDER BY r.updated_at DESC LIMIT 1), '');
INSERT INTO insights_stage_waits (span, bucket, policy_version, name, bin, decided, breaches)
SELECT s.span, a.opened_at / s.span * s.span, a.policy_version, a.name, a.wait_bin, COUNT(*),
       SUM(CASE WHEN a.decided_at - a.opened_at > a.sla_ms THEN 1 ELSE 0 END)
FROM approval_stages a, insights_spans s WHERE a.wait_bin IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;
