//! The plugin authors' local harness: a component run in process, in the same sandbox the
//! server uses (same limits, same typed errors), with no server and no database. A
//! [`Case`] gives the input, secrets, state, recorded HTTP answers and capability answers; the
//! [`CaseReport`] says what happened and which expectations failed.

mod backends;
mod fixtures;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use lever_sandbox::{
    Call, CallContext, Compiled, HostServices, HttpAnswers, HttpPolicy, HttpRecording, InvokeError,
    LogBook, Manifest, Masker, Plugin, PluginKind, Sandbox, SandboxConfig, secret_references,
};
use serde::Serialize;
use serde_json::Value;

pub use fixtures::{
    CapabilityErrorFixture, CapabilityFixture, Case, ContextFixture, Expect, Fixtures, Op,
    StateFixture,
};

/// Why the harness could not start.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The component did not load (not a component, not a Lever world, bad manifest).
    #[error("{0}")]
    Load(String),
    /// The fixtures file is unreadable or malformed.
    #[error("{0}")]
    Fixtures(String),
}

/// One loaded component, ready to run cases.
pub struct Harness {
    sandbox: Sandbox,
    compiled: Compiled,
    manifest: Manifest,
}

/// What one case did.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// The expectations that failed; empty when the case passed.
    pub failures: Vec<String>,
    /// The output (`run`, `invoke`) or the plan (`plan`), when the call succeeded.
    pub output: Option<Value>,
    /// `{"kind", "message"}` when it failed.
    pub error: Option<Value>,
    /// The log lines, `level message`.
    pub logs: Vec<String>,
    /// The requests made, `METHOD URL`.
    pub requests: Vec<String>,
    /// Wall time of the call, in milliseconds.
    pub elapsed_ms: u64,
}

impl CaseReport {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Harness {
    /// Loads a component the way publishing does: checks it is a component of a Lever world
    /// importing only what the host provides, compiles it (through wasmtime's compiled-code
    /// cache in `cache_dir`, when given: a Python or JavaScript component takes seconds to
    /// compile, and `build` then `test` compile the same bytes), and reads its manifest.
    pub async fn load(bytes: &[u8], cache_dir: Option<PathBuf>) -> Result<Self, HarnessError> {
        let sandbox = Sandbox::new(&SandboxConfig {
            cache_dir,
            max_concurrent_instances: 4,
            ..SandboxConfig::default()
        })
        .map_err(|e| HarnessError::Load(e.to_string()))?;
        let compiled = sandbox
            .load(bytes)
            .map_err(|e| HarnessError::Load(e.to_string()))?;
        let manifest = sandbox
            .describe(&compiled)
            .await
            .map_err(|e| HarnessError::Load(e.to_string()))?;
        Ok(Self {
            sandbox,
            compiled,
            manifest,
        })
    }

    /// What the component says about itself.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs one case and checks its expectations.
    pub async fn run(&self, case: &Case) -> CaseReport {
        let started = Instant::now();
        let limits = case.limits.unwrap_or_default();
        let adapter = self.compiled.kind() == PluginKind::Adapter;
        let grants = self.manifest.grants.union(&lever_sandbox::Grants {
            hosts: case.grant_hosts.clone(),
            // An adapter's secrets come from its binding: the names its settings refer to.
            secrets: if adapter {
                secret_references(&case.settings)
            } else {
                Vec::new()
            },
            ..Default::default()
        });
        let plugin = Plugin::new(
            self.compiled.clone(),
            self.manifest.clone(),
            limits,
            grants.clone(),
        );
        let masker = Masker::new();
        let log = LogBook::masked_by(limits.max_log_bytes, masker);
        let state = Arc::new(backends::MemoryState::new(&case.state));
        let capabilities = Arc::new(backends::Capabilities::new(&case.capabilities));
        let recording = HttpRecording::new(64 * 1024, 1000);
        let answers = Arc::new(HttpAnswers::new(case.http.clone()));
        let call = Call {
            context: context(&case.context),
            services: HostServices {
                state: state.clone(),
                secrets: Arc::new(backends::Secrets(case.secrets.clone())),
                capabilities: capabilities.clone(),
            },
            log: log.clone(),
            workspace: None,
            http: HttpPolicy {
                record: Some(recording.clone()),
                answers: Some(answers.clone()),
            },
        };
        let result: Result<Value, InvokeError> = match plugin {
            Err(e) => Err(InvokeError::Instantiate(e.to_string())),
            Ok(_) if adapter != (case.op == Op::Invoke) => {
                Err(InvokeError::WrongKind(if adapter {
                    "this is an adapter: its cases say `op: invoke` and the `function` to call"
                        .into()
                } else {
                    "this is an action: its cases `run` (the default) or `plan`; `op: invoke` is for adapters".into()
                }))
            }
            Ok(plugin) => match case.op {
                Op::Run => self.sandbox.run(&plugin, &call, &case.input).await,
                Op::Plan => self
                    .sandbox
                    .plan(&plugin, &call, &case.input)
                    .await
                    .map(|p| serde_json::to_value(p).unwrap_or_default()),
                Op::Invoke => {
                    let function = case.function.as_deref().unwrap_or_default();
                    self.sandbox
                        .invoke_adapter(
                            &plugin,
                            &grants,
                            &call,
                            function,
                            &case.settings,
                            &case.input,
                        )
                        .await
                }
            },
        };
        let logs: Vec<String> = log
            .lines()
            .iter()
            .map(|l| format!("{} {}", l.level, l.message))
            .collect();
        let requests: Vec<String> = recording
            .exchanges()
            .iter()
            .map(|e| e.request.describe())
            .collect();
        let (output, error) = match &result {
            Ok(v) => (Some(v.clone()), None),
            Err(e) => (
                None,
                Some(serde_json::json!({"kind": e.code(), "message": e.to_string()})),
            ),
        };
        let mut report = CaseReport {
            name: case.name.clone(),
            failures: Vec::new(),
            output,
            error,
            logs,
            requests,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        report.failures = check(&case.expect, &report, &result, &answers, &state).await;
        report
    }
}

fn context(c: &ContextFixture) -> CallContext {
    let run_id = c.run_id.clone().unwrap_or_else(|| "local-run".into());
    let step_id = c.step_id.clone().unwrap_or_else(|| "main".into());
    let attempt = c.attempt.unwrap_or(1);
    CallContext {
        idempotency_key: c
            .idempotency_key
            .clone()
            .unwrap_or_else(|| format!("{run_id}/{step_id}/{attempt}")),
        run_id,
        step_id,
        attempt,
        requester: c.requester.clone().unwrap_or_else(|| "local".into()),
        environment: c.environment.clone().unwrap_or_else(|| "dev".into()),
    }
}

/// Whether an error matches the expected kind: its code, or the plugin's own kind.
fn error_matches(error: &InvokeError, expected: &str) -> bool {
    let code = error.code();
    code == expected || code.strip_prefix("plugin-") == Some(expected)
}

async fn check(
    expect: &Expect,
    report: &CaseReport,
    result: &Result<Value, InvokeError>,
    answers: &HttpAnswers,
    state: &backends::MemoryState,
) -> Vec<String> {
    let mut failures = Vec::new();
    match (result, &expect.error) {
        (Ok(_), Some(kind)) => failures.push(format!("expected error `{kind}`, but it succeeded")),
        (Err(e), None) => failures.push(format!("failed with `{}`: {e}", e.code())),
        (Err(e), Some(kind)) if !error_matches(e, kind) => {
            failures.push(format!("expected error `{kind}`, got `{}`: {e}", e.code()))
        }
        _ => {}
    }
    if let (Some(wanted), Err(e)) = (&expect.message, result)
        && !e.to_string().contains(wanted.as_str())
    {
        failures.push(format!(
            "the error message does not contain `{wanted}`: {e}"
        ));
    }
    if let (Some(wanted), Ok(actual)) = (&expect.output, result)
        && !fixtures::contains(actual, wanted)
    {
        failures.push(format!("the output {actual} does not contain {wanted}"));
    }
    for wanted in &expect.logs {
        if !report.logs.iter().any(|l| l.contains(wanted.as_str())) {
            failures.push(format!("no log line contains `{wanted}`"));
        }
    }
    if let Some(wanted) = &expect.requests
        && wanted != &report.requests
    {
        failures.push(format!(
            "expected requests {wanted:?}, made {:?}",
            report.requests
        ));
    }
    if expect.all_http_used {
        for unused in answers.unused() {
            failures.push(format!(
                "recorded `{}` was never requested",
                unused.describe()
            ));
        }
    }
    if let Some(wanted) = &expect.state {
        for (scope, values) in [("run", &wanted.run), ("plugin", &wanted.plugin)] {
            for (key, value) in values {
                let actual = state.value(scope, key);
                if actual.as_deref() != Some(value.as_str()) {
                    failures.push(format!(
                        "state {scope}/{key} is {actual:?}, expected {value:?}"
                    ));
                }
            }
        }
    }
    failures
}
