//! The template catalog over HTTP: apply (versions kept), search, forms, validation with
//! per-field errors and defaults, and preview, on the real Backstage corpus too.

use lever_tests::guests::plugin;
use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};

const DATABASE: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: small-database
  title: Small database
  description: A PostgreSQL database for one service
  tags: [database, postgresql]
spec:
  owner: platform-team
  type: resource
  parameters:
    - title: Database
      required: [name]
      properties:
        name:
          type: string
          pattern: "^[a-z][a-z0-9-]{2,30}$"
    - title: Where
      properties:
        environment:
          type: string
          enum: [dev, staging, production]
          default: dev
        size:
          type: string
          enum: [small, medium, large]
          enumNames: ["Small ($50/month)", "Medium ($150/month)", "Large ($400/month)"]
          default: small
  steps:
    - id: announce
      name: Announce
      action: debug:log
      input:
        message: "creating ${{ parameters.name }} in ${{ parameters.environment }}"
    - id: call
      name: Call the inventory
      action: http-request
      if: ${{ parameters.environment == 'production' }}
      input:
        url: "http://inventory.internal/databases/${{ parameters.name }}"
    - id: register
      name: Register
      action: catalog:register
      input:
        previous: ${{ steps.announce.output.message }}
"#;

async fn post_template(server: &Server, body: &str) -> (u16, Value) {
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn templates_are_versioned_searchable_and_serve_their_form() {
    let server = Server::start();
    let (status, body) = post_template(&server, DATABASE).await;
    assert_eq!((status, body["version"].as_i64()), (201, Some(1)), "{body}");
    let (status, _) = post_template(&server, DATABASE).await;
    assert_eq!(status, 200, "unchanged source adds no version");
    let (status, body) = post_template(
        &server,
        &DATABASE.replace("A PostgreSQL database", "One PostgreSQL database"),
    )
    .await;
    assert_eq!((status, body["version"].as_i64()), (201, Some(2)));

    let (_, form) = server.get_json("/api/v1/templates/small-database").await;
    assert_eq!(form["version"], 2);
    assert_eq!(form["pages"].as_array().unwrap().len(), 2);
    assert_eq!(
        form["pages"][1]["schema"]["properties"]["size"]["enumNames"][1],
        "Medium ($150/month)"
    );

    for (query, expected) in [
        ("q=postgresql%20database", 1),
        ("tag=database", 1),
        ("owner=platform-team", 1),
        ("q=kafka", 0),
        ("tag=none", 0),
    ] {
        let (_, found) = server.get_json(&format!("/api/v1/templates?{query}")).await;
        assert_eq!(
            found["templates"].as_array().unwrap().len(),
            expected,
            "{query}: {found}"
        );
    }
    let (status, body) = server.get_json("/api/v1/templates/nope").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn invalid_templates_are_refused_with_the_line_to_fix() {
    let server = Server::start();
    let broken = DATABASE.replace("      action: http-request\n", "");
    let (status, body) = post_template(&server, &broken).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid-template")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step `call` has no action"),
        "{body}"
    );
    assert!(
        body["error"]["details"]["line"].as_u64().is_some(),
        "{body}"
    );
    let (status, body) = post_template(&server, "kind: [").await;
    assert_eq!(status, 400, "{body}");
    let with_unknown = DATABASE.replace(
        "      name: Announce\n",
        "      name: Announce\n      colour: blue\n",
    );
    let (status, body) = post_template(&server, &with_unknown).await;
    assert_eq!(status, 201);
    assert_eq!(
        body["warnings"][0]["path"], "spec.steps[0].colour",
        "unknown fields warn, not fail"
    );
}

#[tokio::test]
async fn validation_fills_defaults_and_lists_errors_per_field() {
    let server = Server::start();
    post_template(&server, DATABASE).await;
    let (status, body) = server
        .post_json(
            "/api/v1/templates/small-database/validate",
            json!({"parameters": {"name": "orders"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["parameters"],
        json!({"name": "orders", "environment": "dev", "size": "small"})
    );
    let (status, body) = server
        .post_json(
            "/api/v1/templates/small-database/validate",
            json!({"parameters": {"name": "X", "size": "huge"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "size"], "{body}");
    let (status, _) = server
        .post_json(
            "/api/v1/templates/small-database/validate",
            json!({"parameters": {}}),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn preview_renders_inputs_and_names_missing_actions() {
    let server = Server::start();
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(plugin("http_request"), &[]).await;
    post_template(&server, DATABASE).await;
    let (status, preview) = server
        .post_json(
            "/api/v1/templates/small-database/preview",
            json!({"parameters": {"name": "orders"}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let steps = preview["steps"].as_array().unwrap();
    assert_eq!(steps[0]["resolved"], "debug-log@0.1.0");
    assert_eq!(steps[0]["status"], "no-preview");
    assert_eq!(steps[0]["input"]["message"], "creating orders in dev");
    assert_eq!(
        steps[1]["status"], "skipped",
        "its if is false in dev: {preview}"
    );
    assert_eq!(steps[2]["status"], "missing-action");
    assert_eq!(
        steps[2]["input"]["previous"], "${{ steps.announce.output.message }}",
        "outputs are unknown before the run"
    );
    assert_eq!(preview["missing_actions"][0]["action"], "catalog:register");
    assert_eq!(preview["approval"]["route"], "automatic");
    assert_eq!(preview["monthly_cost_cents"], 0);
}

mod every_corpus_template_is_served_and_its_preview_names_what_is_missing {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        corpus_over_http(Server::start()).await;
    }

    #[tokio::test]
    async fn postgres() {
        corpus_over_http(Server::start_postgres().await).await;
    }
}

async fn corpus_over_http(server: Server) {
    server.publish_ok(plugin("debug_log"), &[]).await;
    server.publish_ok(plugin("http_request"), &[]).await;
    let dir = repo_root().join("tests/corpus/backstage-templates");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 23);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let (status, applied) = post_template(&server, &text).await;
        assert!(
            status == 201 || status == 200,
            "{}: {applied}",
            file.display()
        );
        let name = applied["name"].as_str().unwrap().to_string();
        let (status, form) = server.get_json(&format!("/api/v1/templates/{name}")).await;
        assert_eq!(status, 200, "{name}: {form}");
        assert!(
            !form["pages"].as_array().unwrap().is_empty(),
            "{name}: the form is served"
        );
        let (status, preview) = server
            .post_json(
                &format!("/api/v1/templates/{name}/preview"),
                json!({"parameters": {}}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {preview}");
        let missing: Vec<&str> = preview["missing_actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["action"].as_str().unwrap())
            .collect();
        for step in preview["steps"].as_array().unwrap() {
            let action = step["action"].as_str().unwrap();
            match step["status"].as_str().unwrap() {
                "missing-action" => assert!(
                    missing.contains(&action),
                    "{name}: {action} is named as missing"
                ),
                "planned" | "no-preview" | "skipped" | "invalid-input" => {
                    assert!(step["resolved"].is_string(), "{name}: {step}")
                }
                other => panic!("{name}: step {} has status {other}: {step}", step["id"]),
            }
        }
    }
}
