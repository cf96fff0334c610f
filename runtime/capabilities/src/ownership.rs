//! Ownership of what capability calls create (`docs/resources.md`). Before the provider is
//! asked, a call that creates a resource Lever tracks claims it in the inventory — or finds it
//! held: by the run's own team (nothing to do: the answer says it exists), by another team
//! (refused, naming the owner), or by a step that was interrupted (resumed as its own). A
//! destroy acts only on what the inventory says Lever created for the run's team. The provider
//! then says what it did per resource (`create`, `unchanged`), and the claim turns `live`.

use lever_sandbox::CapabilityError;
use lever_store::{Claim, NewResource, ResourceRecord, resource_state};
use serde_json::{Value, json};

use crate::{BindingConfig, Capabilities, Scope, error};

/// The team a run's parameters name as owner (`owner`, else `team`; `group:default/payments`
/// is `payments`), if any.
pub fn owning_team(parameters: &Value) -> Option<String> {
    ["owner", "team"].iter().find_map(|key| {
        let owner = parameters.get(*key)?.as_str()?.trim();
        let owner = owner.rsplit('/').next().unwrap_or(owner);
        let team = owner.strip_prefix("group:").unwrap_or(owner);
        (!team.is_empty()).then(|| team.to_string())
    })
}

/// The unit a capability call creates and the inventory records, when it creates one: an
/// infrastructure workspace. (Other capabilities' creations are not yet in the inventory.)
pub fn tracked_scope(capability: &str, function: &str, input: &Value) -> Option<String> {
    match (capability, function) {
        ("infrastructure", "apply" | "destroy" | "rotate-credentials") => input
            .get("workspace")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Who a call acts for: its run's team, else the requester as `user:<id>`.
fn owner_of(scope: &Scope) -> String {
    scope
        .owner
        .clone()
        .unwrap_or_else(|| format!("user:{}", scope.context.requester))
}

/// One sentence naming who holds a resource.
fn held_by(record: &ResourceRecord) -> String {
    format!(
        "{} `{}` (workspace `{}`) belongs to team {}: run {} created it for {}",
        record.kind, record.name, record.scope, record.owner, record.run_id, record.requester
    )
}

/// `postgresql_database.orders_dev` → (`postgresql-database`, `orders_dev`); an address that
/// is not `type.name` (a count, a bare workspace) is the workspace itself.
pub(crate) fn kind_and_name(address: &str, workspace: &str) -> (String, String) {
    match address.split_once('.') {
        Some((kind, name)) if !address.contains(' ') && !kind.is_empty() && !name.is_empty() => {
            (kind.replace('_', "-"), name.to_string())
        }
        _ => ("workspace".into(), workspace.to_string()),
    }
}

/// What an apply's answer says it created: kind, name and monthly cost of the first created
/// resource (the cost summed over all created), or `None` when it created nothing it can name.
fn created(answer: &Value, workspace: &str) -> Option<(String, String, Option<i64>)> {
    let changes = answer.get("changes")?.as_array()?;
    let made: Vec<&Value> = changes
        .iter()
        .filter(|c| c["action"].as_str() != Some("unchanged"))
        .collect();
    let first = made.first()?;
    let (kind, name) = kind_and_name(first["address"].as_str().unwrap_or(""), workspace);
    let cost = made
        .iter()
        .filter_map(|c| c["monthly_cost_cents"].as_u64())
        .fold(None, |sum: Option<u64>, c| {
            Some(sum.unwrap_or(0).saturating_add(c))
        })
        .map(|c| c.min(i64::MAX as u64) as i64);
    Some((kind, name, cost))
}

/// What the guard decided before the provider is asked.
pub(crate) enum Guard {
    /// The call creates or destroys nothing the inventory tracks.
    Untracked,
    /// This step holds the claim: new, or `resumed` (claimed before a retry or a crash).
    Claimed {
        record: ResourceRecord,
        resumed: bool,
    },
    /// An apply to a resource the run's team has already (from an earlier run): the provider
    /// converges it (a resize, or nothing to do); nothing of it is this run's to undo.
    Updating(ResourceRecord),
    /// A destroy of a resource the run's team owns.
    Destroying(ResourceRecord),
    /// A day-2 call on a resource the run's team owns (rotating its credentials).
    Acting,
}

fn storage(e: lever_store::StoreError) -> CapabilityError {
    error("retryable", format!("the resource inventory failed: {e}"))
}

impl Guard {
    /// Checks and claims before `capability.function` reaches the provider of `binding`
    /// (bound as `key`).
    pub(crate) async fn before(
        capabilities: &Capabilities,
        scope: &Scope,
        key: &str,
        binding: &BindingConfig,
        capability: &str,
        function: &str,
        input: &Value,
    ) -> Result<Guard, CapabilityError> {
        let Some(workspace) = tracked_scope(capability, function, input) else {
            return Ok(Guard::Untracked);
        };
        let store = &capabilities.store;
        let owner = owner_of(scope);
        if function != "apply" {
            let held = store
                .held_resource(key, &workspace)
                .await
                .map_err(storage)?
                .ok_or_else(|| {
                    error(
                        "denied",
                        format!(
                            "Lever has no record of creating workspace `{workspace}` through `bindings.{key}`: it acts only on what it created"
                        ),
                    )
                })?;
            if held.owner != owner && held.run_id != scope.context.run_id {
                return Err(error(
                    "denied",
                    format!(
                        "{}; a run for {owner} may not {function} it",
                        held_by(&held)
                    ),
                ));
            }
            if held.state == resource_state::CREATING && held.run_id != scope.context.run_id {
                return Err(being_created(&held));
            }
            return Ok(if function == "destroy" {
                Guard::Destroying(held)
            } else {
                Guard::Acting
            });
        }
        let new = NewResource {
            binding: key.to_string(),
            provider: binding.adapter.clone(),
            scope: workspace.clone(),
            kind: "workspace".into(),
            name: workspace.clone(),
            environment: scope.context.environment.clone(),
            owner: owner.clone(),
            requester: scope.context.requester.clone(),
            run_id: scope.context.run_id.clone(),
            step_id: scope.context.step_id.clone(),
            template: scope.template.clone(),
        };
        match store.claim_resource(&new).await.map_err(storage)? {
            Claim::New(record) => {
                // The built-in provider checks the server itself before it creates anything;
                // an adapter is asked whether the workspace exists already, so one that Lever
                // did not create is never adopted (an asynchronous apply cannot say so in time).
                if !binding.is_builtin()
                    && let Err(refused) = capabilities.absent_at(scope, binding, &workspace).await
                {
                    store.release_claim(&record.id).await.map_err(storage)?;
                    return Err(refused);
                }
                Ok(Guard::Claimed {
                    record,
                    resumed: false,
                })
            }
            Claim::Resumed(record) => Ok(Guard::Claimed {
                record,
                resumed: true,
            }),
            Claim::Held(held) if held.owner != owner => Err(error(
                "denied",
                format!(
                    "{}; Lever does not act on another team's resources for {owner}: ask team {} to share it, or choose another name",
                    held_by(&held),
                    held.owner
                ),
            )),
            Claim::Held(held) if held.state == resource_state::ORPHANED => Err(error(
                "denied",
                format!(
                    "{} and was left behind by a failed rollback ({}); the platform team cleans it up before it is used again",
                    held_by(&held),
                    held.note.as_deref().unwrap_or("no note")
                ),
            )),
            Claim::Held(held) if held.state == resource_state::CREATING => {
                Err(being_created(&held))
            }
            // The team has it: the provider converges it to the request (nothing to do, or a
            // resize), and nothing of it is this run's to undo.
            Claim::Held(held) => Ok(Guard::Updating(held)),
        }
    }

    /// Records what the provider answered: a claim turns `live` (with what the provider says
    /// it created) once applied, or is released when the provider created nothing; a destroy
    /// marks the resource `destroyed`.
    pub(crate) async fn after(
        self,
        capabilities: &Capabilities,
        scope: &Scope,
        result: Result<Value, CapabilityError>,
    ) -> Result<Value, CapabilityError> {
        let store = &capabilities.store;
        match (self, &result) {
            (Guard::Untracked | Guard::Acting, _) => result,
            (Guard::Destroying(record), Ok(_)) => {
                store
                    .end_resource(
                        &record.id,
                        resource_state::DESTROYED,
                        Some(&scope.context.run_id),
                        Some(&format!(
                            "destroyed by run {} (step {})",
                            scope.context.run_id, scope.context.step_id
                        )),
                    )
                    .await
                    .map_err(storage)?;
                result
            }
            (Guard::Updating(record), Ok(answer)) => {
                // The cost of what it is now (a resize changes it); the creator stays.
                if let Some(cost) = answer
                    .get("changes")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find_map(|c| c["monthly_cost_cents"].as_i64()))
                {
                    store
                        .resource_cost(&record.id, cost)
                        .await
                        .map_err(storage)?;
                }
                let mut answer = answer.clone();
                if answer["message"].is_null() {
                    answer["message"] = json!(format!(
                        "exists — {} `{}` of team {}, created by run {} for {}; applied to it, nothing of it is this run's to undo",
                        record.kind, record.name, record.owner, record.run_id, record.requester
                    ));
                }
                Ok(answer)
            }
            (Guard::Destroying(_) | Guard::Updating(_), Err(_)) => result,
            // A provider that refused (the name exists outside Lever, a bad input) created
            // nothing: a first claim is let go. Other failures keep it: the provider may have
            // begun, and the step's retry or the run's rollback finishes or undoes it.
            (Guard::Claimed { record, resumed }, Err(e)) => {
                if !resumed && matches!(e.kind, "denied" | "invalid-input") {
                    store.release_claim(&record.id).await.map_err(storage)?;
                }
                result
            }
            (Guard::Claimed { record, resumed }, Ok(answer)) => {
                if answer["state"].as_str() != Some("applied") {
                    return result; // still applying: `Capabilities::run_step` records the end
                }
                let found_only = answer
                    .get("changes")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["action"] == "unchanged"));
                if found_only && !resumed {
                    // The provider had it already and Lever did not create it: never adopted.
                    store.release_claim(&record.id).await.map_err(storage)?;
                    return Err(not_adopted(&record.scope, &record.provider));
                }
                record_live(capabilities, &record, answer, None).await?;
                result
            }
        }
    }
}

/// The answer to a call on a resource another run is creating right now: try again later.
fn being_created(held: &ResourceRecord) -> CapabilityError {
    error(
        "retryable",
        format!(
            "run {} (step {}) is creating {} `{}` for team {} right now; try again when it ends",
            held.run_id, held.step_id, held.kind, held.name, held.owner
        ),
    )
}

/// The refusal of a workspace that exists at `provider` although Lever did not create it.
fn not_adopted(workspace: &str, provider: &str) -> CapabilityError {
    error(
        "denied",
        format!(
            "workspace `{workspace}` already exists at `{provider}` and Lever did not create it: it is not adopted; choose another name, or ask the platform team to adopt it"
        ),
    )
}

/// Marks a claim `live` with what the apply's answer says it created and the `secret://`
/// references among the workspace's outputs.
pub(crate) async fn record_live(
    capabilities: &Capabilities,
    record: &ResourceRecord,
    answer: &Value,
    outputs: Option<&Value>,
) -> Result<(), CapabilityError> {
    let (kind, name, cost) = created(answer, &record.scope)
        .unwrap_or_else(|| (record.kind.clone(), record.name.clone(), None));
    let secrets: Vec<String> = match outputs {
        Some(outputs) => crate::secret_references(outputs)
            .into_iter()
            .map(|name| format!("secret://{name}"))
            .collect(),
        None => record.secrets.clone(),
    };
    capabilities
        .store
        .resource_live(&record.id, &kind, &name, cost, &secrets)
        .await
        .map_err(storage)
}

impl Capabilities {
    /// `Ok` when `binding`'s adapter has no workspace `workspace` (its `outputs` answer
    /// `not-found`); `denied` when it has one Lever holds no record of; the adapter's own error
    /// when it cannot say.
    pub(crate) async fn absent_at(
        &self,
        scope: &Scope,
        binding: &BindingConfig,
        workspace: &str,
    ) -> Result<(), CapabilityError> {
        let input = json!({"workspace": workspace});
        match crate::adapter::call(self, scope, binding, "infrastructure", "outputs", &input).await
        {
            Err(e) if e.kind == "not-found" => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(not_adopted(workspace, &binding.adapter)),
        }
    }

    /// After a template step's apply finished and its outputs were read: the step's claim on
    /// the workspace is `live`, with its secrets.
    pub(crate) async fn record_applied(
        &self,
        scope: &Scope,
        workspace: &str,
        status: &Value,
        outputs: &Value,
    ) -> Result<(), CapabilityError> {
        let Ok((key, _)) = self.keyed_binding("infrastructure", scope.host.as_deref()) else {
            return Ok(());
        };
        let held = self
            .store
            .held_resource(key, workspace)
            .await
            .map_err(storage)?;
        match held {
            Some(record)
                if record.run_id == scope.context.run_id
                    && record.step_id == scope.context.step_id =>
            {
                record_live(self, &record, status, Some(outputs)).await
            }
            // Another run's (the team had it: nothing of it is this step's).
            _ => Ok(()),
        }
    }
}
