//! A dry run (Backstage's `POST /v2/dry-run`): a template's steps in a throwaway workspace
//! that starts with the files given, so its author sees the files a run would write and the
//! outputs it would give — with no effect outside that workspace.
//!
//! A step runs there when its action can touch nothing else: no network host and no secret
//! granted, a plan that names no resource, and capability calls limited to reading
//! (`download-files`, `get-*`, `list-*`). Any other step — a capability step, a publish, an
//! action that reaches the network — is planned instead, as the preview does, and its output
//! is unknown to the steps after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lever_registry::PluginRef;
use lever_sandbox::{
    BackendError, Call, CapabilityBackend, CapabilityError, HostServices, LogBook, StateBackend,
    Workspace,
};
use lever_templates::plugin_reference;
use serde_json::{Value, json};

use crate::preview::NoSecretsInPlans;
use crate::{Catalog, CatalogError, Entry, Preview};

/// The capability functions a dry run may call: they only read.
const READS: &[&str] = &[
    "download-files",
    "get-repository",
    "get-pull-request",
    "list-owners",
    "list-repositories",
    "list-branches",
];

/// The most a dry run's workspace may hand back.
const MAX_FILES_BYTES: u64 = 16 * 1024 * 1024;

/// One file of a dry run's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunFile {
    /// `/`-separated, relative to the workspace.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether it is executable.
    pub executable: bool,
}

/// What one step did in a dry run.
#[derive(Debug, Clone)]
pub struct DryRunStep {
    /// The step's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its action.
    pub action: String,
    /// `completed` (it ran), `planned` (it would act outside the workspace, so it only said
    /// what it would do), `skipped` (its `if` is false) or `failed`.
    pub status: &'static str,
    /// The input it ran or would run with.
    pub input: Value,
    /// What it logged, or what it would do.
    pub log: Vec<String>,
}

/// A dry run's result.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Each step, in order.
    pub steps: Vec<DryRunStep>,
    /// The template's output, rendered with what the steps gave.
    pub output: Value,
    /// The workspace's files at the end.
    pub files: Vec<DryRunFile>,
}

/// State in memory, dropped with the dry run.
#[derive(Default)]
struct ThrowawayState(Mutex<HashMap<(String, String), Vec<u8>>>);

#[lever_sandbox::async_trait]
impl StateBackend for ThrowawayState {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let map = self.0.lock().expect("state lock");
        Ok(map.get(&(ns.to_string(), key.to_string())).cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        let mut map = self.0.lock().expect("state lock");
        map.insert((ns.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), BackendError> {
        let mut map = self.0.lock().expect("state lock");
        map.remove(&(ns.to_string(), key.to_string()));
        Ok(())
    }
}

/// The bound providers, for reading only.
struct ReadOnly(Arc<dyn CapabilityBackend>);

#[lever_sandbox::async_trait]
impl CapabilityBackend for ReadOnly {
    async fn call(
        &self,
        capability: &str,
        function: &str,
        input: Value,
    ) -> Result<Value, CapabilityError> {
        if READS.contains(&function) {
            return self.0.call(capability, function, input).await;
        }
        Err(CapabilityError {
            kind: "denied",
            message: format!(
                "a dry run changes nothing outside its workspace: `{capability}.{function}` was not called"
            ),
        })
    }
}

impl Catalog {
    /// Runs `entry` (previewed as `preview`) in a throwaway workspace holding `files` (the
    /// template's folder: what its relative fetches read), as `user`.
    pub async fn dry_run(
        &self,
        entry: &Entry,
        preview: &Preview,
        user: &str,
        files: &[(String, Vec<u8>)],
    ) -> Result<DryRun, CatalogError> {
        let scratch = tempfile::tempdir().map_err(io)?;
        let template_dir = scratch.path().join("template");
        let workspace_dir = scratch.path().join("workspace");
        std::fs::create_dir_all(&workspace_dir).map_err(io)?;
        std::fs::create_dir_all(&template_dir).map_err(io)?;
        for (path, bytes) in files {
            let path = lever_templates::bundle::normalize(path)
                .map_err(|e| CatalogError::DryRun(format!("directoryContents: {e}")))?;
            let target = template_dir.join(&path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&target, bytes).map_err(io)?;
        }
        let mut context = crate::context(&preview.parameters, user);
        let state: Arc<ThrowawayState> = Arc::default();
        let mut steps = Vec::new();
        for (step, planned) in entry.parsed.template.steps.iter().zip(&preview.steps) {
            let mut done = DryRunStep {
                id: step.id.clone(),
                name: step.name.clone(),
                action: step.action.clone(),
                status: "planned",
                input: planned.input.clone(),
                log: Vec::new(),
            };
            let runs = match &step.condition {
                Some(c) => self.expressions.is_true(Some(c), &context).unwrap_or(true),
                None => true,
            };
            if !runs {
                done.status = "skipped";
                steps.push(done);
                continue;
            }
            if let Ok(input) = self.expressions.render(&step.input, &context) {
                done.input = input;
            }
            match self
                .dry_run_step(
                    &step.id,
                    &done.input,
                    planned,
                    user,
                    &state,
                    &workspace_dir,
                    &template_dir,
                )
                .await
            {
                Outcome::Ran(output, log) => {
                    done.status = "completed";
                    done.log = log;
                    context["steps"][&step.id] = json!({ "output": output });
                }
                Outcome::Failed(message, log) => {
                    done.status = "failed";
                    done.log = log;
                    done.log.push(message);
                    steps.push(done);
                    break;
                }
                Outcome::Planned(said) => done.log = said,
            }
            steps.push(done);
        }
        let output = self
            .expressions
            .render(&entry.parsed.template.output, &context)
            .unwrap_or_else(|_| entry.parsed.template.output.clone());
        let mut files = Vec::new();
        let mut total = 0;
        collect(&workspace_dir, &workspace_dir, &mut files, &mut total)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(DryRun {
            steps,
            output,
            files,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn dry_run_step(
        &self,
        step_id: &str,
        input: &Value,
        planned: &crate::StepPreview,
        user: &str,
        state: &Arc<ThrowawayState>,
        workspace: &Path,
        template: &Path,
    ) -> Outcome {
        let said = |extra: Option<&String>| {
            let mut lines = Vec::new();
            if let Some(plan) = &planned.plan {
                lines.push(format!(
                    "It would: {}",
                    serde_json::to_string(plan).unwrap_or_default()
                ));
            }
            lines.extend(extra.cloned());
            lines
        };
        if planned.status == "missing-action" || planned.status == "invalid-input" {
            return Outcome::Failed(planned.message.clone().unwrap_or_default(), Vec::new());
        }
        if lever_capabilities::capability_action(&planned.action).is_some() {
            return Outcome::Planned(said(planned.message.as_ref()));
        }
        let reference = match PluginRef::parse(&plugin_reference(&planned.action)) {
            Ok(reference) => reference,
            Err(e) => return Outcome::Failed(format!("`{}`: {e}", planned.action), Vec::new()),
        };
        let (_, plugin) = match self.registry.resolve(&reference).await {
            Ok(found) => found,
            Err(e) => return Outcome::Failed(format!("`{}`: {e}", planned.action), Vec::new()),
        };
        let grants = plugin.grants();
        if !grants.hosts.is_empty() || !grants.secrets.is_empty() {
            return Outcome::Planned(said(planned.message.as_ref()));
        }
        // Asked again with the input the earlier steps' outputs completed: a plan that names a
        // resource means an effect outside the workspace.
        let asked = Call {
            context: crate::preview::call_context(step_id, user, input),
            services: HostServices {
                state: state.clone(),
                secrets: Arc::new(NoSecretsInPlans),
                capabilities: Arc::new(NoSecretsInPlans),
            },
            log: LogBook::new(16 * 1024),
            workspace: None,
            http: lever_sandbox::HttpPolicy::default(),
        };
        match self.registry.sandbox().plan(&plugin, &asked, input).await {
            Ok(Some(plan)) if !plan.resources.is_empty() => {
                return Outcome::Planned(vec![format!(
                    "It would: {}",
                    serde_json::to_string(&plan).unwrap_or_default()
                )]);
            }
            Ok(_) => {}
            Err(lever_sandbox::InvokeError::InvalidInput { errors }) => {
                return Outcome::Failed(errors.join("; "), Vec::new());
            }
            Err(e) => {
                return Outcome::Planned(vec![format!("What it would do is unknown: {e}")]);
            }
        }
        let log = LogBook::new(plugin.limits().max_log_bytes);
        let context = crate::preview::call_context(step_id, user, input);
        let scope = lever_capabilities::Scope {
            context: context.clone(),
            log: log.clone(),
            host: lever_capabilities::route_host(input),
            owner: None,
            template: None,
        };
        let call = Call {
            context,
            services: HostServices {
                state: state.clone(),
                secrets: Arc::new(NoSecretsInPlans),
                capabilities: Arc::new(ReadOnly(self.capabilities.backend(scope))),
            },
            log: log.clone(),
            workspace: grants.workspace.then(|| Workspace {
                dir: workspace.to_path_buf(),
                template: Some(template.to_path_buf()),
                template_folder: String::new(),
            }),
            http: lever_sandbox::HttpPolicy::default(),
        };
        let result = self.registry.sandbox().run(&plugin, &call, input).await;
        let lines = log.lines().into_iter().map(|l| l.message).collect();
        match result {
            Ok(output) => Outcome::Ran(output, lines),
            Err(e) => Outcome::Failed(e.to_string(), lines),
        }
    }
}

enum Outcome {
    Ran(Value, Vec<String>),
    Failed(String, Vec<String>),
    Planned(Vec<String>),
}

fn io(e: std::io::Error) -> CatalogError {
    CatalogError::DryRun(format!("the dry run's workspace: {e}"))
}

/// Every file under `dir`, relative to `root`, at most [`MAX_FILES_BYTES`] in all.
fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<DryRunFile>,
    total: &mut u64,
) -> Result<(), CatalogError> {
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path: PathBuf = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            collect(root, &path, out, total)?;
        } else if kind.is_file() {
            let metadata = entry.metadata().map_err(io)?;
            *total += metadata.len();
            if *total > MAX_FILES_BYTES {
                return Err(CatalogError::DryRun(format!(
                    "the dry run wrote more than {MAX_FILES_BYTES} bytes to its workspace"
                )));
            }
            use std::os::unix::fs::PermissionsExt;
            out.push(DryRunFile {
                path: path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/"),
                bytes: std::fs::read(&path).map_err(io)?,
                executable: metadata.permissions().mode() & 0o111 != 0,
            });
        }
    }
    Ok(())
}
