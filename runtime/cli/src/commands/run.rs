//! `lever run ACTION --input JSON`: submits a run, waits for it and prints the result.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use lever_runs::{RunRequest, Target};
use serde_json::{Value, json};

use crate::local::Location;

/// Arguments of `lever run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// `name` or `name@version`.
    action: String,
    /// JSON input.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Target environment.
    #[arg(long, default_value = "dev")]
    environment: String,
    /// Talk to this running server instead of opening the data dir.
    #[arg(long, env = "LEVER_SERVER")]
    server: Option<String>,
    /// Seconds to wait for the result.
    #[arg(long, default_value_t = 120)]
    wait: u64,
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("http client")
}

/// The JSON body of a successful response, or the server's error message.
pub(crate) async fn check(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
        bail!("the server answered {status}: {message}");
    }
    Ok(body)
}

pub(crate) async fn run(location: Location, args: RunArgs) -> anyhow::Result<()> {
    let input: Value = serde_json::from_str(&args.input).context("--input is not valid JSON")?;
    let result = match &args.server {
        Some(server) => remote(server.trim_end_matches('/'), &args, input).await?,
        None => {
            let local = location.open(1, false).await?;
            let (run, _) = local
                .executor
                .submit(RunRequest {
                    target: Target::Action(args.action.clone()),
                    input,
                    requester: whoami(),
                    environment: args.environment.clone(),
                    idempotency_key: None,
                    resubmitted_from: None,
                })
                .await?;
            let run = local.executor.wait(&run.id, Duration::from_secs(args.wait)).await?.context("the run disappeared")?;
            let logs = local.store.run_logs(&run.id).await?;
            json!({"id": run.id, "status": run.status, "output": run.output, "error": run.error, "logs": logs})
        }
    };
    for line in result["logs"].as_array().into_iter().flatten() {
        eprintln!("[{}] {}: {}", line["source"].as_str().unwrap_or(""), line["level"].as_str().unwrap_or(""), line["message"].as_str().unwrap_or(""));
    }
    let summary = json!({"id": result["id"], "status": result["status"], "output": result["output"], "error": result["error"]});
    println!("{}", serde_json::to_string_pretty(&summary)?);
    match result["status"].as_str() {
        Some("succeeded") => Ok(()),
        Some("failed") => std::process::exit(1),
        other => bail!("the run is still {} after {} s", other.unwrap_or("unknown"), args.wait),
    }
}

async fn remote(server: &str, args: &RunArgs, input: Value) -> anyhow::Result<Value> {
    let http = client();
    let created = check(
        http.post(format!("{server}/api/v1/runs"))
            .json(&json!({"action": args.action, "input": input, "environment": args.environment}))
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?,
    )
    .await?;
    let id = created["id"].as_str().context("the server did not answer a run id")?.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(args.wait);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now()).as_secs().clamp(1, 60);
        let run = check(http.get(format!("{server}/api/v1/runs/{id}")).query(&[("wait", left)]).send().await?).await?;
        let finished = matches!(run["status"].as_str(), Some("succeeded" | "failed"));
        if finished || std::time::Instant::now() >= deadline {
            return Ok(run);
        }
    }
}

fn whoami() -> String {
    std::env::var("USER").map(|u| format!("cli:{u}")).unwrap_or_else(|_| "cli".into())
}
