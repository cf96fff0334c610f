//! `lever`: the server and its command-line client.

mod commands;
mod local;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Lever: self-service actions as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "lever", version, about)]
struct Cli {
    /// Where the embedded SQLite database and the compiled-code cache live.
    #[arg(long, global = true, env = "LEVER_DATA_DIR", default_value = "./.lever")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://USER@HOST:PORT/DB) to use instead of the SQLite file.
    #[arg(long, global = true, env = "LEVER_DATABASE")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP API and the workers.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LEVER_LISTEN", default_value = "127.0.0.1:7878")]
        listen: SocketAddr,
        /// Runs executed at once.
        #[arg(long, env = "LEVER_WORKERS", default_value_t = 16)]
        workers: usize,
        /// Publishes these .wasm files, or every .wasm in these directories, at start.
        #[arg(long = "publish")]
        publish: Vec<PathBuf>,
        /// Applies these template files, or every .yaml in these directories, at start.
        #[arg(long = "templates")]
        templates: Vec<PathBuf>,
    },
    /// Manages plugins.
    Plugin {
        #[command(subcommand)]
        command: commands::plugin::PluginCommand,
    },
    /// Manages templates.
    Template {
        #[command(subcommand)]
        command: commands::template::TemplateCommand,
    },
    /// Runs an action and waits for the result.
    Run(commands::run::RunArgs),
}

fn main() {
    if let Err(e) = run() {
        // The chain of causes, without a backtrace: these errors are for the user.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEVER_LOG").unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let location = local::Location { data_dir: cli.data_dir, database: cli.database };
        match cli.command {
            Command::Serve { listen, workers, publish, templates } => {
                commands::serve::serve(location, listen, workers, publish, templates).await
            }
            Command::Plugin { command } => commands::plugin::run(location, command).await,
            Command::Template { command } => commands::template::run(location, command).await,
            Command::Run(args) => commands::run::run(location, args).await,
        }
    })
}
