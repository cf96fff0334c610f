//! Run events are pushed to the streams: a client of one node follows a run that another node
//! executes on the same PostgreSQL database (LISTEN/NOTIFY), without notifications it still
//! sees every event (the streams' fallback read), and a reconnecting stream resumes after its
//! `Last-Event-ID`.

use std::time::Duration;

use futures::StreamExt;
use lever_tests::databases::TestDatabase;
use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};

const PAUSING: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: pausing\nspec:\n  steps:\n    - {id: first, action: debug-log, input: {message: one}}\n    - {id: fragile, action: workflow-fail, onFailure: manual, input: {kind: fatal, message: broken}}\n    - {id: last, action: debug-log, input: {message: three}}\n";

/// A node on `database` whose lever.yaml adds `events`; `admin_token` is the first node's.
fn node(
    database: &TestDatabase,
    events: &str,
    admin_token: Option<&str>,
) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lever.yaml"),
        format!("{}\nevents:\n{events}", lever_identity::EMBEDDED_CONFIG),
    )
    .unwrap();
    if let Some(token) = admin_token {
        // The admin token is printed only by the first node to start on a database.
        std::fs::write(dir.path().join("admin-token"), token).unwrap();
    }
    let server = Server::start_in(dir.path(), &["--database", &database.url]);
    (server, dir)
}

/// A paused run of the `pausing` template, submitted to `server`.
async fn paused_run(server: &Server) -> String {
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(fixture("workflow_fail"), &[]).await;
    server.apply_template(PAUSING).await;
    let (status, body) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "pausing", "parameters": {}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "paused", "{run:#}");
    id
}

/// The `(id, event)` pairs of `server`'s event stream of run `id` until it ends, which must be
/// within `within`.
async fn follow(
    server: &Server,
    id: &str,
    last_event_id: Option<i64>,
    opened: tokio::sync::oneshot::Sender<()>,
    within: Duration,
) -> Vec<(i64, String)> {
    let mut request = server
        .http
        .get(format!("{}/api/v1/runs/{id}/events", server.url))
        .header("accept", "text/event-stream");
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    let _ = opened.send(());
    if response.status() == 204 {
        return Vec::new();
    }
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    tokio::time::timeout(within, async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the stream did not end within {within:?}; it carried:\n{text}"));
    let mut events = Vec::new();
    let mut current: Option<i64> = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("id: ") {
            current = Some(n.trim().parse().unwrap());
        } else if let Some(kind) = line.strip_prefix("event: ") {
            events.push((
                current.expect("each event has an id"),
                kind.trim().to_string(),
            ));
        }
    }
    events
}

/// Follows run `id` on `watcher` while `runner` skips its paused step; answers what the
/// stream carried.
async fn follow_while_skipping(
    watcher: &Server,
    runner: &Server,
    id: &str,
    within: Duration,
) -> Vec<(i64, String)> {
    let (opened, is_open) = tokio::sync::oneshot::channel();
    let follower = follow(watcher, id, None, opened, within);
    let skip = async {
        is_open.await.unwrap();
        // Let the stream make its first read and start waiting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, body) = runner
            .post_json(&format!("/api/v1/runs/{id}/steps/fragile/skip"), json!({}))
            .await;
        assert_eq!(status, 202, "{body}");
    };
    let (events, ()) = tokio::join!(follower, skip);
    events
}

fn kinds(events: &[(i64, String)]) -> Vec<&str> {
    events.iter().map(|(_, k)| k.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_on_one_node_follows_a_run_on_another_through_postgres_notifications() {
    let database = TestDatabase::postgres().await;
    // The watching node reads the table only once a minute on its own: within the test's
    // bound only a notification can wake it.
    let (watcher, _w) = node(&database, "  poll_fallback_ms: 60000\n", None);
    let (runner, _r) = node(&database, "  notify: true\n", Some(&watcher.admin_token));
    let id = paused_run(&runner).await;
    let events = follow_while_skipping(&watcher, &runner, &id, Duration::from_secs(20)).await;
    let kinds = kinds(&events);
    assert!(kinds.contains(&"step-skipped"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"run-finished"), "{kinds:?}");
    let finished: Value = runner.get_json(&format!("/api/v1/runs/{id}")).await.1;
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_notifications_a_stream_still_sees_every_event_by_reading_the_table() {
    let database = TestDatabase::postgres().await;
    let (watcher, _w) = node(&database, "  poll_fallback_ms: 200\n", None);
    // The running node sends no notification (as behind a pooler that breaks LISTEN).
    let (runner, _r) = node(&database, "  notify: false\n", Some(&watcher.admin_token));
    let id = paused_run(&runner).await;
    let events = follow_while_skipping(&watcher, &runner, &id, Duration::from_secs(20)).await;
    // Every stored event, in order, none twice.
    let (_, stored) = runner.get_json(&format!("/api/v1/runs/{id}/events")).await;
    let stored: Vec<(i64, String)> = stored["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(events, stored);
    assert_eq!(kinds(&events).last(), Some(&"run-finished"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnecting_stream_resumes_after_its_last_event_id() {
    let server = Server::start();
    let id = paused_run(&server).await;
    let (status, body) = server
        .post_json(&format!("/api/v1/runs/{id}/steps/fragile/skip"), json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(server.wait(&id).await["status"], "succeeded");
    let (opened, _) = tokio::sync::oneshot::channel();
    let all = follow(&server, &id, None, opened, Duration::from_secs(20)).await;
    assert!(all.len() > 4, "{all:?}");
    let seen = all[2].0;
    let (opened, _) = tokio::sync::oneshot::channel();
    let resumed = follow(&server, &id, Some(seen), opened, Duration::from_secs(20)).await;
    assert_eq!(
        resumed,
        all[3..].to_vec(),
        "exactly the events after {seen}"
    );
}

const SLEEPING: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: sleeping\nspec:\n  steps:\n    - {id: nap, action: workflow-sleep, input: {ms: 1500}}\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_on_one_node_returns_when_the_run_ends_on_another() {
    let database = TestDatabase::postgres().await;
    let (watcher, _w) = node(&database, "  poll_fallback_ms: 60000\n", None);
    let (runner, _r) = node(&database, "  notify: true\n", Some(&watcher.admin_token));
    runner.publish_ok(fixture("workflow_sleep"), &[]).await;
    runner.apply_template(SLEEPING).await;
    let (status, body) = runner
        .post_json(
            "/api/v1/runs",
            json!({"template": "sleeping", "parameters": {}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let (status, run) = watcher
        .get_json(&format!("/api/v1/runs/{id}?wait=50"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(run["status"], "succeeded", "{run:#}");
    // Only the runner's notification could end the wait this early: the watcher reads the
    // table on its own once a minute, and the wait would otherwise last its 50 seconds.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the wait returned after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_of_a_finished_single_action_run_ends_and_a_reconnect_gets_204() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    let run = server.run("debug-log", json!({"message": "hi"})).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let id = run["id"].as_str().unwrap();
    // A single-action run is a one-step template run: its stream ends with its `run-finished`.
    let (opened, _) = tokio::sync::oneshot::channel();
    let events = follow(&server, id, None, opened, Duration::from_secs(20)).await;
    let last = events.last().map_or(0, |(n, _)| *n);
    let response = server
        .http
        .get(format!("{}/api/v1/runs/{id}/events", server.url))
        .header("accept", "text/event-stream")
        .header("last-event-id", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "nothing more will come");
}
