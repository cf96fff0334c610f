//! API tokens: only the SHA-256 of a token is stored; a revoked token stays for the record.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms};

/// One API token as stored, without its hash (which never leaves the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenRecord {
    /// Token id (not secret).
    pub id: String,
    /// The user the token authenticates as.
    pub user_id: String,
    /// A label chosen at creation.
    pub name: String,
    /// When it was created (ms).
    pub created_at: i64,
    /// Who created it.
    pub created_by: String,
    /// When it was revoked (ms), if it was.
    pub revoked_at: Option<i64>,
    /// When it last authenticated a request (ms), if ever.
    pub last_used_at: Option<i64>,
}

/// How precisely `last_used_at` follows a token's use (ms).
pub const LAST_USED_PRECISION_MS: i64 = 60_000;

const COLUMNS: &str = "id, user_id, name, created_at, created_by, revoked_at, last_used_at";

fn record(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        created_at: row.try_get(3)?,
        created_by: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        last_used_at: row.try_get(6)?,
    })
}

impl Store {
    /// Stores a new token by the SHA-256 hex of its secret.
    pub async fn insert_token(
        &self,
        id: &str,
        user_id: &str,
        name: &str,
        token_hash: &str,
        created_by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now_ms())
        .bind(created_by)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// One token by id.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The token with this hash, revoked or not. A token that is not revoked has its
    /// `last_used_at` set to now, since looking it up means it is being used — to the minute:
    /// a write on every request would put one in the queue for SQLite's single writer per API
    /// call, so a token used again within [`LAST_USED_PRECISION_MS`] keeps its time.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(mut token) = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(record)
        .transpose()?
        else {
            return Ok(None);
        };
        let now = now_ms();
        let stale = token
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_PRECISION_MS);
        if token.revoked_at.is_none() && stale {
            sqlx::query(
                "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(hash)
            .execute(&self.writer)
            .await?;
            token.last_used_at = Some(now);
        }
        Ok(Some(token))
    }

    /// Every token of one user, or of everyone, oldest first (revoked ones included).
    pub async fn tokens_of(&self, user_id: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows =
            match user_id {
                Some(user) => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query(&format!(
                        "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"
                    ))
                    .fetch_all(&self.pool)
                    .await?
                }
            };
        rows.iter().map(record).collect()
    }

    /// Revokes a token. Returns false if there is no such token or it was already revoked.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// How many tokens exist, revoked ones included.
    pub async fn count_tokens(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(&self.pool)
            .await?)
    }
}
