//! What the platform insights are computed from: the runs and approval stages of a window,
//! aggregated in the database, and the window's ratings and NPS answers.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// Which runs the insights cover: a window, optionally one template (`action:NAME` for
/// single-action runs) and a set of requesters (a team's members).
#[derive(Debug, Clone, Copy)]
pub struct RunScope<'a> {
    /// Submitted at or after (ms).
    pub from: i64,
    /// Submitted before (ms).
    pub to: i64,
    /// Only this template.
    pub template: Option<&'a str>,
    /// Only these requesters.
    pub requesters: Option<&'a [String]>,
}

/// A failed or rolled-back run, with its error.
#[derive(Debug, Clone)]
pub struct FailedRun {
    /// Template, or `action:NAME`.
    pub label: String,
    /// `failed`, `rolled-back` or `rollback-failed`.
    pub status: String,
    /// When it ended (ms).
    pub updated_at: i64,
    /// Its `{"kind", "message", "left_behind"?}`.
    pub error: Option<serde_json::Value>,
}

/// Time from submit to success: the nearest-rank p50 and p90 over a group of runs.
#[derive(Debug, Clone)]
pub struct DurationStats {
    /// Template, or `action:NAME`.
    pub label: String,
    /// `Some(true)` for the window's first half, `Some(false)` the second, `None` for all.
    pub early: Option<bool>,
    /// Succeeded runs.
    pub runs: i64,
    /// Median (ms).
    pub p50_ms: i64,
    /// 90th percentile (ms).
    pub p90_ms: i64,
}

/// The runs of a scope, aggregated in the database (one small answer per question, so the
/// insights over 100,000 runs read a few hundred rows, not 100,000).
#[derive(Debug, Clone, Default)]
pub struct RunAggregates {
    /// Runs per (template, status).
    pub by_label_status: Vec<(String, String, i64)>,
    /// Runs per requester.
    pub by_requester: Vec<(String, i64)>,
    /// Runs per week of the window (week 0 starts at `from`).
    pub by_week: Vec<(i64, i64)>,
    /// Runs in the window's first and second half.
    pub halves: (i64, i64),
    /// Runs routed by the policy, and of those approved automatically.
    pub routed: (i64, i64),
    /// Time to succeed per template, over the window and over each half.
    pub durations: Vec<DurationStats>,
    /// Runs that failed or rolled back.
    pub failed: Vec<FailedRun>,
}

/// One approval stage group: a policy version's stage, its waits and SLA breaches.
#[derive(Debug, Clone)]
pub struct StageWaits {
    /// The policy version that routed it.
    pub policy_version: String,
    /// The stage's name.
    pub name: String,
    /// Decided stages.
    pub decided: i64,
    /// Decided after their SLA, or still undecided past it.
    pub sla_breaches: i64,
    /// Opening to decision, median (ms).
    pub p50_ms: Option<i64>,
    /// … 90th percentile (ms).
    pub p90_ms: Option<i64>,
}

/// A run's label in SQL: its template, or `action:NAME`.
const LABEL: &str = "COALESCE(template, 'action:' || action)";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl RunScope<'_> {
    /// The `WHERE` conditions, with `$1`, `$2`… for [`RunScope::bind`]; and how many
    /// parameters they take (so a query can number its own after them).
    fn conditions(&self) -> (String, usize) {
        let mut sql = "created_at >= $1 AND created_at < $2".to_string();
        let mut n = 2;
        if self.template.is_some() {
            n += 1;
            sql.push_str(&format!(" AND {LABEL} = ${n}"));
        }
        if let Some(requesters) = self.requesters {
            if requesters.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                let list: Vec<String> = (0..requesters.len())
                    .map(|i| format!("${}", n + 1 + i))
                    .collect();
                n += requesters.len();
                sql.push_str(&format!(" AND requester IN ({})", list.join(", ")));
            }
        }
        (sql, n)
    }

    fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        query = query.bind(self.from).bind(self.to);
        if let Some(template) = self.template {
            query = query.bind(template.to_string());
        }
        for requester in self.requesters.unwrap_or_default() {
            query = query.bind(requester.clone());
        }
        query
    }
}

/// Nearest-rank p50 and p90 of `value` per group of `keys` (SQL expression, alias), over the
/// rows after `FROM` in `source`: answers `(alias…, n, p50, p90)`.
fn percentiles_sql(keys: &[(&str, &str)], value: &str, source: &str) -> String {
    let inner: Vec<String> = keys.iter().map(|(e, a)| format!("{e} AS {a}")).collect();
    let exprs: Vec<&str> = keys.iter().map(|(e, _)| *e).collect();
    let aliases: Vec<&str> = keys.iter().map(|(_, a)| *a).collect();
    let (inner, exprs, aliases) = (inner.join(", "), exprs.join(", "), aliases.join(", "));
    format!(
        "SELECT {aliases}, n, MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN v END), MAX(CASE WHEN rn = (90 * n + 99) / 100 THEN v END) \
         FROM (SELECT {inner}, {value} AS v, ROW_NUMBER() OVER (PARTITION BY {exprs} ORDER BY {value}) AS rn, \
               COUNT(*) OVER (PARTITION BY {exprs}) AS n FROM {source}) ranked \
         GROUP BY {aliases}, n"
    )
}

impl Store {
    /// The runs of `scope`, aggregated; weeks are `week_ms` long.
    pub async fn run_aggregates(
        &self,
        scope: &RunScope<'_>,
        week_ms: i64,
    ) -> Result<RunAggregates, StoreError> {
        let (conditions, n) = scope.conditions();
        let middle = scope.from + (scope.to - scope.from) / 2;
        let early = format!("CASE WHEN created_at < ${} THEN 1 ELSE 0 END", n + 1);
        let mut out = RunAggregates::default();

        let sql = format!(
            "SELECT {LABEL}, status, COUNT(*) FROM runs WHERE {conditions} GROUP BY {LABEL}, status"
        );
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            out.by_label_status
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        let sql =
            format!("SELECT requester, COUNT(*) FROM runs WHERE {conditions} GROUP BY requester");
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            out.by_requester.push((r.try_get(0)?, r.try_get(1)?));
        }
        let week = format!("(created_at - $1) / {week_ms}");
        let sql = format!(
            "SELECT {week}, COUNT(*) FROM runs WHERE {conditions} GROUP BY {week} ORDER BY {week}"
        );
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            out.by_week.push((r.try_get(0)?, r.try_get(1)?));
        }
        let sql = format!("SELECT {early}, COUNT(*) FROM runs WHERE {conditions} GROUP BY {early}");
        for r in scope
            .bind(sqlx::query(&sql))
            .bind(middle)
            .fetch_all(&self.pool)
            .await?
        {
            let (first, count): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            if first == 1 {
                out.halves.0 = count;
            } else {
                out.halves.1 = count;
            }
        }
        let sql = format!(
            "SELECT COUNT(approval_route), COUNT(CASE WHEN approval_route = 'automatic' THEN 1 END) FROM runs WHERE {conditions}"
        );
        let r = scope.bind(sqlx::query(&sql)).fetch_one(&self.pool).await?;
        out.routed = (r.try_get(0)?, r.try_get(1)?);

        let succeeded = format!("runs WHERE status = 'succeeded' AND {conditions}");
        let took = "updated_at - created_at";
        let sql = percentiles_sql(&[(LABEL, "label")], took, &succeeded);
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            out.durations.push(DurationStats {
                label: r.try_get(0)?,
                early: None,
                runs: r.try_get(1)?,
                p50_ms: r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
                p90_ms: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
            });
        }
        let sql = percentiles_sql(&[(LABEL, "label"), (&early, "early")], took, &succeeded);
        for r in scope
            .bind(sqlx::query(&sql))
            .bind(middle)
            .fetch_all(&self.pool)
            .await?
        {
            out.durations.push(DurationStats {
                label: r.try_get(0)?,
                early: Some(r.try_get::<i64, _>(1)? == 1),
                runs: r.try_get(2)?,
                p50_ms: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                p90_ms: r.try_get::<Option<i64>, _>(4)?.unwrap_or(0),
            });
        }

        let sql = format!(
            "SELECT {LABEL}, status, updated_at, error FROM runs WHERE status IN ('failed', 'rolled-back', 'rollback-failed') AND {conditions}"
        );
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&self.pool).await? {
            let error: Option<String> = r.try_get(3)?;
            out.failed.push(FailedRun {
                label: r.try_get(0)?,
                status: r.try_get(1)?,
                updated_at: r.try_get(2)?,
                error: error.and_then(|e| serde_json::from_str(&e).ok()),
            });
        }
        Ok(out)
    }

    /// The approval stages opened in `[from, to)`, per policy version and stage; a stage
    /// still open at `to` past its SLA counts as a breach.
    pub async fn stage_waits(&self, from: i64, to: i64) -> Result<Vec<StageWaits>, StoreError> {
        let rows = sqlx::query(
            "SELECT policy_version, name, COUNT(decided_at), SUM(CASE WHEN COALESCE(decided_at, $3) - opened_at > sla_ms THEN 1 ELSE 0 END) \
             FROM approval_stages WHERE opened_at >= $1 AND opened_at < $2 GROUP BY policy_version, name ORDER BY policy_version, name",
        )
        .bind(from)
        .bind(to)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut waits: Vec<StageWaits> = rows
            .iter()
            .map(|r| {
                Ok(StageWaits {
                    policy_version: r.try_get(0)?,
                    name: r.try_get(1)?,
                    decided: r.try_get(2)?,
                    sla_breaches: r.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                    p50_ms: None,
                    p90_ms: None,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let sql = percentiles_sql(
            &[("policy_version", "policy_version"), ("name", "stage")],
            "decided_at - opened_at",
            "approval_stages WHERE decided_at IS NOT NULL AND opened_at >= $1 AND opened_at < $2",
        );
        for r in sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?
        {
            let (policy, name): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            if let Some(w) = waits
                .iter_mut()
                .find(|w| w.policy_version == policy && w.name == name)
            {
                w.p50_ms = r.try_get(3)?;
                w.p90_ms = r.try_get(4)?;
            }
        }
        Ok(waits)
    }
}

/// One rating (1-5) of a run, with its template.
#[derive(Debug, Clone)]
pub struct RatingFact {
    /// The rated run's template (or `action:NAME`).
    pub template: String,
    /// 1-5.
    pub score: i64,
    /// What the user wrote.
    pub comment: String,
    /// When.
    pub created_at: i64,
}

impl Store {
    /// The run ratings given in `[from, to)`.
    pub async fn rating_facts(&self, from: i64, to: i64) -> Result<Vec<RatingFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(r.template, 'action:' || r.action), t.score, t.comment, t.created_at \
             FROM run_ratings t JOIN runs r ON r.id = t.run_id WHERE t.created_at >= $1 AND t.created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RatingFact {
                    template: r.try_get(0)?,
                    score: r.try_get(1)?,
                    comment: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Records an answer (0-10) to "would you recommend Lever?".
    pub async fn record_nps(
        &self,
        user_id: &str,
        score: i64,
        comment: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nps_responses (user_id, score, comment, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(score)
        .bind(comment)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The NPS answers (score) given in `[from, to)`, each user's latest only.
    pub async fn nps_scores(&self, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.score FROM nps_responses n WHERE n.created_at >= $1 AND n.created_at < $2 \
             AND n.created_at = (SELECT MAX(m.created_at) FROM nps_responses m WHERE m.user_id = n.user_id AND m.created_at >= $1 AND m.created_at < $2)",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// When `user_id` last answered the NPS question (ms), if ever.
    pub async fn last_nps_answer(&self, user_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(created_at) FROM nps_responses WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
