//! `lever policy eval --input FILE [--policy PATH]...` and `lever policy test [PATH]...`: approval
//! policies (Rego) evaluated and tested locally, without a server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use lever_policy::{Decision, PolicySet, Required, Stage};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Evaluates the approval decision for a request input and explains it.
    Eval {
        /// The policy input (JSON or YAML): template, environment, cost, steps, teams_affected, requester, time.
        #[arg(long)]
        input: PathBuf,
        /// Rego files or dirs; default: the built-in default policy
        #[arg(long = "policy")]
        policies: Vec<PathBuf>,
    },
    /// Runs the `test_` rules of policies, like `opa test`.
    Test {
        /// Rego files or directories (default: the built-in default policy and its tests)
        paths: Vec<PathBuf>,
    },
}

pub(crate) fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Eval { input, policies } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let value = parse_input(&text)
                .with_context(|| format!("{} is neither JSON nor YAML", input.display()))?;
            let set = if policies.is_empty() {
                PolicySet::default_policy()
            } else {
                compile(&policies)?
            };
            let decision = set.decide(&value)?;
            println!("{}", serde_json::to_string_pretty(&decision)?);
            println!();
            print!("{}", summary(&decision));
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { paths } => {
            let set = if paths.is_empty() {
                PolicySet::compile(&[
                    (
                        format!("{}.rego", lever_policy::DEFAULT_POLICY_NAME),
                        lever_policy::DEFAULT_POLICY.to_string(),
                    ),
                    (
                        format!("{}_test.rego", lever_policy::DEFAULT_POLICY_NAME),
                        lever_policy::DEFAULT_POLICY_TESTS.to_string(),
                    ),
                ])?
            } else {
                compile(&paths)?
            };
            let outcomes = set.run_tests()?;
            let failed = outcomes.iter().filter(|o| !o.passed).count();
            for outcome in &outcomes {
                match (&outcome.error, outcome.passed) {
                    (_, true) => println!("PASS {}.{}", outcome.package, outcome.name),
                    (Some(error), false) => {
                        println!("FAIL {}.{}: {error}", outcome.package, outcome.name)
                    }
                    (None, false) => println!("FAIL {}.{}", outcome.package, outcome.name),
                }
            }
            println!("{} passed, {failed} failed", outcomes.len() - failed);
            if outcomes.is_empty() {
                eprintln!("no test_ rules found");
            }
            Ok(if failed > 0 || outcomes.is_empty() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// JSON, or else YAML (reporting the YAML error, which has a line number).
fn parse_input(text: &str) -> anyhow::Result<serde_json::Value> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) => Ok(serde_yaml::from_str(text)?),
    }
}

/// Compiles the given `.rego` files and every `.rego` file under the given directories.
fn compile(paths: &[PathBuf]) -> anyhow::Result<PolicySet> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        bail!(
            "no .rego files in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut modules = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        modules.push((file.display().to_string(), source));
    }
    Ok(PolicySet::compile(&modules)?)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() || entry.extension().is_some_and(|ext| ext == "rego") {
            collect(&entry, files)?;
        }
    }
    Ok(())
}

/// "automatic" with its reasons, or one paragraph per stage.
fn summary(decision: &Decision) -> String {
    let mut out = String::new();
    if decision.auto {
        out.push_str("automatic\n");
        for reason in &decision.reasons {
            out.push_str(&format!("  - {reason}\n"));
        }
        return out;
    }
    let count = decision.stages.len();
    out.push_str(&format!(
        "{count} approval stage{}:\n",
        if count == 1 { "" } else { "s" }
    ));
    for stage in &decision.stages {
        out.push_str(&stage_summary(stage));
    }
    out
}

fn stage_summary(stage: &Stage) -> String {
    let approvers = match stage.required {
        Required::All => "every member".to_string(),
        Required::Count(1) => "1 approver".to_string(),
        Required::Count(n) => format!("{n} approvers"),
    };
    let gate = match &stage.step {
        Some(step) => format!("gates step `{step}`"),
        None => "gates the whole run".to_string(),
    };
    let mut out = format!(
        "- {} (order {}, {gate}): {approvers} of {}\n",
        stage.name,
        stage.order,
        stage.groups.join(", ")
    );
    let mut timing = format!("SLA {}", minutes(stage.sla_minutes));
    if let Some(group) = &stage.escalate_to {
        timing.push_str(&format!(", then escalates to {group}"));
    }
    if let Some(expire) = stage.expire_minutes {
        let action = match stage.on_expiry {
            lever_policy::OnExpiry::Reject => "rejected",
            lever_policy::OnExpiry::StayOpen => "left open",
        };
        timing.push_str(&format!("; expires after {} ({action})", minutes(expire)));
    }
    out.push_str(&format!("    {timing}\n"));
    for reason in &stage.reasons {
        out.push_str(&format!("    - {reason}\n"));
    }
    out
}

/// "90 min", "4 h", "3 d".
fn minutes(m: u64) -> String {
    if m >= 1440 && m.is_multiple_of(1440) {
        format!("{} d", m / 1440)
    } else if m >= 60 && m.is_multiple_of(60) {
        format!("{} h", m / 60)
    } else {
        format!("{m} min")
    }
}
