//! `lever run ACTION --input JSON` and `lever run TEMPLATE -p key=value --watch`: submits a
//! run, waits for it (showing step progress with `--watch`) and prints the result.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lever_runs::{RunRequest, Target};
use lever_store::RunStatus;
use serde_json::{Map, Value, json};

use crate::local::{Local, Location};

/// Arguments of `lever run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// An action (`name` or `name@version`) or a template name.
    target: String,
    /// JSON input of an action.
    #[arg(long)]
    input: Option<String>,
    /// A template parameter, `key=value` (repeatable; values that parse as JSON keep their type).
    #[arg(short = 'p', long = "param")]
    params: Vec<String>,
    /// Target environment of an action run.
    #[arg(long, default_value = "dev")]
    environment: String,
    /// Show each step's progress while the run goes.
    #[arg(long)]
    watch: bool,
    /// Talk to this running server instead of opening the data dir.
    #[arg(long, env = "LEVER_SERVER")]
    server: Option<String>,
    /// Seconds to wait for the result.
    #[arg(long, default_value_t = 120)]
    wait: u64,
}

/// An HTTP client that sends `LEVER_TOKEN` as its bearer token, when set.
pub(crate) fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Ok(token) = std::env::var("LEVER_TOKEN")
        && let Ok(value) =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim()))
    {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("http client")
}

/// The JSON body of a successful response, or the server's error message.
pub(crate) async fn check(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let mut message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        if let Some(details) = body["error"]["details"].as_array() {
            for d in details {
                let line = match d.as_str() {
                    Some(text) => text.to_string(),
                    None => format!(
                        "{}: {}",
                        d["field"].as_str().unwrap_or(""),
                        d["message"].as_str().unwrap_or("")
                    ),
                };
                message.push_str(&format!("\n  {line}"));
            }
        }
        bail!("the server answered {status}: {message}");
    }
    Ok(body)
}

/// Where the run lives: this process, or a server.
enum Source {
    Local(Box<Local>),
    Remote {
        server: String,
        http: reqwest::Client,
    },
}

fn parameters(params: &[String]) -> anyhow::Result<Value> {
    let mut map = Map::new();
    for p in params {
        let (key, value) = p
            .split_once('=')
            .with_context(|| format!("-p {p}: write key=value"))?;
        let value =
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
        map.insert(key.to_string(), value);
    }
    Ok(Value::Object(map))
}

impl Source {
    async fn is_template(&self, name: &str) -> anyhow::Result<bool> {
        Ok(match self {
            Source::Local(local) => local.catalog.get(name).await.is_ok(),
            Source::Remote { server, http } => http
                .get(format!("{server}/api/v1/templates/{name}"))
                .send()
                .await?
                .status()
                .is_success(),
        })
    }

    async fn submit(
        &self,
        target: Target,
        input: Value,
        environment: &str,
    ) -> anyhow::Result<String> {
        match self {
            Source::Local(local) => {
                let request = RunRequest {
                    target,
                    input,
                    requester: whoami(),
                    environment: environment.to_string(),
                    idempotency_key: None,
                    resubmitted_from: None,
                    // In process, the caller holds the database itself: an operator run.
                    approval: None,
                    requester_team: None,
                    template_version: None,
                    pins: Vec::new(),
                    checked: false,
                    secrets: None,
                };
                Ok(local.executor.submit(request).await?.0.id)
            }
            Source::Remote { server, http } => {
                let body = match target {
                    Target::Action(a) => {
                        json!({"action": a, "input": input, "environment": environment})
                    }
                    Target::Template(t) => json!({"template": t, "parameters": input}),
                };
                let created = check(
                    http.post(format!("{server}/api/v1/runs"))
                        .json(&body)
                        .send()
                        .await
                        .with_context(|| format!("cannot reach {server}"))?,
                )
                .await?;
                Ok(created["id"]
                    .as_str()
                    .context("the server did not answer a run id")?
                    .to_string())
            }
        }
    }

    async fn run(&self, id: &str, wait: u64) -> anyhow::Result<Value> {
        match self {
            Source::Local(local) => {
                let run = local
                    .executor
                    .wait(id, Duration::from_secs(wait))
                    .await?
                    .context("the run disappeared")?;
                let logs = local.store.run_logs(id).await?;
                let steps = local.store.run_steps(id).await?;
                Ok(
                    json!({"id": run.id, "status": run.status, "output": run.output, "error": run.error, "logs": logs, "steps": steps}),
                )
            }
            Source::Remote { server, http } => {
                check(
                    http.get(format!("{server}/api/v1/runs/{id}"))
                        .query(&[("wait", wait.clamp(0, 60))])
                        .send()
                        .await?,
                )
                .await
            }
        }
    }

    async fn events(&self, id: &str, after: i64) -> anyhow::Result<Vec<Value>> {
        match self {
            Source::Local(local) => {
                let events = local.store.run_events(id, after).await?;
                if events.is_empty() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(events.iter().map(|e| json!(e)).collect())
            }
            Source::Remote { server, http } => {
                let body = check(
                    http.get(format!("{server}/api/v1/runs/{id}/events"))
                        .query(&[("after", after), ("wait", 5)])
                        .send()
                        .await?,
                )
                .await?;
                Ok(body["events"].as_array().cloned().unwrap_or_default())
            }
        }
    }
}

/// Prints a line above the bar, also when stderr is not a terminal (where the bar hides).
fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Follows a run's events with a progress bar until it finishes or pauses.
async fn watch(source: &Source, id: &str, steps: u64) -> anyhow::Result<()> {
    let bar = ProgressBar::new(steps.max(1));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut after = 0;
    loop {
        for event in source.events(id, after).await? {
            after = event["id"].as_i64().unwrap_or(after);
            let step = event["step_id"].as_str().unwrap_or("");
            match event["kind"].as_str().unwrap_or("") {
                "step-started" => bar.set_message(format!(
                    "{step}: running (attempt {})",
                    event["data"]["attempt"]
                )),
                "step-succeeded" | "step-skipped" => {
                    bar.inc(1);
                    say(
                        &bar,
                        format!(
                            "✓ {step} {}",
                            if event["kind"] == "step-skipped" {
                                "skipped"
                            } else {
                                "succeeded"
                            }
                        ),
                    );
                }
                "retrying" => say(
                    &bar,
                    format!(
                        "↻ {step} retrying in {} ms: {}",
                        event["data"]["delay_ms"], event["data"]["error"]["message"]
                    ),
                ),
                "polling" => bar.set_message(format!("{step}: waiting")),
                "step-failed" => say(
                    &bar,
                    format!("✗ {step} failed: {}", event["data"]["error"]["message"]),
                ),
                "rolled-back" => say(&bar, format!("↶ {step} rolled back")),
                "rollback-failed" => say(&bar, format!("✗ {step} rollback failed")),
                "log" => {
                    for line in event["data"]["lines"].as_array().into_iter().flatten() {
                        say(&bar, format!("  {step}: {}", line.as_str().unwrap_or("")));
                    }
                }
                "run-paused" => {
                    bar.finish_with_message(format!(
                        "paused at {step}: retry, skip or abort it through the API"
                    ));
                    return Ok(());
                }
                "run-finished" => {
                    bar.finish_with_message(
                        event["data"]["status"]
                            .as_str()
                            .unwrap_or("finished")
                            .to_string(),
                    );
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

pub(crate) async fn run(location: Location, args: RunArgs) -> anyhow::Result<()> {
    let source = match &args.server {
        Some(server) => Source::Remote {
            server: server.trim_end_matches('/').to_string(),
            http: client(),
        },
        None => Source::Local(Box::new(
            location
                .open(4, false, Arc::new(lever_store::SystemClock))
                .await?,
        )),
    };
    let template = args.input.is_none()
        && (!args.params.is_empty() || source.is_template(&args.target).await?);
    let (target, input) = if template {
        (
            Target::Template(args.target.clone()),
            parameters(&args.params)?,
        )
    } else {
        let input = args.input.as_deref().unwrap_or("{}");
        (
            Target::Action(args.target.clone()),
            serde_json::from_str(input).context("--input is not valid JSON")?,
        )
    };
    let id = source.submit(target, input, &args.environment).await?;
    if args.watch {
        let steps = source.run(&id, 0).await?["steps"]
            .as_array()
            .map(|s| s.len() as u64)
            .unwrap_or(1);
        tokio::time::timeout(Duration::from_secs(args.wait), watch(&source, &id, steps))
            .await
            .ok();
    }
    let result = source.run(&id, args.wait).await?;
    if !args.watch {
        for line in result["logs"].as_array().into_iter().flatten() {
            eprintln!(
                "[{}] {}: {}",
                line["source"].as_str().unwrap_or(""),
                line["level"].as_str().unwrap_or(""),
                line["message"].as_str().unwrap_or("")
            );
        }
    }
    let summary = json!({"id": result["id"], "status": result["status"], "output": result["output"], "error": result["error"]});
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let status = serde_json::from_value::<RunStatus>(result["status"].clone()).ok();
    match status {
        Some(RunStatus::Succeeded) => Ok(()),
        Some(
            RunStatus::Paused
            | RunStatus::Failed
            | RunStatus::RolledBack
            | RunStatus::RollbackFailed
            | RunStatus::Cancelled,
        ) => std::process::exit(1),
        other => bail!(
            "the run is still {} after {} s",
            other.map_or("unknown", |s| s.as_str()),
            args.wait
        ),
    }
}

fn whoami() -> String {
    std::env::var("USER")
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".into())
}
