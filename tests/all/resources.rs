//! The resource inventory on the demo catalog (`docs/resources.md`): another team asking for a
//! database by name is refused naming the owner and never reads it; a database created outside
//! Lever is never adopted; the same team asking again gets its own credentials back; a
//! rollback undoes only what its run created; a crash between the provider's create and the
//! step's end records the database once and does not create it twice.

use lever_tests::databases::{
    drop_provisioned, postgres_admin_url, provisioned_exists, unique_name,
};
use lever_tests::server::Server;
use lever_tests::step;
use serde_json::{Value, json};
use sqlx::Connection;

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

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

const DATABASE: &str = "provision-postgresql-database";

/// `client` asks for database `name` (dev) owned by `owner`: the preview, then the submit.
async fn ask(
    server: &Server,
    client: &reqwest::Client,
    name: &str,
    owner: &str,
) -> (Value, u16, Value) {
    let parameters = json!({"name": name, "owner": owner});
    let (status, preview) = post(
        client,
        format!("{}/api/v1/templates/{DATABASE}/preview", server.url),
        json!({"parameters": parameters}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    let (status, submitted) = post(
        client,
        format!("{}/api/v1/runs", server.url),
        json!({"template": DATABASE, "parameters": parameters}),
    )
    .await;
    (preview, status, submitted)
}

/// The inventory's rows for a workspace, any state.
async fn inventory(server: &Server, workspace: &str) -> Vec<Value> {
    let (status, body) = server.get_json("/api/v1/resources?limit=1000").await;
    assert_eq!(status, 200, "{body}");
    body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["scope"] == workspace)
        .cloned()
        .collect()
}

async fn admin() -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .expect("PostgreSQL as admin")
}

async fn role_password(role: &str) -> Option<String> {
    sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
        .bind(role)
        .fetch_optional(&mut admin().await)
        .await
        .unwrap()
        .flatten()
}

#[tokio::test]
async fn another_team_asking_for_a_database_by_name_is_refused_naming_the_owner_and_never_reads_it()
{
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let name = unique_name("orders");
    let object = format!("{}_dev", name.replace('-', "_"));
    let workspace = format!("{name}-dev");
    let secret_url = format!("{}/api/v1/secrets/databases/{name}/dev", server.url);
    let alice = server.client_for("alice").await;
    let dave = server.client_for("dave").await;

    let (preview, status, created) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(
        preview["steps"][0]["plan"]["resources"][0]["change"],
        "create"
    );
    assert_eq!(status, 201, "{created}");
    let first = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(first["status"], "succeeded", "{first:#}");
    let (status, secret) = get(&alice, secret_url.clone()).await;
    assert_eq!(status, 200, "{secret}");
    let password_hash = role_password(&object).await;

    // dave (search) asks for the same name for his team: the preview names the owner, the
    // submit is refused with it, and nothing changes.
    let (preview, status, refused) = ask(&server, &dave, &name, "search").await;
    let planned = &preview["steps"][0]["plan"]["resources"][0];
    assert_eq!(planned["change"], "exists", "{preview:#}");
    assert_eq!(planned["existing"]["owner"], "payments");
    assert_eq!(planned["existing"]["created_by_run"], first["id"]);
    assert_eq!(preview["conflicts"][0]["owner"], "payments", "{preview:#}");
    assert_eq!(status, 409, "{refused}");
    let said = refused["error"]["message"].as_str().unwrap();
    assert!(said.contains("team payments"), "{said}");
    // Naming payments as the owner does not help: dave is not in it.
    let (_, status, refused) = ask(&server, &dave, &name, "payments").await;
    assert_eq!(status, 409, "{refused}");

    let (status, _) = get(&dave, secret_url.clone()).await;
    assert_eq!(status, 403, "dave never reads alice's credentials");
    let (status, again) = get(&alice, secret_url.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["value"], secret["value"],
        "alice's credentials are unchanged"
    );
    assert_eq!(role_password(&object).await, password_hash);

    // alice asks again: it exists, nothing to do, and the run hands her own reference back.
    let (preview, status, created) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(
        preview["steps"][0]["plan"]["resources"][0]["change"],
        "exists"
    );
    assert_eq!(preview["conflicts"], json!([]), "{preview:#}");
    assert_eq!(
        preview["monthly_cost_cents"], 0,
        "nothing new costs anything"
    );
    assert_eq!(status, 201, "{created}");
    let second = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(second["status"], "succeeded", "{second:#}");
    assert_eq!(
        step(&second, "database")["output"]["outputs"]["credentials"],
        format!("secret://databases/{name}/dev")
    );
    assert!(
        step(&second, "database")["output"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing of it is this run's to undo"),
        "{second:#}"
    );
    let (_, again) = get(&alice, secret_url.clone()).await;
    assert_eq!(again["value"], secret["value"]);
    assert_eq!(role_password(&object).await, password_hash);

    // The inventory holds it once, alice's team's, from the first run, with its credentials.
    let rows = inventory(&server, &workspace).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!(row["state"], "live");
    assert_eq!(row["owner"], "payments");
    assert_eq!(row["requester"], "alice");
    assert_eq!(row["kind"], "postgresql-database");
    assert_eq!(row["name"], object);
    assert_eq!(row["run_id"], first["id"]);
    assert_eq!(row["monthly_cost_cents"], 5_000);
    assert_eq!(row["template"], DATABASE);
    assert_eq!(
        row["secrets"],
        json!([format!("secret://databases/{name}/dev")])
    );
    // Filters narrow it; a state that does not exist is a 400 that lists the states.
    let (_, payments) = get(
        &dave,
        format!(
            "{}/api/v1/resources?team=payments&kind=postgresql-database&state=live&environment=dev",
            server.url
        ),
    )
    .await;
    let listed = payments["resources"].as_array().unwrap();
    assert!(listed.iter().any(|r| r["scope"] == workspace));
    let mine = listed.iter().find(|r| r["scope"] == workspace).unwrap();
    assert_eq!(
        mine["may_read_credentials"], false,
        "dave may list, not read"
    );
    let (_, search) = get(
        &dave,
        format!("{}/api/v1/resources?team=search", server.url),
    )
    .await;
    assert!(
        !search["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["scope"] == workspace)
    );
    let (status, bad) = get(&dave, format!("{}/api/v1/resources?state=gone", server.url)).await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("orphaned")
    );
    drop_provisioned(&object).await;
}

#[tokio::test]
async fn a_database_created_outside_lever_is_never_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let name = unique_name("legacy");
    let object = format!("{}_dev", name.replace('-', "_"));
    let mut db = admin().await;
    sqlx::query(&format!(
        "CREATE ROLE \"{object}\" LOGIN PASSWORD 'kept-outside'"
    ))
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{object}\" OWNER \"{object}\""))
        .execute(&mut db)
        .await
        .unwrap();
    let before = role_password(&object).await;
    let alice = server.client_for("alice").await;

    let (preview, status, refused) = ask(&server, &alice, &name, "payments").await;
    let planned = &preview["steps"][0]["plan"]["resources"][0];
    assert_eq!(planned["change"], "exists", "{preview:#}");
    assert_eq!(planned["existing"]["managed"], false);
    assert_eq!(planned["existing"]["provider_owner"], object.as_str());
    assert_eq!(preview["conflicts"][0]["owner"], Value::Null);
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Lever did not create it"),
        "{refused}"
    );
    assert!(provisioned_exists(&object).await);
    assert_eq!(
        role_password(&object).await,
        before,
        "its password is untouched"
    );
    let (status, _) = server
        .get_json(&format!("/api/v1/secrets/databases/{name}/dev"))
        .await;
    assert_eq!(status, 404, "no credentials were written for it");
    assert!(inventory(&server, &format!("{name}-dev")).await.is_empty());
    drop_provisioned(&object).await;
}

/// A template whose database step is followed by a step that fails for real (the built-in
/// secrets store refuses a path outside its binding).
const DATABASE_THEN_FAILURE: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: database-then-failure, tags: [payments]}
spec:
  owner: platform-team
  parameters:
    - properties: {name: {type: string}, owner: {type: string}}
  steps:
    - id: database
      action: infrastructure.apply
      input: {workspace: "${{ parameters.name }}-dev", variables: {size: small, owner: "${{ parameters.owner }}"}}
    - id: breaks
      action: secrets-store.put
      input: {path: "github-token", value: "overwritten"}
"#;

#[tokio::test]
async fn a_rollback_removes_the_database_its_run_created_and_keeps_one_that_existed_with_its_rows()
{
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    server.apply_template(DATABASE_THEN_FAILURE).await;
    let alice = server.client_for("alice").await;

    // Created by the failing run: gone again, and the inventory says it was destroyed.
    let name = unique_name("ledger");
    let object = format!("{}_dev", name.replace('-', "_"));
    let (status, created) = post(
        &alice,
        format!("{}/api/v1/runs", server.url),
        json!({"template": "database-then-failure", "parameters": {"name": name, "owner": "payments"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert!(
        !provisioned_exists(&object).await,
        "the run's own database is dropped"
    );
    let rows = inventory(&server, &format!("{name}-dev")).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "destroyed");
    assert_eq!(rows[0]["ended_by_run"], run["id"]);

    // Existing before the run (alice's, with a table and a row): kept, with its row.
    let name = unique_name("ledger");
    let object = format!("{}_dev", name.replace('-', "_"));
    let (_, status, made) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        server.wait(made["id"].as_str().unwrap()).await["status"],
        "succeeded"
    );
    let (_, secret) = get(
        &alice,
        format!("{}/api/v1/secrets/databases/{name}/dev", server.url),
    )
    .await;
    let credentials: Value = serde_json::from_str(secret["value"].as_str().unwrap()).unwrap();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:5432/{}",
        credentials["username"].as_str().unwrap(),
        credentials["password"].as_str().unwrap(),
        credentials["database"].as_str().unwrap()
    );
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE entries (id bigint primary key, memo text)")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO entries VALUES (1, 'before the run')")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let (status, created) = post(
        &alice,
        format!("{}/api/v1/runs", server.url),
        json!({"template": "database-then-failure", "parameters": {"name": name, "owner": "payments"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(
        run["status"], "failed",
        "nothing of its own to undo: {run:#}"
    );
    assert_eq!(step(&run, "database")["status"], "succeeded", "{run:#}");
    assert_eq!(run["error"]["kept"][0]["workspace"], format!("{name}-dev"));
    assert!(
        run["error"]["kept"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("of team payments"),
        "{run:#}"
    );
    let (_, events) = server
        .get_json(&format!(
            "/api/v1/runs/{}/events",
            run["id"].as_str().unwrap()
        ))
        .await;
    assert!(events.to_string().contains("rollback-kept"), "{events}");
    assert!(
        !events.to_string().contains("infrastructure.destroy"),
        "{events}"
    );
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let memo: String = sqlx::query_scalar("SELECT memo FROM entries WHERE id = 1")
        .fetch_one(&mut db)
        .await
        .expect("the database and its row are still there");
    assert_eq!(memo, "before the run");
    db.close().await.unwrap();
    let rows = inventory(&server, &format!("{name}-dev")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "live");
    drop_provisioned(&object).await;
}

#[tokio::test]
async fn a_crash_between_the_providers_create_and_the_steps_end_records_the_database_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = demo_server(dir.path());
    let name = unique_name("crash");
    let object = format!("{}_dev", name.replace('-', "_"));
    let alice = server.client_for("alice").await;

    // Holding pg_database in SHARE mode lets the provider look and create the role, and stops
    // it at CREATE DATABASE: the role exists, the step has not ended.
    let mut lock = admin().await;
    let mut tx = lock.begin().await.unwrap();
    sqlx::query("LOCK TABLE pg_database IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (status, created) = post(
        &alice,
        format!("{}/api/v1/runs", server.url),
        json!({"template": DATABASE, "parameters": {"name": name, "owner": "payments"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let pattern = format!("CREATE DATABASE \"{object}\"%");
    let mut watcher = admin().await;
    let mut blocked = false;
    for _ in 0..300 {
        blocked = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND wait_event_type = 'Lock')",
        )
        .bind(&pattern)
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if blocked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(blocked, "the provider reached CREATE DATABASE");
    let role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&object)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
    assert!(role, "the provider created the role before the crash");
    server.kill();
    // The killed server's statement dies with it, as the crash would have it.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1")
        .bind(&pattern)
        .execute(&mut watcher)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    // Restarted on the same data dir (its plugins and templates are in the database).
    let server = Server::start_in(dir.path(), &[]);
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        step(&run, "database")["attempts"],
        1,
        "resumed as the same attempt"
    );
    assert!(provisioned_exists(&object).await);
    let rows = inventory(&server, &format!("{name}-dev")).await;
    assert_eq!(rows.len(), 1, "recorded once: {rows:#?}");
    assert_eq!(rows[0]["state"], "live");
    assert_eq!(rows[0]["run_id"], id.as_str());
    // The credentials stored after the resume log in to the database.
    let (_, secret) = get(
        &alice,
        format!("{}/api/v1/secrets/databases/{name}/dev", server.url),
    )
    .await;
    let credentials: Value = serde_json::from_str(secret["value"].as_str().unwrap()).unwrap();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:5432/{}",
        credentials["username"].as_str().unwrap(),
        credentials["password"].as_str().unwrap(),
        credentials["database"].as_str().unwrap()
    );
    sqlx::PgConnection::connect(&url)
        .await
        .expect("the stored credentials log in")
        .close()
        .await
        .unwrap();
    drop_provisioned(&object).await;
}

/// Whether `password` is the one PostgreSQL stores for a role as `SCRAM-SHA-256$iter:salt$stored:server`
/// (RFC 5802's ServerKey, recomputed): this server trusts local connections, so a login would
/// not tell an old password from a new one.
fn scram_matches(stored: &str, password: &str) -> bool {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    type HmacSha256 = Hmac<sha2::Sha256>;
    let rest = stored
        .strip_prefix("SCRAM-SHA-256$")
        .expect("a SCRAM verifier");
    let (params, keys) = rest.split_once('$').unwrap();
    let (iterations, salt) = params.split_once(':').unwrap();
    let (_, server_key) = keys.split_once(':').unwrap();
    let iterations: u32 = iterations.parse().unwrap();
    let salt = STANDARD.decode(salt).unwrap();
    // PBKDF2-HMAC-SHA-256, one 32-byte block.
    let mac = |key: &[u8], data: &[u8]| {
        let mut m = HmacSha256::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes()
    };
    let mut block = salt.clone();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = mac(password.as_bytes(), &block);
    let mut salted = u;
    for _ in 1..iterations {
        u = mac(password.as_bytes(), &u);
        for (s, x) in salted.iter_mut().zip(u.iter()) {
            *s ^= x;
        }
    }
    STANDARD.encode(mac(&salted, b"Server Key")) == server_key
}

fn password_of(secret: &Value) -> String {
    let credentials: Value = serde_json::from_str(secret["value"].as_str().unwrap()).unwrap();
    credentials["password"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn day_2_rotate_resize_and_delete_a_database_the_team_owns() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let name = unique_name("daytwo");
    let object = format!("{}_dev", name.replace('-', "_"));
    let workspace = format!("{name}-dev");
    let secret_url = format!("{}/api/v1/secrets/databases/{name}/dev", server.url);
    let alice = server.client_for("alice").await;
    let bob = server.client_for("bob").await;
    let carol = server.client_for("carol").await;
    let dave = server.client_for("dave").await;
    let frank = server.client_for("frank").await;
    let (_, status, made) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        server.wait(made["id"].as_str().unwrap()).await["status"],
        "succeeded"
    );
    let (_, secret) = get(&alice, secret_url.clone()).await;
    let old_password = password_of(&secret);
    assert!(scram_matches(
        &role_password(&object).await.unwrap(),
        &old_password
    ));
    let target = json!({"name": name, "environment": "dev"});
    let submit = |client: &reqwest::Client, template: &str, parameters: Value| {
        let (client, url, template) = (client.clone(), server.url.clone(), template.to_string());
        async move {
            post(
                &client,
                format!("{url}/api/v1/runs"),
                json!({"template": template, "parameters": parameters}),
            )
            .await
        }
    };

    // Another team may not act on it.
    for template in [
        "rotate-postgresql-credentials",
        "resize-postgresql-database",
        "delete-postgresql-database",
    ] {
        let (status, refused) = submit(&dave, template, target.clone()).await;
        assert_eq!(status, 409, "{template}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("team payments")
        );
    }

    // Rotate: a new password in the same secret, the old one no longer the role's; readers as before.
    let (status, created) = submit(&alice, "rotate-postgresql-credentials", target.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["approval"]["route"], "automatic");
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let (_, rotated) = get(&alice, secret_url.clone()).await;
    let new_password = password_of(&rotated);
    assert_ne!(new_password, old_password);
    let verifier = role_password(&object).await.unwrap();
    assert!(
        scram_matches(&verifier, &new_password),
        "the new password is the role's"
    );
    assert!(
        !scram_matches(&verifier, &old_password),
        "the old password stops working"
    );
    assert_eq!(
        get(&bob, secret_url.clone()).await.0,
        200,
        "payments still reads it"
    );
    assert_eq!(
        get(&dave, secret_url.clone()).await.0,
        403,
        "search still does not"
    );

    // Resize to medium: the preview costs the new size, so the payments lead approves it.
    let resize = json!({"name": name, "environment": "dev", "size": "medium"});
    let (status, preview) = post(
        &alice,
        format!(
            "{}/api/v1/templates/resize-postgresql-database/preview",
            server.url
        ),
        json!({"parameters": resize}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["steps"][0]["plan"]["resources"][0]["change"],
        "update"
    );
    assert_eq!(preview["monthly_cost_cents"], 15_000);
    let (status, created) = submit(&alice, "resize-postgresql-database", resize).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["approval"]["route"], "approval", "{created:#}");
    let id = created["id"].as_str().unwrap();
    let lead = crate::approvals::stage(&server, id, "team-lead").await;
    let (status, decided) = post(
        &carol,
        format!(
            "{}/api/v1/approvals/{}/approve",
            server.url,
            lead["id"].as_str().unwrap()
        ),
        json!({"comment": "fine"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(server.wait(id).await["status"], "succeeded");
    let rows = inventory(&server, &workspace).await;
    assert_eq!(rows[0]["monthly_cost_cents"], 15_000, "{rows:#?}");
    assert_eq!(rows[0]["run_id"], made["id"], "the creator stays");

    // Delete: high risk, so security reviews it; then the database, its role and its
    // credentials are gone and the inventory says destroyed, by this run.
    let (status, created) = submit(&alice, "delete-postgresql-database", target.clone()).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    crate::approvals::wait_for(&server, id, "awaiting-approval").await;
    let review = crate::approvals::stage(&server, id, "security-review").await;
    assert!(
        provisioned_exists(&object).await,
        "nothing is dropped before the review"
    );
    let (status, decided) = post(
        &frank,
        format!(
            "{}/api/v1/approvals/{}/approve",
            server.url,
            review["id"].as_str().unwrap()
        ),
        json!({"comment": "reviewed"}),
    )
    .await;
    assert_eq!(status, 200, "{decided}");
    let run = server.wait(id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert!(
        !provisioned_exists(&object).await,
        "the database is dropped"
    );
    assert_eq!(role_password(&object).await, None, "and its role");
    let (status, _) = server
        .get_json(&format!("/api/v1/secrets/databases/{name}/dev"))
        .await;
    assert_eq!(status, 404, "and its credentials");
    let rows = inventory(&server, &workspace).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["state"], "destroyed");
    assert_eq!(rows[0]["ended_by_run"], id);
}

/// The database step undoes within 3 s, then a slow step, then one that fails for real.
const DATABASE_SLOW_FAILURE: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: database-slow-failure, tags: [payments]}
spec:
  owner: platform-team
  parameters:
    - properties: {name: {type: string}, owner: {type: string}}
  steps:
    - id: database
      action: infrastructure.apply
      timeout: 3s
      input: {workspace: "${{ parameters.name }}-dev", variables: {size: small, owner: "${{ parameters.owner }}"}}
    - id: slow
      action: workflow-sleep
      input: {ms: 1500}
    - id: breaks
      action: secrets-store.put
      input: {path: "github-token", value: "overwritten"}
"#;

async fn until_step(server: &Server, id: &str, step_id: &str, status: &str) {
    for _ in 0..1200 {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        if step(&run, step_id)["status"] == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
    panic!("step {step_id} of run {id} never became {status}: {run:#}");
}

#[tokio::test]
async fn a_failed_rollback_leaves_an_orphan_and_reconciling_marks_a_database_dropped_outside_as_drifted()
 {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    server
        .publish_ok(lever_tests::guests::fixture("workflow_sleep"), &[])
        .await;
    server.apply_template(DATABASE_SLOW_FAILURE).await;
    let alice = server.client_for("alice").await;
    let name = unique_name("orphan");
    let object = format!("{}_dev", name.replace('-', "_"));
    let (status, created) = post(
        &alice,
        format!("{}/api/v1/runs", server.url),
        json!({"template": "database-slow-failure", "parameters": {"name": name, "owner": "payments"}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    until_step(&server, &id, "slow", "running").await;
    // The database exists; holding pg_database in SHARE mode now makes its DROP wait past the
    // step's 3 s timeout: the rollback fails.
    let mut lock = admin().await;
    let mut tx = lock.begin().await.unwrap();
    sqlx::query("LOCK TABLE pg_database IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let run = server.wait(&id).await;
    let mut watcher = admin().await;
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE $1")
        .bind(format!("DROP DATABASE IF EXISTS \"{object}\"%"))
        .execute(&mut watcher)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(run["status"], "rollback-failed", "{run:#}");
    assert!(provisioned_exists(&object).await, "left behind");
    let rows = inventory(&server, &format!("{name}-dev")).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["state"], "orphaned");
    let note = rows[0]["note"].as_str().unwrap();
    assert!(
        note.contains("the rollback of step database") && note.contains(&id),
        "{note}"
    );
    // The platform sees it: the inventory's filter, the insights' figure and finding.
    let (_, orphans) = server.get_json("/api/v1/resources?state=orphaned").await;
    assert_eq!(orphans["resources"].as_array().unwrap().len(), 1);
    let (_, insights) = server.get_json("/api/v1/insights").await;
    assert_eq!(
        insights["resources"]["orphaned"], 1,
        "{:#}",
        insights["resources"]
    );
    assert_eq!(insights["resources"]["orphaned_monthly_cost_cents"], 5_000);
    assert!(
        insights["interpretation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "orphaned-resources"),
        "{:#}",
        insights["interpretation"]
    );
    // Never silently reused: asking for the name again is refused until it is cleaned up.
    let (preview, status, refused) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(
        preview["steps"][0]["plan"]["resources"][0]["existing"]["state"],
        "orphaned"
    );
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("left behind by a failed rollback"),
        "{refused}"
    );
    drop_provisioned(&object).await;

    // A live database dropped outside Lever: reconciling finds it gone.
    let name = unique_name("drift");
    let object = format!("{}_dev", name.replace('-', "_"));
    let (_, status, made) = ask(&server, &alice, &name, "payments").await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        server.wait(made["id"].as_str().unwrap()).await["status"],
        "succeeded"
    );
    let (status, refused) = post(
        &alice,
        format!("{}/api/v1/resources/reconcile", server.url),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "platform only: {refused}");
    let (status, found) = server
        .post_json("/api/v1/resources/reconcile", json!({}))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["drifted"], json!([]), "nothing is gone yet: {found}");
    drop_provisioned(&object).await;
    let (_, found) = server
        .post_json("/api/v1/resources/reconcile", json!({}))
        .await;
    let rows = inventory(&server, &format!("{name}-dev")).await;
    assert_eq!(found["drifted"], json!([rows[0]["id"]]), "{found}");
    assert_eq!(rows[0]["state"], "drifted");
    assert!(rows[0]["note"].as_str().unwrap().contains("no longer has"));
}
