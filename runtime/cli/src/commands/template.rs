//! `lever template validate|apply FILE`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;

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
    /// Adds a template to the catalog (a new version when it changed).
    Apply {
        /// The YAML or JSON file.
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
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if let Some(server) = server {
                let body = check(
                    client()
                        .post(format!("{}/api/v1/templates", server.trim_end_matches('/')))
                        .body(text)
                        .send()
                        .await?,
                )
                .await?;
                println!(
                    "applied {} version {}",
                    body["name"].as_str().unwrap_or("?"),
                    body["version"]
                );
                return Ok(());
            }
            let local = location
                .open(1, false, Arc::new(lever_store::SystemClock))
                .await?;
            let (entry, created) = local.catalog.apply(&text).await?;
            for w in &entry.parsed.warnings {
                eprintln!("{}: warning: {}", file.display(), w.message);
            }
            println!(
                "applied {} version {}{}",
                entry.record.name,
                entry.record.version,
                if created { "" } else { " (unchanged)" }
            );
            Ok(())
        }
    }
}
