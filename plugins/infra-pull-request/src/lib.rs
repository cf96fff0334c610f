//! `infra-pull-request`: the infrastructure pull request that creates a resource — `open` it,
//! poll its `status` (for `waitFor`), `close` it (for rollback). A stand-in until the
//! git-provider and infrastructure adapters land: the pull requests live in this plugin's
//! state, and opening is keyed by the step's idempotency key, so a retried or resumed step
//! opens one pull request only.

use lever_sdk::state::{self, Scope};
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};
use serde_json::{Value, json};

/// Input of `infra-pull-request`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(tag = "operation", rename_all = "lowercase")]
enum Input {
    /// Open the pull request.
    Open {
        /// Resource kind, like `postgresql-database`.
        kind: String,
        /// Resource name.
        name: String,
        /// Target environment.
        environment: String,
        /// `small`, `medium` or `large`.
        size: String,
        /// Owning team.
        #[serde(default)]
        owner: Option<String>,
    },
    /// Report whether it was merged and applied; `done` on the second poll.
    Status {
        /// Pull request number.
        number: u64,
        /// Resource name, for the outputs.
        name: String,
    },
    /// Close it (the rollback of `open`).
    Close {
        /// Pull request number.
        number: u64,
    },
}

fn monthly_cost_cents(size: &str) -> Result<u64, ActionError> {
    match size {
        "small" => Ok(5_000),
        "medium" => Ok(15_000),
        "large" => Ok(40_000),
        other => Err(ActionError::InvalidInput(format!(
            "size `{other}` is small, medium or large"
        ))),
    }
}

fn counter(key: &str) -> Result<u64, ActionError> {
    Ok(state::get(Scope::Plugin, key)?
        .map(|v| String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0))
        .unwrap_or(0))
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    match input {
        Input::Open {
            kind,
            name,
            environment,
            size,
            owner,
        } => Ok(Plan {
            summary: format!(
                "Open an infrastructure pull request creating {kind} `{name}` in {environment}"
            ),
            resources: vec![PlannedResource {
                kind,
                name: format!("{name}-{environment}"),
                change: "create".into(),
                monthly_cost_cents: Some(monthly_cost_cents(&size)?),
            }],
            permissions: vec![format!(
                "{} gets owner on {name}",
                owner.unwrap_or_else(|| "the requester".into())
            )],
        }),
        Input::Status { number, .. } => Ok(Plan {
            summary: format!("Check pull request #{number}"),
            ..Plan::default()
        }),
        Input::Close { number } => Ok(Plan {
            summary: format!("Close pull request #{number}"),
            ..Plan::default()
        }),
    }
}

#[action(
    name = "infra-pull-request",
    version = "0.1.0",
    description = "Opens, polls and closes the infrastructure pull request that creates a resource (stand-in)",
    plan = plan
)]
fn run(ctx: &Context, input: Input) -> Result<Value, ActionError> {
    match input {
        Input::Open {
            kind,
            name,
            environment,
            size,
            ..
        } => {
            monthly_cost_cents(&size)?;
            let key = format!("pr-by-key/{}", ctx.idempotency_key);
            if let Some(existing) = state::get(Scope::Plugin, &key)? {
                lever_sdk::log::info("this attempt already opened its pull request; returning it");
                return serde_json::from_slice(&existing)
                    .map_err(|e| ActionError::Fatal(e.to_string()));
            }
            let number = counter("next")? + 1;
            state::set(Scope::Plugin, "next", number.to_string().as_bytes())?;
            let output = json!({
                "number": number,
                "url": format!("https://git.example.internal/platform/infrastructure/pull/{number}"),
                "title": format!("Create {kind} {name} ({environment}, {size})"),
            });
            state::set(Scope::Plugin, &key, output.to_string().as_bytes())?;
            state::set(Scope::Plugin, &format!("pr/{number}"), b"open")?;
            lever_sdk::log::info(&format!(
                "opened {} — {}",
                output["url"].as_str().unwrap_or(""),
                output["title"].as_str().unwrap_or("")
            ));
            Ok(output)
        }
        Input::Status { number, name } => {
            let pr = format!("pr/{number}");
            match state::get(Scope::Plugin, &pr)?.as_deref() {
                None => return Err(ActionError::NotFound(format!("no pull request #{number}"))),
                Some(b"closed") => {
                    return Err(ActionError::Fatal(format!(
                        "pull request #{number} was closed"
                    )));
                }
                _ => {}
            }
            let polls = counter(&format!("polls/{number}"))? + 1;
            state::set(
                Scope::Plugin,
                &format!("polls/{number}"),
                polls.to_string().as_bytes(),
            )?;
            if polls < 2 {
                lever_sdk::log::info(&format!("pull request #{number} is still applying"));
                lever_sdk::log::progress(50, "applying");
                return Ok(json!({"done": false, "state": "applying"}));
            }
            state::set(Scope::Plugin, &pr, b"applied")?;
            lever_sdk::log::info(&format!("pull request #{number} merged and applied"));
            Ok(
                json!({"done": true, "state": "applied", "outputs": {"host": format!("{name}.db.internal"), "port": 5432, "database": name}}),
            )
        }
        Input::Close { number } => {
            state::set(Scope::Plugin, &format!("pr/{number}"), b"closed")?;
            lever_sdk::log::info(&format!("closed pull request #{number}"));
            Ok(json!({"closed": number}))
        }
    }
}
