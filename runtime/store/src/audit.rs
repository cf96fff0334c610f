//! The audit trail: append-only, one row per request, decision, escalation, expiry and policy
//! change. Each row's hash covers its content and the previous row's hash, so editing or
//! deleting a row breaks the chain at that row and `verify_audit` names it.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Backend, Store, StoreError, now_ms, parse_json};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The run it is about, if any.
    pub run_id: Option<&'a str>,
    /// `run-requested`, `approval-decided`, `stage-escalated`, `policy-published`...
    pub kind: &'a str,
    /// Who did it (`system` for timers).
    pub actor: &'a str,
    /// Details.
    pub data: serde_json::Value,
    /// The policy version in force, for decisions.
    pub policy_version: Option<&'a str>,
}

/// A stored audit row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Position in the trail.
    pub seq: i64,
    /// When (ms).
    pub at: i64,
    /// The run.
    pub run_id: Option<String>,
    /// What happened.
    pub kind: String,
    /// Who.
    pub actor: String,
    /// Details.
    pub data: serde_json::Value,
    /// Policy version.
    pub policy_version: Option<String>,
    /// The previous row's hash.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditVerification {
    /// Rows checked.
    pub rows: usize,
    /// Whether every row's hash and link hold.
    pub intact: bool,
    /// The first row that does not hold, and why.
    pub problems: Vec<String>,
}

fn row_hash(
    prev: &str,
    at: i64,
    run_id: Option<&str>,
    kind: &str,
    actor: &str,
    data: &str,
    policy: Option<&str>,
) -> String {
    let canonical = serde_json::json!([prev, at, run_id, kind, actor, data, policy]).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Serialises the transactions that append to the audit trail or decide approvals, until
/// `tx` ends. SQLite write transactions already hold the database's one write lock; on
/// PostgreSQL this takes a transaction-scoped advisory lock (re-entrant within `tx`).
pub(crate) async fn serialise(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7470)")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Appends `entry` inside `tx`, serialised so two writers never link to the same previous row.
pub(crate) async fn append(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    entry: &AuditEntry<'_>,
) -> Result<(), StoreError> {
    serialise(tx, backend).await?;
    let prev: Option<String> =
        sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let prev = prev.unwrap_or_else(|| GENESIS.to_string());
    let at = now_ms();
    let data = entry.data.to_string();
    let hash = row_hash(
        &prev,
        at,
        entry.run_id,
        entry.kind,
        entry.actor,
        &data,
        entry.policy_version,
    );
    sqlx::query(
        "INSERT INTO audit_log (at, run_id, kind, actor, data, policy_version, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(entry.run_id)
    .bind(entry.kind)
    .bind(entry.actor)
    .bind(&data)
    .bind(entry.policy_version)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Appends one audit row in its own transaction.
    pub async fn append_audit(&self, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        append(&mut tx, self.backend, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The rows as stored (data as its text: the hash covers those exact bytes), in order.
    async fn stored_rows(&self, run_id: Option<&str>) -> Result<Vec<StoredRow>, StoreError> {
        let sql = "SELECT seq, at, run_id, kind, actor, data, policy_version, prev_hash, hash FROM audit_log";
        let rows = match run_id {
            Some(run) => {
                sqlx::query(&format!("{sql} WHERE run_id = $1 ORDER BY seq"))
                    .bind(run)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("{sql} ORDER BY seq"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                Ok(StoredRow {
                    seq: row.try_get(0)?,
                    at: row.try_get(1)?,
                    run_id: row.try_get(2)?,
                    kind: row.try_get(3)?,
                    actor: row.try_get(4)?,
                    data: row.try_get(5)?,
                    policy_version: row.try_get(6)?,
                    prev_hash: row.try_get(7)?,
                    hash: row.try_get(8)?,
                })
            })
            .collect()
    }

    /// The audit rows of one run, or all of them, in order.
    pub async fn audit(&self, run_id: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        self.stored_rows(run_id)
            .await?
            .into_iter()
            .map(|r| {
                Ok(AuditRecord {
                    seq: r.seq,
                    at: r.at,
                    run_id: r.run_id,
                    kind: r.kind,
                    actor: r.actor,
                    data: parse_json("audit_log.data", &r.data)?,
                    policy_version: r.policy_version,
                    prev_hash: r.prev_hash,
                    hash: r.hash,
                })
            })
            .collect()
    }

    /// Recomputes every row's hash and checks each links to the row before it.
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let rows = self.stored_rows(None).await?;
        let mut problems = Vec::new();
        let mut expected_prev = GENESIS;
        for r in &rows {
            if r.prev_hash != expected_prev {
                problems.push(format!("row {}: does not link to the row before it (a row was deleted or inserted before it)", r.seq));
            }
            let recomputed = row_hash(
                &r.prev_hash,
                r.at,
                r.run_id.as_deref(),
                &r.kind,
                &r.actor,
                &r.data,
                r.policy_version.as_deref(),
            );
            if recomputed != r.hash {
                problems.push(format!(
                    "row {} ({}): its content does not match its hash (the row was edited)",
                    r.seq, r.kind
                ));
            }
            expected_prev = &r.hash;
        }
        Ok(AuditVerification {
            rows: rows.len(),
            intact: problems.is_empty(),
            problems,
        })
    }
}

/// An audit row as stored.
struct StoredRow {
    seq: i64,
    at: i64,
    run_id: Option<String>,
    kind: String,
    actor: String,
    data: String,
    policy_version: Option<String>,
    prev_hash: String,
    hash: String,
}
