//! `lever plugin build [DIR]`: finds the project's language, runs its toolchain, checks the
//! result is a component of a Lever world importing only what the host provides, and prints its
//! manifest, size and digest. The component goes to `DIR/build/plugin.wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use sha2::{Digest, Sha256};

use super::new::Lang;

/// Arguments of `lever plugin build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The project (default: the current folder).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Where every language's build leaves the component.
pub(crate) fn output(dir: &Path) -> PathBuf {
    dir.join("build").join("plugin.wasm")
}

/// The project's language, from the files `lever plugin new` writes.
pub(crate) fn detect(dir: &Path) -> anyhow::Result<Lang> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Lang::Rust)
    } else if dir.join("app.py").is_file() {
        Ok(Lang::Python)
    } else if dir.join("app.js").is_file() {
        Ok(Lang::Js)
    } else {
        bail!(
            "{} is not a plugin project: expected Cargo.toml (Rust), app.py (Python) or app.js (JavaScript); start one with `lever plugin new NAME --lang rust|python|js`",
            dir.display()
        )
    }
}

/// The sources a build reads, for telling a stale component.
pub(crate) fn sources(dir: &Path, lang: Lang) -> Vec<PathBuf> {
    match lang {
        Lang::Rust => vec![dir.join("src"), dir.join("Cargo.toml")],
        Lang::Python => vec![dir.join("app.py")],
        Lang::Js => vec![dir.join("app.js")],
    }
}

/// The WIT world a Python or JavaScript project targets. The toolchains take the exports from
/// names the bindings fix (componentize-py the app module's `AdapterHandler` or `ActionHandler`
/// class, componentize-js the `adapterHandler` or `actionHandler` export), so the source says
/// which world it is written for.
fn world(dir: &Path, lang: Lang) -> anyhow::Result<&'static str> {
    let (file, adapter) = match lang {
        Lang::Python => ("app.py", "AdapterHandler"),
        Lang::Js => ("app.js", "adapterHandler"),
        Lang::Rust => return Ok("action"),
    };
    let path = dir.join(file);
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(if source.contains(adapter) {
        "adapter"
    } else {
        "action"
    })
}

pub(crate) async fn build(args: BuildArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    let lang = detect(dir)?;
    let out = output(dir);
    std::fs::create_dir_all(out.parent().expect("build/ has a parent"))?;
    match lang {
        Lang::Rust => build_rust(dir, &out)?,
        Lang::Python => {
            let tool = find(dir, "componentize-py").ok_or_else(|| {
                anyhow::anyhow!(
                    "componentize-py is not installed: `pip install componentize-py==0.25.1` (Python 3.10 or later), then build again"
                )
            })?;
            run(Command::new(tool)
                .current_dir(dir)
                .args(["-d", "wit", "-w", world(dir, lang)?, "componentize", "app"])
                .args(["-p", ".", "-p", "sdk/python", "-o"])
                .arg(absolute(&out)?))?;
        }
        Lang::Js => {
            let tool = find(dir, "componentize-js").ok_or_else(|| {
                anyhow::anyhow!(
                    "componentize-js is not installed: run `npm install` in {} (package.json lists @bytecodealliance/componentize-js), then build again",
                    dir.display()
                )
            })?;
            run(Command::new(tool)
                .current_dir(dir)
                .args(["--wit", "wit", "--world-name", world(dir, lang)?, "-o"])
                .arg(absolute(&out)?)
                .arg("app.js"))?;
        }
    }
    let bytes = std::fs::read(&out).with_context(|| format!("cannot read {}", out.display()))?;
    let harness = lever_harness::Harness::load(&bytes, compile_cache())
        .await
        .with_context(|| format!("{} is not a plugin Lever can run", out.display()))?;
    let m = harness.manifest();
    println!("built {} ({} bytes)", out.display(), bytes.len());
    println!("  {}@{} ({})", m.name, m.version, m.kind.as_str());
    println!("  {}", m.description);
    println!("  grants: {}", m.grants);
    match m.kind {
        lever_sandbox::PluginKind::Action => println!("  risk: {:?}", m.risk),
        // An adapter has no risk of its own: the steps that call its capabilities do.
        lever_sandbox::PluginKind::Adapter => {
            println!("  capabilities: [{}]", m.capabilities.join(", "))
        }
    }
    println!("  sha256:{}", hex::encode(Sha256::digest(&bytes)));
    Ok(())
}

fn build_rust(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(o) = &installed
        && o.status.success()
        && !String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2")
    {
        bail!("the Rust target wasm32-wasip2 is not installed: `rustup target add wasm32-wasip2`");
    }
    run(Command::new("cargo").current_dir(dir).args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
    ]))?;
    let metadata = Command::new("cargo")
        .current_dir(dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).context("cargo metadata did not answer JSON")?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .context("cargo metadata names no target directory")?;
    let name = metadata["packages"][0]["name"]
        .as_str()
        .context("cargo metadata names no package")?
        .replace('-', "_");
    let built = Path::new(target_dir).join(format!("wasm32-wasip2/release/{name}.wasm"));
    std::fs::copy(&built, out)
        .with_context(|| format!("cannot copy {} to {}", built.display(), out.display()))?;
    Ok(())
}

/// Where the local commands keep compiled code: `LEVER_CACHE_DIR`, else `~/.cache/lever`.
pub(crate) fn compile_cache() -> Option<PathBuf> {
    std::env::var_os("LEVER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/lever")))
}

/// `tool` from the project's `node_modules/.bin`, else from `PATH`.
fn find(dir: &Path, tool: &str) -> Option<PathBuf> {
    let local = dir.join("node_modules/.bin").join(tool);
    if local.is_file() {
        return Some(local);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|p| p.join(tool))
        .find(|p| p.is_file())
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{program} failed ({status}); its output above says why");
    }
    Ok(())
}
