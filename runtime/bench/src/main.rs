//! `cargo run --release -p lever-bench`: the sandbox figures of BENCHMARKS.md, all measured in
//! one run on the same machine; `cargo run --release -p lever-bench -- workflows`: the
//! workflow figures, against a real release `lever serve`; `-- plugins`: each SDK language's
//! component size, cold compile, step overhead and memory (see `plugins.rs`); `-- nodes`: one,
//! two and three nodes on one PostgreSQL database against a raw `SKIP LOCKED` loop; `-- steps`:
//! the engine's overhead a step over 40 CPU-bound steps, measured against the server's own time
//! in guests (so the guests' speed, which varies run to run here, drops out).
//!
//! - step overhead: `Sandbox::run` of a trivial action: fresh `Store`, instantiate through the
//!   `InstancePre` and the pooling allocator, input and output schema checks, call, drop;
//! - host call round trip: guest → `lever:host/state.get` → guest, from the difference between
//!   a run doing N gets and a run doing none, divided by N;
//! - the same trivial work (JSON in, JSON out) as a spawned native process (`cat`), and the ratio;
//! - fuel metering overhead: compute-bound guests (an arithmetic chain, a sieve) with fuel on
//!   against an engine with fuel off.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lever_sandbox::{
    BackendError, Call, CallContext, Grants, HostServices, Limits, LogBook, Plugin, Sandbox,
    SandboxConfig, SecretBackend, StateBackend,
};
use serde_json::{Value, json};

mod adapters;
mod busy;
mod corpus;
mod insights;
mod nodes;
mod plugins;
mod web;
mod workflows;

/// State in memory, so the round trip measures the host call, not a database.
#[derive(Default)]
struct MemoryState(Mutex<HashMap<(String, String), Vec<u8>>>);

#[lever_sandbox::async_trait]
impl StateBackend for MemoryState {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(&(ns.to_string(), key.to_string()))
            .cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.0
            .lock()
            .unwrap()
            .insert((ns.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), BackendError> {
        self.0
            .lock()
            .unwrap()
            .remove(&(ns.to_string(), key.to_string()));
        Ok(())
    }
}

#[lever_sandbox::async_trait]
impl SecretBackend for MemoryState {
    async fn get(&self, _: &str) -> Result<Option<String>, BackendError> {
        Ok(None)
    }
}

#[lever_sandbox::async_trait]
impl lever_sandbox::CapabilityBackend for MemoryState {
    async fn call(
        &self,
        capability: &str,
        _: &str,
        _: serde_json::Value,
    ) -> Result<serde_json::Value, lever_sandbox::CapabilityError> {
        Err(lever_sandbox::CapabilityError::unbound(
            capability,
            "the benchmarks bind no capability",
        ))
    }
}

async fn load(sandbox: &Sandbox, guest: &str) -> anyhow::Result<Plugin> {
    let compiled = sandbox.load(&lever_tests::guests::fixture(guest))?;
    let manifest = sandbox.describe(&compiled).await?;
    Ok(Plugin::new(
        compiled,
        manifest,
        Limits {
            fuel: u64::MAX / 2,
            ..Limits::default()
        },
        Grants::default(),
    )?)
}

fn call(state: &Arc<MemoryState>) -> Call {
    Call {
        context: CallContext {
            run_id: "bench".into(),
            step_id: "main".into(),
            attempt: 1,
            ..Default::default()
        },
        services: HostServices {
            state: state.clone(),
            secrets: state.clone(),
            capabilities: state.clone(),
        },
        log: LogBook::new(64 * 1024),
        workspace: None,
        http: lever_sandbox::HttpPolicy::default(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn time_runs(
    sandbox: &Sandbox,
    plugin: &Plugin,
    call: &Call,
    input: &Value,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        sandbox.run(plugin, call, input).await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Builds the release `lever` and makes the benchmark's servers run it.
fn release_lever() -> anyhow::Result<()> {
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "lever-cli", "--bin", "lever"])
            .current_dir(lever_tests::repo_root())
            .status()?;
    anyhow::ensure!(status.success(), "building the release lever binary failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| lever_tests::repo_root().join("target"));
    lever_tests::server::use_lever_binary(target.join("release/lever"));
    Ok(())
}

/// The `lever` binary the workflow figures run: `LEVER_BENCH_BINARY` when set (a binary built
/// beside `lever-bench`, whose features differ from `lever-cli` built alone, so no rebuild),
/// else a release build of `lever-cli`.
fn lever_binary() -> anyhow::Result<()> {
    match std::env::var("LEVER_BENCH_BINARY") {
        Ok(path) => {
            lever_tests::server::use_lever_binary(path.into());
            Ok(())
        }
        Err(_) => release_lever(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let sandbox = Sandbox::new(&SandboxConfig::default())?;
    let state = Arc::new(MemoryState::default());
    let call = call(&state);
    if std::env::args().nth(1).as_deref() == Some("adapters") {
        return adapters::run().await;
    }
    if std::env::args().nth(1).as_deref() == Some("plugins") {
        let lever = match std::env::var("LEVER_BENCH_BINARY") {
            Ok(path) => path.into(),
            Err(_) => {
                release_lever()?;
                lever_tests::server::lever_binary().to_path_buf()
            }
        };
        return plugins::run(&lever, &call).await;
    }
    if std::env::args().nth(1).as_deref() == Some("insights") {
        return insights::run().await;
    }
    if std::env::args().nth(1).as_deref() == Some("busy") {
        match std::env::var("LEVER_BENCH_BINARY") {
            Ok(path) => lever_tests::server::use_lever_binary(path.into()),
            Err(_) => release_lever()?,
        }
        return busy::run().await;
    }
    if std::env::args().nth(1).as_deref() == Some("nodes") {
        match std::env::var("LEVER_BENCH_BINARY") {
            Ok(path) => lever_tests::server::use_lever_binary(path.into()),
            Err(_) => release_lever()?,
        }
        return nodes::run().await;
    }
    if std::env::args().nth(1).as_deref() == Some("corpus") {
        match std::env::var("LEVER_BENCH_BINARY") {
            Ok(path) => lever_tests::server::use_lever_binary(path.into()),
            Err(_) => release_lever()?,
        }
        return corpus::run(&sandbox, &call).await;
    }
    if std::env::args().nth(1).as_deref() == Some("web") {
        match std::env::var("LEVER_BENCH_BINARY") {
            // A binary already built (e.g. target/debug/lever), when a release build is not.
            Ok(path) => lever_tests::server::use_lever_binary(path.into()),
            Err(_) => release_lever()?,
        }
        return web::run().await;
    }
    if let Some(which @ ("workflows" | "steps")) = std::env::args().nth(1).as_deref() {
        // The compute of one ~10 ms step, measured in process: what 40 steps cost at least.
        let compute = load(&sandbox, "bench_compute").await?;
        let work = json!({"kind": "sieve", "iterations": 20});
        let step = median(time_runs(&sandbox, &compute, &call, &work, 21).await?);
        lever_binary()?;
        return match which {
            "steps" => workflows::steps(step).await,
            _ => workflows::run(step).await,
        };
    }

    // 1. Step overhead.
    let noop = load(&sandbox, "bench_noop").await?;
    let input = json!({"message": "hi"});
    time_runs(&sandbox, &noop, &call, &input, 2_000).await?;
    let step = median(time_runs(&sandbox, &noop, &call, &input, 20_000).await?);
    if std::env::var("LEVER_BENCH_ONLY").as_deref() == Ok("step") {
        // For profiling the step path alone: `perf record` this.
        println!("step overhead: {:.1} µs", us(step));
        let more = median(time_runs(&sandbox, &noop, &call, &input, 200_000).await?);
        println!("step overhead (200,000 more): {:.1} µs", us(more));
        return Ok(());
    }

    // 2. Host call round trip.
    state
        .set("run:bench", "k", b"v")
        .await
        .map_err(|e| anyhow::anyhow!(e.0))?;
    let getter = load(&sandbox, "bench_state_get").await?;
    const GETS: u64 = 10_000;
    time_runs(&sandbox, &getter, &call, &json!({"n": GETS}), 20).await?;
    let with_gets = median(time_runs(&sandbox, &getter, &call, &json!({"n": GETS}), 200).await?);
    let without = median(time_runs(&sandbox, &getter, &call, &json!({"n": 0}), 200).await?);
    let round_trip = with_gets.saturating_sub(without) / GETS as u32;

    // 3. The same trivial work as a native process: JSON through `cat`.
    let mut native = Vec::new();
    for i in 0..520 {
        let started = Instant::now();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.to_string().as_bytes())?;
        let out = child.wait_with_output()?;
        let _: Value = serde_json::from_slice(&out.stdout)?;
        if i >= 20 {
            native.push(started.elapsed());
        }
    }
    let native = median(native);

    // 4. Fuel metering overhead on a compute-bound guest.
    let unmetered_sandbox = Sandbox::new(&SandboxConfig {
        fuel_metering: false,
        ..SandboxConfig::default()
    })?;
    let metered = load(&sandbox, "bench_compute").await?;
    let unmetered = load(&unmetered_sandbox, "bench_compute").await?;
    let mut fuel_rows = Vec::new();
    for (kind, iterations) in [("hash", 20_000_000u64), ("sieve", 60)] {
        let work = json!({"kind": kind, "iterations": iterations});
        let mut on = Vec::new();
        let mut off = Vec::new();
        for _ in 0..15 {
            on.extend(time_runs(&sandbox, &metered, &call, &work, 1).await?);
            off.extend(time_runs(&unmetered_sandbox, &unmetered, &call, &work, 1).await?);
        }
        let (on, off) = (median(on), median(off));
        fuel_rows.push((
            kind,
            iterations,
            on,
            off,
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0,
        ));
    }

    println!("| figure | result | target |");
    println!("| --- | --- | --- |");
    println!(
        "| step overhead (fresh Store + instantiate + trivial run + drop), median of 20,000 | {:.1} µs | ≤ 20 µs |",
        us(step)
    );
    println!(
        "| host call round trip (guest → state.get → guest), median of 200 × {GETS} | {:.3} µs | ≤ 1 µs |",
        us(round_trip)
    );
    println!(
        "| same work as a spawned native process (`cat`), median of 500 | {:.1} µs | — |",
        us(native)
    );
    println!(
        "| native process / Wasm step | {:.0}× | — |",
        native.as_secs_f64() / step.as_secs_f64()
    );
    for (kind, iterations, on, off, overhead) in fuel_rows {
        println!(
            "| fuel metering overhead, `{kind}` guest × {iterations} ({:.1} ms metered, {:.1} ms unmetered), median of 15 | {overhead:.1} % | — |",
            on.as_secs_f64() * 1e3,
            off.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
