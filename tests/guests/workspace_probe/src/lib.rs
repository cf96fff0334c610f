//! A plugin that probes its workspace: writes and reads back a file in `/workspace`, reads the
//! template's files from `LEVER_TEMPLATE_DIR`, and tries every way out — an absolute host
//! path, `..` from the workspace, writing into the read-only template, following a symbolic
//! link placed in the workspace — reporting what each attempt did. With `fill`, writes that
//! many bytes (to pass the quota).
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// Bytes to write into `/workspace/fill.bin`.
    #[serde(default)]
    fill: u64,
    /// A file of the template's folder to read (relative to `LEVER_TEMPLATE_DIR`).
    #[serde(default)]
    read: Option<String>,
}

fn outcome<T>(r: std::io::Result<T>) -> Value {
    match r {
        Ok(_) => json!("ok"),
        Err(e) => json!(format!("refused: {e}")),
    }
}

#[action(
    name = "workspace-probe",
    version = "0.1.0",
    description = "Probes the run's workspace",
    workspace = true
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let mut report = serde_json::Map::new();
    report.insert(
        "write".into(),
        outcome(std::fs::write(
            "/workspace/hello.txt",
            b"hello from the sandbox",
        )),
    );
    report.insert(
        "read_back".into(),
        json!(std::fs::read_to_string("/workspace/hello.txt").unwrap_or_default()),
    );
    let template_dir = std::env::var("LEVER_TEMPLATE_DIR").unwrap_or_default();
    report.insert("template_dir".into(), json!(template_dir));
    if let Some(file) = &input.read {
        report.insert(
            "template_file".into(),
            json!(
                std::fs::read_to_string(format!("{template_dir}/{file}"))
                    .unwrap_or_else(|e| format!("refused: {e}"))
            ),
        );
    }
    report.insert("etc_passwd".into(), outcome(std::fs::read("/etc/passwd")));
    report.insert(
        "dot_dot".into(),
        outcome(std::fs::read("/workspace/../../../../etc/passwd")),
    );
    report.insert(
        "write_template".into(),
        outcome(std::fs::write(format!("{template_dir}/planted.txt"), b"x")),
    );
    // The link itself is in the workspace; what it points at is not.
    report.insert(
        "link_present".into(),
        outcome(std::fs::symlink_metadata("/workspace/outside")),
    );
    report.insert(
        "through_link".into(),
        outcome(std::fs::read("/workspace/outside/passwd")),
    );
    if input.fill > 0 {
        report.insert(
            "fill".into(),
            outcome(std::fs::write(
                "/workspace/fill.bin",
                vec![b'x'; input.fill as usize],
            )),
        );
    }
    Ok(Value::Object(report))
}
