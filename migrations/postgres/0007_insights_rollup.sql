-- The insights' rollup: finished runs and decided approval stages counted per hour and per day
-- (`span` is the bucket's length in ms), kept by triggers in the very transaction that changes
-- a run or a stage, so a rollup row can never disagree with the rows it counts. A change takes
-- the old row's contribution away and adds the new one's; runs still in flight are not here
-- (the insights read those few from `runs`, as they read the window's partial first and last
-- hour). Durations go into bins of the E12 series (10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68,
-- 82 times a power of ten): a percentile read from a bin is within 12 % of the exact one.
--
-- The same tables and triggers, in SQLite's dialect, are in the SQLite migration of this number.

-- The E12 bin of a duration (the lower bound, in ms; under 10 ms the value itself).
CREATE FUNCTION insights_bin(v BIGINT) RETURNS BIGINT LANGUAGE SQL IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN NULL WHEN v < 10 THEN v ELSE CAST(
        (CASE
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 12 THEN '10'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 15 THEN '12'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 18 THEN '15'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 22 THEN '18'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 27 THEN '22'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 33 THEN '27'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 39 THEN '33'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 47 THEN '39'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 56 THEN '47'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 68 THEN '56'
            WHEN CAST(substr(CAST(v AS TEXT), 1, 2) AS INTEGER) < 82 THEN '68'
            ELSE '82' END)
        || repeat('0', length(CAST(v AS TEXT)) - 2) AS BIGINT) END
$$;

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

-- The error's kind and message, or NULL when the error is not a JSON object.
CREATE FUNCTION insights_error(error TEXT) RETURNS JSONB LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF error IS NULL THEN RETURN NULL; END IF;
    RETURN CASE WHEN jsonb_typeof(error::jsonb) = 'object' THEN error::jsonb END;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- Adds a run's contribution (`n` = 1) or takes it away (`n` = -1), for every span.
CREATE FUNCTION insights_count_run(r runs, n BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    run_label TEXT := COALESCE(r.template, 'action:' || r.action);
    err JSONB;
BEGIN
    IF r.status NOT IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected') THEN
        RETURN;
    END IF;
    INSERT INTO insights_runs AS t (span, bucket, label, status, route, runs)
    SELECT s.span, r.created_at / s.span * s.span, run_label, r.status,
           CASE WHEN r.approval_route IS NULL THEN '' WHEN r.approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END, n
    FROM insights_spans s
    ON CONFLICT (span, bucket, label, status, route) DO UPDATE SET runs = t.runs + n;
    INSERT INTO insights_requesters AS t (span, bucket, requester, runs)
    SELECT s.span, r.created_at / s.span * s.span, r.requester, n FROM insights_spans s
    ON CONFLICT (span, bucket, requester) DO UPDATE SET runs = t.runs + n;
    IF r.status = 'succeeded' THEN
        INSERT INTO insights_durations AS t (span, bucket, label, bin, runs)
        SELECT s.span, r.created_at / s.span * s.span, run_label, insights_bin(r.updated_at - r.created_at), n
        FROM insights_spans s
        ON CONFLICT (span, bucket, label, bin) DO UPDATE SET runs = t.runs + n;
    END IF;
    IF r.status IN ('failed', 'rolled-back', 'rollback-failed') THEN
        err := insights_error(r.error);
        IF err IS NOT NULL THEN
            INSERT INTO insights_failures AS t (span, bucket, label, kind, runs, last_at, last_message)
            SELECT s.span, r.created_at / s.span * s.span, run_label, COALESCE(err ->> 'kind', 'unknown'), n,
                   CASE WHEN n > 0 THEN r.updated_at ELSE 0 END, COALESCE(err ->> 'message', '')
            FROM insights_spans s
            ON CONFLICT (span, bucket, label, kind) DO UPDATE SET runs = t.runs + n,
                last_message = CASE WHEN n > 0 AND excluded.last_at >= t.last_at THEN excluded.last_message ELSE t.last_message END,
                last_at = GREATEST(t.last_at, excluded.last_at);
        END IF;
    END IF;
END
$$;

CREATE FUNCTION insights_run_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM insights_count_run(OLD, -1);
    END IF;
    PERFORM insights_count_run(NEW, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER insights_run_inserted AFTER INSERT ON runs FOR EACH ROW
WHEN (NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected'))
EXECUTE FUNCTION insights_run_changed();

CREATE TRIGGER insights_run_updated AFTER UPDATE ON runs FOR EACH ROW
WHEN ((OLD.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected')
       OR NEW.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected'))
  AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.updated_at IS DISTINCT FROM NEW.updated_at
       OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.error IS DISTINCT FROM NEW.error
       OR OLD.approval_route IS DISTINCT FROM NEW.approval_route OR OLD.requester IS DISTINCT FROM NEW.requester
       OR OLD.template IS DISTINCT FROM NEW.template OR OLD.action IS DISTINCT FROM NEW.action))
EXECUTE FUNCTION insights_run_changed();

-- A stage counts once decided.
CREATE FUNCTION insights_count_stage(a approval_stages, n BIGINT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF a.decided_at IS NULL OR a.opened_at IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO insights_stage_waits AS t (span, bucket, policy_version, name, bin, decided, breaches)
    SELECT s.span, a.opened_at / s.span * s.span, a.policy_version, a.name, insights_bin(a.decided_at - a.opened_at), n,
           CASE WHEN a.decided_at - a.opened_at > a.sla_ms THEN n ELSE 0 END
    FROM insights_spans s
    ON CONFLICT (span, bucket, policy_version, name, bin) DO UPDATE SET decided = t.decided + n,
        breaches = t.breaches + excluded.breaches;
END
$$;

CREATE FUNCTION insights_stage_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM insights_count_stage(OLD, -1);
    END IF;
    PERFORM insights_count_stage(NEW, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER insights_stage_inserted AFTER INSERT ON approval_stages FOR EACH ROW
WHEN (NEW.decided_at IS NOT NULL AND NEW.opened_at IS NOT NULL)
EXECUTE FUNCTION insights_stage_changed();

CREATE TRIGGER insights_stage_updated AFTER UPDATE ON approval_stages FOR EACH ROW
WHEN ((OLD.decided_at IS NOT NULL OR NEW.decided_at IS NOT NULL)
  AND (OLD.opened_at IS DISTINCT FROM NEW.opened_at OR OLD.decided_at IS DISTINCT FROM NEW.decided_at
       OR OLD.sla_ms IS DISTINCT FROM NEW.sla_ms OR OLD.policy_version IS DISTINCT FROM NEW.policy_version
       OR OLD.name IS DISTINCT FROM NEW.name))
EXECUTE FUNCTION insights_stage_changed();

-- What was there before this migration.
SELECT insights_count_run(r, 1) FROM runs r
WHERE r.status IN ('succeeded', 'failed', 'rolled-back', 'rollback-failed', 'cancelled', 'rejected');
SELECT insights_count_stage(a, 1) FROM approval_stages a WHERE a.decided_at IS NOT NULL;
