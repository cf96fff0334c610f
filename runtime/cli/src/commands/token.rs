//! `lever token create|list|revoke`: API tokens, straight in the database (the operator's
//! way in; over HTTP, `POST /api/v1/tokens`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use lever_identity::Authenticator;
use lever_store::Store;

use crate::commands::serve::load_config;
use crate::local::Location;

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Creates a token for a configured user and prints it once.
    Create {
        /// The user it authenticates as.
        #[arg(long, default_value = "admin")]
        user: String,
        /// A label (`laptop`, `ci`).
        #[arg(long)]
        name: String,
        /// The identity config (default: DATA_DIR/lever.yaml, else the embedded one).
        #[arg(long, env = "LEVER_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Lists tokens (never their secrets).
    List,
    /// Revokes a token by id.
    Revoke {
        /// Token id (from `list`).
        id: String,
    },
}

pub(crate) async fn store(location: &Location) -> anyhow::Result<Store> {
    let url = match &location.database {
        Some(url) => url.clone(),
        None => {
            std::fs::create_dir_all(&location.data_dir)?;
            format!(
                "sqlite://{}",
                std::path::absolute(&location.data_dir)?
                    .join("lever.db")
                    .display()
            )
        }
    };
    Store::connect(&url)
        .await
        .context("cannot open the database")
}

/// Runs a token subcommand.
pub(crate) async fn run(location: Location, command: TokenCommand) -> anyhow::Result<()> {
    let store = store(&location).await?;
    match command {
        TokenCommand::Create { user, name, config } => {
            let location = Location {
                config,
                ..location.clone()
            };
            let config = load_config(&location)?;
            let identity = Authenticator::new(config, store.clone());
            let (record, token) = identity.create_token(&user, &name, "cli").await?;
            store
                .append_audit(&lever_store::AuditEntry {
                    run_id: None,
                    kind: "token-created",
                    actor: "cli",
                    data: serde_json::json!({"token": record.id, "user": user}),
                    policy_version: None,
                })
                .await?;
            eprintln!("token {} for {user} ({name}); it is shown once:", record.id);
            println!("{token}");
        }
        TokenCommand::List => {
            for t in store.tokens_of(None).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{state}", t.id, t.user_id, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            anyhow::ensure!(store.revoke_token(&id).await?, "no active token `{id}`");
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(())
}
