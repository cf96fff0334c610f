//! What the platform insights are computed from: the runs and approval stages of a window,
//! aggregated in the database — the whole hours and days from the rollup the migration's
//! triggers keep, the rest from the rows — and the window's ratings and NPS answers.

mod window;

use std::collections::BTreeMap;

use sqlx::Row;

use crate::status::sql_list;
use crate::{RunStatus, Store, StoreError, now_ms};
use window::{DAY, Histogram, Window};

pub use window::{bin as duration_bin, bin_value as duration_bin_value};

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

/// A run whose rollback failed, with its error.
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

/// One kind of failure: how many runs failed with it, and its latest message.
#[derive(Debug, Clone)]
pub struct FailureKind {
    /// The error's kind.
    pub kind: String,
    /// Failed or rolled-back runs with it.
    pub runs: i64,
    /// When the latest of them ended (ms).
    pub last_at: i64,
    /// Its message.
    pub last_message: String,
}

/// The runs of a scope, aggregated in the database (one small answer per question, so the
/// insights over 100,000 runs read a few hundred rows, not 100,000). Percentiles over the
/// rollup's bins are within 12 % of the exact ones (the bin of the exact one); the partial edges of a window are read exact, a team's or a template's runs binned too.
#[derive(Debug, Clone, Default)]
pub struct RunAggregates {
    /// Runs per (template, status).
    pub by_label_status: Vec<(String, String, i64)>,
    /// Runs per requester.
    pub by_requester: Vec<(String, i64)>,
    /// Runs per week of the window (week 1 starts a week after the midnight following `from`).
    pub by_week: Vec<(i64, i64)>,
    /// Runs in the window's first and second half.
    pub halves: (i64, i64),
    /// Runs routed by the policy, and of those approved automatically.
    pub routed: (i64, i64),
    /// Time to succeed per template, over the window and over each half.
    pub durations: Vec<DurationStats>,
    /// The kinds of failure of the runs that failed or rolled back.
    pub failure_kinds: Vec<FailureKind>,
    /// The runs whose rollback failed.
    pub rollback_failed: Vec<FailedRun>,
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
/// A run's approval route as the rollup spells it.
const ROUTE: &str = "CASE WHEN approval_route IS NULL THEN '' WHEN approval_route = 'automatic' THEN 'automatic' ELSE 'stages' END";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
type Reader = sqlx::Transaction<'static, sqlx::Any>;

impl RunScope<'_> {
    /// Whether the rollup answers for this scope: it counts the whole organisation per
    /// template; a team or one template is read from the runs through their indexes.
    fn rolled_up(&self) -> bool {
        self.template.is_none() && self.requesters.is_none()
    }

    /// The template and team conditions (`AND …`, parameters from `$1`).
    fn filters(&self) -> String {
        let mut sql = String::new();
        let mut n = 0;
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
                sql.push_str(&format!(" AND requester IN ({})", list.join(", ")));
            }
        }
        sql
    }

    fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        if let Some(template) = self.template {
            query = query.bind(template.to_string());
        }
        for requester in self.requesters.unwrap_or_default() {
            query = query.bind(requester.clone());
        }
        query
    }
}

/// Running totals of the run aggregates, from the rollup and from rows.
#[derive(Default)]
struct Totals {
    by_label_status: BTreeMap<(String, String), i64>,
    by_requester: BTreeMap<String, i64>,
    by_week: BTreeMap<i64, i64>,
    halves: (i64, i64),
    routed: (i64, i64),
    /// Per template, and per template and half (`true` early).
    durations: BTreeMap<(String, Option<bool>), Histogram>,
    /// Per kind: runs, the latest message's time and the message.
    kinds: BTreeMap<String, (i64, i64, String)>,
}

impl Totals {
    fn count(&mut self, label: String, status: String, route: &str, runs: i64) {
        *self.by_label_status.entry((label, status)).or_default() += runs;
        if !route.is_empty() {
            self.routed.0 += runs;
            if route == "automatic" {
                self.routed.1 += runs;
            }
        }
    }

    fn count_time(&mut self, week: i64, early: bool, runs: i64) {
        *self.by_week.entry(week).or_default() += runs;
        if early {
            self.halves.0 += runs;
        } else {
            self.halves.1 += runs;
        }
    }

    fn duration(&mut self, label: &str, early: bool, value: i64, runs: i64, binned: bool) {
        for key in [(label.to_string(), None), (label.to_string(), Some(early))] {
            let h = self.durations.entry(key).or_default();
            if binned {
                h.add_bin(value, runs);
            } else {
                h.add_exact(value, runs);
            }
        }
    }

    fn failure(&mut self, kind: String, runs: i64, at: i64, message: String) {
        let entry = self.kinds.entry(kind).or_default();
        entry.0 += runs;
        if at >= entry.1 {
            entry.1 = at;
            entry.2 = message;
        }
    }

    fn finish(self, rollback_failed: Vec<FailedRun>) -> RunAggregates {
        let positive = |n: &i64| *n > 0;
        RunAggregates {
            by_label_status: self
                .by_label_status
                .into_iter()
                .filter(|(_, n)| positive(n))
                .map(|((l, s), n)| (l, s, n))
                .collect(),
            by_requester: self
                .by_requester
                .into_iter()
                .filter(|(_, n)| positive(n))
                .collect(),
            by_week: self
                .by_week
                .into_iter()
                .filter(|(_, n)| positive(n))
                .collect(),
            halves: self.halves,
            routed: self.routed,
            durations: self
                .durations
                .into_iter()
                .filter_map(|((label, early), mut h)| {
                    Some(DurationStats {
                        label,
                        early,
                        runs: h.count(),
                        p50_ms: h.percentile(50)?,
                        p90_ms: h.percentile(90)?,
                    })
                })
                .collect(),
            failure_kinds: self
                .kinds
                .into_iter()
                .filter(|(_, (n, _, _))| positive(n))
                .map(|(kind, (runs, last_at, last_message))| FailureKind {
                    kind,
                    runs,
                    last_at,
                    last_message,
                })
                .collect(),
            rollback_failed,
        }
    }
}

impl Store {
    /// A read transaction over one snapshot, so the rollup and the rows it does not hold are
    /// read as of the same moment.
    async fn snapshot(&self) -> Result<Reader, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// The runs of `scope`, aggregated; weeks are `week_ms` long and start at the midnight (UTC)
    /// after `scope.from`, the second half at the midnight after the middle.
    pub async fn run_aggregates(
        &self,
        scope: &RunScope<'_>,
        week_ms: i64,
    ) -> Result<RunAggregates, StoreError> {
        let window = Window::new(scope.from, scope.to, week_ms);
        let (from, to) = (window.from, window.to);
        let mut totals = Totals::default();
        let mut tx = self.snapshot().await?;
        // What the rows give: everything for a filtered scope; else runs in flight and the
        // window's partial first and last hour — each read on its own, so that each uses its
        // index (`(status, created_at)`, `created_at`).
        if scope.rolled_up() {
            read_rollup(&mut tx, &window, &mut totals).await?;
            let mut sources = vec![format!(
                "status IN {} AND created_at >= {from} AND created_at < {to}",
                sql_list(&RunStatus::IN_FLIGHT)
            )];
            for (a, b) in window.raw_ranges() {
                sources.push(format!(
                    "created_at >= {a} AND created_at < {b} AND status IN {}",
                    sql_list(&RunStatus::FINISHED)
                ));
            }
            for source in sources {
                read_rows(&mut tx, scope, &window, &source, None, &mut totals).await?;
            }
        } else {
            let source = format!(
                "created_at >= {from} AND created_at < {to}{}",
                scope.filters()
            );
            let bin = match self.backend {
                crate::Backend::Sqlite => "took_bin",
                crate::Backend::Postgres => "insights_bin(updated_at - created_at)",
            };
            read_rows(&mut tx, scope, &window, &source, Some(bin), &mut totals).await?;
        }

        // Rolled-back runs that left something behind are few: read each.
        let sql = format!(
            "SELECT {LABEL}, status, updated_at, error FROM runs WHERE status = {} AND created_at >= {from} AND created_at < {to}{}",
            crate::status::sql(RunStatus::RollbackFailed),
            scope.filters()
        );
        let mut rollback_failed = Vec::new();
        for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut *tx).await? {
            let error: Option<String> = r.try_get(3)?;
            let Some(error) = error.and_then(|e| serde_json::from_str(&e).ok()) else {
                continue;
            };
            rollback_failed.push(FailedRun {
                label: r.try_get(0)?,
                status: r.try_get(1)?,
                updated_at: r.try_get(2)?,
                error: Some(error),
            });
        }
        tx.commit().await?;
        Ok(totals.finish(rollback_failed))
    }

    /// The approval stages opened in `[from, to)`, per policy version and stage; a stage
    /// still open at `to` past its SLA counts as a breach.
    pub async fn stage_waits(&self, from: i64, to: i64) -> Result<Vec<StageWaits>, StoreError> {
        let window = Window::new(from, to, DAY);
        let (from, to) = (window.from, window.to);
        // Per (policy version, stage): decided, breaches, the waits.
        let mut groups: BTreeMap<(String, String), (i64, i64, Histogram)> = BTreeMap::new();
        let mut tx = self.snapshot().await?;
        for piece in window.rollup_conditions() {
            let sql = format!(
                "SELECT policy_version, name, bin, CAST(SUM(decided) AS BIGINT), CAST(SUM(breaches) AS BIGINT) FROM insights_stage_waits WHERE {piece} \
                 GROUP BY policy_version, name, bin HAVING SUM(decided) > 0"
            );
            for r in sqlx::query(&sql).fetch_all(&mut *tx).await? {
                let g = groups.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
                let (bin, decided): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
                g.0 += decided;
                g.1 += r.try_get::<i64, _>(4)?;
                g.2.add_bin(bin, decided);
            }
        }
        for (a, b) in window.raw_ranges() {
            let sql = format!(
                "SELECT policy_version, name, decided_at - opened_at, CASE WHEN decided_at - opened_at > sla_ms THEN 1 ELSE 0 END \
                 FROM approval_stages WHERE opened_at >= {a} AND opened_at < {b} AND decided_at IS NOT NULL"
            );
            for r in sqlx::query(&sql).fetch_all(&mut *tx).await? {
                let g = groups.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
                g.0 += 1;
                g.1 += r.try_get::<i64, _>(3)?;
                g.2.add_exact(r.try_get(2)?, 1);
            }
        }
        let sql = format!(
            "SELECT policy_version, name, SUM(CASE WHEN {to} - opened_at > sla_ms THEN 1 ELSE 0 END) \
             FROM approval_stages WHERE decided_at IS NULL AND opened_at >= {from} AND opened_at < {to} GROUP BY policy_version, name"
        );
        for r in sqlx::query(&sql).fetch_all(&mut *tx).await? {
            let g = groups.entry((r.try_get(0)?, r.try_get(1)?)).or_default();
            g.1 += r.try_get::<Option<i64>, _>(2)?.unwrap_or(0);
        }
        tx.commit().await?;
        Ok(groups
            .into_iter()
            .map(
                |((policy_version, name), (decided, sla_breaches, mut waits))| StageWaits {
                    policy_version,
                    name,
                    decided,
                    sla_breaches,
                    p50_ms: waits.percentile(50),
                    p90_ms: waits.percentile(90),
                },
            )
            .collect())
    }
}

/// Adds what the rollup holds for the window's whole hours.
async fn read_rollup(
    tx: &mut Reader,
    window: &Window,
    totals: &mut Totals,
) -> Result<(), StoreError> {
    let (week, early) = (window.week_sql("bucket"), window.early_sql("bucket"));
    for pieces in window.rollup_conditions() {
        read_piece(tx, &pieces, &week, &early, totals).await?;
    }
    Ok(())
}

/// Adds one range of the rollup.
async fn read_piece(
    tx: &mut Reader,
    pieces: &str,
    week: &str,
    early: &str,
    totals: &mut Totals,
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT label, status, route, CAST(SUM(runs) AS BIGINT) FROM insights_runs WHERE {pieces} GROUP BY label, status, route HAVING SUM(runs) > 0"
    );
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        let route: String = r.try_get(2)?;
        totals.count(r.try_get(0)?, r.try_get(1)?, &route, r.try_get(3)?);
    }
    let sql = format!(
        "SELECT {week}, {early}, CAST(SUM(runs) AS BIGINT) FROM insights_runs WHERE {pieces} GROUP BY 1, 2"
    );
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        totals.count_time(r.try_get(0)?, r.try_get::<i64, _>(1)? == 1, r.try_get(2)?);
    }
    let sql = format!(
        "SELECT requester, CAST(SUM(runs) AS BIGINT) FROM insights_requesters WHERE {pieces} GROUP BY requester HAVING SUM(runs) > 0"
    );
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        *totals.by_requester.entry(r.try_get(0)?).or_default() += r.try_get::<i64, _>(1)?;
    }
    let sql = format!(
        "SELECT label, {early}, bin, CAST(SUM(runs) AS BIGINT) FROM insights_durations WHERE {pieces} GROUP BY 1, 2, 3 HAVING SUM(runs) > 0"
    );
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        let label: String = r.try_get(0)?;
        let is_early = r.try_get::<i64, _>(1)? == 1;
        totals.duration(&label, is_early, r.try_get(2)?, r.try_get(3)?, true);
    }
    let sql = format!(
        "SELECT kind, total, last_at, last_message FROM (\
           SELECT kind, CAST(SUM(runs) OVER (PARTITION BY kind) AS BIGINT) AS total, last_at, last_message, \
                  ROW_NUMBER() OVER (PARTITION BY kind ORDER BY last_at DESC) AS n \
           FROM insights_failures WHERE runs > 0 AND {pieces}) latest WHERE n = 1"
    );
    for r in sqlx::query(&sql).fetch_all(&mut **tx).await? {
        totals.failure(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    }
    Ok(())
}

/// Adds the runs matching `rows_where`, read from the rows; their durations exact, or binned
/// by the SQL `bin` (for a team's or a template's runs, which can be many).
async fn read_rows(
    tx: &mut Reader,
    scope: &RunScope<'_>,
    window: &Window,
    rows_where: &str,
    bin: Option<&str>,
    totals: &mut Totals,
) -> Result<(), StoreError> {
    let (week, early) = (
        window.week_sql("created_at"),
        window.early_sql("created_at"),
    );
    // One small answer per question (grouping by everything at once would answer a row per
    // requester and template).
    let sql = format!(
        "SELECT {LABEL}, status, {ROUTE}, COUNT(*) FROM runs WHERE {rows_where} GROUP BY 1, 2, 3"
    );
    for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await? {
        let route: String = r.try_get(2)?;
        totals.count(r.try_get(0)?, r.try_get(1)?, &route, r.try_get(3)?);
    }
    let sql = format!("SELECT requester, COUNT(*) FROM runs WHERE {rows_where} GROUP BY 1");
    for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await? {
        *totals.by_requester.entry(r.try_get(0)?).or_default() += r.try_get::<i64, _>(1)?;
    }
    let sql =
        format!("SELECT {week}, {early}, COUNT(*) FROM runs WHERE {rows_where} GROUP BY 1, 2");
    for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await? {
        totals.count_time(r.try_get(0)?, r.try_get::<i64, _>(1)? == 1, r.try_get(2)?);
    }
    let took = bin.unwrap_or("updated_at - created_at");
    let succeeded = crate::status::sql(RunStatus::Succeeded);
    let sql = format!(
        "SELECT {LABEL}, {early}, {took}, COUNT(*) FROM runs WHERE status = {succeeded} AND {rows_where} GROUP BY 1, 2, 3"
    );
    for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await? {
        let label: String = r.try_get(0)?;
        let is_early = r.try_get::<i64, _>(1)? == 1;
        totals.duration(
            &label,
            is_early,
            r.try_get(2)?,
            r.try_get(3)?,
            bin.is_some(),
        );
    }
    // Failures carry the same few errors over and over: one row per distinct error.
    let sql = format!(
        "SELECT error, MAX(updated_at), COUNT(*) FROM runs WHERE status IN {} AND error IS NOT NULL AND {rows_where} GROUP BY error",
        sql_list(&[
            RunStatus::Failed,
            RunStatus::RolledBack,
            RunStatus::RollbackFailed
        ])
    );
    for r in scope.bind(sqlx::query(&sql)).fetch_all(&mut **tx).await? {
        let error: String = r.try_get(0)?;
        let Ok(error) = serde_json::from_str::<serde_json::Value>(&error) else {
            continue;
        };
        totals.failure(
            error["kind"].as_str().unwrap_or("unknown").to_string(),
            r.try_get(2)?,
            r.try_get(1)?,
            error["message"].as_str().unwrap_or_default().to_string(),
        );
    }
    Ok(())
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

/// The run ratings of a window: counted per template in the database, and the latest with a
/// comment.
#[derive(Debug, Clone, Default)]
pub struct RatingSummary {
    /// Per template (or `action:NAME`): ratings and the sum of their scores.
    pub per_template: Vec<(String, i64, i64)>,
    /// The latest ratings with a comment, newest first.
    pub latest_comments: Vec<RatingFact>,
}

impl Store {
    /// The run ratings given in `[from, to)`, of `template` only if given; `comments` of the
    /// latest with a comment.
    pub async fn rating_summary(
        &self,
        from: i64,
        to: i64,
        template: Option<&str>,
        comments: i64,
    ) -> Result<RatingSummary, StoreError> {
        let label = "COALESCE(r.template, 'action:' || r.action)";
        let only = if template.is_some() {
            format!(" AND {label} = $3")
        } else {
            String::new()
        };
        let bind = |sql| {
            let query = sqlx::query(sql).bind(from).bind(to);
            match template {
                Some(t) => query.bind(t.to_string()),
                None => query,
            }
        };
        let mut tx = self.snapshot().await?;
        let sql = format!(
            "SELECT {label}, COUNT(*), CAST(SUM(t.score) AS BIGINT) FROM run_ratings t JOIN runs r ON r.id = t.run_id \
             WHERE t.created_at >= $1 AND t.created_at < $2{only} GROUP BY {label} ORDER BY {label}"
        );
        let mut summary = RatingSummary::default();
        for r in bind(&sql).fetch_all(&mut *tx).await? {
            summary
                .per_template
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        let sql = format!(
            "SELECT {label}, t.score, t.comment, t.created_at FROM run_ratings t JOIN runs r ON r.id = t.run_id \
             WHERE t.created_at >= $1 AND t.created_at < $2 AND TRIM(t.comment) <> ''{only} \
             ORDER BY t.created_at DESC LIMIT {comments}"
        );
        for r in bind(&sql).fetch_all(&mut *tx).await? {
            summary.latest_comments.push(RatingFact {
                template: r.try_get(0)?,
                score: r.try_get(1)?,
                comment: r.try_get(2)?,
                created_at: r.try_get(3)?,
            });
        }
        tx.commit().await?;
        Ok(summary)
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
        .execute(&self.writer)
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
