//! The outbound HTTP exchanges of step attempts, kept for replays (`lever plugin test
//! --replay`). The executor hands them over already bounded and masked; the store keeps them
//! as JSON text, one row per attempt that made requests.

use crate::{Store, StoreError, now_ms};

impl Store {
    /// Keeps the exchanges of `run_id`'s step `step_id`, attempt `attempt` (a re-run of the same
    /// attempt after a crash replaces them).
    pub async fn record_step_http(
        &self,
        run_id: &str,
        step_id: &str,
        attempt: u32,
        exchanges: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO step_http (run_id, step_id, attempt, exchanges, recorded_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (run_id, step_id, attempt) DO UPDATE SET exchanges = excluded.exchanges, \
             recorded_at = excluded.recorded_at",
        )
        .bind(run_id)
        .bind(step_id)
        .bind(i64::from(attempt))
        .bind(exchanges.to_string())
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The exchanges of one attempt (the latest recorded one when `attempt` is `None`), with
    /// its attempt number; `None` when it made no requests.
    pub async fn step_http(
        &self,
        run_id: &str,
        step_id: &str,
        attempt: Option<u32>,
    ) -> Result<Option<(u32, serde_json::Value)>, StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT attempt, exchanges FROM step_http WHERE run_id = $1 AND step_id = $2 \
             AND ($3 < 0 OR attempt = $3) ORDER BY attempt DESC LIMIT 1",
        )
        .bind(run_id)
        .bind(step_id)
        .bind(attempt.map_or(-1, i64::from))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(attempt, text)| {
            serde_json::from_str(&text)
                .map(|v| (attempt as u32, v))
                .map_err(|e| StoreError::Corrupt {
                    what: "step_http.exchanges",
                    error: e.to_string(),
                })
        })
        .transpose()
    }
}
