//! Guest work runs apart from the API: with every worker spinning in a CPU-bound guest the API
//! still answers, and a full queue of waiting runs refuses a submission with 503 and
//! `Retry-After`, leaving nothing behind.

use std::time::{Duration, Instant};

use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::{Value, json};

/// A server with `workers` workers and `engine` in its lever.yaml, the spinning guest
/// published with a 4-second deadline and fuel enough to reach it.
async fn busy_server(workers: &str, engine: &str) -> Server {
    let config = format!("{}\nengine:\n{engine}", lever_identity::EMBEDDED_CONFIG);
    let server = Server::start_configured(&config, &["--workers", workers]);
    server
        .publish_ok(
            fixture("sandbox_infinite_loop"),
            &[("timeout_ms", "4000"), ("fuel", "1000000000000000")],
        )
        .await;
    server
}

async fn submit(server: &Server) -> (u16, Value) {
    server
        .post_json(
            "/api/v1/runs",
            json!({"action": "sandbox-infinite-loop", "input": {}}),
        )
        .await
}

/// Waits (at most 20 s) until run `id` is `status`.
async fn until_status(server: &Server, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        if run["status"] == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} never became {status}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_answers_while_every_worker_runs_a_cpu_bound_guest() {
    let server = busy_server("2", "  guest_threads: 2\n").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = submit(&server).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        until_status(&server, id, "running").await;
    }
    // Both workers spin until their deadline; the API meanwhile answers, well within a bound
    // generous enough for a loaded CI machine (the figure itself is in BENCHMARKS.md).
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let started = Instant::now();
        let response = client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "/healthz took {:?} with every worker busy",
            started.elapsed()
        );
        let (status, run) = server.get_json(&format!("/api/v1/runs/{}", ids[0])).await;
        assert_eq!(status, 200);
        if run["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The spinning guests end at their deadline, as the sandbox promises.
    for id in &ids {
        let run = server.wait(id).await;
        assert_eq!(run["status"], "failed", "{run:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_run_queue_refuses_a_submission_with_503_and_retry_after_and_keeps_nothing() {
    let server = busy_server("1", "  max_queued_runs: 1\n").await;
    let (status, first) = submit(&server).await;
    assert_eq!(status, 201, "{first}");
    until_status(&server, first["id"].as_str().unwrap(), "running").await;
    // The one worker is busy: the second run waits in the queue, which is then full.
    let (status, second) = submit(&server).await;
    assert_eq!(status, 201, "{second}");
    let response = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"action": "sandbox-infinite-loop", "input": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("engine.max_queued_runs"), "{message}");
    let (_, runs) = server.get_json("/api/v1/runs").await;
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        2,
        "the refused run was not stored: {runs}"
    );
    // Once the queue drains, submissions are accepted again.
    until_status(&server, second["id"].as_str().unwrap(), "running").await;
    let (status, third) = submit(&server).await;
    assert_eq!(status, 201, "{third}");
}
