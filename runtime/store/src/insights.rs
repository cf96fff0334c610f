//! The facts the platform insights are computed from: runs, approval stages, ratings and NPS
//! answers in a time window, read in one indexed query each.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// One run, as the insights see it.
#[derive(Debug, Clone)]
pub struct RunFact {
    /// The template, for template runs.
    pub template: Option<String>,
    /// The action, for single-action runs.
    pub action: String,
    /// Its status.
    pub status: String,
    /// Who asked.
    pub requester: String,
    /// Submitted (ms).
    pub created_at: i64,
    /// Last change (ms): the end, for a finished run.
    pub updated_at: i64,
    /// `automatic`, `stages` or none.
    pub approval_route: Option<String>,
    /// The error's kind and message, for runs that did not succeed.
    pub error: Option<serde_json::Value>,
}

/// One approval stage that opened.
#[derive(Debug, Clone)]
pub struct StageFact {
    /// The policy version that routed it.
    pub policy_version: String,
    /// The stage's name.
    pub name: String,
    /// `open`, `approved`, `rejected`, `expired`…
    pub status: String,
    /// Opened (ms).
    pub opened_at: i64,
    /// Decided (ms).
    pub decided_at: Option<i64>,
    /// Its SLA (ms).
    pub sla_ms: i64,
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
    /// The runs submitted in `[from, to)`.
    pub async fn run_facts(&self, from: i64, to: i64) -> Result<Vec<RunFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT template, action, status, requester, created_at, updated_at, approval_route, \
             CASE WHEN status IN ('failed', 'rolled-back', 'rollback-failed', 'rejected') THEN error END \
             FROM runs WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let error: Option<String> = r.try_get(7)?;
                Ok(RunFact {
                    template: r.try_get(0)?,
                    action: r.try_get(1)?,
                    status: r.try_get(2)?,
                    requester: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                    updated_at: r.try_get(5)?,
                    approval_route: r.try_get(6)?,
                    error: error.and_then(|e| serde_json::from_str(&e).ok()),
                })
            })
            .collect()
    }

    /// The approval stages opened in `[from, to)`.
    pub async fn stage_facts(&self, from: i64, to: i64) -> Result<Vec<StageFact>, StoreError> {
        let rows = sqlx::query(
            "SELECT policy_version, name, status, opened_at, decided_at, sla_ms FROM approval_stages \
             WHERE opened_at >= $1 AND opened_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StageFact {
                    policy_version: r.try_get(0)?,
                    name: r.try_get(1)?,
                    status: r.try_get(2)?,
                    opened_at: r.try_get(3)?,
                    decided_at: r.try_get(4)?,
                    sla_ms: r.try_get(5)?,
                })
            })
            .collect()
    }

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
