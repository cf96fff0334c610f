//! Sandbox cases, one tiny guest each, through a real server: each fails with its own typed
//! error, and the same server then still runs other runs correctly.

use std::io::{Read, Write};
use std::net::TcpListener;

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};

async fn server_with(guest: &str, query: &[(&str, &str)]) -> Server {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(fixture(guest), query).await;
    server
}

fn assert_failed_with(run: &Value, kind: &str) -> String {
    assert_eq!(run["status"], "failed", "run: {run:#}");
    assert_eq!(run["error"]["kind"], kind, "run: {run:#}");
    run["error"]["message"]
        .as_str()
        .expect("error message")
        .to_string()
}

fn log_text(run: &Value) -> String {
    run["logs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| l["message"].as_str().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The server survived: a normal run still succeeds, with its log.
async fn assert_still_serving(server: &Server) {
    let run = server
        .run("debug-log", json!({"message": "still alive"}))
        .await;
    assert_eq!(run["status"], "succeeded", "after the failure: {run:#}");
    assert!(log_text(&run).contains("still alive"));
}

#[tokio::test]
async fn infinite_loop_exhausts_its_fuel() {
    let server = server_with("sandbox_infinite_loop", &[("fuel", "100000000")]).await;
    let run = server.run("sandbox-infinite-loop", json!({})).await;
    let message = assert_failed_with(&run, "fuel-exhausted");
    assert!(
        message.contains("100000000") && message.contains("fuel"),
        "{message}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn infinite_loop_with_unbounded_fuel_hits_the_deadline() {
    let server = server_with(
        "sandbox_infinite_loop",
        &[("fuel", "1000000000000000"), ("timeout_ms", "300")],
    )
    .await;
    let started = std::time::Instant::now();
    let run = server.run("sandbox-infinite-loop", json!({})).await;
    let message = assert_failed_with(&run, "deadline-passed");
    assert!(
        message.contains("300 ms") && message.contains("timeout_ms"),
        "{message}"
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the deadline was not enforced"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn memory_growth_hits_the_memory_limit() {
    let server = server_with("sandbox_memory_growth", &[("memory_bytes", "16777216")]).await;
    let run = server.run("sandbox-memory-growth", json!({})).await;
    let message = assert_failed_with(&run, "memory-limit");
    assert!(
        message.contains("16777216") && message.contains("memory_bytes"),
        "{message}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn deep_recursion_overflows_the_stack_with_a_backtrace() {
    let server = server_with("sandbox_deep_recursion", &[]).await;
    let run = server.run("sandbox-deep-recursion", json!({})).await;
    let message = assert_failed_with(&run, "stack-overflow");
    assert!(
        message.contains("dive"),
        "the backtrace names the recursing function: {message}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn opening_a_host_file_is_refused() {
    let server = server_with("sandbox_file_open", &[]).await;
    let run = server.run("sandbox-file-open", json!({})).await;
    let message = assert_failed_with(&run, "plugin-denied");
    assert!(message.contains("open /etc/passwd failed"), "{message}");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn the_environment_is_empty() {
    let server = server_with("sandbox_env_read", &[]).await;
    let run = server.run("sandbox-env-read", json!({})).await;
    let message = assert_failed_with(&run, "plugin-denied");
    assert!(
        message.contains("no environment variables are visible"),
        "{message}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn socket_connect_is_refused_and_reaches_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let address = listener.local_addr().expect("address").to_string();
    let server = server_with("sandbox_socket_connect", &[]).await;
    let run = server
        .run("sandbox-socket-connect", json!({"address": address}))
        .await;
    let message = assert_failed_with(&run, "plugin-denied");
    assert!(message.contains(&address), "{message}");
    assert!(listener.accept().is_err(), "the guest reached the listener");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn http_to_a_host_not_granted_is_refused_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let authority = listener.local_addr().expect("address").to_string();
    let server = server_with("sandbox_http_denied", &[]).await;
    let run = server
        .run(
            "sandbox-http-denied",
            json!({"url": format!("http://{authority}/secret")}),
        )
        .await;
    let message = assert_failed_with(&run, "host-not-granted");
    assert!(message.contains(&authority), "{message}");
    assert!(listener.accept().is_err(), "the request reached the host");
    assert!(
        log_text(&run).contains("is not granted"),
        "the refusal is in the run log"
    );
    assert_still_serving(&server).await;
}

/// Answers one request with a JSON body and returns the request it read.
fn one_shot_http_server() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority = listener.local_addr().expect("address").to_string();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
            let n = stream.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"ok":true}"#;
        write!(stream, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
            .expect("write");
        String::from_utf8_lossy(&request).into_owned()
    });
    (authority, handle)
}

#[tokio::test]
async fn http_to_a_granted_host_goes_through() {
    let (authority, handle) = one_shot_http_server();
    let server = Server::start();
    server
        .publish_ok(plugin("http_request"), &[("hosts", authority.as_str())])
        .await;
    let run = server
        .run(
            "http-request",
            json!({"url": format!("http://{authority}/hello?x=1")}),
        )
        .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["status"], 200);
    assert_eq!(run["output"]["body"], json!({"ok": true}));
    let request = handle.join().expect("server thread");
    assert!(request.starts_with("GET /hello?x=1 HTTP/1.1"), "{request}");
    assert!(
        log_text(&run).contains("→ 200"),
        "the call is counted in the run log"
    );
}

/// Answers one request the way Python's `http.server` does: the headers in one write, the body
/// in a later one, the connection kept open until the client closes it.
fn split_write_http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let authority = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let body = r#"{"ok":true}"#;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .expect("write headers");
        stream.flush().expect("flush");
        std::thread::sleep(std::time::Duration::from_millis(100));
        stream.write_all(body.as_bytes()).expect("write body");
        // Keep-alive: wait for the client to close.
        let _ = stream.read(&mut buf);
    });
    authority
}

#[tokio::test]
async fn a_body_written_after_its_headers_is_read_whole() {
    // The step's exchanges are recorded for replay, so the host reads the body itself: it must
    // drive the connection while it does, or it waits for bytes nobody reads.
    let authority = split_write_http_server();
    let server = Server::start();
    server
        .publish_ok(
            plugin("http_request"),
            &[("hosts", authority.as_str()), ("timeout_ms", "5000")],
        )
        .await;
    let run = server
        .run(
            "http-request",
            json!({"url": format!("http://{authority}/slow")}),
        )
        .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["body"], json!({"ok": true}));
}

#[tokio::test]
async fn output_over_the_limit_is_refused() {
    let server = server_with("sandbox_output_too_large", &[("max_output_bytes", "1024")]).await;
    let run = server
        .run("sandbox-output-too-large", json!({"size": 4096}))
        .await;
    let message = assert_failed_with(&run, "output-too-large");
    assert!(
        message.contains("1024") && message.contains("max_output_bytes"),
        "{message}"
    );
    let small = server
        .run("sandbox-output-too-large", json!({"size": 10}))
        .await;
    assert_eq!(small["status"], "succeeded");
    assert_eq!(small["output"], "xxxxxxxxxx");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_panic_is_a_trap_with_backtrace_and_its_message_in_the_log() {
    let server = server_with("sandbox_panic", &[]).await;
    let run = server.run("sandbox-panic", json!({})).await;
    let message = assert_failed_with(&run, "trap");
    assert!(message.contains("wasm backtrace"), "{message}");
    assert!(
        log_text(&run).contains("guest panicked on purpose"),
        "stderr is captured into the run log: {run:#}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn host_interfaces_keep_state_and_reveal_only_granted_secrets() {
    let server = server_with("sandbox_host_interfaces", &[]).await;
    let put = server
        .http
        .put(format!("{}/api/v1/secrets/granted/db", server.url))
        .json(&json!({"value": "s3cr3t-value"}))
        .send()
        .await
        .expect("put secret");
    assert_eq!(put.status().as_u16(), 204);
    let input = json!({"granted": "granted/db", "refused": "other/db"});
    let first = server.run("sandbox-host-interfaces", input.clone()).await;
    assert_eq!(first["status"], "succeeded", "{first:#}");
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["output"]["plugin_count"], 1);
    assert_eq!(first["output"]["run_state"], id);
    assert_eq!(first["output"]["secret_length"], 12);
    assert!(
        first["output"]["refused"]
            .as_str()
            .unwrap()
            .contains("NotGranted"),
        "{first:#}"
    );
    assert_eq!(first["output"]["idempotency_key"], format!("{id}/main/1"));
    let log = log_text(&first);
    assert!(
        log.contains("secret `granted/db` revealed") && log.contains("100% done"),
        "{log}"
    );
    assert!(
        !first.to_string().contains("s3cr3t-value"),
        "a secret value leaked into the run"
    );
    let second = server.run("sandbox-host-interfaces", input).await;
    assert_eq!(
        second["output"]["plugin_count"], 2,
        "plugin state persists across runs"
    );

    // At rest the database holds only the sealed value; the key is a 0600 file beside it.
    let url = format!("sqlite://{}", server.data_dir.join("lever.db").display());
    let store = lever_store::Store::connect(&url).await.unwrap();
    let stored = store.secret("granted/db").await.unwrap().unwrap();
    assert!(
        stored.starts_with("lever-sealed:v1:") && !stored.contains("s3cr3t-value"),
        "{stored}"
    );
    let database = std::fs::read(server.data_dir.join("lever.db")).unwrap();
    assert!(
        !database.windows(12).any(|w| w == b"s3cr3t-value"),
        "the plain value is nowhere in the database file"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(server.data_dir.join("secrets.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn output_that_is_not_json_is_refused() {
    let server = server_with("sandbox_output_not_json", &[]).await;
    let run = server.run("sandbox-output-not-json", json!({})).await;
    let message = assert_failed_with(&run, "output-not-json");
    assert!(message.contains("not valid JSON"), "{message}");
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn output_that_breaks_the_declared_schema_is_refused() {
    let server = server_with("sandbox_output_off_schema", &[]).await;
    let run = server.run("sandbox-output-off-schema", json!({})).await;
    let message = assert_failed_with(&run, "output-schema");
    assert!(
        message.contains("/count"),
        "the violation names the field: {message}"
    );
    assert_still_serving(&server).await;
}

/// Publishing compiles a component on the inspection engine (instances allocated on demand, so
/// nothing of it stays in the runs' pool once it is dropped); the runs' engine then loads it
/// from the disk cache entry that compilation filled instead of compiling it again.
#[tokio::test]
async fn a_component_inspected_at_publish_runs_from_the_cache_entry_it_filled() {
    use lever_sandbox::{CompileCacheCounts, Sandbox, SandboxConfig};
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = Sandbox::new(&SandboxConfig {
        cache_dir: Some(dir.path().join("compiled")),
        max_concurrent_instances: 4,
        ..Default::default()
    })
    .expect("sandbox");
    let bytes = plugin("debug_log");

    let inspected = sandbox
        .load_for_inspection(&bytes)
        .expect("inspection load");
    let described = sandbox.describe(&inspected).await.expect("describe");
    drop(inspected);
    let after_publish = sandbox.compile_cache_counts().expect("a disk cache");
    assert_eq!(
        after_publish,
        CompileCacheCounts { hits: 1, misses: 1 },
        "publishing compiles once, then checks the component against the runs' pool from the cache"
    );

    let compiled = sandbox.load(&bytes).expect("load for runs");
    assert_eq!(
        sandbox.compile_cache_counts().expect("a disk cache"),
        CompileCacheCounts { hits: 2, misses: 1 },
        "the runs' engine reads what publishing compiled"
    );
    let again = sandbox
        .describe(&compiled)
        .await
        .expect("describe in the pool");
    assert_eq!(again.name, described.name);
    assert_eq!(again.version, described.version);
}
