//! Approvals through the HTTP API of a real server on a manual clock: each policy dimension
//! alone and combined, quorum, order, self-approval, one-click links, SLA timers, restarts,
//! rejection, the audit chain and the measures.

use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::{Value, json};

/// The HMAC key of one-click links in these tests, so a test can sign links of its own.
pub(crate) const LINK_KEY: &str = "6c657665722d746573742d6c696e6b2d6b65792d3332206279746573212121";

/// Users and groups of the tests: the demo's, plus `ivan` (a second payments lead).
pub(crate) fn config(extra: &str) -> String {
    format!(
        r#"
users:
  - {{id: admin, team: platform-team, groups: [platform]}}
  - {{id: alice, team: payments}}
  - {{id: bob, team: payments}}
  - {{id: carol, team: payments, groups: [payments-leads]}}
  - {{id: ivan, team: payments, groups: [payments-leads]}}
  - {{id: dave, team: search, groups: [search-leads]}}
  - {{id: erin, team: finance, groups: [finance]}}
  - {{id: frank, team: security, groups: [security]}}
  - {{id: grace, groups: [change-freeze-approvers]}}
  - {{id: heidi, groups: [platform-oncall]}}
groups:
  - {{name: platform, roles: [platform]}}
  - {{name: payments, runs: {{owners: ["group:default/payments"]}}}}
  - {{name: search}}
  - {{name: finance}}
  - {{name: security}}
  - {{name: payments-leads, roles: [approver]}}
  - {{name: search-leads, roles: [approver]}}
  - {{name: change-freeze-approvers, roles: [approver]}}
  - {{name: platform-oncall, roles: [approver]}}
  - {{name: finance-managers, roles: [approver]}}
  - {{name: security-oncall, roles: [approver]}}
links:
  key: "{LINK_KEY}"
  ttl_minutes: 60
{extra}
"#
    )
}

/// A change freeze active from 2000 to 2100.
pub(crate) const FREEZE: &str = r#"
freeze_windows:
  - {name: year-end, reason: year-end freeze, start: "2000-01-01T00:00:00Z", end: "2100-01-01T00:00:00Z"}
"#;

const PROVISION: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: provision, tags: [database]}
spec:
  owner: group:default/payments
  type: resource
  parameters:
    - properties:
        environment: {type: string, enum: [dev, staging, production], default: dev}
        monthly_usd: {type: number, default: 10}
        owner: {type: string, default: payments}
  steps:
    - id: create
      name: Create
      action: approval-resource
      input: {name: db, monthly_usd: "${{ parameters.monthly_usd }}"}
"#;

const DECOMMISSION: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: decommission}
spec:
  owner: group:default/payments
  type: resource
  parameters:
    - properties:
        environment: {type: string, enum: [dev, staging, production], default: dev}
  steps:
    - id: backup
      name: Back up
      action: approval-resource
      input: {name: backup}
    - id: drop
      name: Drop the database
      action: approval-drop
      input: {name: db}
"#;

const GATED: &str = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: gated}
spec:
  owner: group:default/payments
  steps:
    - id: first
      name: First
      action: approval-resource
      input: {name: first}
    - id: second
      name: Second
      action: approval-resource
      approval: required
      input: {name: second}
"#;

/// A server with the approval guests and templates, on a manual clock.
pub(crate) async fn approval_server(extra_config: &str) -> Server {
    let server = Server::start_configured(&config(extra_config), &["--manual-clock"]);
    prepare(&server).await;
    server
}

/// Publishes the guests and applies the templates (for a server a test started itself).
pub(crate) async fn prepare_public(server: &Server) {
    prepare(server).await;
}

async fn prepare(server: &Server) {
    for guest in ["approval_resource", "approval_drop"] {
        server.publish_ok(fixture(guest), &[]).await;
    }
    for yaml in [PROVISION, DECOMMISSION, GATED] {
        let response = server
            .http
            .post(format!("{}/api/v1/templates", server.url))
            .body(yaml)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
}

/// A user's client: their own API token.
pub(crate) struct User {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
}

impl User {
    pub(crate) async fn of(server: &Server, id: &str) -> Self {
        Self {
            http: server.client_for(id).await,
            url: server.url.clone(),
        }
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    pub(crate) async fn submit(&self, template: &str, parameters: Value) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/runs",
                json!({"template": template, "parameters": parameters}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub(crate) async fn approve(&self, stage: &str) -> (u16, Value) {
        self.post(
            &format!("/api/v1/approvals/{stage}/approve"),
            json!({"comment": "looks right"}),
        )
        .await
    }
}

/// Polls run `id` until its status is `status` (30 s at most).
pub(crate) async fn wait_for(server: &Server, id: &str, status: &str) -> Value {
    for _ in 0..300 {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        if run["status"] == status {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
    panic!("run {id} did not reach {status}: {run:#}");
}

/// The run's stages by name.
pub(crate) async fn stage(server: &Server, run: &str, name: &str) -> Value {
    let (_, body) = server
        .get_json(&format!("/api/v1/approvals?run={run}"))
        .await;
    body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no stage {name}: {body:#}"))
}

fn stage_names(created: &Value) -> Vec<String> {
    created["approval"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn anonymous_calls_are_refused_with_a_message_and_roles_are_enforced() {
    let server = approval_server("").await;
    let anonymous = reqwest::Client::new();
    let response = anonymous
        .get(format!("{}/api/v1/runs", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer"),
        "{body}"
    );
    assert_eq!(
        anonymous
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let forged = anonymous
        .get(format!("{}/api/v1/runs", server.url))
        .bearer_auth("lvr_not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);

    let alice = User::of(&server, "alice").await;
    let (status, me) = alice.get("/api/v1/me").await;
    assert_eq!((status, me["id"].as_str()), (200, Some("alice")));
    // A developer cannot publish plugins, templates or policies.
    let response = alice
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(PROVISION)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let response = alice
        .http
        .put(format!("{}/api/v1/policies/default", server.url))
        .body("package x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    // Nor run a template of another team.
    let dave = User::of(&server, "dave").await;
    let (status, body) = dave
        .post(
            "/api/v1/runs",
            json!({"template": "provision", "parameters": {}}),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // A revoked token stops working.
    let (_, created) = server
        .post_json("/api/v1/tokens", json!({"user": "bob", "name": "laptop"}))
        .await;
    let bob = lever_tests::server::client(created["token"].as_str());
    assert_eq!(
        bob.get(format!("{}/api/v1/me", server.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let id = created["record"]["id"].as_str().unwrap();
    let revoked = server
        .http
        .delete(format!("{}/api/v1/tokens/{id}", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 204);
    let response = bob
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.text().await.unwrap().contains("revoked"));
}

#[tokio::test]
async fn environment_dev_and_staging_are_automatic_production_needs_the_team_lead() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    for environment in ["dev", "staging"] {
        let created = alice
            .submit("provision", json!({"environment": environment}))
            .await;
        assert_eq!(created["approval"]["route"], "automatic", "{created:#}");
        wait_for(&server, created["id"].as_str().unwrap(), "succeeded").await;
    }
    let created = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    assert_eq!(created["status"], "awaiting-approval");
    assert_eq!(stage_names(&created), ["team-lead"]);
    let id = created["id"].as_str().unwrap();
    let lead = stage(&server, id, "team-lead").await;
    assert_eq!(lead["groups"], json!(["payments-leads"]));
    assert!(
        lead["reasons"].to_string().contains("production"),
        "{lead:#}"
    );

    let carol = User::of(&server, "carol").await;
    let (_, assigned) = carol.get("/api/v1/approvals?assigned=me").await;
    assert_eq!(
        assigned["approvals"].as_array().unwrap().len(),
        1,
        "{assigned:#}"
    );
    let (status, body) = carol.approve(lead["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "run-released");
    let run = wait_for(&server, id, "succeeded").await;
    assert_eq!(run["approval_route"], "approval");
}

#[tokio::test]
async fn cost_tiers_add_the_team_lead_then_finance_in_order() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let cheap = alice.submit("provision", json!({"monthly_usd": 50})).await;
    assert_eq!(cheap["approval"]["route"], "automatic");
    let middle = alice.submit("provision", json!({"monthly_usd": 200})).await;
    assert_eq!(stage_names(&middle), ["team-lead"]);
    assert!(
        middle["approval"]["stages"][0]["reasons"]
            .to_string()
            .contains("200"),
        "{middle:#}"
    );

    let costly = alice.submit("provision", json!({"monthly_usd": 600})).await;
    assert_eq!(stage_names(&costly), ["team-lead", "finance"]);
    let id = costly["id"].as_str().unwrap();
    let finance = stage(&server, id, "finance").await;
    assert_eq!(
        finance["status"], "blocked",
        "finance comes after the team lead"
    );
    // Sequential order is enforced: finance cannot decide before the lead.
    let erin = User::of(&server, "erin").await;
    let (status, body) = erin.approve(finance["id"].as_str().unwrap()).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("blocked"),
        "{body}"
    );

    let carol = User::of(&server, "carol").await;
    let (_, body) = carol
        .approve(
            stage(&server, id, "team-lead").await["id"]
                .as_str()
                .unwrap(),
        )
        .await;
    assert_eq!(body["outcome"], "stage-approved");
    assert_eq!(stage(&server, id, "finance").await["status"], "open");
    assert_eq!(
        wait_for(&server, id, "awaiting-approval").await["status"],
        "awaiting-approval"
    );
    let (_, body) = erin.approve(finance["id"].as_str().unwrap()).await;
    assert_eq!(body["outcome"], "run-released", "{body}");
    wait_for(&server, id, "succeeded").await;
}

#[tokio::test]
async fn resources_of_another_team_need_that_teams_lead() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let created = alice.submit("provision", json!({"owner": "search"})).await;
    assert_eq!(stage_names(&created), ["search-lead"], "{created:#}");
    let id = created["id"].as_str().unwrap();
    let search = stage(&server, id, "search-lead").await;
    assert_eq!(search["groups"], json!(["search-leads"]));
    // The requester's own lead is not enough.
    let carol = User::of(&server, "carol").await;
    assert_eq!(carol.approve(search["id"].as_str().unwrap()).await.0, 403);
    let dave = User::of(&server, "dave").await;
    assert_eq!(dave.approve(search["id"].as_str().unwrap()).await.0, 200);
    wait_for(&server, id, "succeeded").await;
}

#[tokio::test]
async fn a_high_risk_step_waits_for_security_review_even_in_dev() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit("decommission", json!({"environment": "dev"}))
        .await;
    assert_eq!(stage_names(&created), ["security-review"], "{created:#}");
    assert_eq!(created["status"], "pending", "only the step is gated");
    let id = created["id"].as_str().unwrap();
    // The run goes as far as the gated step and waits there without holding a worker.
    let run = wait_for(&server, id, "awaiting-approval").await;
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "succeeded");
    assert_eq!(steps[1]["status"], "pending");
    let review = stage(&server, id, "security-review").await;
    assert_eq!(review["step"], "drop");
    assert_eq!(review["status"], "open");
    assert!(
        review["context"]["high_risk_steps"]
            .to_string()
            .contains("approval-drop"),
        "{review:#}"
    );
    let frank = User::of(&server, "frank").await;
    assert_eq!(frank.approve(review["id"].as_str().unwrap()).await.0, 200);
    let run = wait_for(&server, id, "succeeded").await;
    assert_eq!(run["steps"][1]["status"], "succeeded");
}

#[tokio::test]
async fn a_step_marked_approval_required_pauses_before_that_step() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let created = alice.submit("gated", json!({})).await;
    let id = created["id"].as_str().unwrap();
    let run = wait_for(&server, id, "awaiting-approval").await;
    assert_eq!(run["steps"][0]["status"], "succeeded");
    let gate = stage(&server, id, "step-approval").await;
    assert_eq!(gate["step"], "second");
    let carol = User::of(&server, "carol").await;
    // A rejection at a step's gate ends the run `rejected`, with the reason.
    let (status, _) = carol
        .post(
            &format!("/api/v1/approvals/{}/reject", gate["id"].as_str().unwrap()),
            json!({"comment": "not this week"}),
        )
        .await;
    assert_eq!(status, 200);
    let run = wait_for(&server, id, "rejected").await;
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not this week"),
        "{run:#}"
    );
    assert_eq!(
        run["steps"][1]["status"], "pending",
        "the gated step never ran"
    );
}

#[tokio::test]
async fn a_freeze_adds_an_exception_in_production_and_leaves_dev_automatic() {
    let server = approval_server(FREEZE).await;
    let alice = User::of(&server, "alice").await;
    let dev = alice
        .submit("provision", json!({"environment": "dev"}))
        .await;
    assert_eq!(dev["approval"]["route"], "automatic", "{dev:#}");
    let production = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    assert_eq!(
        stage_names(&production),
        ["change-freeze-exception", "team-lead"],
        "{production:#}"
    );
    let exception = stage(
        &server,
        production["id"].as_str().unwrap(),
        "change-freeze-exception",
    )
    .await;
    assert!(
        exception["reasons"].to_string().contains("year-end"),
        "{exception:#}"
    );
}

#[tokio::test]
async fn deleting_a_production_database_during_a_freeze_needs_lead_security_and_exception() {
    let server = approval_server(FREEZE).await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit("decommission", json!({"environment": "production"}))
        .await;
    let mut names = stage_names(&created);
    names.sort();
    assert_eq!(
        names,
        ["change-freeze-exception", "security-review", "team-lead"],
        "{created:#}"
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(stage(&server, id, "security-review").await["step"], "drop");
    // The run-level stages first; then the run goes on to the gated step.
    for (user, name) in [("carol", "team-lead"), ("grace", "change-freeze-exception")] {
        let approver = User::of(&server, user).await;
        assert_eq!(
            approver
                .approve(stage(&server, id, name).await["id"].as_str().unwrap())
                .await
                .0,
            200
        );
    }
    let run = wait_for(&server, id, "awaiting-approval").await;
    assert_eq!(run["steps"][0]["status"], "succeeded");
    let frank = User::of(&server, "frank").await;
    assert_eq!(
        frank
            .approve(
                stage(&server, id, "security-review").await["id"]
                    .as_str()
                    .unwrap()
            )
            .await
            .0,
        200
    );
    wait_for(&server, id, "succeeded").await;
}

#[tokio::test]
async fn the_requester_cannot_approve_and_one_person_counts_once() {
    let server = approval_server("").await;
    // A quorum policy: production needs two distinct payments leads.
    let policy = r#"package lever.approval
import rego.v1

default decision := {"stages": [], "reasons": ["not production"]}

decision := {"stages": stages, "reasons": ["production needs two leads"]} if input.environment == "production"

stages := [{"name": "two-leads", "groups": ["payments-leads"], "required": 2, "reasons": ["two leads approve production"]}]
"#;
    let response = server
        .http
        .put(format!("{}/api/v1/policies/default", server.url))
        .body(policy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        response.text().await.unwrap()
    );

    let carol = User::of(&server, "carol").await;
    let created = carol
        .submit("provision", json!({"environment": "production"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let two = stage(&server, id, "two-leads").await;
    assert_eq!(two["required"], 2);
    assert!(
        two["policy_version"]
            .as_str()
            .unwrap()
            .contains("default@1"),
        "{two:#}"
    );
    let stage_id = two["id"].as_str().unwrap();
    let (status, body) = carol.approve(stage_id).await;
    assert_eq!(status, 403, "the requester approving their own run: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requested this run")
    );

    let ivan = User::of(&server, "ivan").await;
    let (_, first) = ivan.approve(stage_id).await;
    assert_eq!(first["outcome"], "counted");
    let (status, again) = ivan.approve(stage_id).await;
    assert_eq!(status, 409, "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("once"));
    assert_eq!(stage(&server, id, "two-leads").await["approvals"], 1);
    assert_eq!(
        server.get_json(&format!("/api/v1/runs/{id}")).await.1["status"],
        "awaiting-approval"
    );
}

#[tokio::test]
async fn a_rejection_ends_the_run_with_the_reason() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let carol = User::of(&server, "carol").await;
    let lead = stage(&server, id, "team-lead").await;
    let (status, body) = carol
        .post(
            &format!("/api/v1/approvals/{}/reject", lead["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(status, 400, "a rejection needs a comment: {body}");
    let (status, _) = carol
        .post(
            &format!("/api/v1/approvals/{}/reject", lead["id"].as_str().unwrap()),
            json!({"comment": "use the shared cluster"}),
        )
        .await;
    assert_eq!(status, 200);
    let run = wait_for(&server, id, "rejected").await;
    assert_eq!(run["error"]["kind"], "rejected");
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("use the shared cluster")
    );
    assert_eq!(run["steps"][0]["status"], "pending", "nothing ran");

    // A run cancelled while it waits ends `cancelled`, its stage closed.
    let waiting = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    let waiting = waiting["id"].as_str().unwrap();
    assert_eq!(
        alice
            .post(&format!("/api/v1/runs/{waiting}/cancel"), json!({}))
            .await
            .0,
        202
    );
    wait_for(&server, waiting, "cancelled").await;
    assert_eq!(
        stage(&server, waiting, "team-lead").await["status"],
        "cancelled"
    );
}

#[tokio::test]
async fn on_postgresql_a_quorum_of_stages_releases_the_run_and_the_audit_chain_holds() {
    let server = Server::start_postgres_configured(&config(FREEZE), &["--manual-clock"]).await;
    prepare(&server).await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit("decommission", json!({"environment": "production"}))
        .await;
    let id = created["id"].as_str().unwrap();
    // Two approvers decide on two parallel stages at the same moment.
    let carol = User::of(&server, "carol").await;
    let grace = User::of(&server, "grace").await;
    let lead = stage(&server, id, "team-lead").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let exception = stage(&server, id, "change-freeze-exception").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (a, b) = tokio::join!(carol.approve(&lead), grace.approve(&exception));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    wait_for(&server, id, "awaiting-approval").await;
    let frank = User::of(&server, "frank").await;
    assert_eq!(
        frank
            .approve(
                stage(&server, id, "security-review").await["id"]
                    .as_str()
                    .unwrap()
            )
            .await
            .0,
        200
    );
    wait_for(&server, id, "succeeded").await;
    let (_, verification) = server.get_json("/api/v1/audit/verify").await;
    assert_eq!(verification["intact"], true, "{verification:#}");
    assert!(
        verification["rows"].as_i64().unwrap() >= 10,
        "{verification:#}"
    );
}
