//! One invocation: a fresh `Store` with the plugin's limits, one call, and the classification
//! of everything that can go wrong into an [`InvokeError`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::bindings::wit;
use crate::engine::{Compiled, Pre, Sandbox};
use crate::error::{InvokeError, LoadError, PluginErrorKind};
use crate::exchanges::HttpPolicy;
use crate::host::http::OutboundHttp;
use crate::host::{CapabilityBackend, CapabilityError, HostServices, HostState};
use crate::limits::{DeadlineHit, MemoryLimitHit, MemoryLimiter};
use crate::output::BoundedPipe;
use lever_plugin::{
    BackendError, ExecutionPlan, Grants, Limits, LogBook, Manifest, PluginKind, Risk,
    SecretBackend, StateBackend,
};

/// A published plugin, ready to run: compiled code, manifest, compiled schemas, limits and
/// the grants in force.
pub struct Plugin {
    compiled: Compiled,
    manifest: Manifest,
    limits: Limits,
    grants: Grants,
    input_schema: jsonschema::Validator,
    output_schema: jsonschema::Validator,
}

impl Plugin {
    /// Assembles a plugin; fails when the manifest's schemas are not valid JSON Schema.
    pub fn new(
        compiled: Compiled,
        manifest: Manifest,
        limits: Limits,
        grants: Grants,
    ) -> Result<Self, LoadError> {
        let compile = |what: &str, schema: &serde_json::Value| {
            jsonschema::validator_for(schema).map_err(|e| {
                LoadError::Describe(format!("the {what} schema is not valid JSON Schema: {e}"))
            })
        };
        let input_schema = compile("input", &manifest.input_schema)?;
        let output_schema = compile("output", &manifest.output_schema)?;
        Ok(Self {
            compiled,
            manifest,
            limits,
            grants,
            input_schema,
            output_schema,
        })
    }

    /// What the plugin says about itself.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The grants in force.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Checks `input` against the input schema.
    pub fn validate_input(&self, input: &serde_json::Value) -> Result<(), InvokeError> {
        let errors = schema_errors(&self.input_schema, input);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(InvokeError::InvalidInput { errors })
        }
    }
}

fn schema_errors(validator: &jsonschema::Validator, value: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect()
}

/// Who and what an invocation belongs to; becomes the WIT `context` record.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The run.
    pub run_id: String,
    /// The step (`main` for a single-action run).
    pub step_id: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Stable key for one logical attempt.
    pub idempotency_key: String,
    /// Who asked.
    pub requester: String,
    /// Target environment.
    pub environment: String,
}

/// One invocation's context, backends and log.
#[derive(Clone)]
pub struct Call {
    /// Who and what.
    pub context: CallContext,
    /// State and secret backends.
    pub services: HostServices,
    /// Where log lines, stdout and stderr go.
    pub log: LogBook,
    /// The run's directories, lent to a plugin granted `workspace`.
    pub workspace: Option<Workspace>,
    /// Outbound HTTP recorded, answered from recordings, or neither.
    pub http: HttpPolicy,
}

/// The directories a template run lends its steps: the only file system a plugin sees, and
/// only when its manifest asks for `workspace`. The guest reaches nothing outside them (cap-std
/// resolves every path, `..` and symbolic links included, beneath the preopened directory).
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The run's own read-write directory, `/workspace` in the guest.
    pub dir: std::path::PathBuf,
    /// The template's bundle, read-only at `/template` in the guest.
    pub template: Option<std::path::PathBuf>,
    /// The template file's folder inside the bundle (`scaffolder-templates/x`): the guest
    /// reads `/template/<folder>` from `LEVER_TEMPLATE_DIR`.
    pub template_folder: String,
}

enum Op<'a> {
    Describe,
    Plan(&'a str),
    Run(&'a str),
    Rollback(&'a str, &'a str),
    /// An adapter's `invoke`: function, settings, input.
    Invoke(&'a str, &'a str, &'a str),
}

enum Done {
    Manifest(Manifest),
    Plan(Option<ExecutionPlan>),
    Output(String),
    Unit,
}

/// Grace given to the epoch deadline before the outer timer cancels a call stuck in host I/O.
const OUTER_GRACE: Duration = Duration::from_millis(50);

impl Sandbox {
    /// Calls `describe` once on a freshly loaded component.
    pub async fn describe(&self, compiled: &Compiled) -> Result<Manifest, LoadError> {
        let call = Call {
            context: CallContext {
                run_id: "publish".into(),
                step_id: "describe".into(),
                attempt: 1,
                ..Default::default()
            },
            services: HostServices {
                state: Arc::new(Nothing),
                secrets: Arc::new(Nothing),
                capabilities: Arc::new(Nothing),
            },
            log: LogBook::new(16 * 1024),
            workspace: None,
            http: HttpPolicy::default(),
        };
        match self
            .execute(
                compiled,
                "publish",
                &Limits::default(),
                &Grants::default(),
                &call,
                Op::Describe,
            )
            .await
        {
            Ok(Done::Manifest(m)) => Ok(m),
            Ok(_) => unreachable!("describe returns a manifest"),
            Err(e) => Err(LoadError::Describe(e.to_string())),
        }
    }

    /// Runs an action: validates the input, calls `run`, and checks the output's size,
    /// syntax and schema.
    pub async fn run(
        &self,
        plugin: &Plugin,
        call: &Call,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        plugin.validate_input(input)?;
        let input = input.to_string();
        let output = match self.invoke(plugin, call, Op::Run(&input)).await? {
            Done::Output(o) => o,
            _ => unreachable!("run returns output"),
        };
        let limit = plugin.limits.max_output_bytes;
        if output.len() as u64 > limit {
            return Err(InvokeError::OutputTooLarge {
                size: output.len() as u64,
                limit,
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(&output).map_err(|e| InvokeError::OutputNotJson {
                error: e.to_string(),
            })?;
        let errors = schema_errors(&plugin.output_schema, &value);
        if !errors.is_empty() {
            return Err(InvokeError::OutputSchema { errors });
        }
        Ok(value)
    }

    /// Asks an action what `run` would do; `None` when it has no preview.
    pub async fn plan(
        &self,
        plugin: &Plugin,
        call: &Call,
        input: &serde_json::Value,
    ) -> Result<Option<ExecutionPlan>, InvokeError> {
        plugin.validate_input(input)?;
        let input = input.to_string();
        match self.invoke(plugin, call, Op::Plan(&input)).await? {
            Done::Plan(p) => Ok(p),
            _ => unreachable!("plan returns a plan"),
        }
    }

    /// Undoes a successful `run`, given its input and output.
    pub async fn rollback(
        &self,
        plugin: &Plugin,
        call: &Call,
        input: &serde_json::Value,
        output: &serde_json::Value,
    ) -> Result<(), InvokeError> {
        let (input, output) = (input.to_string(), output.to_string());
        self.invoke(plugin, call, Op::Rollback(&input, &output))
            .await
            .map(|_| ())
    }

    /// Calls one capability function on an adapter with the binding's settings (checked against
    /// the adapter's settings schema) and the input; the answer must be JSON within the output
    /// limit. The caller checks its shape against the capability's WIT records. `grants` come
    /// from the binding (the provider's host, the secrets its settings refer to), not from
    /// publishing.
    pub async fn invoke_adapter(
        &self,
        plugin: &Plugin,
        grants: &Grants,
        call: &Call,
        function: &str,
        settings: &serde_json::Value,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        if plugin.compiled.kind != PluginKind::Adapter {
            return Err(InvokeError::WrongKind(format!(
                "`{}` is an action, not an adapter: bind an adapter to a capability",
                plugin.manifest.name
            )));
        }
        let errors = schema_errors(&plugin.input_schema, settings);
        if !errors.is_empty() {
            return Err(InvokeError::InvalidInput {
                errors: errors
                    .into_iter()
                    .map(|e| format!("binding settings: {e}"))
                    .collect(),
            });
        }
        let (settings, input) = (settings.to_string(), input.to_string());
        let op = Op::Invoke(function, &settings, &input);
        let output = match self
            .execute(
                &plugin.compiled,
                &plugin.manifest.name,
                &plugin.limits,
                grants,
                call,
                op,
            )
            .await?
        {
            Done::Output(o) => o,
            _ => unreachable!("invoke returns output"),
        };
        let limit = plugin.limits.max_output_bytes;
        if output.len() as u64 > limit {
            return Err(InvokeError::OutputTooLarge {
                size: output.len() as u64,
                limit,
            });
        }
        serde_json::from_str(&output).map_err(|e| InvokeError::OutputNotJson {
            error: e.to_string(),
        })
    }

    async fn invoke(&self, plugin: &Plugin, call: &Call, op: Op<'_>) -> Result<Done, InvokeError> {
        if plugin.compiled.kind != PluginKind::Action {
            return Err(InvokeError::WrongKind(format!(
                "`{}` is an adapter, not an action: bind it to a capability instead of running it",
                plugin.manifest.name
            )));
        }
        self.execute(
            &plugin.compiled,
            &plugin.manifest.name,
            &plugin.limits,
            &plugin.grants,
            call,
            op,
        )
        .await
    }

    async fn execute(
        &self,
        compiled: &Compiled,
        plugin_name: &str,
        limits: &Limits,
        grants: &Grants,
        call: &Call,
        op: Op<'_>,
    ) -> Result<Done, InvokeError> {
        let started = Instant::now();
        let deadline = started + limits.timeout();
        let pipe_cap = (limits.max_log_bytes as usize).max(1024);
        let (stdout, stderr) = (BoundedPipe::new(pipe_cap), BoundedPipe::new(pipe_cap));
        let denied = Arc::new(Mutex::new(None::<String>));
        let unrecorded = Arc::new(Mutex::new(None::<String>));
        // Deny by default: no preopened directories, no environment, no arguments, no sockets.
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        // A workspace only for a plugin that asked for it, and only in a run that has one.
        if let (true, Some(workspace)) = (grants.workspace, &call.workspace) {
            let preopen = |e: wasmtime::Error, what: &std::path::Path| {
                InvokeError::Instantiate(format!(
                    "the run's workspace {} cannot be opened: {e}",
                    what.display()
                ))
            };
            wasi.preopened_dir(&workspace.dir, "/workspace", FsPerms::ReadWrite)
                .map_err(|e| preopen(e, &workspace.dir))?;
            wasi.env("LEVER_WORKSPACE", "/workspace");
            wasi.env(
                "LEVER_WORKSPACE_EXECUTABLES",
                crate::modes::executables(&workspace.dir),
            );
            wasi.env("LEVER_WORKSPACE_LINKS", crate::modes::links(&workspace.dir));
            if let Some(template) = &workspace.template {
                wasi.preopened_dir(template, "/template", FsPerms::ReadOnly)
                    .map_err(|e| preopen(e, template))?;
                let folder = if workspace.template_folder.is_empty() {
                    "/template".to_string()
                } else {
                    format!("/template/{}", workspace.template_folder)
                };
                wasi.env("LEVER_TEMPLATE_DIR", folder);
                wasi.env(
                    "LEVER_TEMPLATE_EXECUTABLES",
                    crate::modes::executables(template),
                );
                wasi.env("LEVER_TEMPLATE_LINKS", crate::modes::links(template));
            }
        }
        let wasi = wasi.build();
        let state = HostState {
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: OutboundHttp {
                grants: grants.clone(),
                log: call.log.clone(),
                denied: denied.clone(),
                deadline,
                policy: call.http.clone(),
                unrecorded: unrecorded.clone(),
            },
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: limits.memory_bytes,
            },
            services: call.services.clone(),
            grants: grants.clone(),
            log: call.log.clone(),
            run_namespace: format!("run:{}", call.context.run_id),
            plugin_namespace: format!("plugin:{plugin_name}"),
            quota: self.state_quota,
        };
        let mut store = Store::new(&compiled.engine, state);
        store.limiter(|s| &mut s.limiter);
        if self.fuel_metering {
            store
                .set_fuel(limits.fuel)
                .map_err(|e| InvokeError::Instantiate(e.to_string()))?;
        }
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::new(DeadlineHit))
            } else {
                // Let other tasks on this thread run, then check again next tick.
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let ctx = wit::Context {
            run_id: call.context.run_id.clone(),
            step_id: call.context.step_id.clone(),
            attempt: call.context.attempt,
            idempotency_key: call.context.idempotency_key.clone(),
            requester: call.context.requester.clone(),
            environment: call.context.environment.clone(),
        };
        let outcome = tokio::time::timeout(
            limits.timeout() + OUTER_GRACE,
            call_guest(&mut store, compiled, &ctx, op),
        )
        .await;
        for (source, pipe) in [("stdout", &stdout), ("stderr", &stderr)] {
            for line in pipe.take_text().lines().filter(|l| !l.trim().is_empty()) {
                call.log.push(
                    source,
                    if source == "stderr" { "warn" } else { "info" },
                    line,
                );
            }
        }
        if let (true, Some(workspace)) = (grants.workspace, &call.workspace) {
            crate::modes::apply_marks(&workspace.dir);
            crate::modes::apply_link_marks(&workspace.dir);
        }
        let denied_host = denied.lock().expect("denied lock").clone();
        let unrecorded = unrecorded.lock().expect("unrecorded lock").clone();
        let result = match outcome {
            Err(_elapsed) => Err(InvokeError::DeadlinePassed {
                timeout_ms: limits.timeout_ms,
            }),
            Ok(Err(Failure::Instantiate(e))) => Err(classify(e, limits, true)),
            Ok(Err(Failure::Call(e))) => Err(classify(e, limits, false)),
            Ok(Ok(Err(guest))) => Err(match (denied_host, unrecorded) {
                (Some(host), _) => InvokeError::HostNotGranted { host },
                (None, Some(request)) => InvokeError::UnrecordedRequest { request },
                (None, None) => guest_error(guest),
            }),
            Ok(Ok(Ok(done))) => Ok(done),
        };
        tracing::debug!(
            plugin = plugin_name,
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = result.is_ok(),
            "invocation"
        );
        let fuel = if self.fuel_metering {
            limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0))
        } else {
            0
        };
        lever_metrics::invocation(result.as_ref().map_or_else(|e| e.code(), |_| "ok"), fuel);
        result
    }
}

enum Failure {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

async fn call_guest(
    store: &mut Store<HostState>,
    compiled: &Compiled,
    ctx: &wit::Context,
    op: Op<'_>,
) -> Result<Result<Done, wit::Error>, Failure> {
    match &compiled.pre {
        Pre::Action(pre) => {
            let instance = pre
                .instantiate_async(&mut *store)
                .await
                .map_err(Failure::Instantiate)?;
            let handler = instance.lever_plugin_action_handler();
            let result = match op {
                Op::Describe => handler
                    .call_describe(&mut *store)
                    .await
                    .map(|m| Ok(Done::Manifest(action_manifest(m)))),
                Op::Plan(input) => handler
                    .call_plan(&mut *store, ctx, input)
                    .await
                    .map(|r| r.map(|p| Done::Plan(p.map(Into::into)))),
                Op::Run(input) => handler
                    .call_run(&mut *store, ctx, input)
                    .await
                    .map(|r| r.map(Done::Output)),
                Op::Rollback(input, output) => handler
                    .call_rollback(&mut *store, ctx, input, output)
                    .await
                    .map(|r| r.map(|()| Done::Unit)),
                Op::Invoke(..) => Ok(Err(wit::Error::Fatal(
                    "actions are run, not invoked as adapters".into(),
                ))),
            };
            result.map_err(Failure::Call)
        }
        Pre::Adapter(pre) => {
            let instance = pre
                .instantiate_async(&mut *store)
                .await
                .map_err(Failure::Instantiate)?;
            let handler = instance.lever_plugin_adapter_handler();
            match op {
                Op::Describe => {
                    let m = handler
                        .call_describe(&mut *store)
                        .await
                        .map_err(Failure::Call)?;
                    Ok(Ok(Done::Manifest(adapter_manifest(m))))
                }
                Op::Invoke(function, settings, input) => {
                    let r = handler
                        .call_invoke(&mut *store, ctx, function, settings, input)
                        .await
                        .map_err(Failure::Call)?;
                    Ok(r.map(Done::Output))
                }
                _ => Ok(Err(wit::Error::Fatal(
                    "adapters are invoked through capabilities".into(),
                ))),
            }
        }
    }
}

fn parse_schema(text: &str) -> serde_json::Value {
    // A schema that is not JSON fails later, when `Plugin::new` compiles it.
    serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_string()))
}

fn grants_of(g: wit::Grants) -> Grants {
    Grants {
        hosts: g.hosts,
        secrets: g.secrets,
        workspace: g.workspace,
    }
}

fn action_manifest(m: wit::Manifest) -> Manifest {
    Manifest {
        kind: PluginKind::Action,
        name: m.name,
        version: m.version,
        description: m.description,
        input_schema: parse_schema(&m.input_schema),
        output_schema: parse_schema(&m.output_schema),
        grants: grants_of(m.grants),
        risk: match m.risk {
            wit::Risk::Standard => Risk::Standard,
            wit::Risk::High => Risk::High,
        },
        undoable: m.undoable,
        capabilities: Vec::new(),
    }
}

fn adapter_manifest(
    m: crate::bindings::adapter::exports::lever::plugin::adapter_handler::AdapterManifest,
) -> Manifest {
    Manifest {
        kind: PluginKind::Adapter,
        name: m.name,
        version: m.version,
        description: m.description,
        input_schema: parse_schema(&m.settings_schema),
        output_schema: serde_json::Value::Bool(true),
        grants: grants_of(m.grants),
        risk: Risk::Standard,
        undoable: false,
        capabilities: m.capabilities,
    }
}

fn guest_error(e: wit::Error) -> InvokeError {
    let (kind, message) = match e {
        wit::Error::InvalidInput(m) => (PluginErrorKind::InvalidInput, m),
        wit::Error::Retryable(m) => (PluginErrorKind::Retryable, m),
        wit::Error::Fatal(m) => (PluginErrorKind::Fatal, m),
        wit::Error::NotFound(m) => (PluginErrorKind::NotFound, m),
        wit::Error::Denied(m) => (PluginErrorKind::Denied, m),
        wit::Error::Other(m) => (PluginErrorKind::Other, m),
    };
    InvokeError::Plugin { kind, message }
}

fn classify(e: wasmtime::Error, limits: &Limits, instantiating: bool) -> InvokeError {
    if e.downcast_ref::<DeadlineHit>().is_some() {
        return InvokeError::DeadlinePassed {
            timeout_ms: limits.timeout_ms,
        };
    }
    if let Some(hit) = e.downcast_ref::<MemoryLimitHit>() {
        return InvokeError::MemoryLimit {
            limit: hit.limit,
            requested: hit.requested,
        };
    }
    let backtrace = e
        .downcast_ref::<WasmBacktrace>()
        .map(|b| b.to_string())
        .unwrap_or_default();
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => InvokeError::FuelExhausted {
            budget: limits.fuel,
        },
        Some(Trap::StackOverflow) => InvokeError::StackOverflow { backtrace },
        Some(Trap::Interrupt) => InvokeError::DeadlinePassed {
            timeout_ms: limits.timeout_ms,
        },
        Some(trap) => InvokeError::Trap {
            message: trap.to_string(),
            backtrace,
        },
        None if instantiating => InvokeError::Instantiate(format!("{e:#}")),
        None => InvokeError::Trap {
            message: format!("{e:#}"),
            backtrace,
        },
    }
}

/// The backends `describe` gets: it has no run and may not touch state or secrets.
struct Nothing;

#[lever_plugin::async_trait]
impl StateBackend for Nothing {
    async fn get(&self, _: &str, _: &str) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError(
            "state is not available during describe".into(),
        ))
    }
    async fn set(&self, _: &str, _: &str, _: &[u8]) -> Result<(), BackendError> {
        Err(BackendError(
            "state is not available during describe".into(),
        ))
    }
    async fn delete(&self, _: &str, _: &str) -> Result<(), BackendError> {
        Err(BackendError(
            "state is not available during describe".into(),
        ))
    }
}

#[lever_plugin::async_trait]
impl SecretBackend for Nothing {
    async fn get(&self, _: &str) -> Result<Option<String>, BackendError> {
        Err(BackendError(
            "secrets are not available during describe".into(),
        ))
    }
}

#[lever_plugin::async_trait]
impl CapabilityBackend for Nothing {
    async fn call(
        &self,
        capability: &str,
        _: &str,
        _: serde_json::Value,
    ) -> Result<serde_json::Value, CapabilityError> {
        Err(CapabilityError::unbound(
            capability,
            "capabilities are not available during describe",
        ))
    }
}
