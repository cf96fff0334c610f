//! `lever audit verify | anchor --reset`: the audit chain and its anchor outside the database
//! (`lever_store::AuditAnchor`), and the task of `lever serve` that keeps the anchor current.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use lever_store::{AuditAnchor, Store};

use crate::commands::token::store;
use crate::local::Location;

/// The anchor key's file in the data dir (or `LEVER_AUDIT_KEY`, 64 hex digits).
const KEY_FILE: &str = "audit-anchor.key";
const KEY_ENV: &str = "LEVER_AUDIT_KEY";

/// How often `lever serve` anchors a head that moved.
const EVERY: Duration = Duration::from_secs(1);

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recomputes the hash chain and checks it against the anchor; exits 1 naming what is
    /// wrong (an edited or deleted row, rows cut off the end, an older copy of the database).
    Verify,
    /// Anchors the current head, whatever the anchor file says: after rotating the anchor key,
    /// or once a reported problem has been looked into.
    Anchor {
        /// Required: this overwrites the evidence of a problem `verify` reports.
        #[arg(long)]
        reset: bool,
    },
}

/// The anchor of the data dir, its key loaded or generated.
pub(crate) fn anchor(location: &Location) -> anyhow::Result<AuditAnchor> {
    std::fs::create_dir_all(&location.data_dir)?;
    let key = lever_secrets::load_named_key(&location.data_dir, KEY_FILE, KEY_ENV)?;
    Ok(AuditAnchor::new(&location.data_dir, key))
}

/// Runs an audit subcommand; exit status 1 when `verify` finds a problem.
pub(crate) async fn run(
    location: Location,
    command: AuditCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let store = store(&location).await?;
    let anchor = anchor(&location)?;
    let code = match command {
        AuditCommand::Verify => {
            let verification = anchor.verify(&store).await?;
            if verification.intact {
                println!(
                    "audit trail intact: {} rows, every hash and link holds{}",
                    verification.rows,
                    match anchor.read() {
                        Ok(Some(a)) => format!(", and row {} matches its anchor", a.seq),
                        _ => ", no anchor written yet".to_string(),
                    }
                );
                std::process::ExitCode::SUCCESS
            } else {
                println!("audit trail BROKEN ({} rows checked):", verification.rows);
                for problem in &verification.problems {
                    println!("  {problem}");
                }
                std::process::ExitCode::FAILURE
            }
        }
        AuditCommand::Anchor { reset } => {
            anyhow::ensure!(
                reset,
                "`lever audit anchor` overwrites the anchor; pass --reset to mean it"
            );
            match anchor.reset(&store).await? {
                Some(seq) => println!("anchored row {seq} in {}", anchor.path().display()),
                None => println!("the audit trail is empty: nothing to anchor"),
            }
            std::process::ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

/// Anchors the head every second while the server runs; a problem is logged (once per
/// change) and the anchor left as it is, so `lever audit verify` keeps reporting it.
pub(crate) fn spawn_anchoring(store: Store, anchor: Arc<AuditAnchor>) {
    tokio::spawn(async move {
        let mut reported = Vec::new();
        loop {
            match anchor.advance(&store).await {
                Ok(problems) if problems != reported => {
                    for problem in &problems {
                        tracing::error!("audit trail: {problem}; run `lever audit verify`");
                    }
                    reported = problems;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot anchor the audit trail: {e}"),
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}
