//! The HTTP API: publishing rules, runs, errors that say what to fix, durability across a crash.

use lever_tests::databases::TestDatabase;
use lever_tests::guests::{fixture, plugin, with_custom_section};
use lever_tests::server::Server;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn healthz_answers() {
    let server = Server::start();
    let response = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn publish_refuses_what_is_not_a_lever_component_and_says_why() {
    let server = Server::start();
    let (status, body) = server.publish(b"definitely not wasm".to_vec(), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("not-wasm"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expected a WebAssembly component")
    );

    let (status, body) = server.publish(b"\0asm\x01\0\0\0".to_vec(), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("core-module"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasm32-wasip2")
    );

    let (status, body) = server.publish(fixture("registry_command"), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("not-a-lever-world")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lever:plugin/action-handler@0.1.0")
    );

    let (status, body) = server.publish(Vec::new(), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("empty-body"))
    );

    let (status, body) = server
        .publish(plugin("debug_log"), &[("memory_bytes", "12")])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid-limits"))
    );
}

#[tokio::test]
async fn versions_are_content_addressed_and_immutable() {
    let server = Server::start();
    let bytes = plugin("debug_log");
    let (status, body) = server.publish(bytes.clone(), &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["digest"],
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
    );
    assert_eq!(body["manifest"]["name"], "debug-log");
    assert_eq!(
        body["manifest"]["input_schema"]["properties"]["message"]["type"],
        json!(["string", "null"])
    );

    let (status, _) = server.publish(bytes.clone(), &[]).await;
    assert_eq!(status, 200, "the same bytes again change nothing");

    // The same bytes asking for a grant the published version lacks are refused, not quietly
    // published without it; what it has stays.
    let (status, body) = server
        .publish(bytes.clone(), &[("hosts", "api.example.com")])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("published-with-other-grants")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("debug-log@") && message.contains("publish these as a new version"),
        "{message}"
    );
    let (status, body) = server
        .publish(bytes.clone(), &[("timeout_ms", "1234")])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("published-with-other-grants"))
    );

    let (status, body) = server
        .publish(with_custom_section(&bytes, "other build"), &[])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("version-exists"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("publish a new version")
    );

    let list: Value = server
        .http
        .get(format!("{}/api/v1/plugins", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plugins = list["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0]["name"], "debug-log");
    assert_eq!(plugins[0]["kind"], "action");
}

#[tokio::test]
async fn bad_run_requests_get_4xx_that_say_what_to_fix() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;

    let (status, body) = server.submit("debug-logg", json!({})).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `debug-log`"),
        "{body}"
    );

    let (status, body) = server.submit("debug-log@9.9.9", json!({})).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("0.2.0"),
        "{body}"
    );

    let (status, body) = server.submit("debug-log", json!({"message": 5})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid-input")),
        "{body}"
    );
    assert!(
        body["error"]["details"][0]
            .as_str()
            .unwrap()
            .contains("/message"),
        "{body}"
    );

    let (status, body) = server.submit("Not A Name", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid-reference"))
    );

    let response = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "invalid-json"
    );

    let response = server
        .http
        .get(format!("{}/api/v1/runs/nope", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn a_run_reports_status_output_and_logs() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    let (status, created) = server.submit("debug-log", json!({"message": "hi"})).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let run = server.wait(id).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["output"], json!({"message": "hi"}));
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["logs"][0]["message"], "hi");
    assert_eq!(run["logs"][0]["source"], "plugin");
    let list: Value = server
        .http
        .get(format!("{}/api/v1/runs", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["runs"][0]["id"], id);
    let cached = std::fs::read_dir(server.data_dir.join("cache"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        cached > 0,
        "compiled code is cached on disk in the data dir"
    );
}

#[tokio::test]
async fn runs_survive_a_crash_and_unfinished_ones_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.publish_ok(plugin("debug_log"), &[]).await;
    server
        .publish_ok(
            fixture("sandbox_infinite_loop"),
            &[("fuel", "1000000000000000"), ("timeout_ms", "1500")],
        )
        .await;
    let done = server
        .run("debug-log", json!({"message": "before the crash"}))
        .await;
    let (_, in_flight) = server.submit("sandbox-infinite-loop", json!({})).await;
    let in_flight = in_flight["id"].as_str().unwrap().to_string();
    // Killed once it is seen running, not after a guess at how long that takes.
    let mut running = false;
    for _ in 0..400 {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{in_flight}")).await;
        if run["status"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(running, "the run started before the crash");
    server.kill();

    let server = Server::start_in(dir.path(), &[]);
    let before = server.wait(done["id"].as_str().unwrap()).await;
    assert_eq!(before["status"], "succeeded");
    assert_eq!(before["logs"][0]["message"], "before the crash");
    let resumed = server.wait(&in_flight).await;
    assert_eq!(resumed["status"], "failed", "{resumed:#}");
    assert_eq!(resumed["error"]["kind"], "deadline-passed");
    assert_eq!(
        resumed["attempt"], 2,
        "the run started again after the restart"
    );
    assert!(server.log().contains("resuming unfinished runs"));
}

#[tokio::test]
async fn serve_runs_on_postgresql() {
    let database = TestDatabase::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), &["--database", &database.url]);
    server.publish_ok(plugin("debug_log"), &[]).await;
    let run = server
        .run("debug-log", json!({"message": "on postgres"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["logs"][0]["message"], "on postgres");
    assert!(
        !dir.path().join("lever.db").exists(),
        "no SQLite file when --database is given"
    );
}

/// Sends `body` with curl as a large upload is sent: asking to wait for `100 Continue` before
/// the body (and waiting as long as it takes, so a loaded machine cannot make curl send it
/// early), which a server refusing the body by its declared length never sends. Returns status
/// and body.
fn send_with_curl(
    method: &str,
    url: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let output = std::process::Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
        .args(["-H", &format!("authorization: Bearer {token}")])
        .args(["-H", &format!("content-type: {content_type}")])
        .args(["-H", "expect: 100-continue", "--expect100-timeout", "120"])
        .arg("--data-binary")
        .arg(format!("@{}", file.path().display()))
        .arg(url)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (answer, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(answer).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413_with_the_limit_on_every_kind_of_route() {
    let server = Server::start();
    let three_mib = "x".repeat(3 * 1024 * 1024);
    let json_body =
        serde_json::to_vec(&json!({"template": "t", "parameters": {"x": three_mib}})).unwrap();
    for (method, path, content_type, body) in [
        (
            "POST",
            "/api/v1/runs",
            "application/json",
            json_body.clone(),
        ),
        (
            "POST",
            "/api/v1/templates",
            "application/yaml",
            "x".repeat(33 * 1024 * 1024).into_bytes(),
        ),
        (
            "POST",
            "/api/v1/approvals/x/approve",
            "application/json",
            json_body.clone(),
        ),
        (
            "PUT",
            "/api/v1/policies/big",
            "text/plain",
            three_mib.clone().into_bytes(),
        ),
        (
            "PUT",
            "/api/v1/secrets/big",
            "application/json",
            json_body.clone(),
        ),
        (
            "POST",
            "/api/v1/plugins",
            "application/wasm",
            vec![0u8; 65 * 1024 * 1024],
        ),
    ] {
        let url = format!("{}{path}", server.url);
        let token = &server.admin_token;
        let (status, answer) = send_with_curl(method, &url, token, content_type, &body);
        assert_eq!(status, 413, "{path}: {answer}");
        let limit = match path {
            "/api/v1/plugins" => 64,
            "/api/v1/templates" => 32,
            _ => 2,
        };
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("({limit} MiB)")),
            "{path}: {answer}"
        );
    }
}
