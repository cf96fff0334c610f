//! `cargo run --release -p lever-bench -- plugins`: what a plugin costs in each SDK language.
//!
//! For Rust, Python and JavaScript, `lever plugin new` writes a project, its action is replaced
//! by one that returns its input (the same work as `tests/guests/bench_noop`), and
//! `lever plugin build` builds it with the language's toolchain. Then, in this process and on
//! the server's sandbox:
//!
//! - size: the component's bytes;
//! - cold compile: `Sandbox::load` with no compile cache, as a publish of new bytes pays it;
//! - step overhead: `Sandbox::run` of the trivial action (fresh `Store`, instantiate, schema
//!   checks, call, drop), the median of many;
//! - memory per instance: the smallest `memory_bytes` limit under which that run still
//!   succeeds (to a wasm page), i.e. the linear memory an instance needs.
//!
//! Beside them, what keeping a step's HTTP exchanges for replay costs: the first-party
//! `http-request` plugin's GET of a local server, with the recording the engine keeps for every
//! step attempt (bodies buffered, bounded, masked) against none.
//!
//! The `lever` binary only drives the toolchains here, so a debug one does
//! (`LEVER_BENCH_BINARY=target/debug/lever`); without it a release one is built.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lever_sandbox::{
    Call, Grants, HttpPolicy, HttpRecording, Limits, Plugin, Sandbox, SandboxConfig,
};
use serde_json::json;

use crate::{median, us};

const RUST_NOOP: &str = r#"//! Returns its input.
use lever_sdk::{ActionError, Context, action};
use serde_json::Value;

#[action(name = "bench-noop-rust", version = "0.1.0", description = "Returns its input")]
fn run(_ctx: &Context, input: Value) -> Result<Value, ActionError> {
    Ok(input)
}
"#;

const PYTHON_NOOP: &str = r#""""Returns its input."""
from lever_sdk import ActionHandler, action  # noqa: F401


@action(name="bench-noop-python", version="0.1.0", description="Returns its input",
        input_schema={"type": "object"}, output_schema={"type": "object"})
def run(ctx, input):
    return input
"#;

const JS_NOOP: &str = r#"// Returns its input.
import { action } from "./sdk/js/lever-sdk.js";
export const actionHandler = action({
  name: "bench-noop-js", version: "0.1.0", description: "Returns its input",
  inputSchema: { type: "object" }, outputSchema: { type: "object" },
  async run(ctx, input) { return input; },
});
"#;

/// One language's project: its `--lang`, the source file replaced, and the no-op put there.
const LANGUAGES: [(&str, &str, &str); 3] = [
    ("rust", "src/lib.rs", RUST_NOOP),
    ("python", "app.py", PYTHON_NOOP),
    ("js", "app.js", JS_NOOP),
];

/// One language's figures.
struct Figures {
    size: usize,
    build: Duration,
    compile: Duration,
    step: Duration,
    steps: usize,
    memory: u64,
}

/// Builds the three no-op plugins with `lever` and measures them on `call`.
pub async fn run(lever: &Path, call: &Call) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!("lever-bench-plugins-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut rows = Vec::new();
    for (lang, source, noop) in LANGUAGES {
        let dir = work.join(lang);
        let name = format!("bench-noop-{lang}");
        lever_command(
            lever,
            &["plugin", "new", &name, "--lang", lang, "--dir"],
            &dir,
        )?;
        std::fs::write(dir.join(source), noop)?;
        let started = Instant::now();
        lever_command(lever, &["plugin", "build"], &dir)?;
        let build = started.elapsed();
        let bytes = std::fs::read(dir.join("build/plugin.wasm"))?;
        rows.push(measure(&bytes, build, call).await?);
        eprintln!("measured {lang}");
    }
    std::fs::remove_dir_all(&work).ok();

    println!("| figure | Rust | Python | JavaScript |");
    println!("| --- | --- | --- | --- |");
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = rows.iter().map(cell).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("component size", &|f| {
        format!("{:.2} MB", f.size as f64 / 1e6)
    });
    row("`lever plugin build` (toolchain, warm caches)", &|f| {
        format!("{:.1} s", f.build.as_secs_f64())
    });
    row(
        "cold compile at publish (`Sandbox::load`, no cache), median of 3",
        &|f| format!("{:.2} s", f.compile.as_secs_f64()),
    );
    row(
        "step overhead (fresh Store + instantiate + trivial run + drop), median",
        &|f| format!("{:.1} µs ({} runs)", us(f.step), f.steps),
    );
    row(
        "memory per instance (smallest `memory_bytes` that runs it)",
        &|f| format!("{:.2} MiB", f.memory as f64 / (1 << 20) as f64),
    );
    let rust = &rows[0];
    row("step overhead / Rust's", &|f| {
        format!("{:.1}×", f.step.as_secs_f64() / rust.step.as_secs_f64())
    });
    recording_overhead(call).await
}

/// One GET through `http-request`, recorded for replay as the engine does and not, interleaved.
async fn recording_overhead(call: &Call) -> anyhow::Result<()> {
    let greetings = lever_tests::fakes::greetings::FakeGreetings::start("bench").await;
    let sandbox = Sandbox::new(&SandboxConfig::default())?;
    let compiled = sandbox.load(&lever_tests::guests::plugin("http_request"))?;
    let manifest = sandbox.describe(&compiled).await?;
    let plugin = Plugin::new(
        compiled,
        manifest,
        Limits::default(),
        Grants {
            hosts: vec![greetings.authority()],
            ..Grants::default()
        },
    )?;
    let input = json!({
        "url": format!("{}/greeting?name=bench", greetings.base_url()),
        "headers": {"authorization": "Bearer bench"},
    });
    let (mut plain, mut recorded) = (Vec::new(), Vec::new());
    for i in 0..1_100 {
        let mut recording = call.clone();
        recording.http = HttpPolicy {
            record: Some(HttpRecording::new(16 * 1024, 200)),
            answers: None,
        };
        for (calls, samples) in [(call, &mut plain), (&recording, &mut recorded)] {
            let started = Instant::now();
            sandbox.run(&plugin, calls, &input).await?;
            if i >= 100 {
                samples.push(started.elapsed());
            }
        }
    }
    let (plain, recorded) = (median(plain), median(recorded));
    println!();
    println!(
        "a step's GET through `http-request`: {:.0} µs unrecorded, {:.0} µs recorded for replay (median of 1,000 each, interleaved): {:+.0} µs ({:+.1} %)",
        us(plain),
        us(recorded),
        us(recorded) - us(plain),
        (recorded.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}

/// Runs `lever ARGS DIR`, failing with its output when it does not succeed.
fn lever_command(lever: &Path, args: &[&str], dir: &Path) -> anyhow::Result<()> {
    let output = Command::new(lever).args(args).arg(dir).output()?;
    anyhow::ensure!(
        output.status.success(),
        "lever {} {} failed:\n{}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

async fn measure(bytes: &[u8], build: Duration, call: &Call) -> anyhow::Result<Figures> {
    // A sandbox without a compile cache: every load compiles, as a first publish does.
    let sandbox = Sandbox::new(&SandboxConfig::default())?;
    let mut compiles = Vec::new();
    let mut compiled = None;
    for _ in 0..3 {
        let started = Instant::now();
        compiled = Some(sandbox.load(bytes)?);
        compiles.push(started.elapsed());
    }
    let compiled = compiled.expect("three loads");
    let manifest = sandbox.describe(&compiled).await?;
    let plugin = |memory_bytes: u64| {
        Plugin::new(
            compiled.clone(),
            manifest.clone(),
            Limits {
                fuel: u64::MAX / 2,
                memory_bytes,
                ..Limits::default()
            },
            Grants::default(),
        )
    };
    let input = json!({"message": "hi"});

    // Step overhead: warm up, then as many runs as fit in about five seconds (at least 50).
    let generous = plugin(Limits::default().memory_bytes)?;
    let first = Instant::now();
    sandbox.run(&generous, call, &input).await?;
    let estimate = first.elapsed().max(Duration::from_micros(1));
    let steps =
        ((Duration::from_secs(5).as_nanos() / estimate.as_nanos()) as usize).clamp(50, 20_000);
    for _ in 0..steps / 10 {
        sandbox.run(&generous, call, &input).await?;
    }
    let mut samples = Vec::with_capacity(steps);
    for _ in 0..steps {
        let started = Instant::now();
        sandbox.run(&generous, call, &input).await?;
        samples.push(started.elapsed());
    }

    // Memory: bisect the cap between one page (fails) and the default (runs), to a page.
    const PAGE: u64 = 64 * 1024;
    let (mut low, mut high) = (PAGE, Limits::default().memory_bytes);
    while high - low > PAGE {
        let mid = (low + high) / 2 / PAGE * PAGE;
        // Any failure counts as too little: a guest's allocator may fail its own way first.
        match sandbox.run(&plugin(mid)?, call, &input).await {
            Ok(_) => high = mid,
            Err(_) => low = mid,
        }
    }

    Ok(Figures {
        size: bytes.len(),
        build,
        compile: median(compiles),
        step: median(samples),
        steps,
        memory: high,
    })
}
