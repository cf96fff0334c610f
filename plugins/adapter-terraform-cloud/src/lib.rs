//! Terraform Cloud (HCP Terraform) adapter: the `infrastructure` capability over the runs API.
//!
//! `plan` and `apply` find the workspace by name (creating it when missing) and start a run
//! with the input's variables as run variables; `status` reads a run; `outputs` reads the
//! workspace's current state outputs, replacing sensitive values by references
//! (`terraform-cloud://{organization}/{workspace}/outputs/{name}`); `destroy` starts a destroy run.
//! A run started for one step is remembered (by run, step and input), so a retried step
//! follows the same run instead of queueing another.

use std::time::{Duration, Instant};

use lever_adapter_sdk::bindings::lever::host::state::{self, Scope};
use lever_adapter_sdk::capabilities::infrastructure::{ApplyStatus, Change, PlanResult};
use lever_adapter_sdk::params::{RunId, Workspace as WorkspaceName, WorkspaceVariables};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Map, Value, json};
use lever_adapter_sdk::{AdapterManifest, Context, Error, Grants, Guest, input, output, settings};

/// How long `plan` waits for Terraform Cloud to finish planning, inside the host's call timeout.
const PLAN_BUDGET: Duration = Duration::from_secs(20);

struct TerraformCloud;

impl Guest for TerraformCloud {
    fn describe() -> AdapterManifest {
        let schema = json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "description": "API address (default https://app.terraform.io; Terraform Enterprise: its own)"},
                "organization": {"type": "string", "description": "Organization that owns the workspaces"},
                "token": {"type": "string", "description": "secret://NAME of a user or team API token"}
            },
            "required": ["organization", "token"],
            "additionalProperties": false
        });
        AdapterManifest {
            name: "terraform-cloud".into(),
            version: "0.1.0".into(),
            description: "Terraform Cloud (HCP Terraform): infrastructure runs and outputs".into(),
            capabilities: vec!["infrastructure".into()],
            settings_schema: schema.to_string(),
            grants: Grants {
                hosts: vec!["app.terraform.io".into()],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        let settings = settings::parse(&settings)?;
        let memo = format!(
            "terraform-cloud/{function}/{}/{}/{:016x}",
            ctx.run_id,
            ctx.step_id,
            fnv(&input_json)
        );
        match function.as_str() {
            "plan" | "apply" => {
                let request: WorkspaceVariables = input(&function, &input_json)?;
                check_name("workspace", &request.workspace)?;
                let variables = run_variables(&request.variables)?;
                let tfc = Tfc::connect(&settings)?;
                let workspace = tfc.workspace(&request.workspace, true)?;
                let plan_only = function == "plan";
                let id = match remembered(&memo) {
                    Some(id) => id,
                    None => remember(
                        &memo,
                        tfc.start_run(&ctx, &workspace, json!({"plan-only": plan_only, "auto-apply": !plan_only, "variables": variables}))?,
                    ),
                };
                if plan_only {
                    output(&tfc.wait_for_plan(&id, &request.workspace)?)
                } else {
                    output(&tfc.status(&id)?)
                }
            }
            "status" => {
                let request: RunId = input(&function, &input_json)?;
                check_name("id", &request.id)?;
                output(&Tfc::connect(&settings)?.status(&request.id)?)
            }
            "outputs" => {
                let request: WorkspaceName = input(&function, &input_json)?;
                check_name("workspace", &request.workspace)?;
                let tfc = Tfc::connect(&settings)?;
                let workspace = tfc.workspace(&request.workspace, false)?;
                output(&tfc.outputs(&workspace, &request.workspace)?)
            }
            "destroy" => {
                let request: WorkspaceName = input(&function, &input_json)?;
                check_name("workspace", &request.workspace)?;
                let tfc = Tfc::connect(&settings)?;
                let workspace = tfc.workspace(&request.workspace, false)?;
                let id = match remembered(&memo) {
                    Some(id) => id,
                    None => remember(
                        &memo,
                        tfc.start_run(
                            &ctx,
                            &workspace,
                            json!({"is-destroy": true, "auto-apply": true}),
                        )?,
                    ),
                };
                output(&tfc.status(&id)?)
            }
            other => Err(lever_adapter_sdk::unsupported("terraform-cloud", other)),
        }
    }
}

/// The client for one organization.
struct Tfc {
    api: Api,
    organization: String,
}

impl Tfc {
    fn connect(settings: &Value) -> Result<Tfc, Error> {
        let organization = settings::required(settings, "organization")?;
        check_name("organization", &organization)?;
        let token = settings::secret(settings, "token")?;
        let api = Api {
            provider: "Terraform Cloud",
            base: settings::string(settings, "base_url", "https://app.terraform.io"),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                // JSON:API: Terraform Cloud rejects writes sent as plain `application/json`.
                ("content-type".into(), "application/vnd.api+json".into()),
            ],
            message,
        };
        Ok(Tfc { api, organization })
    }

    /// The workspace's id; a missing one is created (`create`) or `not-found`.
    fn workspace(&self, name: &str, create: bool) -> Result<String, Error> {
        let org = encode(&self.organization);
        let found = match self.api.get(&format!(
            "/api/v2/organizations/{org}/workspaces/{}",
            encode(name)
        )) {
            Ok(answer) => answer,
            Err(Error::NotFound(_)) if create => {
                let body = json!({"data": {"type": "workspaces", "attributes": {"name": name, "auto-apply": true}}});
                self.api
                    .post(&format!("/api/v2/organizations/{org}/workspaces"), &body)?
            }
            Err(Error::NotFound(m)) => {
                return Err(Error::NotFound(format!(
                    "no workspace `{name}` in organization `{}`: {m}",
                    self.organization
                )));
            }
            Err(e) => return Err(e),
        };
        id_of(&found.body)
    }

    /// Queues a run on the workspace with extra `attributes`; returns its id.
    fn start_run(
        &self,
        ctx: &Context,
        workspace: &str,
        attributes: Value,
    ) -> Result<String, Error> {
        let mut attributes = attributes;
        attributes["message"] = json!(format!("Lever run {}, step {}", ctx.run_id, ctx.step_id));
        let body = json!({"data": {
            "type": "runs",
            "attributes": attributes,
            "relationships": {"workspace": {"data": {"type": "workspaces", "id": workspace}}}
        }});
        id_of(&self.api.post("/api/v2/runs", &body)?.body)
    }

    /// The run's state, with a link to the run when it errored.
    fn status(&self, id: &str) -> Result<ApplyStatus, Error> {
        let answer = self.api.get(&format!(
            "/api/v2/runs/{}?include=workspace,plan",
            encode(id)
        ))?;
        let status = answer
            .body
            .pointer("/data/attributes/status")
            .and_then(Value::as_str)
            .unwrap_or("");
        let state = run_state(status);
        let message = match (state, status) {
            ("errored", _) => Some(format!(
                "Terraform Cloud run {id} errored; its log is at {}",
                self.run_url(&answer.body, id)
            )),
            (_, "policy_override" | "policy_soft_failed") => Some(format!(
                "run {id} waits for a policy override at {}",
                self.run_url(&answer.body, id)
            )),
            (_, "planned") => Some(format!(
                "run {id} waits for confirmation at {}",
                self.run_url(&answer.body, id)
            )),
            _ => None,
        };
        // What the apply did, from its plan's counts once it is applied (the per-resource plan
        // is served from another host than the one the binding grants).
        let changes = (state == "applied").then(|| {
            let workspace = included(&answer.body, "workspaces")
                .and_then(|w| w.pointer("/attributes/name"))
                .and_then(Value::as_str)
                .unwrap_or("-");
            let counted = plan_changes(&answer.body, workspace);
            if counted.is_empty() {
                vec![Change {
                    address: workspace.to_string(),
                    action: "unchanged".into(),
                    owner: None,
                    monthly_cost_cents: None,
                }]
            } else {
                counted
            }
        });
        Ok(ApplyStatus {
            id: id.to_string(),
            state: state.to_string(),
            message,
            changes,
        })
    }

    /// The run's page, when the answer included its workspace.
    fn run_url(&self, run: &Value, id: &str) -> String {
        let workspace = included(run, "workspaces")
            .and_then(|w| w.pointer("/attributes/name"))
            .and_then(Value::as_str)
            .unwrap_or("-");
        format!(
            "{}/app/{}/workspaces/{workspace}/runs/{id}",
            self.api.base, self.organization
        )
    }

    /// Polls a plan-only run until its plan is done; counts what it would change.
    fn wait_for_plan(&self, id: &str, workspace: &str) -> Result<PlanResult, Error> {
        let started = Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            let run = self
                .api
                .get(&format!(
                    "/api/v2/runs/{}?include=plan,cost_estimate,workspace",
                    encode(id)
                ))?
                .body;
            let status = run
                .pointer("/data/attributes/status")
                .and_then(Value::as_str)
                .unwrap_or("");
            match run_state(status) {
                "errored" | "cancelled" => {
                    return Err(Error::Fatal(format!(
                        "the plan of run {id} ended {status}; its log is at {}",
                        self.run_url(&run, id)
                    )));
                }
                _ if plan_done(status) => return Ok(plan_result(id, workspace, &run)),
                _ => {}
            }
            if started.elapsed() >= PLAN_BUDGET {
                return Err(Error::Retryable(format!(
                    "run {id} is still {status} after {} s; a retry of this step keeps waiting for the same run",
                    PLAN_BUDGET.as_secs()
                )));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// The current state's outputs as one object; sensitive ones become references.
    fn outputs(&self, workspace_id: &str, workspace: &str) -> Result<Value, Error> {
        let mut outputs = Map::new();
        let mut page = 1;
        loop {
            let path = format!(
                "/api/v2/workspaces/{}/current-state-version-outputs?page%5Bnumber%5D={page}&page%5Bsize%5D=100",
                encode(workspace_id)
            );
            let answer = self.api.get(&path)?.body;
            for item in answer
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let attributes = item.get("attributes").unwrap_or(&Value::Null);
                let Some(name) = attributes.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let value = if attributes
                    .get("sensitive")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    json!(format!(
                        "terraform-cloud://{}/{workspace}/outputs/{name}",
                        self.organization
                    ))
                } else {
                    attributes.get("value").cloned().unwrap_or(Value::Null)
                };
                outputs.insert(name.to_string(), value);
            }
            match answer
                .pointer("/meta/pagination/next-page")
                .and_then(Value::as_u64)
            {
                Some(next) if next > page && page < 50 => page = next,
                _ => return Ok(Value::Object(outputs)),
            }
        }
    }
}

/// Maps Terraform Cloud's run statuses onto the capability's five states.
fn run_state(status: &str) -> &'static str {
    match status {
        "applied" | "planned_and_finished" => "applied",
        "errored" => "errored",
        "canceled" | "discarded" | "force_canceled" => "cancelled",
        "confirmed"
        | "apply_queued"
        | "queuing_apply"
        | "applying"
        | "pre_apply_running"
        | "pre_apply_completed"
        | "post_apply_running"
        | "post_apply_completed" => "applying",
        // pending, fetching, plan_queued, planning, planned, cost_estimating, policy_checking...
        _ => "pending",
    }
}

/// Whether a plan-only run has finished planning (the counts are final).
fn plan_done(status: &str) -> bool {
    matches!(
        status,
        "planned_and_finished"
            | "planned"
            | "cost_estimated"
            | "policy_checked"
            | "policy_override"
            | "policy_soft_failed"
            | "post_plan_completed"
    )
}

/// The plan's counts as changes: one entry per non-zero kind, because the per-resource plan
/// (`json-output`) is served from another host than the one the binding grants.
fn plan_result(id: &str, workspace: &str, run: &Value) -> PlanResult {
    let changes = plan_changes(run, workspace);
    let monthly_cost_cents = included(run, "cost-estimates")
        .filter(|c| c.pointer("/attributes/status").and_then(Value::as_str) == Some("finished"))
        .and_then(|c| {
            c.pointer("/attributes/proposed-monthly-cost")?
                .as_str()
                .and_then(cents)
        });
    PlanResult {
        id: id.to_string(),
        changes,
        monthly_cost_cents,
    }
}

/// A run's plan counts as changes: one entry per non-zero kind.
fn plan_changes(run: &Value, workspace: &str) -> Vec<Change> {
    let plan = included(run, "plans")
        .and_then(|p| p.get("attributes"))
        .cloned()
        .unwrap_or(Value::Null);
    [
        ("resource-additions", "create"),
        ("resource-changes", "update"),
        ("resource-destructions", "delete"),
    ]
    .into_iter()
    .filter_map(|(count, action)| {
        let n = plan.get(count).and_then(Value::as_u64).filter(|n| *n > 0)?;
        Some(Change {
            address: format!(
                "{n} resource{} in {workspace}",
                if n == 1 { "" } else { "s" }
            ),
            action: action.into(),
            owner: None,
            monthly_cost_cents: None,
        })
    })
    .collect()
}

/// The first included resource of a JSON:API type.
fn included<'a>(document: &'a Value, kind: &str) -> Option<&'a Value> {
    document
        .get("included")?
        .as_array()?
        .iter()
        .find(|r| r.get("type").and_then(Value::as_str) == Some(kind))
}

fn id_of(document: &Value) -> Result<String, Error> {
    document
        .pointer("/data/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Fatal("Terraform Cloud answered without data.id".into()))
}

/// `"12.34"` US dollars → 1234 cents.
fn cents(dollars: &str) -> Option<u64> {
    let (whole, fraction) = dollars
        .trim()
        .split_once('.')
        .unwrap_or((dollars.trim(), ""));
    let fraction: String = fraction.chars().chain("00".chars()).take(2).collect();
    Some(whole.parse::<u64>().ok()? * 100 + fraction.parse::<u64>().ok()?)
}

/// Names go into URL paths: Terraform Cloud's own alphabet only, so none can reach another path.
fn check_name(field: &str, name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > 90
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::InvalidInput(format!(
            "`{field}` must be 1 to 90 letters, digits, `-` or `_`, not `{name}`"
        )));
    }
    Ok(())
}

/// The input's variables as run variables: `{"key", "value"}` with the value in HCL syntax.
fn run_variables(variables: &Value) -> Result<Value, Error> {
    let parsed;
    let variables = match variables {
        Value::String(text) => {
            parsed = lever_adapter_sdk::serde_json::from_str::<Value>(text)
                .map_err(|e| Error::InvalidInput(format!("`variables` is not JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    let empty = Map::new();
    let map = match variables {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            return Err(Error::InvalidInput(
                "`variables` must be a JSON object of variable names to values".into(),
            ));
        }
    };
    Ok(map
        .iter()
        .map(|(key, value)| json!({"key": key, "value": hcl(value)}))
        .collect())
}

/// A JSON value as an HCL expression. JSON literals are HCL, except that `${` and `%{` start
/// templates in HCL strings and must be doubled to stay literal.
fn hcl(value: &Value) -> String {
    match value {
        Value::String(_) => value.to_string().replace("${", "$${").replace("%{", "%%{"),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(hcl).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", hcl(&json!(k)), hcl(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}

/// Terraform Cloud's JSON:API errors: `{"errors": [{"status", "title", "detail"}]}`.
fn message(body: &Value) -> Option<String> {
    let errors: Vec<String> = body
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            _ => {
                let title = e.get("title").and_then(Value::as_str);
                let detail = e.get("detail").and_then(Value::as_str);
                match (title, detail) {
                    (Some(t), Some(d)) => Some(format!("{t}: {d}")),
                    (t, d) => t.or(d).map(str::to_string),
                }
            }
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// The run started earlier for this step and input, if any.
fn remembered(key: &str) -> Option<String> {
    state::get(Scope::Run, key)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Remembers a started run; best effort, since losing it only risks a second run on a retry.
fn remember(key: &str, id: String) -> String {
    let _ = state::set(Scope::Run, key, id.as_bytes());
    id
}

/// FNV-1a: a short, stable digest of the input for the memo key.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

lever_adapter_sdk::bindings::export!(TerraformCloud with_types_in lever_adapter_sdk::bindings);
