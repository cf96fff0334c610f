//! `lever plugin new NAME --lang rust|python|js`: a plugin project from the templates embedded
//! in the binary (`sdk/templates/<lang>/`), with the WIT contract and the language's SDK copied
//! in, so the project builds wherever it is, without a checkout of Lever.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use include_dir::{Dir, include_dir};

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/templates");
static WIT: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../wit");
static RUST_SDK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/rust");
static RUST_MACROS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/rust-macros");
static ADAPTER_SDK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/adapter");
static PYTHON_SDK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/python");
static JS_SDK: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../sdk/js");

/// A plugin's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Lang {
    /// Rust, built with cargo for wasm32-wasip2.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

impl Lang {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// A template step (`lever:plugin/action-handler`).
    Action,
    /// A provider adapter implementing a capability (`lever:plugin/adapter-handler`).
    Adapter,
}

/// Arguments of `lever plugin new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The plugin's name: lowercase letters, digits and dashes (`create-bucket`).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// What to write: an action (a template step) or an adapter (a provider behind a
    /// capability; the template implements `notifier`).
    #[arg(long, value_enum, default_value = "action")]
    kind: Kind,
    /// Where to write the project (default: a new folder named after the plugin).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn new(args: NewArgs) -> anyhow::Result<()> {
    lever_registry::check_name(&args.name)
        .map_err(|e| anyhow::anyhow!("`{}` cannot name a plugin: {e}", args.name))?;
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} already exists and is not empty: choose another --dir or remove it",
            dir.display()
        );
    }
    let template = match args.kind {
        Kind::Action => args.lang.as_str().to_string(),
        Kind::Adapter => format!("{}-adapter", args.lang.as_str()),
    };
    let template = TEMPLATES
        .get_dir(&template)
        .expect("every language has a template of each kind");
    write_dir(template, &dir, Some(&args.name))?;
    write_dir(&WIT, &dir.join("wit"), None)?;
    match args.lang {
        Lang::Rust => {
            write_dir(&RUST_SDK, &dir.join("sdk/rust"), None)?;
            match args.kind {
                Kind::Action => write_dir(&RUST_MACROS, &dir.join("sdk/rust-macros"), None)?,
                // The adapter SDK shares the Rust SDK's HTTP client (sdk/rust/src/http.rs).
                Kind::Adapter => write_dir(&ADAPTER_SDK, &dir.join("sdk/adapter"), None)?,
            }
        }
        Lang::Python => write_dir(&PYTHON_SDK, &dir.join("sdk/python"), None)?,
        Lang::Js => write_dir(&JS_SDK, &dir.join("sdk/js"), None)?,
    }
    let kind = match args.kind {
        Kind::Action => "action",
        Kind::Adapter => "adapter",
    };
    println!(
        "wrote {} ({} {kind} `{}`)\nnext: lever plugin build {0} && lever plugin test {0}",
        dir.display(),
        args.lang.as_str(),
        args.name
    );
    Ok(())
}

/// Writes every file of `source` under `target`, with `{{name}}` replaced in templates.
fn write_dir(source: &Dir<'_>, target: &Path, name: Option<&str>) -> anyhow::Result<()> {
    for file in walk(source) {
        // Paths in an embedded directory are relative to its root.
        let path = target.join(strip_root(source, file.path()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let bytes = match (name, file.contents_utf8()) {
            (Some(name), Some(text)) => text.replace("{{name}}", name).into_bytes(),
            _ => file.contents().to_vec(),
        };
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn strip_root<'a>(root: &Dir<'_>, path: &'a Path) -> &'a Path {
    path.strip_prefix(root.path()).unwrap_or(path)
}

fn walk<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files: Vec<_> = dir.files().collect();
    for sub in dir.dirs() {
        // Caches a local run of the SDK may leave behind never travel.
        let skipped = sub
            .path()
            .file_name()
            .is_some_and(|n| n == "__pycache__" || n == "target" || n == "node_modules");
        if !skipped {
            files.extend(walk(sub));
        }
    }
    files
}
