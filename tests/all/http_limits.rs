//! What one client can make the server do is bounded, with answers that say so: requests in
//! flight per principal (429 with `Retry-After`), the time to answer (408), the size and count
//! of headers (431), and a slow-loris client that never finishes its headers (cut off).

use std::time::{Duration, Instant};

use lever_tests::guests::plugin;
use lever_tests::server::Server;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(http: &str) -> String {
    format!("{}\nhttp:\n{http}", lever_identity::EMBEDDED_CONFIG)
}

/// A long-poll that waits `secs` for events after one that will never come.
async fn long_poll(client: &reqwest::Client, server: &Server, run: &str, secs: u64) -> u16 {
    client
        .get(format!(
            "{}/api/v1/runs/{run}/events?after=1000000000&wait={secs}",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_principal_over_its_concurrent_requests_gets_429_with_retry_after() {
    let server = Server::start_configured(&config("  max_concurrent_per_principal: 2\n"), &[]);
    server.publish_ok(plugin("debug_log"), &[]).await;
    let run = server.run("debug-log", json!({"message": "hi"})).await;
    let id = run["id"].as_str().unwrap().to_string();
    let alice = server.client_for("alice").await;
    let admin = server.http.clone();
    let polls = [
        tokio::spawn({
            let (admin, url, id) = (admin.clone(), server.url.clone(), id.clone());
            async move { poll_at(&admin, &url, &id).await }
        }),
        tokio::spawn({
            let (admin, url, id) = (admin.clone(), server.url.clone(), id.clone());
            async move { poll_at(&admin, &url, &id).await }
        }),
    ];
    // Both long-polls are in flight once a third request is refused.
    let refused = wait_refused(&server).await;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "1"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too-many-requests", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 requests in flight"),
        "{body}"
    );
    // Another principal is not held up by admin's requests.
    let me = alice
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    for poll in polls {
        assert_eq!(poll.await.unwrap(), 200);
    }
    // With the long-polls answered, admin is served again.
    let (status, _) = server.get_json("/api/v1/me").await;
    assert_eq!(status, 200);
}

/// A request over the principal's limit waits for a slot (`queue_wait_ms`) instead of being
/// refused: a client's burst is served in turn.
#[tokio::test]
async fn a_request_over_the_limit_waits_for_a_slot_and_is_served() {
    let server = Server::start_configured(
        &config("  max_concurrent_per_principal: 2\n  queue_wait_ms: 10000\n"),
        &[],
    );
    server.publish_ok(plugin("debug_log"), &[]).await;
    let run = server.run("debug-log", json!({"message": "hi"})).await;
    let id = run["id"].as_str().unwrap().to_string();
    let admin = server.http.clone();
    let polls: Vec<_> = (0..2)
        .map(|_| {
            let (admin, url, id) = (admin.clone(), server.url.clone(), id.clone());
            tokio::spawn(async move {
                admin
                    .get(format!(
                        "{url}/api/v1/runs/{id}/events?after=1000000000&wait=5"
                    ))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    // Both long-polls hold admin's two slots (observed, not waited for)...
    gauge_reaches(&server, "in-flight", 2).await;
    let me = {
        let (admin, url) = (admin.clone(), server.url.clone());
        tokio::spawn(async move {
            let response = admin.get(format!("{url}/api/v1/me")).send().await.unwrap();
            response.status().as_u16()
        })
    };
    // ...so a third request waits for one instead of being refused or served at once...
    gauge_reaches(&server, "waiting", 1).await;
    // ...and is served once a long-poll answers.
    assert_eq!(me.await.unwrap(), 200);
    for poll in polls {
        assert_eq!(poll.await.unwrap(), 200);
    }
}

/// Waits until `/metrics` shows `lever_api_requests{state}` at `value` (panics after 10 s).
async fn gauge_reaches(server: &Server, state: &str, value: u64) {
    let series = format!("lever_api_requests{{state=\"{state}\"}} ");
    for _ in 0..500 {
        let text = reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let now = text
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.parse::<f64>().ok());
        if now == Some(value as f64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("/metrics never showed {series}{value}");
}

async fn poll_at(client: &reqwest::Client, url: &str, id: &str) -> u16 {
    client
        .get(format!(
            "{url}/api/v1/runs/{id}/events?after=1000000000&wait=3"
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_refused(server: &Server) -> reqwest::Response {
    let started = Instant::now();
    loop {
        let response = server
            .http
            .get(format!("{}/api/v1/me", server.url))
            .send()
            .await
            .unwrap();
        if response.status().as_u16() == 429 || started.elapsed() > Duration::from_secs(2) {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_not_answered_in_time_gets_408_with_a_message() {
    // Published at start, not over HTTP: compiling a component can take longer than this
    // server's one second on a loaded machine, and the test is about the long poll.
    let plugins = tempfile::tempdir().unwrap();
    std::fs::write(plugins.path().join("debug_log.wasm"), plugin("debug_log")).unwrap();
    let server = Server::start_configured(
        &config("  request_timeout_seconds: 1\n"),
        &["--publish", &plugins.path().to_string_lossy()],
    );
    // Any run will do, finished or not: no event of it has an id this large.
    let (status, run) = server.submit("debug-log", json!({"message": "hi"})).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap();
    let started = Instant::now();
    let status = long_poll(&server.http, &server, id, 5).await;
    assert_eq!(status, 408);
    assert!(started.elapsed() < Duration::from_secs(4));
    let response = server
        .http
        .get(format!(
            "{}/api/v1/runs/{id}/events?after=1000000000&wait=5",
            server.url
        ))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request-timeout", "{body}");
}

/// Sends `head` on a fresh connection and reads what comes back until the server closes it.
async fn raw(server: &Server, head: &[u8]) -> String {
    let address = server.url.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(address).await.unwrap();
    tcp.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let server = Server::start_configured(
        &config("  max_header_bytes: 16384\n  max_headers: 50\n"),
        &[],
    );
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(32 * 1024)
    );
    let answer = raw(&server, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let many: String = (0..80).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = raw(
        &server,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Within the bounds the same request is served.
    let answer = raw(
        &server,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = Server::start_configured(&config("  header_read_timeout_seconds: 1\n"), &[]);
    let started = Instant::now();
    // Half a request head, then silence: the connection is closed, not kept open for it.
    let answer = raw(&server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}: {answer}"
    );
    assert!(!answer.contains("200 OK"), "{answer}");
    // The server still serves everyone else.
    let (status, _) = server.get_json("/healthz").await;
    assert_eq!(status, 200);
}
