//! A node cut off from PostgreSQL, then back: two `lever serve` nodes on one database, node A
//! reaching it through a TCP proxy that stops forwarding for a while (connections held open,
//! nothing closed) while A executes runs, with a 2 s lease. Node B takes A's runs over;
//! when forwarding resumes, A's in-flight transactions and its finished guest work arrive late.
//! Whatever the timing — cut during a long step, during the commits of short ones, across
//! heartbeats — every run succeeds, each step is recorded as succeeded once, each log line is
//! stored once, and A is healthy again (`docs/operations.md`, fencing tokens).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lever_tests::databases::TestDatabase;
use lever_tests::guests::{fixture, plugins_dir};
use lever_tests::proxy::Proxy;
use serde_json::{Value, json};

use crate::approvals::User;
use crate::cluster::node_on;

const LEASE_MS: u64 = 2000;

/// Sleeping steps between steps that log a line naming the run's tag.
const STEPS: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: partitioned}
spec:
  owner: group:default/payments
  parameters:
    - properties:
        ms: {type: integer}
        tag: {type: string}
  steps:
    - {id: s1, action: workflow-sleep, input: {ms: "${{ parameters.ms }}"}}
    - {id: log1, action: debug:log, input: {message: "one ${{ parameters.tag }}"}}
    - {id: s2, action: workflow-sleep, input: {ms: "${{ parameters.ms }}"}}
    - {id: log2, action: debug:log, input: {message: "two ${{ parameters.tag }}"}}
    - {id: s3, action: workflow-sleep, input: {ms: "${{ parameters.ms }}"}}
    - {id: log3, action: debug:log, input: {message: "three ${{ parameters.tag }}"}}
"#;

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.split_once('@').unwrap();
    let (_, path) = rest.split_once('/').unwrap();
    format!("{scheme}://{credentials}@{addr}/{path}")
}

/// Whether every run of `ids` has started its first step on `node`.
async fn all_started_on(store: &lever_store::Store, ids: &[String], node: &str) -> bool {
    for id in ids {
        let events = store.run_events(id, 0).await.unwrap();
        if !events.iter().any(|e| {
            e.kind == "step-started" && e.data.get("node").and_then(Value::as_str) == Some(node)
        }) {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_cut_off_from_postgresql_and_back_never_stores_a_step_twice() {
    let database = TestDatabase::postgres().await;
    let store = lever_store::Store::connect(&database.url).await.unwrap();
    let target = database
        .url
        .split_once('@')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .to_string();
    let target = tokio::net::lookup_host(&target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plugins = plugins_dir().to_string_lossy().into_owned();
    let a = node_on(
        &through(&database.url, proxy.addr),
        LEASE_MS,
        dir_a.path(),
        None,
        &["--publish", &plugins],
    );
    a.publish_ok(fixture("workflow_sleep"), &[]).await;
    a.apply_template(STEPS).await;
    let node_a = std::fs::read_to_string(dir_a.path().join("node-id")).unwrap();
    let alice = User::of(&a, "alice").await;

    // (name, step ms, how long after every run started on A the cut comes, how long it lasts)
    let trials = [
        ("during a long step", 2500, 300, 6000),
        ("during the commits of short steps", 400, 0, 6000),
        ("across heartbeats", 1200, 700, 6000),
        // Healed about when B claims A's runs (their leases run out 2 s after A's last
        // renewal, B looks every second): A's late commits race B's claims.
        ("healed as the other node takes over", 300, 0, 2700),
    ];
    let mut moved = 0;
    for (trial, ms, delay, cut_ms) in trials {
        let mut ids = Vec::new();
        // Fewer than A's workers: every run is in flight on A when the cut comes.
        for i in 0..6 {
            let (status, body) = alice
                .post(
                    "/api/v1/runs",
                    json!({"template": "partitioned", "parameters": {"ms": ms, "tag": format!("{trial} {i}")}}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_string());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !all_started_on(&store, &ids, &node_a).await {
            assert!(
                Instant::now() < deadline,
                "{trial}: A did not start its runs"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // B starts once A holds every run (submitted runs are offered to every node, and B,
        // nearer the database, would win them).
        let b = node_on(
            &database.url,
            LEASE_MS,
            dir_b.path(),
            Some(&a.admin_token),
            &[],
        );
        tokio::time::sleep(Duration::from_millis(delay)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(cut_ms)).await;
        proxy.heal();

        for id in &ids {
            let run = b.wait(id).await;
            let run = if run["status"] == "succeeded" {
                run
            } else {
                b.wait(id).await
            };
            assert_eq!(run["status"], "succeeded", "{trial}: {run:#}");
            let events = store.run_events(id, 0).await.unwrap();
            let mut succeeded: BTreeMap<String, usize> = BTreeMap::new();
            let mut nodes = std::collections::BTreeSet::new();
            for event in &events {
                if event.kind == "step-succeeded" {
                    *succeeded
                        .entry(event.step_id.clone().unwrap_or_default())
                        .or_default() += 1;
                }
                if event.kind == "step-started"
                    && let Some(node) = event.data.get("node").and_then(Value::as_str)
                {
                    nodes.insert(node.to_string());
                }
            }
            assert_eq!(succeeded.len(), 6, "{trial} {id}: {succeeded:?}");
            assert!(
                succeeded.values().all(|n| *n == 1),
                "{trial} {id}: a step recorded as succeeded twice: {succeeded:?}"
            );
            let mut lines: BTreeMap<String, usize> = BTreeMap::new();
            for line in store.run_logs(id).await.unwrap() {
                *lines.entry(line.line.message).or_default() += 1;
            }
            assert!(
                lines.values().all(|n| *n == 1),
                "{trial} {id}: a log line stored twice: {lines:?}"
            );
            assert_eq!(lines.len(), 3, "{trial} {id}: {lines:?}");
            moved += usize::from(nodes.len() > 1);
        }
        // A answers again once it reaches the database.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, _) = a.get_json("/readyz").await;
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "{trial}: A is not ready again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!("{trial}: {moved} runs moved so far");
        drop(b);
    }
    assert!(moved > 0, "no run moved from the cut-off node to the other");
}
