//! `builtin:postgres`: the `infrastructure` capability on the built-in PostgreSQL provider. A
//! workspace is `<name>-<environment>` (`orders-db-dev`); applying it creates database and role
//! `<name>_<environment>`, the password sealed at `databases/<name>/<environment>`. Provisioning
//! is synchronous, so an apply answers `applied` at once. Settings: `admin_url` (a role that may
//! create roles and databases; may be a `secret://` reference), `host` and `port` clients are
//! told to use.

use std::sync::Arc;

use lever_capabilities::provider::{CapabilityError, Provider, ProviderCall, error, text};
use lever_secrets::SealedSecrets;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::{PostgresProvider, ProvisionError};

/// Monthly cost estimates by `size`, in US cents (what the preview and the policy see).
const COSTS: &[(&str, u64)] = &[("small", 5_000), ("medium", 15_000), ("large", 40_000)];

/// `builtin:postgres`, connected to its server on first use.
pub struct PostgresBuiltin {
    sealed: Arc<SealedSecrets>,
    provider: OnceCell<PostgresProvider>,
}

fn split(workspace: &str) -> Result<(&str, &str), CapabilityError> {
    // `-` becomes `_` in the database's name, so `a_b-dev` and `a-b-dev` would be one database
    // under two workspaces (two inventory rows, two secrets): names take dashes only.
    if workspace.contains('_') {
        return Err(error(
            "invalid-input",
            format!("workspace `{workspace}`: use `-`, not `_` (`orders-db-dev`)"),
        ));
    }
    workspace
        .rsplit_once('-')
        .filter(|(name, env)| !name.is_empty() && !env.is_empty())
        .ok_or_else(|| {
            error(
                "invalid-input",
                format!(
                    "workspace `{workspace}` must be `<name>-<environment>`, e.g. `orders-db-dev`"
                ),
            )
        })
}

fn failed(e: ProvisionError) -> CapabilityError {
    match e {
        ProvisionError::InvalidInput(m) => error("invalid-input", m),
        exists @ ProvisionError::Exists { .. } => error("denied", exists.to_string()),
        other => error("retryable", other.to_string()),
    }
}

fn status(id: String) -> Value {
    json!({"id": id, "state": "applied", "message": null})
}

/// The provider's address of the database (its owner role is part of it: created, rotated and
/// dropped with it).
fn address(object: &str) -> String {
    format!("postgresql_database.{object}")
}

fn cost(input: &Value) -> Option<u64> {
    let size = input["variables"]["size"].as_str().unwrap_or("small");
    COSTS.iter().find(|(s, _)| *s == size).map(|(_, c)| *c)
}

impl PostgresBuiltin {
    /// The provider, sealing the credentials it makes with `sealed`.
    pub fn new(sealed: Arc<SealedSecrets>) -> Self {
        Self {
            sealed,
            provider: OnceCell::new(),
        }
    }

    async fn provider(&self, settings: &Value) -> Result<&PostgresProvider, CapabilityError> {
        self.provider
            .get_or_try_init(|| async {
                let mut admin_url = settings
                    .get("admin_url")
                    .and_then(Value::as_str)
                    .unwrap_or("postgres://postgres@127.0.0.1:5432/postgres")
                    .to_string();
                if let Some(name) = admin_url.strip_prefix("secret://") {
                    admin_url = self
                        .sealed
                        .get(name)
                        .await
                        .map_err(|e| error("other", e.to_string()))?
                        .ok_or_else(|| {
                            error(
                                "denied",
                                format!(
                                    "bindings.infrastructure.settings.admin_url: no secret `{name}`"
                                ),
                            )
                        })?;
                }
                let host = settings
                    .get("host")
                    .and_then(Value::as_str)
                    .unwrap_or("127.0.0.1");
                let port = settings.get("port").and_then(Value::as_u64).unwrap_or(5432) as u16;
                PostgresProvider::connect(&admin_url, host, port, (*self.sealed).clone())
                    .await
                    .map_err(|e| {
                        error(
                            "retryable",
                            format!(
                                "cannot reach the PostgreSQL server of `builtin:postgres`: {e}"
                            ),
                        )
                    })
            })
            .await
    }
}

#[lever_capabilities::async_trait]
impl Provider for PostgresBuiltin {
    fn name(&self) -> &'static str {
        "builtin:postgres"
    }

    fn capability(&self) -> &'static str {
        "infrastructure"
    }

    /// `call.ours`: Lever's inventory says this step claimed the workspace before (a retried
    /// or resumed step), so what exists on the server is its own to complete.
    async fn call(&self, call: ProviderCall<'_>) -> Result<Value, CapabilityError> {
        let ProviderCall {
            scope,
            settings,
            function,
            input,
            ours,
            readers,
            ..
        } = call;
        if function == "status" {
            return Ok(status(text(input, "id").to_string()));
        }
        let workspace = text(input, "workspace");
        let (name, environment) = split(workspace)?;
        match function {
            "plan" => {
                // What the server holds under the name: a plan says `unchanged` with the owner
                // role for what exists; the cost is what the size costs a month either way
                // (the host compares it with what the inventory holds: a resize).
                let found = self
                    .provider(settings)
                    .await?
                    .inspect(name, environment)
                    .await
                    .map_err(failed)?;
                let action = if found.any() { "unchanged" } else { "create" };
                let cost = cost(input);
                Ok(json!({
                    "id": format!("plan:{workspace}"),
                    "changes": [{
                        "address": address(&found.object),
                        "action": action,
                        "owner": found.database_owner.or(found.role.then(|| found.object.clone())),
                        "monthly_cost_cents": cost,
                    }],
                    "monthly_cost_cents": cost,
                }))
            }
            "apply" => {
                let team = scope
                    .owner
                    .as_deref()
                    .or(input["variables"]["owner"].as_str());
                // The credentials' path may hold another team's secret: refused before
                // anything is created.
                readers
                    .check_writer(&format!("databases/{name}/{environment}"), scope, team)
                    .await?;
                let db = self
                    .provider(settings)
                    .await?
                    .provision(name, environment, ours)
                    .await
                    .map_err(failed)?;
                // The requester and the owning team may read the credentials.
                let path = db.secret_ref.trim_start_matches("secret://");
                readers.grant(path, scope, team).await?;
                let mut answer = status(format!("postgres:{workspace}"));
                answer["changes"] = json!([{
                    "address": address(&db.database),
                    "action": if db.created { "create" } else { "unchanged" },
                    "owner": db.role,
                    "monthly_cost_cents": cost(input),
                }]);
                Ok(answer)
            }

            "rotate-credentials" => {
                self.provider(settings)
                    .await?
                    .rotate(name, environment)
                    .await
                    .map_err(failed)?;
                Ok(status(format!("postgres-rotate:{workspace}")))
            }
            "outputs" => match self
                .provider(settings)
                .await?
                .describe(name, environment)
                .await
                .map_err(failed)?
            {
                Some(db) => Ok(
                    json!({"database": db.database, "role": db.role, "host": db.host, "port": db.port, "credentials": db.secret_ref}),
                ),
                None => Err(error(
                    "not-found",
                    format!("workspace `{workspace}` has no database"),
                )),
            },
            "destroy" => {
                self.provider(settings)
                    .await?
                    .destroy(name, environment)
                    .await
                    .map_err(failed)?;
                readers
                    .forget(&format!("databases/{name}/{environment}"))
                    .await?;
                Ok(status(format!("postgres-destroy:{workspace}")))
            }
            other => Err(error(
                "invalid-input",
                format!("infrastructure has no function `{other}`"),
            )),
        }
    }
}
