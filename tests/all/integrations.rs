//! The demo templates through real adapter components against local servers speaking each
//! provider's API: the same `create-service` with `git-provider` bound to GitHub, then to
//! GitLab; a failure in the middle rolling back every provider; an approval decided with a
//! signed Slack button press; an action importing a capability; and no secret value anywhere
//! in what the API answers or the server logs.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use lever_tests::databases::{drop_provisioned, provisioned_exists, unique_name};
use lever_tests::fakes::Fault;
use lever_tests::fakes::datadog::FakeDatadog;
use lever_tests::fakes::github::FakeGitHub;
use lever_tests::fakes::gitlab::FakeGitLab;
use lever_tests::fakes::slack::FakeSlack;
use lever_tests::fakes::terraform_cloud::FakeTerraformCloud;
use lever_tests::fakes::vault::FakeVault;
use lever_tests::guests::{fixture, plugins_dir};
use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};
use sha2::Sha256;

const GITHUB_TOKEN: &str = "ghp_integration0000000000000000000001";
const GITLAB_TOKEN: &str = "glpat-integration000000000002";
const VAULT_TOKEN: &str = "hvs.integration000000000003";
const DD_API: &str = "ddapi000000000000000000000000004";
const DD_APP: &str = "ddapp00000000000000000000000000000000005";
const SLACK_TOKEN: &str = "xoxb-integration-000000000006";
const SLACK_SIGNING: &str = "slacksigning00000000000000000007";
const TFC_TOKEN: &str = "tfc.atlasv1.integration0000000008";

/// Every fake provider of one test.
struct Providers {
    github: FakeGitHub,
    gitlab: FakeGitLab,
    vault: FakeVault,
    datadog: FakeDatadog,
    slack: FakeSlack,
}

impl Providers {
    async fn start() -> Self {
        Self {
            github: FakeGitHub::start(GITHUB_TOKEN).await,
            gitlab: FakeGitLab::start(GITLAB_TOKEN).await,
            vault: FakeVault::start(VAULT_TOKEN, "role", "secret-id").await,
            datadog: FakeDatadog::start(DD_API, DD_APP).await,
            slack: FakeSlack::start(SLACK_TOKEN, &["payments", "U0CAROL"]).await,
        }
    }

    /// The demo config (users, groups) with every capability bound to an adapter; `git` picks
    /// the git provider. carol, the payments lead, has a Slack id.
    fn config(&self, git: &str) -> String {
        self.config_with(git, "{adapter: 'builtin:postgres'}")
    }

    /// The same with `infrastructure` bound as `infrastructure` says.
    fn config_with(&self, git: &str, infrastructure: &str) -> String {
        let demo = lever_identity::EMBEDDED_CONFIG;
        let people = demo
            .split("\nbindings:")
            .next()
            .unwrap()
            .replace("  - id: carol\n", "  - id: carol\n    slack: U0CAROL\n");
        let git_binding = match git {
            "github" => format!(
                "{{adapter: github, settings: {{base_url: '{}', token: 'secret://github-token'}}}}",
                self.github.base_url()
            ),
            _ => format!(
                "{{adapter: gitlab, settings: {{base_url: '{}', token: 'secret://gitlab-token'}}}}",
                self.gitlab.base_url()
            ),
        };
        format!(
            "{people}\nbindings:\n  git-provider: {git_binding}\n  infrastructure: {infrastructure}\n  secrets-store: {{adapter: vault, settings: {{base_url: '{}', token: 'secret://vault-token'}}}}\n  observability: {{adapter: datadog, settings: {{base_url: '{}', api_key: 'secret://datadog-api-key', app_key: 'secret://datadog-app-key'}}}}\n  notifier: {{adapter: slack, settings: {{base_url: '{}', token: 'secret://slack-bot-token', signing_secret: 'secret://slack-signing-secret'}}}}\n",
            self.vault.base_url(),
            self.datadog.base_url(),
            self.slack.base_url(),
        )
    }

    /// A server with the demo templates and every first-party plugin, the credentials stored.
    async fn server(&self, git: &str) -> Server {
        self.server_with(self.config(git)).await
    }

    /// A server on `config`, with the demo templates, every plugin and the credentials.
    async fn server_with(&self, config: String) -> Server {
        let plugins = plugins_dir().to_string_lossy().into_owned();
        let templates = repo_root()
            .join("demo/templates")
            .to_string_lossy()
            .into_owned();
        let server =
            Server::start_configured(&config, &["--publish", &plugins, "--templates", &templates]);
        for (name, value) in CREDENTIALS {
            server.put_secret(name, value).await;
        }
        server
    }
}

const CREDENTIALS: &[(&str, &str)] = &[
    ("github-token", GITHUB_TOKEN),
    ("gitlab-token", GITLAB_TOKEN),
    ("vault-token", VAULT_TOKEN),
    ("datadog-api-key", DD_API),
    ("datadog-app-key", DD_APP),
    ("slack-bot-token", SLACK_TOKEN),
    ("slack-signing-secret", SLACK_SIGNING),
    ("tfc-token", TFC_TOKEN),
];

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {run:#}"))
}

/// Runs `template` as alice (a payments developer) and waits for it to end or pause.
async fn run_as_alice(server: &Server, template: &str, parameters: Value) -> Value {
    let alice = server.client_for("alice").await;
    let response = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": template, "parameters": parameters}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    server.wait(created["id"].as_str().unwrap()).await
}

/// Everything the API answers about a run, the audit trail and the bindings, plus the server log.
async fn everything_said(server: &Server, run_id: &str) -> String {
    let mut said = server.log();
    for path in [
        format!("/api/v1/runs/{run_id}"),
        format!("/api/v1/runs/{run_id}/events"),
        "/api/v1/runs".into(),
        "/api/v1/audit".into(),
        "/api/v1/bindings".into(),
        "/api/v1/notifications".into(),
        format!("/api/v1/approvals?run={run_id}"),
    ] {
        let (status, body) = server.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        said.push_str(&body.to_string());
    }
    said
}

fn assert_no_secret_in(said: &str, extra: &[&str]) {
    for (name, value) in CREDENTIALS {
        assert!(
            !said.contains(value),
            "the value of `{name}` appears in what the API answers or logs"
        );
    }
    for value in extra {
        assert!(
            !said.contains(value),
            "a secret value appears in what the API answers or logs"
        );
    }
}

#[tokio::test]
async fn create_service_runs_unchanged_on_github_then_gitlab() {
    let providers = Providers::start().await;
    let mut seen = BTreeMap::new();
    for git in ["github", "gitlab"] {
        let server = providers.server(git).await;
        let name = unique_name("svc");
        let full_name = format!("acme/{name}");
        let (status, preview) = server
            .post_json(
                "/api/v1/templates/create-service/preview",
                json!({"parameters": {"name": name, "owner": "payments"}}),
            )
            .await;
        assert_eq!(status, 200, "{preview}");
        assert!(
            preview["missing_actions"].as_array().unwrap().is_empty(),
            "{preview:#}"
        );
        assert_eq!(step(&preview, "repository")["resolved"], git);
        assert_eq!(
            step(&preview, "repository")["plan"]["resources"][0],
            json!({"kind": "repository", "name": full_name, "change": "create", "monthly_cost_cents": null})
        );
        assert_eq!(
            step(&preview, "database")["plan"]["resources"][0]["monthly_cost_cents"],
            5_000,
            "the provider's plan prices the database"
        );
        assert_eq!(preview["monthly_cost_cents"], 5_000);
        let run = run_as_alice(
            &server,
            "create-service",
            json!({"name": name, "owner": "payments"}),
        )
        .await;
        assert_eq!(run["status"], "succeeded", "{git}: {run:#}");
        for id in [
            "repository",
            "access",
            "pull-request",
            "database",
            "runtime-secret",
            "dashboard",
            "alert",
            "notify",
        ] {
            assert_eq!(step(&run, id)["status"], "succeeded", "{git} {id}: {run:#}");
        }
        let number = step(&run, "pull-request")["output"]["number"]
            .as_u64()
            .unwrap();
        let catalog_info = match git {
            "github" => {
                let gh = &providers.github;
                assert!(gh.repo_exists(&full_name));
                assert_eq!(
                    gh.team_permission(&full_name, "payments").as_deref(),
                    Some("maintain")
                );
                assert_eq!(gh.pull_state(&full_name, number).as_deref(), Some("open"));
                gh.file(&full_name, "lever/register", "catalog-info.yaml")
            }
            _ => {
                let gl = &providers.gitlab;
                assert!(gl.repo_exists(&full_name));
                assert_eq!(
                    gl.team_permission(&full_name, "payments").as_deref(),
                    Some("maintain")
                );
                assert_eq!(gl.pull_state(&full_name, number).as_deref(), Some("open"));
                assert_eq!(
                    gl.forked_from(&full_name).as_deref(),
                    Some("acme/service-template")
                );
                gl.file(&full_name, "lever/register", "catalog-info.yaml")
            }
        };
        assert!(
            catalog_info
                .unwrap_or_default()
                .contains(&format!("name: {name}"))
        );
        let object = format!("{}_dev", name.replace('-', "_"));
        assert!(provisioned_exists(&object).await);
        let runtime = providers
            .vault
            .secret(&format!("services/{name}/dev"))
            .expect("the runtime secret is in Vault");
        assert!(
            runtime.contains(&format!("DATABASE_NAME={object}")),
            "{runtime}"
        );
        assert!(
            providers
                .datadog
                .dashboard_exists(step(&run, "dashboard")["output"]["id"].as_str().unwrap())
        );
        assert!(
            providers
                .datadog
                .monitor_exists(step(&run, "alert")["output"].as_str().unwrap())
        );
        assert!(providers.slack.messages().iter().any(
            |m| m["channel"] == "payments" && m["text"].as_str().unwrap_or("").contains(&name)
        ));
        let said = everything_said(&server, run["id"].as_str().unwrap()).await;
        assert!(
            said.contains(&format!("git-provider.create-repository via {git}: ok")),
            "every call is in the run log"
        );
        assert!(
            said.contains("[sealed]"),
            "the runtime secret's value is not shown"
        );
        assert_no_secret_in(&said, &[&runtime]);
        seen.insert(
            git,
            step(&run, "repository")["output"]["url"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        drop_provisioned(&object).await;
    }
    assert_ne!(
        seen["github"], seen["gitlab"],
        "each provider created its own repository"
    );
}

#[tokio::test]
async fn a_failure_in_the_middle_rolls_back_every_provider() {
    let providers = Providers::start().await;
    let server = providers.server("github").await;
    providers.datadog.recorder.fail(Fault {
        matches: "POST /api/v1/monitor".into(),
        times: 1,
        status: 400,
        body: json!({"errors": ["The value provided for parameter 'query' is invalid"]}),
        retry_after: None,
    });
    let name = unique_name("broken");
    let full_name = format!("acme/{name}");
    let object = format!("{}_dev", name.replace('-', "_"));
    let run = run_as_alice(
        &server,
        "create-service",
        json!({"name": name, "owner": "payments"}),
    )
    .await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    let failed = step(&run, "alert");
    assert_eq!(failed["error"]["kind"], "invalid-input", "{failed:#}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The value provided for parameter 'query' is invalid"),
        "{failed:#}"
    );
    for id in [
        "repository",
        "pull-request",
        "database",
        "runtime-secret",
        "dashboard",
    ] {
        assert_eq!(step(&run, id)["status"], "rolled-back", "{id}: {run:#}");
    }
    let number = step(&run, "pull-request")["output"]["number"]
        .as_u64()
        .unwrap();
    assert_eq!(
        providers.github.pull_state(&full_name, number),
        None,
        "the repository went, and its pull request with it"
    );
    assert!(
        !providers
            .github
            .recorder
            .matching(&format!("PATCH /repos/{full_name}/pulls/{number}"))
            .is_empty(),
        "the pull request was closed first"
    );
    assert!(
        !providers.github.repo_exists(&full_name),
        "repository deleted"
    );
    assert!(
        !providers.vault.exists(&format!("services/{name}/dev")),
        "secret removed"
    );
    assert!(
        !providers
            .datadog
            .dashboard_exists(step(&run, "dashboard")["output"]["id"].as_str().unwrap()),
        "dashboard deleted"
    );
    assert!(!provisioned_exists(&object).await, "database dropped");
}

fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

async fn press(server: &Server, payload: &Value, timestamp: i64, secret: &str) -> (u16, Value) {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/slack/interactions", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", sign(secret, timestamp, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_production_database_is_approved_with_a_signed_slack_button() {
    let providers = Providers::start().await;
    let server = providers.server("github").await;
    let name = unique_name("prod");
    let run = run_as_alice(
        &server,
        "provision-postgresql-database",
        json!({"name": name, "owner": "payments", "environment": "production"}),
    )
    .await;
    assert_eq!(run["status"], "awaiting-approval", "{run:#}");
    let id = run["id"].as_str().unwrap();

    // carol, the payments lead, gets a Slack message with her own approve and reject buttons.
    let mut message = None;
    for _ in 0..100 {
        message = providers
            .slack
            .messages()
            .into_iter()
            .find(|m| m["channel"] == "U0CAROL");
        if message.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let message = message.expect("carol is messaged in Slack");
    let buttons = message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()["elements"]
        .clone();
    let approve = buttons
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["action_id"] == "lever-approve")
        .unwrap()
        .clone();
    assert_eq!(approve["style"], "primary");
    let payload = json!({"type": "block_actions", "user": {"id": "U0CAROL"}, "actions": [approve]});
    let now = chrono_now();

    // Not signed by Slack, or too old: refused, nothing decided.
    assert_eq!(
        press(&server, &payload, now, "not-the-signing-secret")
            .await
            .0,
        401
    );
    assert_eq!(
        press(&server, &payload, now - 600, SLACK_SIGNING).await.0,
        401
    );
    // Someone else pressing carol's button: refused.
    let mallory =
        json!({"type": "block_actions", "user": {"id": "U0NOBODY"}, "actions": [approve]});
    assert_eq!(press(&server, &mallory, now, SLACK_SIGNING).await.0, 403);
    assert_eq!(
        server.get_json(&format!("/api/v1/runs/{id}")).await.1["status"],
        "awaiting-approval"
    );

    let (status, answer) = press(&server, &payload, now, SLACK_SIGNING).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["text"].as_str().unwrap().contains("carol approved"),
        "{answer}"
    );
    // The link behind the button works once.
    assert_eq!(press(&server, &payload, now, SLACK_SIGNING).await.0, 409);
    let done = server.wait(id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let object = format!("{}_production", name.replace('-', "_"));
    assert!(provisioned_exists(&object).await);
    let (_, secret) = server
        .get_json(&format!("/api/v1/secrets/databases/{name}/production"))
        .await;
    let password =
        serde_json::from_str::<Value>(secret["value"].as_str().unwrap()).unwrap()["password"]
            .as_str()
            .unwrap()
            .to_string();
    let said = everything_said(&server, id).await;
    assert!(
        said.contains("notifier.send via slack: ok"),
        "the notification call is in the run log"
    );
    assert_no_secret_in(&said, &[&password]);
    drop_provisioned(&object).await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn an_action_that_imports_a_capability_reaches_the_bound_adapter() {
    let providers = Providers::start().await;
    let server = providers.server("github").await;
    server.publish_ok(fixture("capability_caller"), &[]).await;
    server.publish_ok(fixture("workflow_fail"), &[]).await;
    let template = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: action-with-capability}
spec:
  owner: platform-team
  parameters:
    - properties: {name: {type: string}, fail: {type: boolean}}
  steps:
    - id: repository
      action: capability-caller
      input: {owner: acme, name: "${{ parameters.name }}"}
      rollback:
        action: git-provider.delete-repository
        input: {full_name: "${{ steps.repository.output.full_name }}"}
    - id: then
      if: ${{ parameters.fail }}
      action: workflow-fail
      input: {kind: fatal, message: "injected failure"}
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

    let name = unique_name("act");
    let (_, created) = server.post_json("/api/v1/runs", json!({"template": "action-with-capability", "parameters": {"name": name, "fail": false}})).await;
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert!(providers.github.repo_exists(&format!("acme/{name}")));
    let said = everything_said(&server, run["id"].as_str().unwrap()).await;
    assert!(
        said.contains("git-provider.create-repository via github: ok"),
        "the import's call is in the run log"
    );

    let name = unique_name("act");
    let (_, created) = server.post_json("/api/v1/runs", json!({"template": "action-with-capability", "parameters": {"name": name, "fail": true}})).await;
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert!(
        !providers.github.repo_exists(&format!("acme/{name}")),
        "the step's rollback deleted what the action created"
    );
}

#[tokio::test]
async fn the_database_template_runs_unchanged_on_terraform_cloud_and_a_failure_destroys_the_workspace()
 {
    let providers = Providers::start().await;
    let tfc = FakeTerraformCloud::start("acme", TFC_TOKEN).await;
    let binding = format!(
        "{{adapter: terraform-cloud, settings: {{base_url: '{}', organization: acme, token: 'secret://tfc-token'}}}}",
        tfc.base_url()
    );
    let server = providers
        .server_with(providers.config_with("github", &binding))
        .await;
    let name = unique_name("tfc");
    let workspace = format!("{name}-dev");

    let (status, preview) = server
        .post_json(
            "/api/v1/templates/provision-postgresql-database/preview",
            json!({"parameters": {"name": name, "owner": "payments"}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(step(&preview, "database")["resolved"], "terraform-cloud");
    assert_eq!(
        preview["monthly_cost_cents"],
        4 * lever_tests::fakes::terraform_cloud::CENTS_PER_RESOURCE,
        "Terraform Cloud's cost estimate: {preview:#}"
    );

    let run = run_as_alice(
        &server,
        "provision-postgresql-database",
        json!({"name": name, "owner": "payments"}),
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let database = step(&run, "database");
    assert_eq!(
        database["output"]["state"], "applied",
        "polled until applied: {database:#}"
    );
    assert!(
        !tfc.resources(&workspace).is_empty(),
        "the workspace manages what the apply created"
    );
    let secret = FakeTerraformCloud::sensitive_value(&workspace);
    assert_eq!(
        database["output"]["outputs"]["admin_password"],
        format!("terraform-cloud://acme/{workspace}/outputs/admin_password")
    );
    let said = everything_said(&server, run["id"].as_str().unwrap()).await;
    assert!(
        said.contains("infrastructure.status via terraform-cloud: ok"),
        "the polls are in the run log"
    );
    assert_no_secret_in(&said, &[&secret]);

    // The same apply followed by a failing step: the workspace is destroyed again.
    server.publish_ok(fixture("workflow_fail"), &[]).await;
    let template = r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: workspace-then-failure}
spec:
  owner: platform-team
  parameters:
    - properties: {name: {type: string}}
  steps:
    - id: database
      action: infrastructure.apply
      input: {workspace: "${{ parameters.name }}-dev", variables: {size: small}}
    - id: breaks
      action: workflow-fail
      input: {kind: fatal, message: "injected failure"}
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
    let name = unique_name("tfc");
    let (_, created) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "workspace-then-failure", "parameters": {"name": name}}),
        )
        .await;
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert!(tfc.workspace_exists(&format!("{name}-dev")));
    assert!(
        tfc.resources(&format!("{name}-dev")).is_empty(),
        "the rollback's destroy run removed everything"
    );
}
