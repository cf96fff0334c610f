//! Approval stages, decisions, notifications and one-click link nonces. A stage is `blocked`
//! until every stage of a lower order in its gate (the whole run, or one step) is approved,
//! then `open` until enough distinct approvers approve (`approved`), one rejects
//! (`rejected`), it expires (`expired`) or the run is cancelled (`cancelled`). Each decision,
//! the stage and run transitions it causes, and its audit row commit together.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{self, AuditEntry};
use crate::status::{sql, sql_list};
use crate::{Backend, RunStatus, Store, StoreError, parse_json};

/// What the policy decided for a new run.
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// `automatic` or `approval`.
    pub route: String,
    /// The policy version that decided.
    pub policy_version: String,
    /// The policy's whole answer and the input it saw, for the audit trail.
    pub decision: serde_json::Value,
    /// Stages, in the policy's order.
    pub stages: Vec<NewStage>,
    /// The clock's time (ms): stages of the first tier open now.
    pub now: i64,
}

/// One stage to create.
#[derive(Debug, Clone)]
pub struct NewStage {
    /// Stage name, unique in the run.
    pub name: String,
    /// The step it gates; `None` gates the run.
    pub step_id: Option<String>,
    /// Stages with the same order run in parallel.
    pub order: i64,
    /// Groups whose members may approve.
    pub groups: Vec<String>,
    /// Distinct approvals needed.
    pub required: i64,
    /// Why.
    pub reasons: Vec<String>,
    /// Deadline after opening (ms).
    pub sla_ms: i64,
    /// Group that may also approve after the SLA.
    pub escalate_to: Option<String>,
    /// Final expiry after opening (ms).
    pub expire_ms: Option<i64>,
    /// `reject` or `stay-open`.
    pub on_expiry: String,
    /// What approvers see: request, requester, environment, cost, risk, resources.
    pub context: serde_json::Value,
}

/// Cancels a run's stages nobody decided yet (blocked or open).
fn cancel_undecided_sql() -> String {
    format!(
        "UPDATE approval_stages SET status = {} WHERE run_id = $1 AND status IN {}",
        sql(StageStatus::Cancelled),
        sql_list(&[StageStatus::Blocked, StageStatus::Open])
    )
}

/// Where an approval stage is. One place spells it, for the database and for every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    /// Waits for an earlier stage (or for its step to be reached).
    Blocked,
    /// Approvers can decide it.
    Open,
    /// Enough approvers approved.
    Approved,
    /// An approver rejected it.
    Rejected,
    /// Nobody decided within its expiry.
    Expired,
    /// Its run ended another way (cancelled, failed) before it was decided.
    Cancelled,
}

impl StageStatus {
    /// Every status.
    pub const ALL: [StageStatus; 6] = [
        StageStatus::Blocked,
        StageStatus::Open,
        StageStatus::Approved,
        StageStatus::Rejected,
        StageStatus::Expired,
        StageStatus::Cancelled,
    ];

    /// The stored and reported spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Blocked => "blocked",
            StageStatus::Open => "open",
            StageStatus::Approved => "approved",
            StageStatus::Rejected => "rejected",
            StageStatus::Expired => "expired",
            StageStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        crate::status::parse(&Self::ALL, s, "approval_stages.status")
    }
}

/// A stored stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    /// Stage id.
    pub id: String,
    /// Its run.
    pub run_id: String,
    /// Position in the policy's answer.
    pub position: i64,
    /// Name.
    pub name: String,
    /// Gated step.
    pub step_id: Option<String>,
    /// Order in its gate.
    pub order: i64,
    /// Approver groups (the escalation target joins once escalated).
    pub groups: Vec<String>,
    /// Distinct approvals needed.
    pub required: i64,
    /// Where it is.
    pub status: StageStatus,
    /// Why the stage exists.
    pub reasons: Vec<String>,
    /// SLA (ms after opening).
    pub sla_ms: i64,
    /// Escalation target.
    pub escalate_to: Option<String>,
    /// Expiry (ms after opening).
    pub expire_ms: Option<i64>,
    /// `reject` or `stay-open`.
    pub on_expiry: String,
    /// Context shown to approvers.
    pub context: serde_json::Value,
    /// Policy version.
    pub policy_version: String,
    /// When it opened.
    pub opened_at: Option<i64>,
    /// When approvers were notified.
    pub notified_at: Option<i64>,
    /// When the half-time reminder went out.
    pub reminded_at: Option<i64>,
    /// When it escalated.
    pub escalated_at: Option<i64>,
    /// When it expired.
    pub expired_at: Option<i64>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Created at.
    pub created_at: i64,
}

impl StageRecord {
    /// The SLA deadline, once open.
    pub fn due_at(&self) -> Option<i64> {
        self.opened_at.map(|t| t + self.sla_ms)
    }
}

/// One person's decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    /// Who.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Their comment.
    pub comment: String,
    /// `api` or `link`.
    pub via: String,
    /// When.
    pub at: i64,
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DecideOutcome {
    /// Counted; the stage needs more approvals.
    Counted,
    /// The stage is approved; other stages of the gate remain.
    StageApproved,
    /// The gate is clear: the run continues.
    RunReleased,
    /// The run is rejected.
    RunRejected,
}

/// Where a step's gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// No stage gates it, or all are approved.
    Clear,
    /// Stages are open: the run now waits for approvers.
    Waiting,
}

/// A notification as sent.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRecord {
    /// Id.
    pub id: i64,
    /// The stage.
    pub stage_id: String,
    /// `approval-requested`, `reminder`, `escalated`, `expired`.
    pub kind: String,
    /// User ids it went to.
    pub recipients: Vec<String>,
    /// What it said (context, and per-recipient links under `links`).
    pub body: serde_json::Value,
    /// When.
    pub at: i64,
}

const STAGE_COLUMNS: &str = "id, run_id, position, name, step_id, stage_order, groups_json, required, status, reasons, sla_ms, escalate_to, \
     expire_ms, on_expiry, context, policy_version, opened_at, notified_at, reminded_at, escalated_at, expired_at, decided_at, created_at";

fn stage(row: &AnyRow) -> Result<StageRecord, StoreError> {
    Ok(StageRecord {
        id: row.try_get(0)?,
        run_id: row.try_get(1)?,
        position: row.try_get(2)?,
        name: row.try_get(3)?,
        step_id: row.try_get(4)?,
        order: row.try_get(5)?,
        groups: parse_json("approval_stages.groups_json", &row.try_get::<String, _>(6)?)?,
        required: row.try_get(7)?,
        status: StageStatus::parse(&row.try_get::<String, _>(8)?)?,
        reasons: parse_json("approval_stages.reasons", &row.try_get::<String, _>(9)?)?,
        sla_ms: row.try_get(10)?,
        escalate_to: row.try_get(11)?,
        expire_ms: row.try_get(12)?,
        on_expiry: row.try_get(13)?,
        context: parse_json("approval_stages.context", &row.try_get::<String, _>(14)?)?,
        policy_version: row.try_get(15)?,
        opened_at: row.try_get(16)?,
        notified_at: row.try_get(17)?,
        reminded_at: row.try_get(18)?,
        escalated_at: row.try_get(19)?,
        expired_at: row.try_get(20)?,
        decided_at: row.try_get(21)?,
        created_at: row.try_get(22)?,
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// One stage by id, on the pool or inside a transaction.
async fn stage_by_id<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
) -> Result<Option<StageRecord>, StoreError> {
    let sql = format!("SELECT {STAGE_COLUMNS} FROM approval_stages WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(executor)
        .await?
        .as_ref()
        .map(stage)
        .transpose()
}

/// Inserts a new run's stages (all `blocked`), opens the first tier of the run gate, and
/// records the request in the audit trail.
pub(crate) async fn insert_stages(
    tx: &mut Tx,
    backend: Backend,
    run_id: &str,
    approval: &NewApproval,
    requester: &str,
) -> Result<(), StoreError> {
    let insert = format!(
        "INSERT INTO approval_stages (id, run_id, position, name, step_id, stage_order, groups_json, required, status, reasons, sla_ms, \
         escalate_to, expire_ms, on_expiry, context, policy_version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {}, $9, $10, $11, $12, $13, $14, $15, $16)",
        sql(StageStatus::Blocked)
    );
    for (position, s) in approval.stages.iter().enumerate() {
        sqlx::query(&insert)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(run_id)
            .bind(position as i64)
            .bind(&s.name)
            .bind(&s.step_id)
            .bind(s.order)
            .bind(serde_json::to_string(&s.groups).expect("strings serialise"))
            .bind(s.required)
            .bind(serde_json::to_string(&s.reasons).expect("strings serialise"))
            .bind(s.sla_ms)
            .bind(&s.escalate_to)
            .bind(s.expire_ms)
            .bind(&s.on_expiry)
            .bind(s.context.to_string())
            .bind(&approval.policy_version)
            .bind(approval.now)
            .execute(&mut **tx)
            .await?;
    }
    let entry = AuditEntry {
        run_id: Some(run_id),
        kind: "run-requested",
        actor: requester,
        data: serde_json::json!({"route": approval.route, "decision": approval.decision}),
        policy_version: Some(&approval.policy_version),
    };
    audit::append(tx, backend, &entry).await?;
    open_next_tier(tx, backend, run_id, None, approval.now).await?;
    Ok(())
}

/// Opens the lowest-order blocked stages of a gate when no stage of that gate is open.
/// Returns whether the gate still has stages that are not approved.
async fn open_next_tier(
    tx: &mut Tx,
    backend: Backend,
    run_id: &str,
    step: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let gate = gate_stages(tx, run_id, step).await?;
    if gate.iter().any(|s| s.status == StageStatus::Open) {
        return Ok(true);
    }
    let Some(order) = gate
        .iter()
        .filter(|s| s.status == StageStatus::Blocked)
        .map(|s| s.order)
        .min()
    else {
        return Ok(false);
    };
    for s in gate
        .iter()
        .filter(|s| s.status == StageStatus::Blocked && s.order == order)
    {
        sqlx::query(&format!(
            "UPDATE approval_stages SET status = {}, opened_at = $2 WHERE id = $1 AND status = {}",
            sql(StageStatus::Open),
            sql(StageStatus::Blocked)
        ))
        .bind(&s.id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let entry = AuditEntry {
            run_id: Some(run_id),
            kind: "stage-opened",
            actor: "system",
            data: serde_json::json!({"stage": s.name, "groups": s.groups, "required": s.required, "step": s.step_id}),
            policy_version: Some(&s.policy_version),
        };
        audit::append(tx, backend, &entry).await?;
        // In the run's events too, so a stream of the run says what it waits for.
        let event = serde_json::json!({"stage": s.name, "groups": s.groups, "required": s.required, "reasons": s.reasons});
        crate::steps::insert_event(
            tx,
            run_id,
            "stage-opened",
            s.step_id.as_deref(),
            &event,
            now,
        )
        .await?;
    }
    Ok(true)
}

async fn gate_stages(
    tx: &mut Tx,
    run_id: &str,
    step: Option<&str>,
) -> Result<Vec<StageRecord>, StoreError> {
    let rows = match step {
        None => {
            sqlx::query(&format!("SELECT {STAGE_COLUMNS} FROM approval_stages WHERE run_id = $1 AND step_id IS NULL ORDER BY position"))
                .bind(run_id)
                .fetch_all(&mut **tx)
                .await?
        }
        Some(step) => {
            sqlx::query(&format!("SELECT {STAGE_COLUMNS} FROM approval_stages WHERE run_id = $1 AND step_id = $2 ORDER BY position"))
                .bind(run_id)
                .bind(step)
                .fetch_all(&mut **tx)
                .await?
        }
    };
    rows.iter().map(stage).collect()
}

async fn set_run(
    tx: &mut Tx,
    run_id: &str,
    from: RunStatus,
    to: RunStatus,
    wake_at: Option<i64>,
    error: Option<&serde_json::Value>,
) -> Result<u64, StoreError> {
    Ok(sqlx::query("UPDATE runs SET status = $3, wake_at = $4, error = COALESCE($5, error), updated_at = $6 WHERE id = $1 AND status = $2")
        .bind(run_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(wake_at)
        .bind(error.map(|e| e.to_string()))
        .bind(crate::now_ms())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Ends every stage of a run that is still waiting, and rejects the run. At the run's gate
/// nothing has run, so the run ends `rejected` at once; at a step's gate earlier steps have
/// done things, so the run is woken with a cancel request and rolls them back first (it
/// still ends `rejected`, with this error).
async fn reject_run(
    tx: &mut Tx,
    run_id: &str,
    step: Option<&str>,
    error: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(&cancel_undecided_sql())
        .bind(run_id)
        .execute(&mut **tx)
        .await?;
    if step.is_none() {
        set_run(
            tx,
            run_id,
            RunStatus::AwaitingApproval,
            RunStatus::Rejected,
            None,
            Some(error),
        )
        .await?;
    } else {
        sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE id = $1")
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        set_run(
            tx,
            run_id,
            RunStatus::AwaitingApproval,
            RunStatus::Waiting,
            Some(0),
            Some(error),
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// The stages of a run, in the policy's order.
    pub async fn run_stages(&self, run_id: &str) -> Result<Vec<StageRecord>, StoreError> {
        let sql = format!(
            "SELECT {STAGE_COLUMNS} FROM approval_stages WHERE run_id = $1 ORDER BY position"
        );
        sqlx::query(&sql)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stage)
            .collect()
    }

    /// One stage.
    pub async fn stage(&self, id: &str) -> Result<Option<StageRecord>, StoreError> {
        stage_by_id(&self.pool, id).await
    }

    /// Every open stage, oldest first.
    pub async fn open_stages(&self) -> Result<Vec<StageRecord>, StoreError> {
        let sql = format!(
            "SELECT {STAGE_COLUMNS} FROM approval_stages WHERE status = {} ORDER BY opened_at, position",
            sql(StageStatus::Open)
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stage)
            .collect()
    }

    /// The decisions on a stage, in order.
    pub async fn stage_decisions(&self, stage_id: &str) -> Result<Vec<DecisionRecord>, StoreError> {
        let rows = sqlx::query("SELECT approver, decision, comment, via, at FROM approval_decisions WHERE stage_id = $1 ORDER BY at, approver")
            .bind(stage_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DecisionRecord {
                    approver: r.try_get(0)?,
                    decision: r.try_get(1)?,
                    comment: r.try_get(2)?,
                    via: r.try_get(3)?,
                    at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Records `approver`'s decision on an open stage, and what it causes, in one transaction:
    /// a rejection rejects the run; enough distinct approvals approve the stage, open the
    /// gate's next tier, and release the run (to `waiting`, due now) when the gate is clear.
    /// Refuses ([`StoreError::Refused`]) a stage that is not open and a second decision by
    /// the same person.
    pub async fn decide_stage(
        &self,
        stage_id: &str,
        approver: &str,
        approve: bool,
        comment: &str,
        via: &str,
        now: i64,
    ) -> Result<DecideOutcome, StoreError> {
        let mut tx = self.write_transaction().await?;
        // Two approvers of parallel stages deciding at once must not both see the other's
        // stage still open (and leave the run unreleased): decisions run one at a time.
        audit::serialise(&mut tx, self.backend).await?;
        let Some(s) = stage_by_id(&mut *tx, stage_id).await? else {
            return Err(StoreError::Refused(format!(
                "no approval stage `{stage_id}`"
            )));
        };
        if s.status != StageStatus::Open {
            return Err(StoreError::Refused(format!(
                "stage `{}` is {}, not open for decisions",
                s.name,
                s.status.as_str()
            )));
        }
        let decision = if approve { "approve" } else { "reject" };
        let inserted = sqlx::query("INSERT INTO approval_decisions (stage_id, approver, decision, comment, via, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(stage_id)
            .bind(approver)
            .bind(decision)
            .bind(comment)
            .bind(via)
            .bind(now)
            .execute(&mut *tx)
            .await;
        if let Err(sqlx::Error::Database(db)) = &inserted
            && db.is_unique_violation()
        {
            return Err(StoreError::Refused(format!(
                "{approver} has already decided on stage `{}`; one person counts once",
                s.name
            )));
        }
        inserted?;
        let entry = AuditEntry {
            run_id: Some(&s.run_id),
            kind: "approval-decided",
            actor: approver,
            data: serde_json::json!({"stage": s.name, "decision": decision, "comment": comment, "via": via}),
            policy_version: Some(&s.policy_version),
        };
        audit::append(&mut tx, self.backend, &entry).await?;
        let event = serde_json::json!({"stage": s.name, "decision": decision, "approver": approver, "comment": comment});
        crate::steps::insert_event(
            &mut tx,
            &s.run_id,
            "stage-decided",
            s.step_id.as_deref(),
            &event,
            now,
        )
        .await?;
        let outcome = if !approve {
            sqlx::query(&format!(
                "UPDATE approval_stages SET status = {}, decided_at = $2 WHERE id = $1",
                sql(StageStatus::Rejected)
            ))
            .bind(stage_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let error = serde_json::json!({
                "kind": "rejected",
                "message": format!("{approver} rejected the request at stage `{}`: {comment}", s.name),
                "stage": s.name,
                "by": approver,
            });
            reject_run(&mut tx, &s.run_id, s.step_id.as_deref(), &error).await?;
            DecideOutcome::RunRejected
        } else {
            let approvals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approval_decisions WHERE stage_id = $1 AND decision = 'approve'")
                .bind(stage_id)
                .fetch_one(&mut *tx)
                .await?;
            if approvals < s.required {
                DecideOutcome::Counted
            } else {
                sqlx::query(&format!(
                    "UPDATE approval_stages SET status = {}, decided_at = $2 WHERE id = $1",
                    sql(StageStatus::Approved)
                ))
                .bind(stage_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let entry = AuditEntry {
                    run_id: Some(&s.run_id),
                    kind: "stage-approved",
                    actor: "system",
                    data: serde_json::json!({"stage": s.name, "approvals": approvals}),
                    policy_version: Some(&s.policy_version),
                };
                audit::append(&mut tx, self.backend, &entry).await?;
                if open_next_tier(&mut tx, self.backend, &s.run_id, s.step_id.as_deref(), now)
                    .await?
                {
                    DecideOutcome::StageApproved
                } else {
                    // Gate clear: the waker picks the run up (it is due at once).
                    set_run(
                        &mut tx,
                        &s.run_id,
                        RunStatus::AwaitingApproval,
                        RunStatus::Waiting,
                        Some(0),
                        None,
                    )
                    .await?;
                    let entry = AuditEntry {
                        run_id: Some(&s.run_id),
                        kind: "run-released",
                        actor: "system",
                        data: serde_json::json!({"step": s.step_id}),
                        policy_version: Some(&s.policy_version),
                    };
                    audit::append(&mut tx, self.backend, &entry).await?;
                    DecideOutcome::RunReleased
                }
            }
        };
        self.announce_events(&mut tx, &s.run_id).await?;
        tx.commit().await?;
        self.events_were_committed(&s.run_id);
        Ok(outcome)
    }

    /// Before a step starts: opens its gate if it has one that is not yet approved, moving the
    /// `running` run to `awaiting-approval`.
    pub async fn open_step_gate(
        &self,
        run_id: &str,
        step_id: &str,
        now: i64,
    ) -> Result<GateState, StoreError> {
        let mut tx = self.write_transaction().await?;
        if !open_next_tier(&mut tx, self.backend, run_id, Some(step_id), now).await? {
            return Ok(GateState::Clear);
        }
        if set_run(
            &mut tx,
            run_id,
            RunStatus::Running,
            RunStatus::AwaitingApproval,
            None,
            None,
        )
        .await?
            == 0
        {
            return Err(self
                .stale_status(run_id, RunStatus::Running.as_str().into())
                .await);
        }
        tx.commit().await?;
        Ok(GateState::Waiting)
    }

    /// Sets a stage's timer column (`notified_at`, `reminded_at`, `escalated_at`) if it is
    /// unset and the stage still open; `true` only for the one caller that set it, so each
    /// timer fires once even across restarts. Escalation adds `escalate_to` to the groups.
    pub async fn fire_stage_timer(
        &self,
        stage_id: &str,
        timer: StageTimer,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let column = timer.column();
        let changed = sqlx::query(&format!("UPDATE approval_stages SET {column} = $2 WHERE id = $1 AND {column} IS NULL AND status = {}", sql(StageStatus::Open)))
            .bind(stage_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        let s = stage_by_id(&mut *tx, stage_id)
            .await?
            .expect("the stage just updated exists");
        if timer == StageTimer::Escalated
            && let Some(target) = &s.escalate_to
            && !s.groups.contains(target)
        {
            let mut groups = s.groups.clone();
            groups.push(target.clone());
            sqlx::query("UPDATE approval_stages SET groups_json = $2 WHERE id = $1")
                .bind(stage_id)
                .bind(serde_json::to_string(&groups).expect("strings serialise"))
                .execute(&mut *tx)
                .await?;
        }
        if timer != StageTimer::Notified {
            let entry = AuditEntry {
                run_id: Some(&s.run_id),
                kind: timer.audit_kind(),
                actor: "system",
                data: serde_json::json!({"stage": s.name, "escalate_to": s.escalate_to, "due_at": s.due_at()}),
                policy_version: Some(&s.policy_version),
            };
            audit::append(&mut tx, self.backend, &entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Expires an open stage once. With `reject`, the stage ends `expired` and the run is
    /// rejected; otherwise the stage stays open and only the expiry is recorded.
    pub async fn expire_stage(
        &self,
        stage_id: &str,
        reject: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_transaction().await?;
        let status = if reject {
            StageStatus::Expired
        } else {
            StageStatus::Open
        }
        .as_str();
        let changed = sqlx::query(&format!("UPDATE approval_stages SET expired_at = $2, status = $3 WHERE id = $1 AND expired_at IS NULL AND status = {}", sql(StageStatus::Open)))
            .bind(stage_id)
            .bind(now)
            .bind(status)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        let s = stage_by_id(&mut *tx, stage_id)
            .await?
            .expect("the stage just updated exists");
        let entry = AuditEntry {
            run_id: Some(&s.run_id),
            kind: if reject {
                "stage-expired"
            } else {
                "stage-expired-kept-open"
            },
            actor: "system",
            data: serde_json::json!({"stage": s.name}),
            policy_version: Some(&s.policy_version),
        };
        audit::append(&mut tx, self.backend, &entry).await?;
        if reject {
            let error = serde_json::json!({"kind": "approval-expired", "message": format!("no decision on stage `{}` before it expired", s.name), "stage": s.name});
            reject_run(&mut tx, &s.run_id, s.step_id.as_deref(), &error).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends the stages of a cancelled run that were still waiting.
    pub async fn cancel_stages(&self, run_id: &str) -> Result<(), StoreError> {
        sqlx::query(&cancel_undecided_sql())
            .bind(run_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Stores a sent notification.
    pub async fn record_notification(
        &self,
        stage_id: &str,
        kind: &str,
        recipients: &[String],
        body: &serde_json::Value,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO notifications (stage_id, kind, recipients, body, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(stage_id)
            .bind(kind)
            .bind(serde_json::to_string(recipients).expect("strings serialise"))
            .bind(body.to_string())
            .bind(at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Notifications that went to `user` (or every one, with `None`), oldest first.
    pub async fn notifications(
        &self,
        user: Option<&str>,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, stage_id, kind, recipients, body, at FROM notifications ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let recipients: Vec<String> =
                parse_json("notifications.recipients", &r.try_get::<String, _>(3)?)?;
            if user.is_some_and(|u| !recipients.iter().any(|x| x == u)) {
                continue;
            }
            out.push(NotificationRecord {
                id: r.try_get(0)?,
                stage_id: r.try_get(1)?,
                kind: r.try_get(2)?,
                recipients,
                body: parse_json("notifications.body", &r.try_get::<String, _>(4)?)?,
                at: r.try_get(5)?,
            });
        }
        Ok(out)
    }

    /// Spends a one-click link's nonce; `false` when it was spent before.
    pub async fn spend_link_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let inserted = sqlx::query("INSERT INTO used_link_nonces (nonce, used_at) VALUES ($1, $2)")
            .bind(nonce)
            .bind(now)
            .execute(&self.writer)
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a nonce was spent.
    pub async fn link_nonce_spent(&self, nonce: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM used_link_nonces WHERE nonce = $1")
            .bind(nonce)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Measures for insights: share of runs approved automatically, and time to approval per
    /// stage name and policy version.
    pub async fn approval_measures(&self) -> Result<ApprovalMeasures, StoreError> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE approval_route IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let automatic: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM runs WHERE approval_route = 'automatic'")
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT name, policy_version, COUNT(*), CAST(AVG(decided_at - opened_at) AS BIGINT), MAX(decided_at - opened_at) \
             FROM approval_stages WHERE status = {} AND opened_at IS NOT NULL GROUP BY name, policy_version ORDER BY name, policy_version",
            sql(StageStatus::Approved)
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut stages = Vec::new();
        for r in &rows {
            stages.push(StageMeasure {
                stage: r.try_get(0)?,
                policy_version: r.try_get(1)?,
                approved: r.try_get(2)?,
                mean_ms_to_approval: r.try_get(3)?,
                max_ms_to_approval: r.try_get(4)?,
            });
        }
        let share = if total > 0 {
            automatic as f64 / total as f64
        } else {
            0.0
        };
        Ok(ApprovalMeasures {
            runs: total,
            automatic,
            share_automatic: share,
            stages,
        })
    }
}

/// How runs were routed, and how long approvals took.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalMeasures {
    /// Runs that were routed.
    pub runs: i64,
    /// Of those, routed automatically.
    pub automatic: i64,
    /// `automatic / runs` (0 without runs).
    pub share_automatic: f64,
    /// Per stage name and policy version, the approved stages and their time to approval.
    pub stages: Vec<StageMeasure>,
}

/// The approved stages of one name under one policy version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StageMeasure {
    /// The stage's name.
    pub stage: String,
    /// The policy version that asked for it.
    pub policy_version: String,
    /// How many were approved.
    pub approved: i64,
    /// Mean time from opening to approval (ms).
    pub mean_ms_to_approval: Option<i64>,
    /// Longest time from opening to approval (ms).
    pub max_ms_to_approval: Option<i64>,
}

/// The once-only timers of an open stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageTimer {
    /// Approvers were sent the request.
    Notified,
    /// The half-time reminder went out.
    Reminded,
    /// The SLA passed; the escalation target may approve.
    Escalated,
}

impl StageTimer {
    fn column(self) -> &'static str {
        match self {
            StageTimer::Notified => "notified_at",
            StageTimer::Reminded => "reminded_at",
            StageTimer::Escalated => "escalated_at",
        }
    }

    fn audit_kind(self) -> &'static str {
        match self {
            StageTimer::Notified => "stage-notified",
            StageTimer::Reminded => "stage-reminded",
            StageTimer::Escalated => "stage-escalated",
        }
    }
}
