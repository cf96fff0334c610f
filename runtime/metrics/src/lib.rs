//! Lever's Prometheus metrics. Every crate records through the helpers here (the `metrics`
//! facade underneath), so names, labels and units live in one place and `docs/operations.md`
//! can list them; `lever serve` installs the Prometheus recorder
//! (`metrics-exporter-prometheus`) once, and `/metrics` renders it. Until it is installed —
//! in the CLI's one-off commands, in unit tests — recording costs nothing and keeps nothing.
//!
//! Names follow Prometheus' conventions: the `lever_` prefix, base units (seconds),
//! `_total` for counters.

use std::sync::OnceLock;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Histogram buckets, in seconds: from a step's commit (a fraction of a millisecond) to a run
/// that waited an hour.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls do nothing) and
/// describes every metric. Fails only if another recorder was installed first.
pub fn install(version: &str) -> Result<(), String> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    let _ = HANDLE.set(handle);
    describe();
    gauge!("lever_build_info", "version" => version.to_string()).set(1.0);
    Ok(())
}

/// The metrics in the Prometheus text format, or `None` when no recorder is installed.
pub fn render() -> Option<String> {
    HANDLE.get().map(PrometheusHandle::render)
}

fn describe() {
    describe_gauge!(
        "lever_build_info",
        "The running Lever's version (always 1)."
    );
    describe_gauge!(
        "lever_api_requests",
        "API requests holding a slot of their caller's (`in-flight`) or waiting for one (`waiting`): `http.max_concurrent_per_principal`."
    );
    describe_counter!(
        "lever_runs_total",
        "Runs that ended, by template (`action:NAME` for single-action runs) and final status."
    );
    describe_histogram!(
        "lever_run_duration_seconds",
        Unit::Seconds,
        "Submit to end of runs that ended, by template."
    );
    describe_histogram!(
        "lever_step_duration_seconds",
        Unit::Seconds,
        "One invocation of a step's action (or capability), by action and outcome."
    );
    describe_histogram!(
        "lever_engine_step_phase_seconds",
        Unit::Seconds,
        "Where the engine spends a template step's time, by phase: `prepare` (its `if` and input rendered), `commit` (the transaction that ends the last step and starts this one, its wait for the writer included), `invoke` (the action's call with the host's work around it)."
    );
    describe_gauge!(
        "lever_runs",
        "Unfinished runs by status: `pending` is the queue depth; `waiting` (backoff or polling), `awaiting-approval` and `paused` wait for a reason."
    );
    describe_counter!(
        "lever_sandbox_invocations_total",
        "Plugin invocations by outcome: ok, or the failure kind (fuel-exhausted, deadline-passed, memory-limit, trap, host-not-granted, plugin-…)."
    );
    describe_counter!(
        "lever_sandbox_fuel_consumed_total",
        "Wasm fuel consumed by plugin invocations."
    );
    describe_counter!(
        "lever_capability_calls_total",
        "Capability calls by capability, provider (adapter name or builtin:…) and outcome (ok or the error kind)."
    );
    describe_counter!(
        "lever_http_requests_total",
        "HTTP requests by route (the router's pattern), method and status."
    );
    describe_histogram!(
        "lever_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (until its headers), by route."
    );
    describe_counter!(
        "lever_runs_lost_total",
        "Runs this node stopped executing because another node had claimed them: a write under its stale claim (fencing token) was refused."
    );
    describe_histogram!(
        "lever_approval_wait_seconds",
        Unit::Seconds,
        "From a stage opening to its decision, by policy version and stage."
    );
}

/// A run ended with `status` after `seconds` since it was submitted.
pub fn run_finished(template: &str, status: &str, seconds: f64) {
    counter!("lever_runs_total", "template" => template.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("lever_run_duration_seconds", "template" => template.to_string())
        .record(seconds.max(0.0));
}

/// This node stopped executing a run another node had claimed (its write was fenced off).
pub fn run_lost() {
    counter!("lever_runs_lost_total").increment(1);
}

/// One invocation of a step's `action` ended with `outcome` after `seconds`.
pub fn step_finished(action: &str, outcome: &str, seconds: f64) {
    metrics::histogram!(
        "lever_step_duration_seconds",
        "action" => action.to_string(),
        "outcome" => outcome.to_string()
    )
    .record(seconds.max(0.0));
}

/// A template step spent `seconds` in the engine's `phase` (`prepare`, `commit`, `invoke`).
pub fn step_phase(phase: &'static str, seconds: f64) {
    metrics::histogram!("lever_engine_step_phase_seconds", "phase" => phase)
        .record(seconds.max(0.0));
}

/// A plugin invocation ended with `outcome`, having consumed `fuel`.
pub fn invocation(outcome: &str, fuel: u64) {
    counter!("lever_sandbox_invocations_total", "outcome" => outcome.to_string()).increment(1);
    counter!("lever_sandbox_fuel_consumed_total").increment(fuel);
}

/// A capability call through `provider` ended with `outcome`.
pub fn capability_call(capability: &str, provider: &str, outcome: &str) {
    counter!(
        "lever_capability_calls_total",
        "capability" => capability.to_string(),
        "provider" => provider.to_string(),
        "outcome" => outcome.to_string()
    )
    .increment(1);
}

/// An HTTP request to `route` was answered `status` after `seconds`.
pub fn http_request(route: &str, method: &str, status: u16, seconds: f64) {
    counter!(
        "lever_http_requests_total",
        "route" => route.to_string(),
        "method" => method.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!("lever_http_request_duration_seconds", "route" => route.to_string())
        .record(seconds.max(0.0));
}

/// A request to the API took a slot of its caller's (`in-flight`) or began waiting for one
/// (`waiting`): `delta` +1; its slot freed or its wait over: -1.
pub fn api_requests(state: &'static str, delta: f64) {
    gauge!("lever_api_requests", "state" => state).increment(delta);
}

/// `count` unfinished runs are in `status` (read from the database at each scrape).
pub fn runs_in_status(status: &str, count: u64) {
    gauge!("lever_runs", "status" => status.to_string()).set(count as f64);
}

/// A stage of `policy` was decided `seconds` after it opened.
pub fn approval_decided(policy: &str, stage: &str, seconds: f64) {
    metrics::histogram!(
        "lever_approval_wait_seconds",
        "policy" => policy.to_string(),
        "stage" => stage.to_string()
    )
    .record(seconds.max(0.0));
}
