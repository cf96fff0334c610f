//! The resource inventory (`docs/resources.md`): what Lever created, for whom, and what became
//! of it. A resource is held by one row while it is `creating`, `live` or `orphaned` (a unique
//! index on its binding and scope), so a second run asking for the same workspace finds the
//! holder instead of creating it again, and a step resumed after a crash finds its own claim.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms, parse_json};

/// The states a resource goes through.
pub mod state {
    /// Claimed by a step; the provider is creating it.
    pub const CREATING: &str = "creating";
    /// Created and in use.
    pub const LIVE: &str = "live";
    /// Removed by a rollback or a delete.
    pub const DESTROYED: &str = "destroyed";
    /// Its undo failed: it exists and nobody uses it (the platform team's to clean up).
    pub const ORPHANED: &str = "orphaned";
    /// The provider no longer has it (found by reconciling).
    pub const DRIFTED: &str = "drifted";
    /// Every state, for filters.
    pub const ALL: &[&str] = &[CREATING, LIVE, DESTROYED, ORPHANED, DRIFTED];
}

/// What a step claims before its provider acts.
#[derive(Debug, Clone)]
pub struct NewResource {
    /// The capability binding (`infrastructure`).
    pub binding: String,
    /// The provider behind it (`builtin:postgres`, `terraform-cloud`).
    pub provider: String,
    /// The provider's unit it is addressed by (the workspace).
    pub scope: String,
    /// Kind, as far as known before the provider answers.
    pub kind: String,
    /// Name, as far as known before the provider answers.
    pub name: String,
    /// Environment.
    pub environment: String,
    /// The owning team.
    pub owner: String,
    /// Who asked for the run.
    pub requester: String,
    /// The run that creates it.
    pub run_id: String,
    /// Its step.
    pub step_id: String,
    /// The template of the run, if any.
    pub template: Option<String>,
}

/// One resource of the inventory.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ResourceRecord {
    /// Id.
    pub id: String,
    /// The capability binding.
    pub binding: String,
    /// The provider behind it.
    pub provider: String,
    /// The provider's unit (the workspace).
    pub scope: String,
    /// Kind (`postgresql-database`).
    pub kind: String,
    /// The provider's name for it (`orders_dev`).
    pub name: String,
    /// Environment.
    pub environment: String,
    /// The owning team.
    pub owner: String,
    /// Who asked for it.
    pub requester: String,
    /// The run that created it.
    pub run_id: String,
    /// Its step.
    pub step_id: String,
    /// The template of that run.
    pub template: Option<String>,
    /// Monthly cost in US cents, when the provider said.
    pub monthly_cost_cents: Option<i64>,
    /// References (`secret://…`) of the secrets that belong to it.
    pub secrets: Vec<String>,
    /// `creating`, `live`, `destroyed`, `orphaned` or `drifted`.
    pub state: String,
    /// Why it is in that state, when it is not plain (`the rollback of step x failed: …`).
    pub note: Option<String>,
    /// When it was claimed (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// When it was destroyed, orphaned or found gone (ms).
    pub ended_at: Option<i64>,
    /// The run that destroyed it.
    pub ended_by_run: Option<String>,
}

/// What claiming found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Newly written: this step is the first to ask.
    New(ResourceRecord),
    /// Written by this step before (a retried attempt, or a step resumed after a crash).
    Resumed(ResourceRecord),
    /// Another run (or another step) holds it.
    Held(ResourceRecord),
}

/// Which resources to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    /// Owning team.
    pub owner: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Template of the run that created it.
    pub template: Option<String>,
    /// State.
    pub state: Option<String>,
}

const COLUMNS: &str = "id, binding, provider, scope, kind, name, environment, owner, requester, run_id, step_id, \
     template, monthly_cost_cents, secrets, state, note, created_at, updated_at, ended_at, ended_by_run";

/// The states in which a row holds its binding and scope.
const HELD: &str = "state IN ('creating', 'live', 'orphaned')";

fn record(row: &AnyRow) -> Result<ResourceRecord, StoreError> {
    Ok(ResourceRecord {
        id: row.try_get(0)?,
        binding: row.try_get(1)?,
        provider: row.try_get(2)?,
        scope: row.try_get(3)?,
        kind: row.try_get(4)?,
        name: row.try_get(5)?,
        environment: row.try_get(6)?,
        owner: row.try_get(7)?,
        requester: row.try_get(8)?,
        run_id: row.try_get(9)?,
        step_id: row.try_get(10)?,
        template: row.try_get(11)?,
        monthly_cost_cents: row.try_get(12)?,
        secrets: parse_json("resources.secrets", &row.try_get::<String, _>(13)?)?,
        state: row.try_get(14)?,
        note: row.try_get(15)?,
        created_at: row.try_get(16)?,
        updated_at: row.try_get(17)?,
        ended_at: row.try_get(18)?,
        ended_by_run: row.try_get(19)?,
    })
}

impl Store {
    /// Claims `new.scope` under `new.binding` for a step before its provider acts: a `creating`
    /// row, unless a row holds it already — this step's own (a retried or resumed step: `Resumed`), or
    /// another run's (`Held`).
    pub async fn claim_resource(&self, new: &NewResource) -> Result<Claim, StoreError> {
        // Two tries: a holder that ends between the insert and the read leaves room.
        for _ in 0..2 {
            if let Some(held) = self.held_resource(&new.binding, &new.scope).await? {
                return Ok(
                    if held.run_id == new.run_id && held.step_id == new.step_id {
                        Claim::Resumed(held)
                    } else {
                        Claim::Held(held)
                    },
                );
            }
            let now = now_ms();
            let sql = format!(
                "INSERT INTO resources (id, binding, provider, scope, kind, name, environment, owner, requester, run_id, step_id, \
                 template, secrets, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '[]', 'creating', $13, $13) RETURNING {COLUMNS}"
            );
            let inserted = sqlx::query(&sql)
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&new.binding)
                .bind(&new.provider)
                .bind(&new.scope)
                .bind(&new.kind)
                .bind(&new.name)
                .bind(&new.environment)
                .bind(&new.owner)
                .bind(&new.requester)
                .bind(&new.run_id)
                .bind(&new.step_id)
                .bind(&new.template)
                .bind(now)
                .fetch_one(&self.writer)
                .await;
            match inserted {
                Ok(row) => return Ok(Claim::New(record(&row)?)),
                // Another run claimed it between the read and the insert: read it again.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Refused(format!(
            "`{}` under `{}` changed hands twice while claiming it; try again",
            new.scope, new.binding
        )))
    }

    /// The row holding `scope` under `binding` (`creating`, `live` or `orphaned`), if any.
    pub async fn held_resource(
        &self,
        binding: &str,
        scope: &str,
    ) -> Result<Option<ResourceRecord>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM resources WHERE binding = $1 AND scope = $2 AND {HELD}");
        sqlx::query(&sql)
            .bind(binding)
            .bind(scope)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The provider created the claimed resource: `live`, with what it said it is.
    pub async fn resource_live(
        &self,
        id: &str,
        kind: &str,
        name: &str,
        monthly_cost_cents: Option<i64>,
        secrets: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE resources SET state = 'live', kind = $2, name = $3, monthly_cost_cents = COALESCE($4, monthly_cost_cents), \
             secrets = $5, note = NULL, ended_at = NULL, updated_at = $6 WHERE id = $1 AND state IN ('creating', 'live', 'orphaned')",
        )
        .bind(id)
        .bind(kind)
        .bind(name)
        .bind(monthly_cost_cents)
        .bind(serde_json::to_string(secrets).expect("a list of strings serialises"))
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A held resource's monthly cost changed (a resize).
    pub async fn resource_cost(&self, id: &str, monthly_cost_cents: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE resources SET monthly_cost_cents = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(monthly_cost_cents)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets a claim whose provider created nothing (it refused, or found the resource
    /// existing outside Lever).
    pub async fn release_claim(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM resources WHERE id = $1 AND state = 'creating'")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Ends a held resource (`creating`, `live` or `orphaned`): `destroyed` (by run `by_run`),
    /// `orphaned` or `drifted`, with why. A resource already ended stays as it ended.
    pub async fn end_resource(
        &self,
        id: &str,
        to: &str,
        by_run: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE resources SET state = $2, ended_at = $3, updated_at = $3, ended_by_run = COALESCE($4, ended_by_run), \
             note = $5 WHERE id = $1 AND state IN ('creating', 'live', 'orphaned')",
        )
        .bind(id)
        .bind(to)
        .bind(now)
        .bind(by_run)
        .bind(note)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The resources a step of a run created (in any state).
    pub async fn resources_of_step(
        &self,
        run_id: &str,
        step_id: &str,
    ) -> Result<Vec<ResourceRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE run_id = $1 AND step_id = $2 ORDER BY created_at"
        );
        let rows = sqlx::query(&sql)
            .bind(run_id)
            .bind(step_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }

    /// The resources a run created or destroyed.
    pub async fn resources_of_run(&self, run_id: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE run_id = $1 OR ended_by_run = $1 ORDER BY created_at"
        );
        let rows = sqlx::query(&sql).bind(run_id).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// How many resources are in each state and their monthly cost in cents, by state.
    pub async fn resource_totals(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*), CAST(COALESCE(SUM(monthly_cost_cents), 0) AS BIGINT) FROM resources GROUP BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Marks a `live` resource `drifted` (its provider no longer has it); `false` when it was no
    /// longer live (a rollback or a delete ended it meanwhile).
    pub async fn resource_drifted(&self, id: &str, note: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        Ok(sqlx::query(
            "UPDATE resources SET state = 'drifted', ended_at = $2, updated_at = $2, note = $3 WHERE id = $1 AND state = 'live'",
        )
        .bind(id)
        .bind(now)
        .bind(note)
        .execute(&self.writer)
        .await?
        .rows_affected()
            > 0)
    }

    /// A run ended with claims its provider never finished (a step skipped or abandoned after
    /// its provider began): they are `orphaned`, never forgotten. Returns how many.
    pub async fn orphan_unfinished_claims(
        &self,
        run_id: &str,
        note: &str,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        Ok(sqlx::query(
            "UPDATE resources SET state = 'orphaned', ended_at = $2, updated_at = $2, note = $3 WHERE run_id = $1 AND state = 'creating'",
        )
        .bind(run_id)
        .bind(now)
        .bind(note)
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    /// One resource.
    pub async fn resource(&self, id: &str) -> Result<Option<ResourceRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The inventory, newest first, narrowed by `filter` (at most `limit` rows).
    pub async fn resources(
        &self,
        filter: &ResourceFilter,
        limit: i64,
    ) -> Result<Vec<ResourceRecord>, StoreError> {
        // Each filter is `$n IS NULL OR column = $n`, so one statement serves every combination.
        let sql = format!(
            "SELECT {COLUMNS} FROM resources WHERE (CAST($1 AS TEXT) IS NULL OR owner = $1) AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR environment = $3) AND (CAST($4 AS TEXT) IS NULL OR template = $4) AND (CAST($5 AS TEXT) IS NULL OR state = $5) \
             ORDER BY created_at DESC LIMIT $6"
        );
        let rows = sqlx::query(&sql)
            .bind(&filter.owner)
            .bind(&filter.kind)
            .bind(&filter.environment)
            .bind(&filter.template)
            .bind(&filter.state)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record).collect()
    }
}
