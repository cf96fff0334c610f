//! `lever plugin new|build|test|run|sign|keygen|publish|list`: everything a plugin author does,
//! from an empty folder to a published, signed component.

mod build;
mod new;
mod sign;
mod test;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use lever_registry::PublishOptions;
use lever_sandbox::{Grants, Limits};

use crate::commands::run::{check, client};
use crate::local::Location;

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PluginCommand {
    /// Writes a new plugin project (Rust, Python or JavaScript).
    New(new::NewArgs),
    /// Builds a plugin project into build/plugin.wasm and prints its manifest.
    Build(build::BuildArgs),
    /// Runs the project's fixtures (lever-test.yaml) in the sandbox, or replays a real step.
    Test(test::TestArgs),
    /// Calls a component once, in the sandbox, with an input.
    Run(test::RunArgs),
    /// Makes an ed25519 key pair for signing plugins.
    Keygen(sign::KeygenArgs),
    /// Signs a component with a private key.
    Sign(sign::SignArgs),
    /// Publishes a .wasm component.
    Publish(PublishArgs),
    /// Lists published plugins.
    List {
        /// Talk to this running server instead of opening the data dir.
        #[arg(long, env = "LEVER_SERVER")]
        server: Option<String>,
    },
}

/// Arguments of `lever plugin publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The component.
    file: PathBuf,
    /// Talk to this running server instead of opening the data dir.
    #[arg(long, env = "LEVER_SERVER")]
    server: Option<String>,
    /// Fuel per invocation.
    #[arg(long)]
    fuel: Option<u64>,
    /// Memory cap per invocation, in bytes.
    #[arg(long)]
    memory_bytes: Option<u64>,
    /// Deadline per invocation, in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// A host to grant on top of the manifest's (repeatable).
    #[arg(long = "grant-host")]
    grant_hosts: Vec<String>,
    /// A secret name to grant on top of the manifest's (repeatable).
    #[arg(long = "grant-secret")]
    grant_secrets: Vec<String>,
}

pub(crate) async fn run(location: Location, command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New(args) => new::new(args),
        PluginCommand::Build(args) => build::build(args).await,
        PluginCommand::Test(args) => test::test(args).await,
        PluginCommand::Run(args) => test::run(args).await,
        PluginCommand::Keygen(args) => sign::keygen(args),
        PluginCommand::Sign(args) => sign::sign(args),
        PluginCommand::Publish(args) => publish(location, args).await,
        PluginCommand::List {
            server: Some(server),
        } => {
            let response = client()
                .get(format!("{}/api/v1/plugins", server.trim_end_matches('/')))
                .send()
                .await?;
            println!("{}", serde_json::to_string_pretty(&check(response).await?)?);
            Ok(())
        }
        PluginCommand::List { server: None } => {
            let local = location
                .open(1, false, Arc::new(lever_store::SystemClock))
                .await?;
            for p in local.registry.list().await? {
                println!(
                    "{}@{}\t{}\tsha256:{}\t{}",
                    p.name,
                    p.version,
                    p.manifest.kind.as_str(),
                    p.digest,
                    p.manifest.description
                );
            }
            Ok(())
        }
    }
}

async fn publish(location: Location, args: PublishArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if let Some(server) = &args.server {
        let mut query: Vec<(&str, String)> = Vec::new();
        for (key, value) in [
            ("fuel", args.fuel),
            ("memory_bytes", args.memory_bytes),
            ("timeout_ms", args.timeout_ms),
        ] {
            if let Some(v) = value {
                query.push((key, v.to_string()));
            }
        }
        if !args.grant_hosts.is_empty() {
            query.push(("hosts", args.grant_hosts.join(",")));
        }
        if !args.grant_secrets.is_empty() {
            query.push(("secrets", args.grant_secrets.join(",")));
        }
        let response = client()
            .post(format!("{}/api/v1/plugins", server.trim_end_matches('/')))
            .query(&query)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await?;
        let body = check(response).await?;
        println!(
            "published {}@{} ({})",
            body["name"].as_str().unwrap_or("?"),
            body["version"].as_str().unwrap_or("?"),
            body["digest"].as_str().unwrap_or("?")
        );
        return Ok(());
    }
    let d = Limits::default();
    let options = PublishOptions {
        limits: Limits {
            fuel: args.fuel.unwrap_or(d.fuel),
            memory_bytes: args.memory_bytes.unwrap_or(d.memory_bytes),
            timeout_ms: args.timeout_ms.unwrap_or(d.timeout_ms),
            ..d
        },
        extra_grants: Grants {
            hosts: args.grant_hosts,
            secrets: args.grant_secrets,
            ..Default::default()
        },
    };
    let local = location
        .open(1, false, Arc::new(lever_store::SystemClock))
        .await?;
    let (record, outcome) = local.registry.publish(bytes, options).await?;
    println!(
        "published {}@{} (sha256:{}, {outcome:?})",
        record.name, record.version, record.digest
    );
    Ok(())
}
