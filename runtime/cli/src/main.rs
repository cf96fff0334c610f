//! `lever`: the server and its command-line client.

mod commands;
mod listener;
mod local;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: after the start-up publish compiles every plugin, glibc
/// kept 30–45 MiB of freed memory in its arenas; jemalloc's background thread gives freed pages
/// back to the system within a second (`.cargo/config.toml` sets its `malloc_conf`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Lever: self-service actions as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "lever", version, about)]
struct Cli {
    /// Where the embedded SQLite database and the compiled-code cache live.
    #[arg(
        long,
        global = true,
        env = "LEVER_DATA_DIR",
        default_value = "./.lever"
    )]
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
        /// Users, groups, OIDC, link key and freeze windows (default: DATA_DIR/lever.yaml,
        /// else the embedded demo config).
        #[arg(long, env = "LEVER_CONFIG")]
        config: Option<PathBuf>,
        /// For tests: approval timers and links follow a clock moved with
        /// `POST /api/v1/admin/clock` instead of waiting.
        #[arg(long)]
        manual_clock: bool,
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
    /// Manages API tokens.
    Token {
        #[command(subcommand)]
        command: commands::token::TokenCommand,
    },
    /// Evaluates and tests approval policies.
    Policy {
        #[command(subcommand)]
        command: commands::policy::PolicyCommand,
    },
    /// Checks the audit trail.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            // The chain of causes, without a backtrace: these errors are for the user.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEVER_LOG")
        .unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("LEVER_LOG_FORMAT").as_deref() {
        // One JSON object per line, the event's fields (run, step, template…) at the top.
        Ok("json") => logs.json().flatten_event(true).init(),
        Ok("text") | Err(_) => {
            // Colour only for a person at a terminal, never into a log file.
            use std::io::IsTerminal;
            logs.with_ansi(std::io::stderr().is_terminal()).init()
        }
        Ok(other) => anyhow::bail!("LEVER_LOG_FORMAT is `{other}`: use `json` or `text`"),
    }
    if let Command::Policy { command } = cli.command {
        return commands::policy::run(command);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut location = local::Location {
            data_dir: cli.data_dir,
            database: cli.database,
            config: None,
        };
        match cli.command {
            Command::Serve {
                listen,
                workers,
                publish,
                templates,
                config,
                manual_clock,
            } => {
                location.config = config;
                let options = commands::serve::ServeOptions {
                    listen,
                    workers,
                    publish,
                    templates,
                    manual_clock,
                };
                commands::serve::serve(location, options).await
            }
            Command::Plugin { command } => commands::plugin::run(location, command).await,
            Command::Template { command } => commands::template::run(location, command).await,
            Command::Run(args) => commands::run::run(location, args).await,
            Command::Token { command } => commands::token::run(location, command).await,
            Command::Audit { command } => return commands::audit::run(location, command).await,
            Command::Policy { .. } => unreachable!("handled before the runtime starts"),
        }
        .map(|()| std::process::ExitCode::SUCCESS)
    })
}
