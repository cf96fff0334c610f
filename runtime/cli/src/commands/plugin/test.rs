//! `lever plugin test [DIR]` and `lever plugin run FILE`: the local harness. The component runs
//! in process in the server's sandbox (same limits, same typed errors) against the fixtures'
//! input, secrets, state and recorded HTTP answers; no server, no database, no network.
//! `--replay RUN/STEP --server URL` takes a real step's input, context and exchanges instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use lever_harness::{Case, CaseReport, Expect, Fixtures, Harness};

use super::build::{compile_cache, detect, output, sources};
use crate::commands::run::{check, client};

/// Arguments of `lever plugin test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The project (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The fixtures file (default: DIR/lever-test.yaml).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// The component (default: DIR/build/plugin.wasm, as `lever plugin build` leaves it).
    #[arg(long)]
    wasm: Option<PathBuf>,
    /// Replay this step of a real run (`RUN_ID/STEP_ID`) instead of the fixtures.
    #[arg(long, requires = "server")]
    replay: Option<String>,
    /// The server the replayed run ran on.
    #[arg(long, env = "LEVER_SERVER")]
    server: Option<String>,
    /// A secret's value for the replay, `NAME=VALUE` (the server never hands values out).
    #[arg(long = "secret")]
    secrets: Vec<String>,
}

/// Arguments of `lever plugin run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The component.
    file: PathBuf,
    /// The input, as JSON.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Take secrets, state and recorded HTTP answers from this fixtures file...
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// ...from this case of it (default: the first).
    #[arg(long, requires = "fixtures")]
    case: Option<String>,
    /// A secret's value, `NAME=VALUE` (repeatable).
    #[arg(long = "secret")]
    secrets: Vec<String>,
    /// For an adapter: the capability function to invoke (`send`).
    #[arg(long)]
    function: Option<String>,
    /// For an adapter: the binding's settings, as JSON.
    #[arg(long, requires = "function")]
    settings: Option<String>,
}

pub(crate) async fn test(args: TestArgs) -> anyhow::Result<()> {
    let wasm = args.wasm.clone().unwrap_or_else(|| output(&args.dir));
    if !wasm.is_file() {
        bail!(
            "{} does not exist: build the plugin first (`lever plugin build {}`)",
            wasm.display(),
            args.dir.display()
        );
    }
    if args.wasm.is_none() {
        warn_if_stale(&args.dir, &wasm);
    }
    let bytes = std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let harness = Harness::load(&bytes, compile_cache()).await?;
    if let Some(target) = &args.replay {
        let server = args.server.as_deref().unwrap_or_default();
        let (case, on_server) = replay_case(target, server, &args.secrets).await?;
        return replay(&harness, &case, on_server).await;
    }
    let path = args
        .fixtures
        .clone()
        .unwrap_or_else(|| args.dir.join("lever-test.yaml"));
    let cases = Fixtures::read(&path)?.cases;
    if cases.is_empty() {
        bail!("the fixtures have no cases: add one under `cases:`");
    }
    let m = harness.manifest();
    println!("testing {}@{} ({} cases)", m.name, m.version, cases.len());
    let mut failed = 0;
    for case in &cases {
        let report = harness.run(case).await;
        print_report(&report);
        if !report.passed() {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} cases failed", cases.len());
    }
    println!("all {} cases passed", cases.len());
    Ok(())
}

/// Runs a replayed step: it passes when the local build succeeds on the step's recorded
/// traffic, and says whether a failure is the one the server saw.
async fn replay(
    harness: &Harness,
    case: &Case,
    on_server: Option<(String, String)>,
) -> anyhow::Result<()> {
    match &on_server {
        Some((kind, message)) => println!("on the server: failed with `{kind}`: {message}"),
        None => println!("on the server: succeeded"),
    }
    let report = harness.run(case).await;
    print_report(&report);
    let Some(error) = &report.error else {
        println!("the replay succeeds: the local build handles the step's recorded traffic");
        return Ok(());
    };
    let kind = error["kind"].as_str().unwrap_or_default();
    match &on_server {
        Some((server_kind, _)) if server_kind == kind => {
            bail!("reproduced: the local build fails with `{kind}`, as the step did on the server")
        }
        _ => bail!("the local build fails with `{kind}`, which the server did not see"),
    }
}

fn print_report(report: &CaseReport) {
    if report.passed() {
        println!("ok   {} ({} ms)", report.name, report.elapsed_ms);
        return;
    }
    println!("FAIL {} ({} ms)", report.name, report.elapsed_ms);
    for failure in &report.failures {
        println!("       {failure}");
    }
    for line in &report.logs {
        println!("       log: {line}");
    }
}

fn warn_if_stale(dir: &Path, wasm: &Path) {
    let Ok(lang) = detect(dir) else { return };
    let built = wasm.metadata().and_then(|m| m.modified()).ok();
    let newest = sources(dir, lang)
        .iter()
        .filter_map(|p| newest_change(p))
        .max();
    if let (Some(built), Some(newest)) = (built, newest)
        && newest > built
    {
        eprintln!(
            "warning: {} is older than the sources: run `lever plugin build {}` to test what you wrote",
            wasm.display(),
            dir.display()
        );
    }
}

fn newest_change(path: &Path) -> Option<std::time::SystemTime> {
    let meta = path.metadata().ok()?;
    if meta.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .flatten()
            .filter_map(|e| newest_change(&e.path()))
            .max()
    } else {
        meta.modified().ok()
    }
}

fn secret_pairs(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--secret `{p}`: write NAME=VALUE"))
        })
        .collect()
}

/// The case a real step makes: its input and context and its recorded answers (matched by
/// method and URL only: recorded bodies are masked); with the error it ended with on the server.
async fn replay_case(
    target: &str,
    server: &str,
    secrets: &[String],
) -> anyhow::Result<(Case, Option<(String, String)>)> {
    let (run, step) = target
        .split_once('/')
        .with_context(|| format!("--replay `{target}`: write RUN_ID/STEP_ID"))?;
    let response = client()
        .get(format!(
            "{}/api/v1/runs/{run}/steps/{step}/replay",
            server.trim_end_matches('/')
        ))
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let recorded = check(response).await?;
    let mut case: Case = serde_json::from_value(serde_json::json!({
        "name": format!("replay of {run}/{step} (attempt {})", recorded["attempt"]),
        "input": recorded["input"],
        "context": recorded["context"],
        "http": recorded["exchanges"],
    }))
    .context("the server's replay record does not parse")?;
    for exchange in &mut case.http {
        exchange.request.body = None;
        // The publisher may have granted hosts beyond the manifest's; the recording reached
        // them, and the replay answers them from it, never from the network.
        if let Some(authority) = exchange
            .request
            .url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
        {
            case.grant_hosts.push(authority);
        }
    }
    for (name, value) in secret_pairs(secrets)? {
        case.secrets.insert(name, value);
    }
    let on_server = recorded["error"]["kind"].as_str().map(|kind| {
        (
            kind.to_string(),
            recorded["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    });
    Ok((case, on_server))
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let harness = Harness::load(&bytes, compile_cache()).await?;
    let mut case = match &args.fixtures {
        Some(path) => {
            let cases = Fixtures::read(path)?.cases;
            match &args.case {
                Some(name) => cases
                    .into_iter()
                    .find(|c| &c.name == name)
                    .with_context(|| format!("{} has no case `{name}`", path.display()))?,
                None => cases.into_iter().next().unwrap_or_default(),
            }
        }
        None => Case::default(),
    };
    case.name = "run".into();
    case.input = serde_json::from_str(&args.input).context("--input is not JSON")?;
    case.expect = Expect::default();
    if let Some(function) = args.function {
        case.op = lever_harness::Op::Invoke;
        case.function = Some(function);
    }
    match &args.settings {
        Some(text) => {
            case.settings = serde_json::from_str(text).context("--settings is not JSON")?
        }
        None if case.settings.is_null() => case.settings = serde_json::json!({}),
        None => {}
    }
    for (name, value) in secret_pairs(&args.secrets)? {
        case.secrets.insert(name, value);
    }
    let report = harness.run(&case).await;
    for line in &report.logs {
        eprintln!("{line}");
    }
    for request in &report.requests {
        eprintln!("http: {request}");
    }
    match (&report.output, &report.error) {
        (Some(output), _) => println!("{}", serde_json::to_string_pretty(output)?),
        (None, Some(error)) => bail!(
            "{}: {}",
            error["kind"].as_str().unwrap_or_default(),
            error["message"].as_str().unwrap_or_default()
        ),
        (None, None) => {}
    }
    Ok(())
}
