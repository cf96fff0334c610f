//! Browser sessions of the web UI: only the SHA-256 of the cookie value is stored, with the
//! user, the CSRF token its forms carry, and when it expires or was revoked.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms};

/// A live or dead session, as stored (without the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Who signed in.
    pub user_id: String,
    /// The CSRF token every state-changing form of this session must carry.
    pub csrf: String,
    /// How they signed in: `token`, `oidc` or `demo`.
    pub source: String,
    /// Created at (ms).
    pub created_at: i64,
    /// Expires at (ms).
    pub expires_at: i64,
    /// Revoked at sign-out (ms).
    pub revoked_at: Option<i64>,
    /// For an OIDC sign-in, the verified identity as JSON.
    pub identity: Option<String>,
}

/// An OIDC sign-in under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLoginRecord {
    /// The PKCE code verifier.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// Where to go once signed in.
    pub next: String,
}

fn record(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        user_id: row.try_get(0)?,
        csrf: row.try_get(1)?,
        source: row.try_get(2)?,
        created_at: row.try_get(3)?,
        expires_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        identity: row.try_get(6)?,
    })
}

impl Store {
    /// Stores a new session under the SHA-256 hex of its cookie value.
    pub async fn insert_session(
        &self,
        id_hash: &str,
        user_id: &str,
        csrf: &str,
        source: &str,
        expires_at: i64,
        identity: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, user_id, csrf, source, created_at, expires_at, identity) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(source)
        .bind(now_ms())
        .bind(expires_at)
        .bind(identity)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Stores an OIDC sign-in under way, under the SHA-256 hex of its `state`.
    pub async fn insert_oidc_login(
        &self,
        state_hash: &str,
        login: &OidcLoginRecord,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, verifier, nonce, next, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(&login.verifier)
        .bind(&login.nonce)
        .bind(&login.next)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes the OIDC sign-in with this state hash, once: it is deleted, and an expired one
    /// is not answered.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
    ) -> Result<Option<OidcLoginRecord>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query(
            "SELECT verifier, nonce, next, expires_at FROM oidc_logins WHERE state_hash = $1",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM oidc_logins WHERE state_hash = $1 OR expires_at < $2")
            .bind(state_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: i64 = row.try_get(3)?;
        if expires_at < now_ms() {
            return Ok(None);
        }
        Ok(Some(OidcLoginRecord {
            verifier: row.try_get(0)?,
            nonce: row.try_get(1)?,
            next: row.try_get(2)?,
        }))
    }

    /// The session with this hash, expired or revoked ones included (the caller decides).
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        sqlx::query(
            "SELECT user_id, csrf, source, created_at, expires_at, revoked_at, identity FROM web_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    /// Revokes a session (sign-out). Returns false when there was no live one.
    pub async fn revoke_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE web_sessions SET revoked_at = $1 WHERE id_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id_hash)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Deletes sessions that expired before `before` (ms); returns how many.
    pub async fn purge_sessions(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
                .bind(before)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}
