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
use crate::{Clock, RunRecord, RunStatus, Store, StoreError, SystemClock};

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
        let now = lease.now_ms();
        // One statement: the claim answers the row it claimed (`RETURNING`, on both databases).
        let (held, rolling_back, running) = (
            sql_list(&HELD),
            sql(RunStatus::RollingBack),
            sql(RunStatus::Running),
        );
        let claimed = sqlx::query(&format!(
            "UPDATE runs SET status = CASE WHEN status = {rolling_back} THEN status ELSE {running} END, attempt = attempt + 1, updated_at = $2, \
             lease_owner = $3, lease_expires_at = $4 \
             WHERE id = $1 AND status IN {held} \
             AND (lease_owner IS NULL OR lease_owner = $3 OR lease_expires_at < $2) RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(now)
        .bind(&lease.node)
        .bind(now + lease.ms)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(row) = claimed {
            return record(&row);
        }
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
    /// approval: whichever node wakes or releases it next claims it.
    pub async fn release_run(&self, id: &str, node: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(node)
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
