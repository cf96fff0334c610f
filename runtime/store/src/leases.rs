//! Run leases: how several nodes share one database without running a run twice. A node
//! claims a run by writing its id and an expiry into the run's row (one guarded `UPDATE`, which
//! PostgreSQL's row lock and SQLite's single writer make atomic); while it executes the run it
//! renews the expiry (a heartbeat), and it checks the lease before every step attempt (the
//! fence, [`Lease::holds`]). When a node dies its leases expire, and another node finds the run among the
//! orphans and claims it; the run resumes from the step in flight with the same idempotency
//! key. Times are milliseconds on the lease's own clock: the system clock in a server (leases
//! are about real time, never the manual clock approval tests move), a clock a test moves in
//! the store's tests, so an expiry is observed rather than slept for.

use std::sync::Arc;

use crate::runs::{COLUMNS, record};
use crate::status::{sql, sql_list};
use crate::steps::{STEP_COLUMNS, step};
use crate::{Clock, RunRecord, RunStatus, StepRecord, Store, StoreError, SystemClock};

/// Who holds runs and for how long a claim or a renewal lasts.
#[derive(Clone)]
pub struct Lease {
    /// The node's id (persisted in its data dir, so a restarted node takes its runs back at
    /// once).
    pub node: String,
    /// How long a claim lasts without renewal, in ms: how long a dead node's runs wait.
    pub ms: i64,
    /// The clock claims, renewals, the fence and expiry are read on.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("node", &self.node)
            .field("ms", &self.ms)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// A lease of `ms` for `node` on the system clock.
    pub fn new(node: impl Into<String>, ms: i64) -> Self {
        Self::on(node, ms, Arc::new(SystemClock))
    }

    /// A lease of `ms` for `node` read on `clock`.
    pub fn on(node: impl Into<String>, ms: i64, clock: Arc<dyn Clock>) -> Self {
        Self {
            node: node.into(),
            ms,
            clock,
        }
    }

    /// Now, on the lease's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Whether this node holds `run` (as read just now) with a lease that has not run out.
    pub fn holds(&self, run: &RunRecord) -> bool {
        run.lease_owner.as_deref() == Some(self.node.as_str())
            && run.lease_expires_at.is_some_and(|at| at >= self.now_ms())
    }
}

/// What one claim of a run gives its node: the right to write for the run while the run's
/// fencing token is still this claim's. Every claim increments the token, so a write of a node
/// that lost the run — cut off from the database, then back — finds a newer token and is
/// refused, however its timing falls ([`StoreError::LeaseLost`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunClaim {
    /// The node that claimed.
    pub node: String,
    /// The run's fencing token as the claim left it.
    pub token: i64,
}

impl RunClaim {
    /// The claim a run record was read under (by [`Store::start_run`]).
    pub fn of(run: &RunRecord, node: &str) -> RunClaim {
        RunClaim {
            node: node.to_string(),
            token: run.lease_token,
        }
    }
}

/// Takes the run's row lock in `tx` if `claim` still holds run `id` — the same owner and the same
/// token, and, with `valid_at`, a lease that has not run out by then — or fails with
/// [`StoreError::LeaseLost`] (the caller's transaction then rolls back). On PostgreSQL the
/// `UPDATE` keeps the row locked until `tx` ends, so a claim by another node waits for this
/// transaction and then finds everything it wrote; on SQLite the writer is single anyway.
pub(crate) async fn guard(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    claim: &RunClaim,
    valid_at: Option<i64>,
) -> Result<(), StoreError> {
    const HELD: &str = "UPDATE runs SET lease_token = lease_token WHERE id = $1 AND lease_owner = $2 AND lease_token = $3";
    let valid;
    let sql = match valid_at {
        None => HELD,
        Some(_) => {
            valid = format!("{HELD} AND lease_expires_at >= $4");
            &valid
        }
    };
    let mut query = sqlx::query(sql)
        .bind(id)
        .bind(&claim.node)
        .bind(claim.token);
    if let Some(at) = valid_at {
        query = query.bind(at);
    }
    let held = query.execute(&mut **tx).await?.rows_affected();
    if held == 0 {
        tracing::warn!(run = id, node = %claim.node, token = claim.token, "a write for a run this node no longer holds was refused (fencing token)");
        return Err(StoreError::LeaseLost(id.to_string()));
    }
    Ok(())
}

/// The statuses a worker may claim a run in.
const HELD: [RunStatus; 4] = [
    RunStatus::Pending,
    RunStatus::Running,
    RunStatus::Waiting,
    RunStatus::RollingBack,
];
/// The statuses of a run a worker is executing: the heartbeat renews only those, so the lease
/// of a run that parked without being released (its node died just then) runs out.
const EXECUTING: [RunStatus; 2] = [RunStatus::Running, RunStatus::RollingBack];

impl Store {
    /// Claims run `id` for `lease.node` and moves it to `running` (a rolling-back run stays
    /// rolling back), counting the attempt. Refused (`StaleStatus`) when the run is finished,
    /// paused or awaiting approval, or while another node's lease on it is valid.
    pub async fn start_run(&self, id: &str, lease: &Lease) -> Result<RunRecord, StoreError> {
        self.claim_run(id, lease).await.map(|(run, _)| run)
    }

    /// [`Store::start_run`], and the run's steps read in the same transaction, after the
    /// claim: what the previous owner committed before the claim is in them, and nothing it
    /// writes after can land (its fencing token is stale), so the step in flight they show is
    /// the one to resume.
    pub async fn claim_run(
        &self,
        id: &str,
        lease: &Lease,
    ) -> Result<(RunRecord, Vec<StepRecord>), StoreError> {
        let now = lease.now_ms();
        // One statement: the claim answers the row it claimed (`RETURNING`, on both databases).
        let (held, rolling_back, running) = (
            sql_list(&HELD),
            sql(RunStatus::RollingBack),
            sql(RunStatus::Running),
        );
        let mut tx = self.write_transaction().await?;
        let claimed = sqlx::query(&format!(
            "UPDATE runs SET status = CASE WHEN status = {rolling_back} THEN status ELSE {running} END, attempt = attempt + 1, updated_at = $2, \
             lease_owner = $3, lease_expires_at = $4, lease_token = lease_token + 1 \
             WHERE id = $1 AND status IN {held} \
             AND (lease_owner IS NULL OR lease_owner = $3 OR lease_expires_at < $2) RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(&lease.node)
        .bind(now + lease.ms)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = claimed {
            let run = record(&row)?;
            let steps = sqlx::query(&format!(
                "SELECT {STEP_COLUMNS} FROM run_steps WHERE run_id = $1 ORDER BY position"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(step)
            .collect::<Result<Vec<_>, _>>()?;
            tx.commit().await?;
            return Ok((run, steps));
        }
        drop(tx);
        let run = self.run(id).await?.ok_or_else(|| StoreError::StaleStatus {
            id: id.into(),
            expected: "pending".into(),
            actual: "missing".into(),
        })?;
        let actual = match (&run.lease_owner, run.status.is_final()) {
            (Some(owner), false) if *owner != lease.node => {
                format!("{} and held by node {owner}", run.status.as_str())
            }
            _ => run.status.as_str().to_string(),
        };
        Err(StoreError::StaleStatus {
            id: id.into(),
            expected: "pending".into(),
            actual,
        })
    }

    /// The heartbeat: renews every lease `lease.node` holds on a run it is executing; answers
    /// how many. (Expired ones are renewed too while no other node has claimed them: the run is
    /// still this node's.) The fence before a step is [`Lease::holds`] on the run as read.
    pub async fn renew_leases(&self, lease: &Lease) -> Result<u64, StoreError> {
        Ok(sqlx::query(&format!(
            "UPDATE runs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status IN {}",
            sql_list(&EXECUTING)
        ))
        .bind(&lease.node)
        .bind(lease.now_ms() + lease.ms)
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    /// Gives run `id` up after an execution that parked, paused or left it waiting for
    /// approval: whichever node wakes or releases it next claims it. Only under `claim`: a node
    /// that lost the run releases nothing.
    pub async fn release_run(&self, id: &str, claim: &RunClaim) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2 AND lease_token = $3")
            .bind(id)
            .bind(&claim.node)
            .bind(claim.token)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Runs that a worker should execute and nobody does: a lease that has expired (its node
    /// died or lost the database), or no lease and no change for `grace_ms` (queued on a node
    /// that died before claiming it). Oldest first, at most `limit`. `now` is the time on the
    /// leases' clock.
    pub async fn orphaned_runs(
        &self,
        now: i64,
        grace_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE status IN {} \
             AND ((lease_owner IS NOT NULL AND lease_expires_at < $1) OR (lease_owner IS NULL AND updated_at < $2)) \
             ORDER BY created_at, id LIMIT $3",
            sql_list(&[RunStatus::Pending, RunStatus::Running, RunStatus::RollingBack])
        ))
        .bind(now)
        .bind(now - grace_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
