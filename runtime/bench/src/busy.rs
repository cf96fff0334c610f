//! `lever-bench busy`: how the API answers while every worker spins in a CPU-bound guest —
//! `/healthz` p50/p99 with the guests on their own threads (`engine.guest_threads`, the
//! default) and, in the same run, on the API's threads (`guest_threads: 0`, as before).

use std::time::{Duration, Instant};

use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::json;

const WORKERS: &str = "2";
const SAMPLES: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `/healthz` latencies while `WORKERS` runs spin, on a server whose `engine:` is `engine`.
async fn healthz_while_busy(engine: &str) -> anyhow::Result<(Duration, Duration, usize)> {
    let config = format!("{}\nengine:\n{engine}", lever_identity::EMBEDDED_CONFIG);
    let server = Server::start_configured(&config, &["--workers", WORKERS]);
    server
        .publish_ok(
            fixture("sandbox_infinite_loop"),
            &[("timeout_ms", "60000"), ("fuel", "1000000000000000")],
        )
        .await;
    let mut ids = Vec::new();
    for _ in 0..WORKERS.parse::<usize>()? {
        let (status, body) = server
            .post_json(
                "/api/v1/runs",
                json!({"action": "sandbox-infinite-loop", "input": {}}),
            )
            .await;
        anyhow::ensure!(status == 201, "submit: {body}");
        ids.push(body["id"].as_str().unwrap_or_default().to_string());
    }
    for id in &ids {
        loop {
            let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
            if run["status"] == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let client = reqwest::Client::new();
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        client
            .get(format!("{}/healthz", server.url))
            .send()
            .await?
            .error_for_status()?;
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every sample was taken while the guests still ran (they spin for 60 s).
    let (_, run) = server.get_json(&format!("/api/v1/runs/{}", ids[0])).await;
    anyhow::ensure!(
        run["status"] == "running",
        "the guests ended before the samples did"
    );
    samples.sort();
    Ok((
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len(),
    ))
}

/// `lever-bench busy`.
pub(crate) async fn run() -> anyhow::Result<()> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (label, engine) in [
        (
            "guests on their own threads (guest_threads: 2)",
            "  guest_threads: 2\n",
        ),
        (
            "guests on the API's threads (guest_threads: 0)",
            "  guest_threads: 0\n",
        ),
    ] {
        let (p50, p99, n) = healthz_while_busy(engine).await?;
        println!(
            "/healthz with {WORKERS} workers spinning, {label}: p50 {:.2} ms, p99 {:.2} ms ({n} samples)",
            ms(p50),
            ms(p99)
        );
    }
    Ok(())
}
