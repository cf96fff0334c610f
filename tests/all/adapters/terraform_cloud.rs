//! The Terraform Cloud adapter against a fake Terraform Cloud (workspaces, runs, outputs).

use std::time::Duration;

use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::Fault;
use lever_tests::fakes::terraform_cloud::{CENTS_PER_RESOURCE, FakeTerraformCloud};
use serde_json::{Value, json};

const ORG: &str = "acme";
const TOKEN: &str = "tfc-api-token-never-logged";

async fn fake() -> FakeTerraformCloud {
    FakeTerraformCloud::start(ORG, TOKEN).await
}

async fn harness(fake: &FakeTerraformCloud) -> AdapterHarness {
    AdapterHarness::new(
        "adapter_terraform_cloud",
        &fake.authority(),
        &[("tfc-token", TOKEN)],
    )
    .await
}

fn settings(fake: &FakeTerraformCloud) -> Value {
    json!({"base_url": fake.base_url(), "organization": ORG, "token": "secret://tfc-token"})
}

async fn call(
    harness: &AdapterHarness,
    fake: &FakeTerraformCloud,
    function: &str,
    input: Value,
) -> Result<Value, AdapterFailure> {
    harness
        .call("infrastructure", function, settings(fake), input)
        .await
}

/// Polls `status` until the run leaves pending/applying.
async fn settle(harness: &AdapterHarness, fake: &FakeTerraformCloud, id: &str) -> Value {
    for _ in 0..10 {
        let status = call(harness, fake, "status", json!({"id": id}))
            .await
            .unwrap();
        if !matches!(status["state"].as_str(), Some("pending" | "applying")) {
            return status;
        }
    }
    panic!("run {id} never settled");
}

#[tokio::test]
async fn describes_itself() {
    let fake = fake().await;
    let manifest = harness(&fake).await.manifest().clone();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("terraform-cloud", "0.1.0")
    );
    assert_eq!(manifest.capabilities, vec!["infrastructure".to_string()]);
    assert_eq!(manifest.grants.hosts, vec!["app.terraform.io".to_string()]);
    assert_eq!(manifest.input_schema["additionalProperties"], json!(false));
}

#[tokio::test]
async fn apply_polls_to_applied_then_outputs_hide_the_sensitive_one_and_destroy_removes_everything()
{
    let fake = fake().await;
    let harness = harness(&fake).await;
    let variables =
        json!({"name": "payments", "replicas": 3, "zones": ["a", "b"], "greeting": "hi ${user}"});
    let started = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "payments-prod", "variables": variables}),
    )
    .await
    .unwrap();
    assert!(
        matches!(started["state"].as_str(), Some("pending" | "applying")),
        "{started}"
    );
    assert!(
        fake.workspace_exists("payments-prod"),
        "a missing workspace is created"
    );

    let lookup = &fake
        .recorder
        .matching("GET /api/v2/organizations/acme/workspaces/payments-prod")[0];
    assert_eq!(
        lookup.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let create = &fake
        .recorder
        .matching("POST /api/v2/organizations/acme/workspaces")[0];
    assert_eq!(
        create.header("content-type"),
        Some("application/vnd.api+json")
    );
    assert_eq!(create.json["data"]["type"], "workspaces");
    assert_eq!(create.json["data"]["attributes"]["name"], "payments-prod");
    let run = &fake.recorder.matching("POST /api/v2/runs")[0];
    assert_eq!(
        run.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(run.header("content-type"), Some("application/vnd.api+json"));
    let data = &run.json["data"];
    assert_eq!(data["type"], "runs");
    assert_eq!(data["attributes"]["auto-apply"], true);
    assert_eq!(
        data["relationships"]["workspace"]["data"],
        json!({"type": "workspaces", "id": "ws-0001"})
    );
    let sent: Vec<(String, String)> = data["attributes"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (key, hcl) in [
        ("name", r#""payments""#),
        ("replicas", "3"),
        ("zones", r#"["a", "b"]"#),
        ("greeting", r#""hi $${user}""#),
    ] {
        assert!(
            sent.contains(&(key.to_string(), hcl.to_string())),
            "{key} as HCL {hcl}: {sent:?}"
        );
    }

    let id = started["id"].as_str().unwrap().to_string();
    let done = settle(&harness, &fake, &id).await;
    // Once applied, what the apply did, from its plan's counts.
    assert_eq!(
        done,
        json!({"id": id, "state": "applied", "message": null, "changes": [
            {"address": "4 resources in payments-prod", "action": "create", "owner": null, "monthly_cost_cents": null}
        ]})
    );
    let mut resources = fake.resources("payments-prod");
    resources.sort();
    assert_eq!(
        resources,
        [
            "terraform_data.greeting",
            "terraform_data.name",
            "terraform_data.replicas",
            "terraform_data.zones"
        ]
    );

    let outputs = call(
        &harness,
        &fake,
        "outputs",
        json!({"workspace": "payments-prod"}),
    )
    .await
    .unwrap();
    assert_eq!(outputs["name"], "payments");
    assert_eq!(outputs["replicas"], 3);
    assert_eq!(
        outputs["admin_password"],
        "terraform-cloud://acme/payments-prod/outputs/admin_password"
    );
    assert!(
        !outputs
            .to_string()
            .contains(&FakeTerraformCloud::sensitive_value("payments-prod")),
        "{outputs}"
    );
    assert_eq!(
        fake.recorder
            .matching("GET /api/v2/workspaces/ws-0001/current-state-version-outputs")
            .len(),
        1
    );

    let destroying = call(
        &harness,
        &fake,
        "destroy",
        json!({"workspace": "payments-prod"}),
    )
    .await
    .unwrap();
    let destroy_run = &fake.recorder.matching("POST /api/v2/runs")[1];
    assert_eq!(destroy_run.json["data"]["attributes"]["is-destroy"], true);
    let destroy_id = destroying["id"].as_str().unwrap().to_string();
    assert_ne!(destroy_id, id);
    assert_eq!(
        settle(&harness, &fake, &destroy_id).await["state"],
        "applied"
    );
    assert!(fake.resources("payments-prod").is_empty());

    for line in harness.log.lines() {
        assert!(
            !line.message.contains(TOKEN) && !line.message.contains("tfc-sensitive-password"),
            "{}",
            line.message
        );
    }
}

#[tokio::test]
async fn plan_waits_for_the_plan_and_counts_changes_and_cost() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let applied = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "analytics", "variables": {"a": 1, "b": 2}}),
    )
    .await
    .unwrap();
    settle(&harness, &fake, applied["id"].as_str().unwrap()).await;

    let plan = call(
        &harness,
        &fake,
        "plan",
        json!({"workspace": "analytics", "variables": {"b": 3, "c": 4}}),
    )
    .await
    .unwrap();
    assert_eq!(
        plan["changes"],
        json!([
            {"address": "1 resource in analytics", "action": "create", "owner": null, "monthly_cost_cents": null},
            {"address": "1 resource in analytics", "action": "update", "owner": null, "monthly_cost_cents": null},
            {"address": "1 resource in analytics", "action": "delete", "owner": null, "monthly_cost_cents": null}
        ])
    );
    assert_eq!(plan["monthly_cost_cents"], json!(CENTS_PER_RESOURCE));
    let run = fake
        .runs()
        .into_iter()
        .find(|r| r.id == plan["id"])
        .expect("the plan's run");
    assert!(
        run.plan_only && run.status == "planned_and_finished",
        "{run:?}"
    );
    let posted = &fake.recorder.matching("POST /api/v2/runs")[1];
    assert_eq!(posted.json["data"]["attributes"]["plan-only"], true);
    let polls = fake
        .recorder
        .matching(&format!("GET /api/v2/runs/{}", run.id));
    assert!(polls.len() >= 2, "the plan was polled until finished");
    assert!(
        polls[0].query.contains("include=plan"),
        "{}",
        polls[0].query
    );
    let mut resources = fake.resources("analytics");
    resources.sort();
    assert_eq!(
        resources,
        ["terraform_data.a", "terraform_data.b"],
        "a plan changes nothing"
    );
}

#[tokio::test]
async fn an_errored_run_reports_errored_with_a_link_to_the_run() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let started = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "broken", "variables": {"fail": true}}),
    )
    .await
    .unwrap();
    let id = started["id"].as_str().unwrap();
    let status = settle(&harness, &fake, id).await;
    assert_eq!(status["state"], "errored");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("/app/acme/workspaces/broken/runs/{id}")),
        "{message}"
    );

    let err = call(
        &harness,
        &fake,
        "plan",
        json!({"workspace": "broken", "variables": {"fail": true}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-fatal", "{}", err.message());
}

#[tokio::test]
async fn outputs_and_destroy_of_a_missing_workspace_are_not_found_and_create_nothing() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    for function in ["outputs", "destroy"] {
        let err = call(&harness, &fake, function, json!({"workspace": "ghost"}))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "plugin-not-found",
            "{function}: {}",
            err.message()
        );
        assert!(err.message().contains("ghost"), "{}", err.message());
    }
    assert!(!fake.workspace_exists("ghost"));
    assert!(fake.recorder.matching("POST").is_empty());
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_retry_after() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "POST /api/v2/runs".into(),
        times: 1,
        status: 429,
        body: json!({"errors": [{"status": "429", "title": "Too many requests"}]}),
        retry_after: Some(1),
    });
    call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "limited", "variables": {}}),
    )
    .await
    .unwrap();
    let posts = fake.recorder.matching("POST /api/v2/runs");
    assert_eq!(posts.len(), 2);
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_secs(1));
    assert_eq!(fake.runs().len(), 1);
}

#[tokio::test]
async fn persistent_503_is_retryable() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "/api/v2/".into(),
        times: 10,
        status: 503,
        body: json!({"errors": [{"status": "503", "title": "Service Unavailable"}]}),
        retry_after: None,
    });
    let err = call(&harness, &fake, "status", json!({"id": "run-0001"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-retryable", "{}", err.message());
    assert!(
        err.message().contains("Service Unavailable"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_422_is_invalid_input_with_terraform_clouds_detail() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "POST /api/v2/runs".into(),
        times: 1,
        status: 422,
        body: json!({"errors": [{"status": "422", "title": "invalid attribute", "detail": "Variables are not supported by this workspace's Terraform version"}]}),
        retry_after: None,
    });
    let err = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "old", "variables": {"a": 1}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(
        err.message().contains("Variables are not supported"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_wrong_token_is_denied_and_inline_tokens_or_bad_names_are_refused() {
    let fake = fake().await;
    let wrong = AdapterHarness::new(
        "adapter_terraform_cloud",
        &fake.authority(),
        &[("tfc-token", "wrong")],
    )
    .await;
    let err = call(&wrong, &fake, "outputs", json!({"workspace": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-denied", "{}", err.message());
    assert!(err.message().contains("unauthorized"), "{}", err.message());

    let harness = harness(&fake).await;
    let requests = fake.recorder.requests().len();
    let inline = json!({"base_url": fake.base_url(), "organization": ORG, "token": TOKEN});
    let err = harness
        .call(
            "infrastructure",
            "outputs",
            inline,
            json!({"workspace": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(!err.message().contains(TOKEN));
    let err = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "../runs", "variables": {}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    let err = call(
        &harness,
        &fake,
        "apply",
        json!({"workspace": "ok", "variables": [1, 2]}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert_eq!(
        fake.recorder.requests().len(),
        requests,
        "refused before any request"
    );
}
