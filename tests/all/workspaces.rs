//! Per-run workspaces: a template run lends `/workspace` (read-write, kept across its steps)
//! and its bundle at `/template` (read-only) to the plugins that ask for them; nothing else of
//! the host is reachable — not an absolute path, not `..`, not a symbolic link planted in the
//! workspace, not a write into the template; a step that fills the workspace past its quota
//! fails with `workspace-quota`; the workspace is removed when a run succeeds and kept after a
//! failure.

use std::time::{Duration, Instant};

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: probe
spec:
  parameters:
    - properties:
        fill: {type: integer, default: 0}
  steps:
    - id: first
      action: workspace-probe
    - id: pause
      action: workflow-sleep
      input:
        ms: 1500
    - id: probe
      action: workspace-probe
      input:
        read: skeleton/greeting.txt
    - id: list
      action: debug:log
      input:
        message: listing
        listWorkspace: true
    - id: fill
      action: workspace-probe
      input:
        fill: ${{ parameters.fill }}
";

fn bundle() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in [
        ("templates/probe/template.yaml", TEMPLATE.as_bytes()),
        (
            "templates/probe/skeleton/greeting.txt",
            b"hello from the bundle".as_slice(),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {run:#}"))
}

#[tokio::test]
async fn a_run_lends_its_workspace_and_nothing_else_of_the_host() {
    let config = format!(
        "{}\nworkspace:\n  max_bytes_per_run: 1000000\n",
        lever_identity::EMBEDDED_CONFIG
    );
    let server = Server::start_configured(&config, &[]);
    server.publish_ok(fixture("workspace_probe"), &[]).await;
    server.publish_ok(fixture("workflow_sleep"), &[]).await;
    server.publish_ok(plugin("debug_log"), &[]).await;
    let applied = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(bundle())
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status().as_u16(), 201, "{:?}", applied.text().await);

    // A run that fills its workspace past the quota.
    let (status, submitted) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "probe", "parameters": {"fill": 2_000_000}}),
        )
        .await;
    assert_eq!(status, 201, "{submitted}");
    let id = submitted["id"].as_str().unwrap().to_string();
    // While the run sleeps, plant a link to the host's /etc in its workspace.
    let work = server.data_dir.join("workspaces").join(&id).join("work");
    let started = Instant::now();
    while !work.join("hello.txt").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no workspace at {}",
            work.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::os::unix::fs::symlink("/etc", work.join("outside")).unwrap();
    let run = server.wait(&id).await;

    let probe = &step(&run, "probe")["output"];
    assert_eq!(probe["write"], "ok", "{probe:#}");
    assert_eq!(probe["read_back"], "hello from the sandbox");
    assert_eq!(probe["template_dir"], "/template/templates/probe");
    assert_eq!(probe["template_file"], "hello from the bundle");
    assert_eq!(probe["link_present"], "ok", "{probe:#}");
    for attempt in ["etc_passwd", "dot_dot", "write_template", "through_link"] {
        assert!(
            probe[attempt].as_str().unwrap().starts_with("refused"),
            "{attempt}: {probe:#}"
        );
    }
    // debug:log's listWorkspace sees the files the earlier steps wrote.
    let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    assert!(
        events.to_string().contains("hello.txt (22 bytes)"),
        "{events}"
    );
    // The quota.
    assert_eq!(
        step(&run, "fill")["error"]["kind"],
        "workspace-quota",
        "{run:#}"
    );
    assert_ne!(run["status"], "succeeded", "{run:#}");
    // Kept after the failure, for debugging.
    assert!(work.join("hello.txt").exists());

    // A run that stays under the quota succeeds, and its workspace goes with it.
    let ok = server.run_template("probe", json!({"fill": 1000})).await;
    assert_eq!(ok["status"], "succeeded", "{ok:#}");
    let gone = server
        .data_dir
        .join("workspaces")
        .join(ok["id"].as_str().unwrap());
    assert!(!gone.exists(), "{} is still there", gone.display());
}
