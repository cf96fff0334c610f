//! The GitLab adapter (`plugins/adapter-gitlab`) against a local server speaking GitLab's
//! documented REST API v4 (`lever_tests::fakes::gitlab`).

use std::time::Duration;

use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::Fault;
use lever_tests::fakes::gitlab::{FakeGitLab, TEMPLATE};
use serde_json::{Value, json};

const TOKEN: &str = "glpat-test";

async fn setup() -> (FakeGitLab, AdapterHarness) {
    let fake = FakeGitLab::start(TOKEN).await;
    let harness = AdapterHarness::new(
        "adapter_gitlab",
        &fake.authority(),
        &[("gitlab-token", TOKEN)],
    )
    .await;
    (fake, harness)
}

fn settings(fake: &FakeGitLab) -> Value {
    json!({"base_url": fake.base_url(), "token": "secret://gitlab-token"})
}

fn new_project(name: &str) -> Value {
    json!({"owner": "acme", "name": name, "description": "Payments service", "private": true, "template": null})
}

async fn create_project(fake: &FakeGitLab, harness: &AdapterHarness, name: &str) -> Value {
    harness
        .call(
            "git-provider",
            "create-repository",
            settings(fake),
            new_project(name),
        )
        .await
        .expect("project created")
}

async fn open_merge_request(fake: &FakeGitLab, harness: &AdapterHarness, head: &str) -> Value {
    let input = json!({
        "repository": "acme/payments", "title": "Deploy payments", "body": "Adds the deployment.",
        "head": head, "base": "main", "files": [{"path": "deploy/app.yaml", "content": "replicas: 2\n"}],
    });
    harness
        .call("git-provider", "create-pull-request", settings(fake), input)
        .await
        .expect("merge request opened")
}

fn failure(result: Result<Value, AdapterFailure>) -> AdapterFailure {
    match result {
        Ok(v) => panic!("expected a failure, got {v}"),
        Err(e) => e,
    }
}

/// No log line may carry a secret's value.
fn assert_not_logged(harness: &AdapterHarness, secret: &str) {
    for line in harness.log.lines() {
        assert!(
            !line.message.contains(secret),
            "the log leaks a secret: {}",
            line.message
        );
    }
}

#[tokio::test]
async fn gitlab_describes_itself() {
    let (_fake, harness) = setup().await;
    let manifest = harness.manifest();
    assert_eq!(manifest.name, "gitlab");
    assert_eq!(manifest.version, "0.3.0");
    assert_eq!(manifest.capabilities, vec!["git-provider".to_string()]);
    assert_eq!(manifest.grants.hosts, vec!["gitlab.com".to_string()]);
    assert!(manifest.grants.secrets.is_empty());
    assert_eq!(manifest.input_schema["additionalProperties"], json!(false));
    for key in ["base_url", "token"] {
        assert!(
            manifest.input_schema["properties"].get(key).is_some(),
            "settings schema lists {key}"
        );
    }
}

#[tokio::test]
async fn gitlab_creates_a_project_in_a_group() {
    let (fake, harness) = setup().await;
    let project = create_project(&fake, &harness, "payments").await;
    let web = fake.base_url().replace("/api/v4", "");
    assert_eq!(project["full_name"], "acme/payments");
    assert_eq!(project["url"], format!("{web}/acme/payments"));
    assert_eq!(project["clone_url"], format!("{web}/acme/payments.git"));
    assert_eq!(project["default_branch"], "main");
    assert!(fake.repo_exists("acme/payments"));

    assert_eq!(
        fake.recorder.matching("GET /api/v4/namespaces/acme").len(),
        1
    );
    let sent = fake.recorder.matching("POST /api/v4/projects");
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.header("private-token"), Some(TOKEN));
    assert_eq!(request.json["name"], "payments");
    assert_eq!(request.json["path"], "payments");
    assert_eq!(request.json["namespace_id"], 10);
    assert_eq!(request.json["description"], "Payments service");
    assert_eq!(request.json["visibility"], "private");
    assert_not_logged(&harness, TOKEN);
}

#[tokio::test]
async fn gitlab_creates_a_project_from_a_template_by_forking() {
    let (fake, harness) = setup().await;
    let mut input = new_project("orders");
    input["template"] = json!(TEMPLATE);
    input["private"] = json!(false);
    let project = harness
        .call("git-provider", "create-repository", settings(&fake), input)
        .await
        .unwrap();
    assert_eq!(project["full_name"], "acme/orders");
    let sent = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fservice-template/fork");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json["namespace_id"], 10);
    assert_eq!(sent[0].json["name"], "orders");
    assert_eq!(sent[0].json["visibility"], "internal");
    assert_eq!(fake.forked_from("acme/orders").as_deref(), Some(TEMPLATE));
    assert_eq!(
        fake.file("acme/orders", "main", "README.md").as_deref(),
        Some("# Service template\n")
    );
}

#[tokio::test]
async fn gitlab_deletes_a_project() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let out = harness
        .call(
            "git-provider",
            "delete-repository",
            settings(&fake),
            json!({"full_name": "acme/payments"}),
        )
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert!(!fake.repo_exists("acme/payments"));
    assert_eq!(
        fake.recorder
            .matching("DELETE /api/v4/projects/acme%2Fpayments")
            .len(),
        1
    );
    let again = harness
        .call(
            "git-provider",
            "delete-repository",
            settings(&fake),
            json!({"full_name": "acme/payments"}),
        )
        .await;
    let e = failure(again);
    assert_eq!(e.code(), "plugin-not-found");
    assert!(
        e.message().contains("404 Project Not Found"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn gitlab_opens_a_merge_request_with_its_files() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let mr = open_merge_request(&fake, &harness, "feature/deploy").await;
    let web = fake.base_url().replace("/api/v4", "");
    assert_eq!(mr["number"], 1);
    assert_eq!(mr["state"], "open");
    assert_eq!(mr["merged"], false);
    assert_eq!(mr["url"], format!("{web}/acme/payments/-/merge_requests/1"));
    assert_eq!(
        fake.file("acme/payments", "feature/deploy", "deploy/app.yaml")
            .as_deref(),
        Some("replicas: 2\n")
    );
    assert_eq!(
        fake.merge_request_description("acme/payments", 1)
            .as_deref(),
        Some("Adds the deployment.")
    );

    let branch = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fpayments/repository/branches");
    assert_eq!(branch[0].query, "branch=feature%2Fdeploy&ref=main");
    let commit = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fpayments/repository/commits");
    assert_eq!(commit.len(), 1);
    assert_eq!(commit[0].json["branch"], "feature/deploy");
    assert_eq!(
        commit[0].json["actions"],
        json!([{"action": "create", "file_path": "deploy/app.yaml", "content": "replicas: 2\n"}])
    );
    let sent = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fpayments/merge_requests");
    assert_eq!(sent[0].json["source_branch"], "feature/deploy");
    assert_eq!(sent[0].json["target_branch"], "main");
    assert_eq!(sent[0].json["title"], "Deploy payments");
    assert_eq!(sent[0].json["description"], "Adds the deployment.");

    // Called again (the host retries after a crash): the same merge request, no second commit.
    let again = open_merge_request(&fake, &harness, "feature/deploy").await;
    assert_eq!(again["number"], 1);
    assert_eq!(fake.recorder.matching("/repository/commits").len(), 1);
    assert_eq!(
        fake.recorder
            .matching("POST /api/v4/projects/acme%2Fpayments/merge_requests")
            .len(),
        2
    );
    assert_eq!(fake.pull_state("acme/payments", 2), None);
    assert_not_logged(&harness, TOKEN);
}

#[tokio::test]
async fn gitlab_updates_an_existing_file() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let input = json!({
        "repository": "acme/payments", "title": "Readme", "body": "", "head": "docs", "base": "main",
        "files": [{"path": "README.md", "content": "# Payments\n\nNew text.\n"}],
    });
    harness
        .call(
            "git-provider",
            "create-pull-request",
            settings(&fake),
            input,
        )
        .await
        .unwrap();
    let commit = fake.recorder.matching("/repository/commits");
    assert_eq!(commit[0].json["actions"][0]["action"], "update");
    assert_eq!(
        fake.file("acme/payments", "docs", "README.md").as_deref(),
        Some("# Payments\n\nNew text.\n")
    );
    assert_eq!(
        fake.file("acme/payments", "main", "README.md").as_deref(),
        Some("# payments\n")
    );
}

#[tokio::test]
async fn gitlab_reads_a_merged_merge_request_and_closes_another() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    open_merge_request(&fake, &harness, "one").await;
    let reference = json!({"repository": "acme/payments", "number": 1});
    let read = harness
        .call(
            "git-provider",
            "get-pull-request",
            settings(&fake),
            reference.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        (read["state"].as_str(), read["merged"].as_bool()),
        (Some("open"), Some(false))
    );
    fake.merge("acme/payments", 1);
    let read = harness
        .call(
            "git-provider",
            "get-pull-request",
            settings(&fake),
            reference,
        )
        .await
        .unwrap();
    assert_eq!(
        (read["state"].as_str(), read["merged"].as_bool()),
        (Some("merged"), Some(true))
    );

    open_merge_request(&fake, &harness, "two").await;
    let reference = json!({"repository": "acme/payments", "number": 2});
    let out = harness
        .call(
            "git-provider",
            "close-pull-request",
            settings(&fake),
            reference.clone(),
        )
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(
        fake.pull_state("acme/payments", 2).as_deref(),
        Some("closed")
    );
    let put = fake
        .recorder
        .matching("PUT /api/v4/projects/acme%2Fpayments/merge_requests/2");
    assert_eq!(put[0].json, json!({"state_event": "close"}));
    let read = harness
        .call(
            "git-provider",
            "get-pull-request",
            settings(&fake),
            reference,
        )
        .await
        .unwrap();
    assert_eq!(
        (read["state"].as_str(), read["merged"].as_bool()),
        (Some("closed"), Some(false))
    );
}

#[tokio::test]
async fn gitlab_shares_a_project_with_a_group_found_across_pages() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let input = json!({"repository": "acme/payments", "team": "platform", "permission": "push"});
    let out = harness
        .call("git-provider", "grant-team-access", settings(&fake), input)
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(fake.group_access("acme/payments", "platform"), Some(30));
    let pages = fake.recorder.matching("GET /api/v4/groups");
    assert_eq!(pages.len(), 2, "the group is on the second page of two");
    assert!(pages[0].query.contains("search=platform"));
    assert!(pages[1].query.contains("page=2"));
    let share = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fpayments/share");
    assert_eq!(share[0].json, json!({"group_id": 24, "group_access": 30}));

    // Granting again at another level replaces the share (GitLab answers 409 to a second one);
    // `admin` is Maintainer, the most a share can give.
    let input =
        json!({"repository": "acme/payments", "team": "acme/platform", "permission": "admin"});
    harness
        .call("git-provider", "grant-team-access", settings(&fake), input)
        .await
        .unwrap();
    assert_eq!(fake.group_access("acme/payments", "platform"), Some(40));
    assert_eq!(
        fake.team_permission("acme/payments", "platform").as_deref(),
        Some("maintain")
    );
    assert_eq!(
        fake.recorder
            .matching("DELETE /api/v4/projects/acme%2Fpayments/share/24")
            .len(),
        1
    );

    let unknown = json!({"repository": "acme/payments", "team": "nobody", "permission": "pull"});
    let e = failure(
        harness
            .call(
                "git-provider",
                "grant-team-access",
                settings(&fake),
                unknown,
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-not-found");
    let bad = json!({"repository": "acme/payments", "team": "platform", "permission": "owner"});
    assert_eq!(
        failure(
            harness
                .call("git-provider", "grant-team-access", settings(&fake), bad)
                .await
        )
        .code(),
        "plugin-invalid-input"
    );
}

#[tokio::test]
async fn gitlab_adds_a_user_as_a_project_member_and_changes_their_role() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let grant = |user: &str, permission: &str| json!({"repository": "acme/payments", "user": user, "permission": permission});
    let out = harness
        .call(
            "git-provider",
            "grant-user-access",
            settings(&fake),
            grant("carol", "push"),
        )
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(fake.member_level("acme/payments", "carol"), Some(30));
    let lookup = fake.recorder.matching("GET /api/v4/users");
    assert!(lookup[0].query.contains("username=carol"), "{lookup:?}");
    let add = fake
        .recorder
        .matching("POST /api/v4/projects/acme%2Fpayments/members");
    assert_eq!(add[0].json, json!({"user_id": 103, "access_level": 30}));
    // A member already: GitLab answers 409 and the role is changed in place.
    harness
        .call(
            "git-provider",
            "grant-user-access",
            settings(&fake),
            grant("carol", "admin"),
        )
        .await
        .unwrap();
    assert_eq!(fake.member_level("acme/payments", "carol"), Some(40));
    assert_eq!(
        fake.recorder
            .matching("PUT /api/v4/projects/acme%2Fpayments/members/103")
            .len(),
        1
    );
    let e = failure(
        harness
            .call(
                "git-provider",
                "grant-user-access",
                settings(&fake),
                grant("nobody", "pull"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-not-found");
    assert!(e.message().contains("nobody"), "{}", e.message());
}

#[tokio::test]
async fn gitlab_validation_failures_are_invalid_input_with_their_message() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    // `{"message": {"name": ["has already been taken"], ...}}`
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                settings(&fake),
                new_project("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
    assert!(
        e.message().contains("name has already been taken"),
        "{}",
        e.message()
    );
    // `{"error": "..."}`
    let body = json!({"error": "title is missing"});
    fake.recorder.fail(Fault {
        matches: "/merge_requests".into(),
        times: 1,
        status: 400,
        body,
        retry_after: None,
    });
    let input = json!({"repository": "acme/payments", "title": "T", "body": "", "head": "x", "base": "main", "files": []});
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-pull-request",
                settings(&fake),
                input,
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
    assert!(e.message().contains("title is missing"), "{}", e.message());
}

#[tokio::test]
async fn gitlab_missing_merge_request_is_not_found() {
    let (fake, harness) = setup().await;
    let input = json!({"repository": "acme/nothing", "number": 7});
    let e = failure(
        harness
            .call("git-provider", "get-pull-request", settings(&fake), input)
            .await,
    );
    assert_eq!(e.code(), "plugin-not-found");
    assert!(
        e.message().contains("404 Project Not Found"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn gitlab_other_client_errors_are_fatal_with_the_message() {
    let (fake, harness) = setup().await;
    create_project(&fake, &harness, "payments").await;
    let body = json!({"message": ["Project is archived and read-only"]});
    fake.recorder.fail(Fault {
        matches: "DELETE /api/v4/projects/acme%2Fpayments".into(),
        times: 1,
        status: 409,
        body,
        retry_after: None,
    });
    let e = failure(
        harness
            .call(
                "git-provider",
                "delete-repository",
                settings(&fake),
                json!({"full_name": "acme/payments"}),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-fatal");
    assert!(
        e.message().contains("Project is archived and read-only"),
        "{}",
        e.message()
    );
    assert!(fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn gitlab_rate_limit_is_waited_out() {
    let (fake, harness) = setup().await;
    let body = json!({"message": "Retry later"});
    fake.recorder.fail(Fault {
        matches: "POST /api/v4/projects".into(),
        times: 1,
        status: 429,
        body,
        retry_after: Some(1),
    });
    create_project(&fake, &harness, "payments").await;
    let sent = fake.recorder.matching("POST /api/v4/projects");
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].at.duration_since(sent[0].at) >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    assert!(fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn gitlab_server_errors_end_retryable() {
    let (fake, harness) = setup().await;
    let body = json!({"message": "503 Service Unavailable"});
    fake.recorder.fail(Fault {
        matches: "POST /api/v4/projects".into(),
        times: 3,
        status: 503,
        body,
        retry_after: None,
    });
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                settings(&fake),
                new_project("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-retryable");
    assert!(e.message().contains("retry"), "{}", e.message());
    assert!(
        e.message().contains("503 Service Unavailable"),
        "{}",
        e.message()
    );
    assert_eq!(fake.recorder.matching("POST /api/v4/projects").len(), 3);
    assert!(!fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn gitlab_wrong_token_is_denied() {
    let fake = FakeGitLab::start(TOKEN).await;
    let harness = AdapterHarness::new(
        "adapter_gitlab",
        &fake.authority(),
        &[("gitlab-token", "glpat-revoked")],
    )
    .await;
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                settings(&fake),
                new_project("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-denied");
    assert!(e.message().contains("401 Unauthorized"), "{}", e.message());
    assert_not_logged(&harness, "glpat-revoked");
}

#[tokio::test]
async fn gitlab_refuses_an_inline_token() {
    let (fake, harness) = setup().await;
    let inline = json!({"base_url": fake.base_url(), "token": "glpat-inline-value"});
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                inline,
                new_project("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
    assert!(e.message().contains("secret://"), "{}", e.message());
    assert!(!e.message().contains("glpat-inline-value"));
    assert!(fake.recorder.requests().is_empty());
}

#[tokio::test]
async fn gitlab_cannot_reach_a_host_it_was_not_granted() {
    let (fake, harness) = setup().await;
    let elsewhere =
        json!({"base_url": "http://127.0.0.1:1/api/v4", "token": "secret://gitlab-token"});
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                elsewhere,
                new_project("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "host-not-granted", "{}", e.message());
    assert!(fake.recorder.requests().is_empty());
}
