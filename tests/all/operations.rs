//! What operators get: Prometheus metrics scraped by a real Prometheus, the readiness probe
//! beside liveness, and JSON logs.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: three-steps\nspec:\n  steps:\n    - {id: a, action: debug-log, input: {message: one}}\n    - {id: b, action: debug-log, input: {message: two}}\n    - {id: c, action: debug-log, input: {message: three}}\n";
const FAILING: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: fails\nspec:\n  steps:\n    - {id: a, action: workflow-fail, input: {}}\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus scraping `target` every second; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lever\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the Prometheus tests need Debian's `prometheus` package (apt-get install prometheus; .ci/run installs it)");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// The instant vector `query` answers, once `done` accepts it (within 60 s).
    async fn query_until(&self, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        let mut last = Vec::new();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(response) = reqwest::Client::new()
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", query)])
                .send()
                .await
                && let Ok(body) = response.json::<Value>().await
            {
                last = body["data"]["result"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("Prometheus never answered `{query}` as expected; last: {last:#?}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value_of(series: &[Value], label: &str, is: &str) -> Option<f64> {
    series
        .iter()
        .find(|s| s["metric"][label] == is)
        .and_then(|s| s["value"][1].as_str())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_real_prometheus_scrapes_run_counts_and_step_durations() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(fixture("workflow_fail"), &[]).await;
    server.apply_template(TEMPLATE).await;
    server.apply_template(FAILING).await;
    for _ in 0..3 {
        assert_eq!(
            server.run_template("three-steps", json!({})).await["status"],
            "succeeded"
        );
    }
    let failed = server.run_template("fails", json!({})).await;
    assert_ne!(failed["status"], "succeeded", "{failed:#}");

    // The text itself, as a scraper gets it on loopback without a token.
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("lever_build_info{version=\""), "{text}");
    assert!(text.contains("# TYPE lever_runs_total counter"), "{text}");

    let prometheus = Prometheus::start(server.url.trim_start_matches("http://"));
    let runs = prometheus
        .query_until("lever_runs_total", |s| {
            value_of(s, "template", "three-steps").is_some()
                && value_of(s, "template", "fails").is_some()
        })
        .await;
    let succeeded = runs
        .iter()
        .find(|s| s["metric"]["template"] == "three-steps")
        .unwrap();
    assert_eq!(succeeded["metric"]["status"], "succeeded", "{runs:#?}");
    assert_eq!(succeeded["value"][1], "3", "{runs:#?}");
    let failed = runs
        .iter()
        .find(|s| s["metric"]["template"] == "fails")
        .unwrap();
    assert_eq!(failed["value"][1], "1", "{runs:#?}");

    // Nine debug-log steps in the step-duration histogram, in its buckets.
    let count = prometheus
        .query_until(
            "lever_step_duration_seconds_count{action=\"debug-log\"}",
            |s| !s.is_empty(),
        )
        .await;
    assert_eq!(count[0]["value"][1], "9", "{count:#?}");
    let buckets = prometheus
        .query_until(
            "lever_step_duration_seconds_bucket{action=\"debug-log\",le=\"+Inf\"}",
            |s| !s.is_empty(),
        )
        .await;
    assert_eq!(buckets[0]["value"][1], "9", "{buckets:#?}");
    // Each step attempt's call is in the engine's `invoke` phase; the nine that started on
    // the folded path (all but the failing run's) were prepared and committed once each.
    let phases = prometheus
        .query_until("lever_engine_step_phase_seconds_count", |s| s.len() == 3)
        .await;
    let attempts = prometheus
        .query_until("sum(lever_step_duration_seconds_count)", |s| !s.is_empty())
        .await;
    let attempts: f64 = attempts[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(
        value_of(&phases, "phase", "invoke"),
        Some(attempts),
        "{phases:#?}"
    );
    for phase in ["prepare", "commit"] {
        assert!(
            value_of(&phases, "phase", phase).unwrap() >= 9.0,
            "{phases:#?}"
        );
    }
    // Sandbox outcomes and HTTP requests by route pattern (never by raw path).
    let invocations = prometheus
        .query_until("lever_sandbox_invocations_total", |s| !s.is_empty())
        .await;
    assert!(
        value_of(&invocations, "outcome", "ok").unwrap() >= 9.0,
        "{invocations:#?}"
    );
    let http = prometheus
        .query_until(
            "lever_http_requests_total{route=\"/api/v1/runs/{id}\"}",
            |s| !s.is_empty(),
        )
        .await;
    assert!(!http.is_empty());
}

#[tokio::test]
async fn metrics_need_a_platform_token_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_listening(dir.path(), "0.0.0.0:0", &[]);
    let url = server.url.replace("0.0.0.0", "127.0.0.1");
    let anonymous = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let alice = server.client_for("alice").await;
    let developer = alice.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(developer.status().as_u16(), 403);
    let admin = server
        .http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 200);
    assert!(admin.text().await.unwrap().contains("lever_build_info"));
}

#[tokio::test]
async fn readyz_answers_503_while_the_database_is_gone_and_200_when_it_is_back() {
    let server = Server::start_postgres().await;
    let url = server.database().unwrap().url.clone();
    let name = url.rsplit('/').next().unwrap().to_string();
    let (status, _) = server.get_json("/readyz").await;
    assert_eq!(status, 200);

    let admin = lever_tests::databases::postgres_admin_url();
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
    ))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&pool)
        .await
        .unwrap();
    let started = Instant::now();
    let gone = loop {
        let response = reqwest::get(format!("{}/readyz", server.url))
            .await
            .unwrap();
        if response.status().as_u16() == 503 || started.elapsed() > Duration::from_secs(20) {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(gone.status().as_u16(), 503);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["status"], "not-ready", "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("database"),
        "{body}"
    );
    // Liveness does not depend on the database.
    let (status, _) = server.get_json("/healthz").await;
    assert_eq!(status, 200);

    sqlx::query(&format!(
        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let started = Instant::now();
    loop {
        let status = reqwest::get(format!("{}/readyz", server.url))
            .await
            .unwrap()
            .status();
        if status.as_u16() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn json_logs_carry_the_run_id_as_a_field_and_text_logs_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("debug-log.wasm");
    std::fs::write(&wasm, plugin("debug_log")).unwrap();
    let published = Command::new(lever_tests::server::lever_binary())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["plugin", "publish", wasm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(published.status.success(), "{published:?}");
    let run = |format: &str| {
        Command::new(lever_tests::server::lever_binary())
            .arg("--data-dir")
            .arg(dir.path())
            .args(["run", "debug-log", "--input", "{\"message\":\"hi\"}"])
            .env("LEVER_LOG", "info")
            .env("LEVER_LOG_FORMAT", format)
            .output()
            .unwrap()
    };
    let json_run = run("json");
    assert!(json_run.status.success(), "{json_run:?}");
    let stderr = String::from_utf8_lossy(&json_run.stderr);
    let events: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!events.is_empty(), "no JSON log line: {stderr}");
    // Every log line is one JSON object; the rest is `lever run` echoing the run's own log.
    assert!(
        stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('['))
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{stderr}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["run"].is_string() && e["level"] == "INFO"),
        "{stderr}"
    );
    let text_run = run("text");
    assert!(!String::from_utf8_lossy(&text_run.stderr).contains('\u{1b}'));
    let bad = run("yaml");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("LEVER_LOG_FORMAT"));
}
