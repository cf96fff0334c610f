//! Approval policies (Rego sources), versioned by name. Versions are immutable; the highest
//! version of each name is in force.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::audit::{self, AuditEntry};
use crate::{Store, StoreError, now_ms};

/// A stored policy version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyRecord {
    /// Name.
    pub name: String,
    /// Version, from 1.
    pub version: i64,
    /// Rego source.
    pub source: String,
    /// SHA-256 of the source.
    pub sha256: String,
    /// Who published it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

fn record(row: &sqlx::any::AnyRow) -> Result<PolicyRecord, StoreError> {
    Ok(PolicyRecord {
        name: row.try_get(0)?,
        version: row.try_get(1)?,
        source: row.try_get(2)?,
        sha256: row.try_get(3)?,
        created_by: row.try_get(4)?,
        created_at: row.try_get(5)?,
    })
}

impl Store {
    /// Stores `source` as the next version of `name` (the same source as the latest version
    /// returns that version), with an audit row.
    pub async fn put_policy(
        &self,
        name: &str,
        source: &str,
        by: &str,
    ) -> Result<(PolicyRecord, bool), StoreError> {
        let sha = hex::encode(Sha256::digest(source.as_bytes()));
        let mut tx = self.write_transaction().await?;
        let latest = sqlx::query("SELECT name, version, source, sha256, created_by, created_at FROM policies WHERE name = $1 ORDER BY version DESC LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(record)
            .transpose()?;
        if let Some(latest) = latest.filter(|l| l.sha256 == sha) {
            return Ok((latest, false));
        }
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM policies WHERE name = $1",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO policies (name, version, source, sha256, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(name)
            .bind(version)
            .bind(source)
            .bind(&sha)
            .bind(by)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let label = format!("{name}@{version}");
        let entry = AuditEntry {
            run_id: None,
            kind: "policy-published",
            actor: by,
            data: serde_json::json!({"policy": label, "sha256": sha}),
            policy_version: Some(&label),
        };
        audit::append(&mut tx, self.backend, &entry).await?;
        tx.commit().await?;
        let stored = PolicyRecord {
            name: name.into(),
            version,
            source: source.into(),
            sha256: sha,
            created_by: by.into(),
            created_at: now_ms(),
        };
        Ok((stored, true))
    }

    /// The latest version of every policy, by name.
    pub async fn current_policies(&self) -> Result<Vec<PolicyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.name, p.version, p.source, p.sha256, p.created_by, p.created_at FROM policies p \
             WHERE p.version = (SELECT MAX(q.version) FROM policies q WHERE q.name = p.name) ORDER BY p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    /// One version of a policy, or its latest.
    pub async fn policy(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<PolicyRecord>, StoreError> {
        let row = match version {
            Some(v) => sqlx::query("SELECT name, version, source, sha256, created_by, created_at FROM policies WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(v)
                .fetch_optional(&self.pool)
                .await?,
            None => sqlx::query("SELECT name, version, source, sha256, created_by, created_at FROM policies WHERE name = $1 ORDER BY version DESC LIMIT 1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        };
        row.as_ref().map(record).transpose()
    }
}
