//! The OpenAPI document: served without a token, every operation it lists is routed (behind
//! the bearer check), and schemathesis (PyPI), fuzzing a live server from the document with a
//! platform token, finds no 5xx and no answer that departs from what the document says.

use std::process::Command;

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::{Server, client};
use serde_json::{Value, json};

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: three-steps\n  title: Three steps\nspec:\n  owner: platform\n  parameters:\n    - title: Name\n      required: [name]\n      properties:\n        name: {type: string, pattern: '^[a-z]+$'}\n  steps:\n    - {id: a, action: debug-log, input: {message: one}}\n    - {id: b, action: debug-log, input: {message: two}}\n    - {id: c, action: debug-log, input: {message: three}}\n";
const FAILING: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: fails\nspec:\n  steps:\n    - {id: a, action: workflow-fail, input: {}}\n";

/// Every (method, path) of the document, with `{param}` filled in.
fn operations(document: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "x"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            out.push((method.to_uppercase(), concrete));
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_open_and_every_operation_it_lists_is_served_behind_the_bearer_check() {
    let server = Server::start();
    let anonymous = client(None);
    let response = anonymous
        .get(format!("{}/api/v1/openapi.json", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let operations = operations(&document);
    assert!(operations.len() >= 43, "{operations:?}");
    for (method, path) in &operations {
        let response = anonymous
            .request(method.parse().unwrap(), format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        // 401 from the bearer check means the router has the route: an unknown path would
        // answer 404 and an unknown method 405 before any check.
        assert_eq!(response.status(), 401, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated", "{method} {path}");
    }
    // Each operation says what it answers, errors included, with the error body's schema.
    let create = &document["paths"]["/api/v1/runs"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateRun"
    );
    for status in ["201", "400", "401", "403", "404", "429"] {
        assert!(
            create["responses"][status].is_object(),
            "POST /api/v1/runs documents {status}"
        );
    }
    assert_eq!(
        document["paths"]["/api/v1/runs/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

/// The schemathesis command line, or why it cannot run.
fn schemathesis() -> Command {
    let found = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "schemathesis is not installed: `python3 -m pip install schemathesis` (scripts/test.sh does)"
    );
    Command::new("schemathesis")
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_unlike_the_document() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(fixture("workflow_fail"), &[]).await;
    server.apply_template(TEMPLATE).await;
    server.apply_template(FAILING).await;
    // Real rows behind the list endpoints, so their answers are checked with content.
    let run = server
        .run_template("three-steps", json!({"name": "orders"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    server.run_template("fails", json!({})).await;
    let (status, _) = server
        .post_json(
            &format!("/api/v1/runs/{}/rating", run["id"].as_str().unwrap()),
            json!({"score": 4}),
        )
        .await;
    assert!(status == 204 || status == 403, "{status}");

    // Revoking a token is fuzzed last, on its own: schemathesis learns ids from the answers
    // (`GET /api/v1/tokens`), and revoking the token it runs with would turn every later
    // request into a 401.
    let revoke = "^/api/v1/tokens/";
    let text = fuzz(&server, &["--exclude-path-regex", revoke]);
    fuzz(&server, &["--include-path-regex", revoke]);
    // It ran the operations rather than skipping them all.
    assert!(text.contains("passed"), "{text}");
}

/// Runs schemathesis against `server` with a platform token and the checks the document
/// promises; fails with its report (and the server's log) when it finds anything.
fn fuzz(server: &Server, selection: &[&str]) -> String {
    let report = tempfile::tempdir().unwrap();
    let output = schemathesis()
        .current_dir(report.path())
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url))
        .args(["--header", &format!("Authorization: Bearer {}", server.admin_token)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "40",
            "--seed",
            "20261201",
            // Longer than the longest long-poll the document allows (`wait` ≤ 60 s), which a
            // generated request may ask for.
            "--request-timeout",
            "75",
            "--workers",
            "2",
            "--no-color",
        ])
        .args(selection)
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}\n--- server log ---\n{}",
        server.log()
    );
    text
}
