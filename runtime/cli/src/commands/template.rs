//! `lever template validate FILE`, `lever template apply FILE|DIR`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use lever_templates::bundle::Bundle;

use crate::commands::run::{check, client};
use crate::local::Location;

/// Template subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCommand {
    /// Checks a template file; errors carry their line number.
    Validate {
        /// The YAML or JSON file.
        file: PathBuf,
    },
    /// Adds a template to the catalog (a new version when it changed). Given a directory (a
    /// template repository), applies every template in it, each with the files its fetch
    /// steps read (`./skeleton`, `../../skeletons/x`), resolved inside the directory.
    Apply {
        /// The YAML or JSON file, or a directory of templates.
        file: PathBuf,
        /// Talk to this running server instead of opening the data dir.
        #[arg(long, env = "LEVER_SERVER")]
        server: Option<String>,
    },
}

pub(crate) async fn run(location: Location, command: TemplateCommand) -> anyhow::Result<()> {
    match command {
        TemplateCommand::Validate { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match lever_templates::parse(&text) {
                Err(e) => bail!(
                    "{}:{}: {}",
                    file.display(),
                    e.line.map(|l| l.to_string()).unwrap_or_default(),
                    e.message
                ),
                Ok(parsed) => {
                    lever_templates::Form::new(&parsed.template.pages)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    for w in &parsed.warnings {
                        eprintln!("{}: warning: {}", file.display(), w.message);
                    }
                    println!(
                        "{}: template `{}` is valid ({} steps)",
                        file.display(),
                        parsed.template.name,
                        parsed.template.steps.len()
                    );
                    Ok(())
                }
            }
        }
        TemplateCommand::Apply { file, server } => {
            let bundles = if file.is_dir() {
                let templates = find_templates(&file)?;
                if templates.is_empty() {
                    bail!(
                        "{} holds no template (a .yaml or .yml file with `kind: Template`)",
                        file.display()
                    );
                }
                templates
                    .iter()
                    .map(|t| {
                        Bundle::from_dir(&file, t)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", t.display()))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?
            } else {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                vec![Bundle::single(&file.to_string_lossy(), &text)]
            };
            let local = match &server {
                Some(_) => None,
                None => Some(
                    location
                        .open(1, false, Arc::new(lever_store::SystemClock))
                        .await?,
                ),
            };
            let mut failed = Vec::new();
            for bundle in &bundles {
                if let Err(e) = apply_one(bundle, server.as_deref(), local.as_ref()).await {
                    eprintln!("{}: {e:#}", bundle.template_path);
                    failed.push(bundle.template_path.clone());
                }
            }
            if !failed.is_empty() {
                bail!(
                    "{} of {} templates were not applied: {}",
                    failed.len(),
                    bundles.len(),
                    failed.join(", ")
                );
            }
            Ok(())
        }
    }
}

/// Applies one template with its files, through `server` or the opened data dir.
async fn apply_one(
    bundle: &Bundle,
    server: Option<&str>,
    local: Option<&crate::local::Local>,
) -> anyhow::Result<()> {
    let lone = bundle.files.len() == 1;
    let label = &bundle.template_path;
    if let Some(server) = server {
        let request = client().post(format!("{}/api/v1/templates", server.trim_end_matches('/')));
        let request = if lone {
            request.body(bundle.template_text()?.to_string())
        } else {
            request.body(bundle.to_tar())
        };
        let body = check(request.send().await?).await?;
        println!(
            "applied {} version {} ({label}, {} files)",
            body["name"].as_str().unwrap_or("?"),
            body["version"],
            body["files"]
        );
        return Ok(());
    }
    let local = local.expect("opened without a server");
    let (entry, created) = if lone {
        local.catalog.apply(bundle.template_text()?).await?
    } else {
        local.catalog.apply_bundle(bundle).await?
    };
    for w in &entry.parsed.warnings {
        eprintln!("{label}: warning: {}", w.message);
    }
    println!(
        "applied {} version {}{} ({label}, {} files)",
        entry.record.name,
        entry.record.version,
        if created { "" } else { " (unchanged)" },
        entry.record.bundle_paths.len()
    );
    Ok(())
}

/// The template files under `dir` (`.yaml`/`.yml` with `kind: Template`), skipping hidden
/// folders and `node_modules`, in path order.
fn find_templates(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
        {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if !name.starts_with('.') && name != "node_modules" {
                    pending.push(path);
                }
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| lever_templates::bundle::is_template_file(&name, &bytes))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
