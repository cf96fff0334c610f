//! The demo catalog the README's run command loads, on the embedded default: a developer's
//! database is really created on the local PostgreSQL by the built-in provider, its
//! credentials are sealed in the secrets store and readable by the requester and their team
//! only, and a failure after it destroys it again.

use lever_tests::databases::{drop_provisioned, provisioned_exists, unique_name};
use lever_tests::repo_root;
use lever_tests::server::Server;
use lever_tests::step;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::approvals::User;

fn demo_server(dir: &std::path::Path) -> Server {
    Server::start_demo(dir)
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_developer_gets_a_real_dev_database_and_connects_with_the_stored_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let name = unique_name("orders");
    let object = format!("{}_dev", name.replace('-', "_"));
    let alice = server.client_for("alice").await;

    let (status, preview) = server
        .post_json(
            "/api/v1/templates/provision-postgresql-database/preview",
            json!({"parameters": {"name": name, "owner": "payments", "size": "medium"}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["monthly_cost_cents"], 15_000, "{preview:#}");
    assert_eq!(preview["steps"][0]["resolved"], "builtin:postgres");
    assert_eq!(
        preview["steps"][0]["plan"]["resources"][0]["name"],
        format!("postgresql_database.{object}")
    );
    assert!(
        !provisioned_exists(&object).await,
        "a preview creates nothing"
    );

    // alice, a payments developer: a small dev database is automatic.
    let response = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "provision-postgresql-database", "parameters": {"name": name, "owner": "payments"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["approval"]["route"], "automatic", "{created:#}");
    let done = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert!(provisioned_exists(&object).await);
    let reference = format!("secret://databases/{name}/dev");
    assert_eq!(
        done["output"]["text"][0]["content"],
        format!("host 127.0.0.1, port 5432, database {object}, credentials at {reference}")
    );
    // The embedded default binds the notifier to the Lever inbox: the owning team's members
    // find the announcement there, once, and nobody else does.
    assert_eq!(step(&done, "announce")["status"], "succeeded", "{done:#}");
    let run_id = created["id"].as_str().unwrap();
    let announced = |inbox: &Value| {
        inbox["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["run_id"] == run_id)
            .cloned()
            .collect::<Vec<_>>()
    };
    for user in ["alice", "bob", "carol"] {
        let (status, inbox) = get(
            &server.client_for(user).await,
            format!("{}/api/v1/inbox", server.url),
        )
        .await;
        assert_eq!(status, 200, "{inbox}");
        let entries = announced(&inbox);
        assert_eq!(entries.len(), 1, "{user}: {inbox:#}");
        assert_eq!(
            entries[0]["subject"],
            format!("Database {name} (dev) is ready")
        );
        assert!(entries[0]["read_at"].is_null());
        assert!(inbox["unread"].as_i64().unwrap() >= 1);
    }
    let (_, inbox) = get(
        &server.client_for("dave").await,
        format!("{}/api/v1/inbox", server.url),
    )
    .await;
    assert!(announced(&inbox).is_empty(), "{inbox:#}");

    // The credentials are in the secrets store, readable by alice and her team, not others.
    let (status, secret) = get(
        &alice,
        format!("{}/api/v1/secrets/databases/{name}/dev", server.url),
    )
    .await;
    assert_eq!(status, 200, "{secret}");
    let credentials: Value = serde_json::from_str(secret["value"].as_str().unwrap()).unwrap();
    let bob = server.client_for("bob").await;
    assert_eq!(
        get(
            &bob,
            format!("{}/api/v1/secrets/databases/{name}/dev", server.url)
        )
        .await
        .0,
        200
    );
    let dave = server.client_for("dave").await;
    let (status, refused) = get(
        &dave,
        format!("{}/api/v1/secrets/databases/{name}/dev", server.url),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("team:payments"),
        "{refused}"
    );

    // They log in and own the database.
    let url = format!(
        "postgres://{}:{}@{}:{}/{}",
        credentials["username"].as_str().unwrap(),
        credentials["password"].as_str().unwrap(),
        credentials["host"].as_str().unwrap(),
        credentials["port"],
        credentials["database"].as_str().unwrap()
    );
    let mut db = sqlx::postgres::PgConnection::connect(&url)
        .await
        .expect("the stored credentials log in");
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(user, object);
    sqlx::query("CREATE TABLE orders (id bigint primary key)")
        .execute(&mut db)
        .await
        .expect("the role owns its database");
    db.close().await.unwrap();

    // The call is in the run log, by name; the password is nowhere in what the API answers.
    let password = credentials["password"].as_str().unwrap();
    let id = done["id"].as_str().unwrap();
    let mut answers = String::new();
    for path in [
        format!("/api/v1/runs/{id}"),
        format!("/api/v1/runs/{id}/events"),
        "/api/v1/audit".into(),
        "/api/v1/runs".into(),
        "/api/v1/notifications".into(),
        "/api/v1/bindings".into(),
    ] {
        let (status, body) = server.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push_str(&body.to_string());
    }
    assert!(
        answers.contains("infrastructure.apply via builtin:postgres: ok"),
        "the call is logged"
    );
    assert!(
        !answers.contains(password),
        "the password leaked into an API answer"
    );
    assert!(
        !server.log().contains(password),
        "the password leaked into the server log"
    );
    let db_file = std::fs::read(dir.path().join("lever.db")).unwrap();
    assert!(
        !db_file
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the password is stored unsealed"
    );
    drop_provisioned(&object).await;
}

#[tokio::test]
async fn a_failure_after_the_database_destroys_it_and_deletes_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    // The built-in secrets store only writes under databases/, services/ and apps/: the second
    // step is refused for real, after the database exists.
    let template = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: database-then-failure}
spec:
  owner: platform-team
  parameters:
    - properties: {name: {type: string}}
  steps:
    - id: database
      action: infrastructure.apply
      input: {workspace: "${{ parameters.name }}-dev", variables: {size: small}}
    - id: breaks
      action: secrets-store.put
      input: {path: "github-token", value: "overwritten"}
"#;
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(template)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        response.text().await.unwrap()
    );
    let name = unique_name("ledger");
    let object = format!("{}_dev", name.replace('-', "_"));
    let (status, created) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "database-then-failure", "parameters": {"name": name}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert_eq!(step(&run, "breaks")["error"]["kind"], "denied");
    assert_eq!(step(&run, "database")["status"], "rolled-back");
    assert!(
        !provisioned_exists(&object).await,
        "the rollback dropped the database"
    );
    let (status, _) = server
        .get_json(&format!("/api/v1/secrets/databases/{name}/dev"))
        .await;
    assert_eq!(status, 404, "the rollback deleted the credentials");
    let (_, events) = server
        .get_json(&format!(
            "/api/v1/runs/{}/events",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        events
            .to_string()
            .contains("infrastructure.destroy via builtin:postgres: ok"),
        "{events}"
    );
}

#[tokio::test]
async fn create_service_says_which_capabilities_the_embedded_default_leaves_unbound() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let (status, preview) = server
        .post_json(
            "/api/v1/templates/create-service/preview",
            json!({"parameters": {"name": "checkout", "owner": "payments"}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let missing: Vec<&str> = preview["missing_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["action"].as_str().unwrap())
        .collect();
    assert!(
        missing.contains(&"git-provider.create-repository")
            && missing.contains(&"observability.create-dashboard"),
        "{missing:?}"
    );
    // In words for the developer on the step, the fix for the platform team beside it.
    assert!(
        preview["steps"][0]["message"]
            .as_str()
            .unwrap()
            .contains("This needs `git-provider` (source hosting"),
        "{preview:#}"
    );
    let git = preview["missing_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["action"] == "git-provider.create-repository")
        .unwrap();
    assert_eq!(git["required"], true);
    assert!(
        git["fix"]
            .as_str()
            .unwrap()
            .contains("bindings.git-provider"),
        "{git}"
    );
    assert_eq!(preview["runnable"], false, "{preview:#}");

    // Not available in the catalog, in the template's own description and in a validation:
    // the developer knows before filling the form.
    let (_, list) = server.get_json("/api/v1/templates").await;
    let listed = |name: &str| {
        list["templates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["availability"]
            .clone()
    };
    assert_eq!(listed("create-service")["available"], false);
    assert_eq!(listed("provision-postgresql-database")["available"], true);
    let (_, shown) = server.get_json("/api/v1/templates/create-service").await;
    assert_eq!(shown["availability"]["available"], false);
    let (_, validation) = server
        .post_json(
            "/api/v1/templates/create-service/validate",
            json!({"parameters": {"name": "checkout", "owner": "payments"}}),
        )
        .await;
    assert_eq!(
        validation["availability"]["available"], false,
        "{validation}"
    );

    // Submitting it is refused with 409 naming what is missing, and nothing is created.
    let (_, before) = server.get_json("/api/v1/runs").await;
    let (status, refused) = User::of(&server, "alice")
        .await
        .post(
            "/api/v1/runs",
            json!({"template": "create-service", "parameters": {"name": "checkout", "owner": "payments"}}),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(
        refused["error"]["code"], "template-unavailable",
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("git-provider") && message.contains("bindings.git-provider"),
        "{message}"
    );
    let (_, after) = server.get_json("/api/v1/runs").await;
    assert_eq!(before["runs"], after["runs"], "no run was created");
    let (_, bindings) = server.get_json("/api/v1/bindings").await;
    let adapter = |c: &str| {
        bindings["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["capability"] == c)
            .unwrap()["adapter"]
            .clone()
    };
    assert_eq!(adapter("infrastructure"), "builtin:postgres");
    assert_eq!(adapter("git-provider"), Value::Null);
}

#[tokio::test]
async fn a_binding_to_an_adapter_never_published_fails_the_step_saying_what_to_publish() {
    let people = lever_identity::EMBEDDED_CONFIG
        .split("\nbindings:")
        .next()
        .unwrap();
    let yaml = format!(
        "{people}\nbindings:\n  git-provider: {{adapter: github, settings: {{token: 'secret://github-token'}}}}\n"
    );
    let templates = repo_root()
        .join("demo/templates")
        .to_string_lossy()
        .into_owned();
    let server = Server::start_configured(&yaml, &["--templates", &templates]);
    // Before anything runs: the submission is refused, saying which adapter to publish.
    let (status, refused) = server.post_json("/api/v1/runs", json!({"template": "create-service", "parameters": {"name": "orphan", "owner": "platform-team"}})).await;
    assert_eq!(status, 409, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bindings.git-provider.adapter")
            && message.contains("publish the adapter"),
        "{message}"
    );
    // And if a step that may fail calls it anyway, the step fails saying the same.
    server
        .apply_template(
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: optional-repo}\nspec:\n  owner: group:default/platform-team\n  steps:\n    - id: repository\n      name: Repository\n      action: git-provider.create-repository\n      onFailure: skip\n      input: {owner: o, name: orphan, description: '', private: true}\n",
        )
        .await;
    let (status, created) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "optional-repo", "parameters": {}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let run = server.wait(created["id"].as_str().unwrap()).await;
    let error = &step(&run, "repository")["error"];
    assert_eq!(
        error["kind"], "not-configured",
        "a configuration failure, classified where it happens: {run:#}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("bindings.git-provider.adapter")
            && message.contains("publish the adapter"),
        "{message}"
    );
}

#[tokio::test]
async fn an_owning_team_lever_does_not_know_is_the_fields_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let alice = User::of(&server, "alice").await;
    let parameters = json!({"name": unique_name("nobody"), "owner": "group:default/marketing"});
    // The preview and the validation say so on the field, with the teams to choose from.
    let (status, preview) = alice
        .post(
            "/api/v1/templates/provision-postgresql-database/preview",
            json!({ "parameters": parameters }),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    let error = preview["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "owner")
        .unwrap_or_else(|| panic!("no owner error: {preview:#}"));
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`group:default/marketing` is not a team this Lever knows")
            && message.contains("payments"),
        "{message}"
    );
    let (_, validation) = alice
        .post(
            "/api/v1/templates/provision-postgresql-database/validate",
            json!({ "parameters": parameters }),
        )
        .await;
    assert_eq!(validation["valid"], false, "{validation}");
    // Submitted anyway, it is refused before anything is routed or created: no run waits on
    // `marketing-leads`, a group nobody is in.
    let (_, before) = server.get_json("/api/v1/runs").await;
    let (status, refused) = alice
        .post(
            "/api/v1/runs",
            json!({"template": "provision-postgresql-database", "parameters": parameters}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid-parameters", "{refused}");
    assert_eq!(
        refused["error"]["details"][0]["field"], "owner",
        "{refused}"
    );
    let (_, after) = server.get_json("/api/v1/runs").await;
    assert_eq!(before["runs"], after["runs"], "no run was created");
    // A team it knows, in any of Backstage's spellings, is accepted.
    for owner in ["payments", "group:default/payments"] {
        let (_, validation) = alice
            .post(
                "/api/v1/templates/provision-postgresql-database/validate",
                json!({"parameters": {"name": "orders", "owner": owner}}),
            )
            .await;
        assert_eq!(validation["valid"], true, "{owner}: {validation}");
    }
}
