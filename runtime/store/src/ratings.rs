//! Ratings of runs by their requesters (1 to 5, with a comment), for the insights.

use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// One rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RatingRecord {
    /// The run rated.
    pub run_id: String,
    /// Who rated it.
    pub user_id: String,
    /// 1 to 5.
    pub score: i64,
    /// What they said.
    pub comment: String,
    /// When (ms).
    pub created_at: i64,
}

impl Store {
    /// Stores `user_id`'s rating of a run, replacing an earlier one of theirs.
    pub async fn rate_run(
        &self,
        run_id: &str,
        user_id: &str,
        score: i64,
        comment: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM run_ratings WHERE run_id = $1 AND user_id = $2")
            .bind(run_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO run_ratings (run_id, user_id, score, comment, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(run_id)
        .bind(user_id)
        .bind(score)
        .bind(comment)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The ratings of one run.
    pub async fn run_ratings(&self, run_id: &str) -> Result<Vec<RatingRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT run_id, user_id, score, comment, created_at FROM run_ratings WHERE run_id = $1 ORDER BY created_at",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RatingRecord {
                    run_id: row.try_get(0)?,
                    user_id: row.try_get(1)?,
                    score: row.try_get(2)?,
                    comment: row.try_get(3)?,
                    created_at: row.try_get(4)?,
                })
            })
            .collect()
    }
}
