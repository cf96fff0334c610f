//! The demo catalog the README's run command loads: both workflows of the product brief run
//! end to end through the first-party plugins, with a forced failure that rolls back and a
//! manual pause resumed through the API.

use lever_tests::guests::plugins_dir;
use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};

fn demo_server(dir: &std::path::Path) -> Server {
    let plugins = plugins_dir().to_string_lossy().into_owned();
    let templates = repo_root().join("demo/templates").to_string_lossy().into_owned();
    Server::start_in(dir, &["--publish", &plugins, "--templates", &templates])
}

async fn run(server: &Server, template: &str, parameters: Value) -> Value {
    let (status, body) = server.post_json("/api/v1/runs", json!({"template": template, "parameters": parameters})).await;
    assert_eq!(status, 201, "{body}");
    server.wait(body["id"].as_str().unwrap()).await
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()
}

#[tokio::test]
async fn provision_postgresql_database_previews_runs_and_hands_over_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let (status, preview) =
        server.post_json("/api/v1/templates/provision-postgresql-database/preview", json!({"parameters": {"name": "orders", "owner": "platform-team", "size": "medium"}})).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["monthly_cost_cents"], 15_000);
    assert_eq!(preview["steps"][0]["plan"]["resources"][0]["name"], "orders-dev");
    assert!(preview["missing_actions"].as_array().unwrap().is_empty(), "{preview}");

    let done = run(&server, "provision-postgresql-database", json!({"name": "orders", "owner": "platform-team"})).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(step(&done, "apply")["output"]["wait"]["done"], true);
    let text = done["output"]["text"][0]["content"].as_str().unwrap();
    assert_eq!(text, "host orders.db.internal, port 5432, credentials at secret://databases/orders/dev");
    assert!(done["output"]["links"][0]["url"].as_str().unwrap().contains("/pull/"));
    let id = done["id"].as_str().unwrap();
    let events: Value = server.http.get(format!("{}/api/v1/runs/{id}/events", server.url)).send().await.unwrap().json().await.unwrap();
    let progress = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "progress").expect("a progress event");
    assert_eq!((progress["step_id"].as_str(), progress["data"]["percent"].as_u64()), (Some("apply"), Some(50)));
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"step-polling") && kinds.contains(&"polling"), "{kinds:?}");
}

#[tokio::test]
async fn a_forced_failure_pauses_and_abort_rolls_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    assert_eq!(run(&server, "provision-postgresql-database", json!({"name": "billing", "owner": "platform-team"})).await["status"], "succeeded");
    // The same database again: its credentials already exist, and that step is manual.
    let paused = run(&server, "provision-postgresql-database", json!({"name": "billing", "owner": "platform-team"})).await;
    assert_eq!(paused["status"], "paused", "{paused:#}");
    assert!(step(&paused, "credentials")["error"]["message"].as_str().unwrap().contains("already exist"));
    let id = paused["id"].as_str().unwrap();
    assert_eq!(server.post_json(&format!("/api/v1/runs/{id}/abort"), json!({})).await.0, 202);
    let rolled = server.wait(id).await;
    assert_eq!(rolled["status"], "rolled-back", "{rolled:#}");
    assert_eq!(step(&rolled, "apply")["status"], "rolled-back");
    assert_eq!(step(&rolled, "pull-request")["status"], "rolled-back");
}

#[tokio::test]
async fn a_manual_pause_is_resumed_through_the_api_with_an_edited_input() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    assert_eq!(run(&server, "provision-postgresql-database", json!({"name": "ledger", "owner": "platform-team"})).await["status"], "succeeded");
    let paused = run(&server, "provision-postgresql-database", json!({"name": "ledger", "owner": "platform-team"})).await;
    let id = paused["id"].as_str().unwrap();
    let edited = json!({"input": {"path": "databases/ledger/dev-2", "readers": ["platform-team"]}});
    assert_eq!(server.post_json(&format!("/api/v1/runs/{id}/steps/credentials/retry"), edited).await.0, 202);
    let resumed = server.wait(id).await;
    assert_eq!(resumed["status"], "succeeded", "{resumed:#}");
    assert_eq!(step(&resumed, "credentials")["output"]["secret_ref"], "secret://databases/ledger/dev-2");
    assert_eq!(step(&resumed, "pull-request")["attempts"], 1);
}

#[tokio::test]
async fn create_service_runs_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let done = run(&server, "create-service", json!({"name": "checkout", "owner": "platform-team"})).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    for id in ["validate", "repository", "pull-request", "apply", "credentials", "notify", "register"] {
        assert_eq!(step(&done, id)["status"], "succeeded", "{id}: {done:#}");
    }
    assert_eq!(step(&done, "register")["output"]["entityRef"], "component:default/checkout");
    assert_eq!(done["output"]["links"][0]["url"], "https://git.example.internal/platform-team/checkout");
}

#[tokio::test]
async fn a_developer_gets_a_small_dev_database_without_waiting_for_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    // alice, a payments developer of the demo config, with her own token.
    let alice = server.client_for("alice").await;
    let response = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "provision-postgresql-database", "parameters": {"name": "orders", "owner": "payments"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["approval"]["route"], "automatic", "{created:#}");
    let done = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert_eq!(done["requester"], "alice");
}
