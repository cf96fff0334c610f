//! Three `lever serve` nodes on one PostgreSQL database: runs are claimed with leases, a node
//! killed mid-flight loses none of its runs (another node takes them up from the step in flight
//! once its leases run out), no step attempt runs on two nodes at once, a completed step never
//! runs again, an approval's request notification goes out once although every node runs the
//! timers, and a client streaming from a surviving node sees every event of a run that moved.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lever_tests::databases::TestDatabase;
use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::{Value, json};

use crate::approvals::{User, config, prepare_public, stage};

/// A lease short enough that the test waits little for a dead node's runs.
const LEASE_MS: u64 = 1500;

/// Runs of one to four sleeping steps: `n` steps of `ms` each.
const MIXED: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: mixed}
spec:
  owner: group:default/payments
  parameters:
    - properties:
        n: {type: integer}
        ms: {type: integer}
  steps:
    - {id: s1, action: workflow-sleep, input: {ms: "${{ parameters.ms }}"}}
    - {id: s2, action: workflow-sleep, if: "${{ parameters.n >= 2 }}", input: {ms: "${{ parameters.ms }}"}}
    - {id: s3, action: workflow-sleep, if: "${{ parameters.n >= 3 }}", input: {ms: "${{ parameters.ms }}"}}
    - {id: s4, action: workflow-sleep, if: "${{ parameters.n >= 4 }}", input: {ms: "${{ parameters.ms }}"}}
"#;

/// A node on `database` in `dir`; every node but the first is given the first one's admin token.
fn node(database: &TestDatabase, dir: &std::path::Path, admin_token: Option<&str>) -> Server {
    node_on(&database.url, LEASE_MS, dir, admin_token, &[])
}

/// A node on the database at `url` in `dir`, with a lease of `lease_ms` and the `extra`
/// arguments; given `admin_token` when it is not the first node.
pub(crate) fn node_on(
    url: &str,
    lease_ms: u64,
    dir: &std::path::Path,
    admin_token: Option<&str>,
    extra: &[&str],
) -> Server {
    std::fs::write(
        dir.join("lever.yaml"),
        format!(
            "{}\nengine:\n  lease_ms: {lease_ms}\n  guest_threads: 4\n",
            config("")
        ),
    )
    .unwrap();
    if let Some(token) = admin_token {
        std::fs::write(dir.join("admin-token"), token).unwrap();
    }
    let mut args = vec!["--database", url, "--workers", "8"];
    args.extend_from_slice(extra);
    Server::start_in(dir, &args)
}

async fn submit(user: &User, template: &str, parameters: Value) -> String {
    let (status, body) = user
        .post(
            "/api/v1/runs",
            json!({"template": template, "parameters": parameters}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Every stored event of run `id`.
async fn events(server: &Server, id: &str) -> Vec<Value> {
    let (status, body) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().unwrap().clone()
}

/// The ids of the events the stream of run `id` at `url` carries until it ends.
async fn stream(url: String, http: reqwest::Client, id: String) -> Vec<i64> {
    let response = http
        .get(format!("{url}/api/v1/runs/{id}/events"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(chunk) = body.next().await {
            let Ok(chunk) = chunk else { break };
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the stream ends with its run");
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|n| n.trim().parse().unwrap())
        .collect()
}

/// Whether run `id` is in its second step on node `node` (a node may take another's queued
/// run up, so where a run executes is read from its events).
async fn in_second_step_on(server: &Server, id: &str, node: &str) -> bool {
    let events = events(server, id).await;
    let started = events
        .iter()
        .rev()
        .find(|e| e["step_id"] == "s2" && e["kind"] == "step-started");
    let ended = events
        .iter()
        .any(|e| e["step_id"] == "s2" && e["kind"] == "step-succeeded");
    started.is_some_and(|e| e["data"]["node"] == node) && !ended
}

/// One step attempt as its events show it: the node, when it began and, unless the node died
/// first, when it ended.
#[derive(Debug)]
struct Span {
    node: String,
    start: i64,
    end: Option<i64>,
}

/// The attempts of each step of a run, in order, from its events; and how many times each
/// step succeeded.
fn spans(events: &[Value]) -> (BTreeMap<String, Vec<Span>>, BTreeMap<String, usize>) {
    let mut spans: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    let mut succeeded: BTreeMap<String, usize> = BTreeMap::new();
    for event in events {
        let Some(step) = event["step_id"].as_str() else {
            continue;
        };
        let at = event["at_ms"].as_i64().expect("events carry their time");
        match event["kind"].as_str().unwrap() {
            "step-started" => spans.entry(step.into()).or_default().push(Span {
                node: event["data"]["node"].as_str().unwrap().to_string(),
                start: at,
                end: None,
            }),
            kind @ ("step-succeeded" | "step-failed" | "retrying") => {
                if let Some(open) = spans.get_mut(step).and_then(|s| s.last_mut()) {
                    open.end.get_or_insert(at);
                }
                if kind == "step-succeeded" {
                    *succeeded.entry(step.into()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    (spans, succeeded)
}

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_share_the_runs_and_a_killed_node_loses_none() {
    let database = TestDatabase::postgres().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut first = node(&database, dirs[0].path(), None);
    let token = first.admin_token.clone();
    let second = node(&database, dirs[1].path(), Some(&token));
    let third = node(&database, dirs[2].path(), Some(&token));
    first.publish_ok(fixture("workflow_sleep"), &[]).await;
    prepare_public(&first).await;
    first.apply_template(MIXED).await;

    // Approval requests: every node's timer task sees each new stage; one notification goes out.
    let alice_first = User::of(&first, "alice").await;
    let mut gated = Vec::new();
    for _ in 0..3 {
        let (status, body) = alice_first
            .post(
                "/api/v1/runs",
                json!({"template": "provision", "parameters": {"environment": "production"}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        gated.push(body["id"].as_str().unwrap().to_string());
    }

    // 300 runs of mixed lengths, spread over the three nodes; the long ones on the node that
    // will die are followed from a node that survives.
    let users = [
        User::of(&first, "alice").await,
        User::of(&second, "alice").await,
        User::of(&third, "alice").await,
    ];
    let first_node = std::fs::read_to_string(dirs[0].path().join("node-id")).unwrap();
    let mut runs: Vec<String> = Vec::new();
    let mut streams = Vec::new();
    let mut killed_at: Option<i64> = None;
    for i in 0..300usize {
        let followed = i % 12 == 3 && streams.len() < 25 && killed_at.is_none();
        // Once the first node is dead, its share goes to the second.
        let node = match (i % 3, killed_at) {
            (0, Some(_)) => 1,
            (n, _) => n,
        };
        // A followed run is long (four steps of 400 ms) and on the node that will die.
        let ms = if followed { 400 } else { 150 + 50 * (i % 3) };
        let id = submit(&users[node], "mixed", json!({"n": 1 + i % 4, "ms": ms})).await;
        if followed {
            // Streamed from the third node, opened while the run is young.
            let (url, http, id) = (third.url.clone(), third.http.clone(), id.clone());
            streams.push((
                id.clone(),
                tokio::spawn(async move { (id.clone(), stream(url, http, id).await) }),
            ));
        }
        runs.push(id);
        // Kill the first node while it executes a followed run in its second step (so the run
        // has history on the first node and more to do elsewhere), with submissions still
        // arriving.
        if killed_at.is_none()
            && let Some((last, _)) = streams.last()
            && in_second_step_on(&second, last, &first_node).await
        {
            first.kill();
            killed_at = Some(lever_store::now_ms());
        }
    }
    // Not yet: wait for a followed run to be in its second step on the first node.
    let deadline = Instant::now() + Duration::from_secs(60);
    while killed_at.is_none() {
        for (id, _) in &streams {
            if in_second_step_on(&second, id, &first_node).await {
                first.kill();
                killed_at = Some(lever_store::now_ms());
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no followed run was caught in its second step"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_at = killed_at.expect("killed");
    let streams: Vec<_> = streams.into_iter().map(|(_, handle)| handle).collect();

    // The others take its runs up once its leases run out; it comes back later.
    // (The killed node comes back once the others have finished everything, and finds
    // nothing to do again: see the end.)

    let mut moved = Vec::new();
    for id in &runs {
        let run = second.wait(id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let events = events(&second, id).await;
        let (spans, succeeded) = spans(&events);
        for (step, attempts) in &spans {
            assert_eq!(
                succeeded.get(step),
                Some(&1),
                "run {id} step {step} succeeded once: {attempts:?}"
            );
            // A completed step never runs again: the success ends the last attempt.
            assert!(
                attempts.last().unwrap().end.is_some(),
                "run {id} {step}: {attempts:?}"
            );
            // No two attempts at once: each begins after the one before it ended, or after
            // the kill when the one before was the dead node's unfinished attempt.
            for pair in attempts.windows(2) {
                let before = pair[0].end.unwrap_or(killed_at);
                assert!(
                    pair[1].start >= before,
                    "run {id} {step}: attempts overlap: {attempts:?}"
                );
            }
        }
        let nodes: std::collections::BTreeSet<&str> =
            spans.values().flatten().map(|s| s.node.as_str()).collect();
        if nodes.len() > 1 {
            moved.push(id.clone());
        }
    }
    assert!(
        !moved.is_empty(),
        "no run moved from the killed node to another"
    );

    // A stream on a surviving node saw every event of its run, moved or not, in order.
    let mut moved_streams = 0;
    for handle in streams {
        let (id, seen) = handle.await.unwrap();
        let all = events(&second, &id).await;
        let stored: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        let kinds: Vec<(i64, &str)> = all
            .iter()
            .map(|e| (e["id"].as_i64().unwrap(), e["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(seen, stored, "the stream of {id} missed events: {kinds:?}");
        moved_streams += usize::from(moved.contains(&id));
    }
    println!(
        "{} of 300 runs moved nodes; {moved_streams} of them followed by a stream",
        moved.len()
    );
    assert!(moved_streams > 0, "no followed run moved nodes");

    // Each gated run's stage asked its approver once, with three nodes running the timers.
    let carol = User::of(&second, "carol").await;
    for id in &gated {
        let lead = stage(&second, id, "team-lead").await;
        let stage_id = lead["id"].as_str().unwrap();
        let (_, body) = carol.get("/api/v1/notifications").await;
        let requests = body["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["stage_id"] == stage_id && n["kind"] == "approval-requested")
            .count();
        assert_eq!(requests, 1, "stage {stage_id} asked {requests} times");
    }

    // The killed node comes back on its data dir (the same node id): nothing runs again.
    let before: usize = events(&second, &runs[0]).await.len();
    let restarted = node(&database, dirs[0].path(), None);
    tokio::time::sleep(Duration::from_millis(2 * LEASE_MS)).await;
    for id in &moved {
        let run = restarted.wait(id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let (_, succeeded) = spans(&events(&restarted, id).await);
        assert!(succeeded.values().all(|n| *n == 1), "{id}: {succeeded:?}");
    }
    assert_eq!(events(&second, &runs[0]).await.len(), before);
}
