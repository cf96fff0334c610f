//! The GitHub adapter (`plugins/adapter-github`) against a local server speaking GitHub's
//! documented REST API (`lever_tests::fakes::github`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::Fault;
use lever_tests::fakes::github::{FakeGitHub, TEMPLATE};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_test";

/// A GitHub App key pair made for this test only (`openssl genrsa -traditional 2048`): not a
/// secret, and registered nowhere.
const APP_PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAs0TotYg5qM5p9RR69wGKP6y5L24T7kS7DT9EOkCPpkXYB4C4\n\
Qc7EjvUKl4lPH2jHjcP7CQJ3a5rK7cqrGeujGK4E36CiUALGkOCwXx83kmT/tSO9\n\
t3CPSM1irUW7+HSb9y5tAZsOiLY58nOUF4fG6a53QKPiN+Hj+VAGJ4OpWPvIskRu\n\
gFuTwSSk8aSE9UkT3vEGkj3XxMCg+IlABHCEP44zSrYBRVUVK/0kQ+hClNwyAheC\n\
UBYgExsyEHuYq551yOVlYperRCB+gPGzBkK9Llritk1ddmTFZ5ulXVuXbbXjq34t\n\
58yx50BpXsUqrTqaqEIZfbRNZ1DuMOGwR9OoIQIDAQABAoIBAATe2xn2A1eG0qYF\n\
Bj18ZCm8Vwxu56GYSlL3AGL7BrAaOw8ioBbxH8HgzlatRUodnBjZ3ZHaSF1y/18Q\n\
K9+EmXn53eHnxMsq1SNh6GbQM7/BaNleeQjBKRJtupfpsmyC2gswXqet01pzZX4E\n\
5f3Q636FNgIahcKWC34mPoGPtB/ZzTqToyvxQY7SXL/25qfL/KaYI9GyxM8xWuvT\n\
Js0UqCJFFh18S6S32/58u0EzYQlZb9BM23EXjkesGEwmPl0J6JZFO3BcrcOKjSev\n\
TD+IBr78OOA56BM8xt2HZFWdTuzeujMKcPuIeR1L2itymX8apREwT0lZ4mT/eHje\n\
meVJ31ECgYEA4pai7Wr/7LFXQJZqZPzLFAIR9+cp529NM7n4X7W/E8PAWfl1hOOP\n\
1dSVu7c9+ZoDTskJmpPD2kUU/ja++3cTct+k5mkv75QJGksUd0b5nGSgXCsxt+iD\n\
o83hfd866XUTEDUZurkDjB6ZXc9SiHgv4BwVaRLFoxK02YcD6+nRnzECgYEAyonj\n\
sd2TJkza7GtO4hL67ef9c37hpwg6qgtToxIknfjPwu6eBRCZqYFV9Xn7cFUUJz08\n\
M6yK3dBXtZAsDkCk1jmxZqddYZlrY/8qJ0+RsciAipgv1KfcbQLoB3KtUlDtgc4F\n\
Vuz6rL2Ye95FAIxPlMkigvrO7X2BjLGMNWh0u/ECgYEAoZ+nachn8tJwlU51Z8F1\n\
rbjoTjciicW3gM0HYGXIfPWlT8iDzh1v7Kutfm9vkooMD/eQlSUPj7K1DbvJMJ+4\n\
TLk/62ZeXfrvH0UsvQPwamDQjc31seP1ejMRw/ImGH588ZOe3bS41grBhMusaFGq\n\
fKYrk35jYTWnsH4BCxcGghECgYEAv/2t5XEQiAHalLmz8QHk85gx3UWtSdS3J3HN\n\
Oot8QnMVHsdq64os301G2odjHbzIednGM4WfrVxNiEK+QFRu7NOLoq+MCXSRJB1B\n\
LDp09X4Gu1pAHOlyPbO/ly/RtHIaci2FSj0h8pVW8jRkXHylA3kWSerONLoAEApN\n\
ymLWJUECgYAPfyY3TS2Qqw9tYPq6y9Aafvsa//smWeptkHym2xKApHBJPF1MUoeR\n\
pRIvZbCiJl5FPtwuL/Kzo2x0hihYMP43Ot5VQtQQAHjEiWdMoDJelARmmET77Mx1\n\
G64txZ332ImGCVftS22217gWe6rjxWrBQluDb36Vqfy4K772Ky0GcQ==\n\
-----END RSA PRIVATE KEY-----";
const APP_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAs0TotYg5qM5p9RR69wGK\n\
P6y5L24T7kS7DT9EOkCPpkXYB4C4Qc7EjvUKl4lPH2jHjcP7CQJ3a5rK7cqrGeuj\n\
GK4E36CiUALGkOCwXx83kmT/tSO9t3CPSM1irUW7+HSb9y5tAZsOiLY58nOUF4fG\n\
6a53QKPiN+Hj+VAGJ4OpWPvIskRugFuTwSSk8aSE9UkT3vEGkj3XxMCg+IlABHCE\n\
P44zSrYBRVUVK/0kQ+hClNwyAheCUBYgExsyEHuYq551yOVlYperRCB+gPGzBkK9\n\
Llritk1ddmTFZ5ulXVuXbbXjq34t58yx50BpXsUqrTqaqEIZfbRNZ1DuMOGwR9Oo\n\
IQIDAQAB\n\
-----END PUBLIC KEY-----";

async fn setup() -> (FakeGitHub, AdapterHarness) {
    let fake = FakeGitHub::start(TOKEN).await;
    let harness = AdapterHarness::new(
        "adapter_github",
        &fake.authority(),
        &[("github-token", TOKEN)],
    )
    .await;
    (fake, harness)
}

fn settings(fake: &FakeGitHub) -> Value {
    json!({"base_url": fake.base_url(), "token": "secret://github-token"})
}

fn new_repo(name: &str) -> Value {
    json!({"owner": "acme", "name": name, "description": "Payments service", "private": true, "template": null})
}

async fn create_repo(fake: &FakeGitHub, harness: &AdapterHarness, name: &str) -> Value {
    harness
        .call(
            "git-provider",
            "create-repository",
            settings(fake),
            new_repo(name),
        )
        .await
        .expect("repository created")
}

async fn open_pull(fake: &FakeGitHub, harness: &AdapterHarness, head: &str) -> Value {
    let input = json!({
        "repository": "acme/payments", "title": "Deploy payments", "body": "Adds the deployment.",
        "head": head, "base": "main", "files": [{"path": "deploy/app.yaml", "content": "replicas: 2\n"}],
    });
    harness
        .call("git-provider", "create-pull-request", settings(fake), input)
        .await
        .expect("pull request opened")
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
async fn github_describes_itself() {
    let (_fake, harness) = setup().await;
    let manifest = harness.manifest();
    assert_eq!(manifest.name, "github");
    assert_eq!(manifest.version, "0.3.0");
    assert_eq!(manifest.capabilities, vec!["git-provider".to_string()]);
    assert_eq!(manifest.grants.hosts, vec!["api.github.com".to_string()]);
    assert!(manifest.grants.secrets.is_empty());
    let schema = &manifest.input_schema;
    assert_eq!(schema["additionalProperties"], json!(false));
    for key in [
        "base_url",
        "token",
        "app_id",
        "installation_id",
        "private_key",
    ] {
        assert!(
            schema["properties"].get(key).is_some(),
            "settings schema lists {key}"
        );
    }
}

#[tokio::test]
async fn github_creates_a_repository_in_an_organisation() {
    let (fake, harness) = setup().await;
    let repo = create_repo(&fake, &harness, "payments").await;
    assert_eq!(repo["full_name"], "acme/payments");
    assert_eq!(repo["url"], format!("{}/acme/payments", fake.base_url()));
    assert_eq!(
        repo["clone_url"],
        format!("{}/acme/payments.git", fake.base_url())
    );
    assert_eq!(repo["default_branch"], "main");
    assert!(fake.repo_exists("acme/payments"));

    let sent = fake.recorder.matching("POST /orgs/acme/repos");
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.header("authorization"), Some("Bearer ghp_test"));
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| !ua.is_empty())
    );
    assert_eq!(request.json["name"], "payments");
    assert_eq!(request.json["description"], "Payments service");
    assert_eq!(request.json["private"], true);
    assert_not_logged(&harness, TOKEN);
}

#[tokio::test]
async fn github_creates_a_repository_from_a_template() {
    let (fake, harness) = setup().await;
    let mut input = new_repo("orders");
    input["template"] = json!(TEMPLATE);
    input["private"] = json!(false);
    let repo = harness
        .call("git-provider", "create-repository", settings(&fake), input)
        .await
        .unwrap();
    assert_eq!(repo["full_name"], "acme/orders");
    let sent = fake
        .recorder
        .matching("POST /repos/acme/service-template/generate");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json["owner"], "acme");
    assert_eq!(sent[0].json["name"], "orders");
    assert_eq!(sent[0].json["private"], false);
    assert!(fake.recorder.matching("/orgs/acme/repos").is_empty());
    assert_eq!(
        fake.file("acme/orders", "main", "README.md").as_deref(),
        Some("# Service template\n")
    );
}

#[tokio::test]
async fn github_deletes_a_repository() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
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
        fake.recorder.matching("DELETE /repos/acme/payments").len(),
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
    assert_eq!(failure(again).code(), "plugin-not-found");
}

#[tokio::test]
async fn github_opens_a_pull_request_with_its_files() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    let pull = open_pull(&fake, &harness, "feature/deploy").await;
    assert_eq!(pull["number"], 1);
    assert_eq!(pull["state"], "open");
    assert_eq!(pull["merged"], false);
    assert_eq!(
        pull["url"],
        format!("{}/acme/payments/pull/1", fake.base_url())
    );
    assert_eq!(
        fake.file("acme/payments", "feature/deploy", "deploy/app.yaml")
            .as_deref(),
        Some("replicas: 2\n")
    );
    assert_eq!(
        fake.pull_title("acme/payments", 1).as_deref(),
        Some("Deploy payments")
    );

    assert_eq!(
        fake.recorder
            .matching("GET /repos/acme/payments/git/ref/heads/main")
            .len(),
        1
    );
    let refs = fake.recorder.matching("POST /repos/acme/payments/git/refs");
    assert_eq!(refs[0].json["ref"], "refs/heads/feature/deploy");
    let put = fake
        .recorder
        .matching("PUT /repos/acme/payments/contents/deploy/app.yaml");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].json["content"], STANDARD.encode("replicas: 2\n"));
    assert_eq!(put[0].json["branch"], "feature/deploy");
    let sent = fake.recorder.matching("POST /repos/acme/payments/pulls");
    assert_eq!(sent[0].json["head"], "feature/deploy");
    assert_eq!(sent[0].json["base"], "main");
    assert_eq!(sent[0].json["body"], "Adds the deployment.");

    // Called again (the host retries after a crash): the same pull request, no second commit.
    let again = open_pull(&fake, &harness, "feature/deploy").await;
    assert_eq!(again["number"], 1);
    assert_eq!(
        fake.recorder
            .matching("PUT /repos/acme/payments/contents")
            .len(),
        1
    );
    assert_eq!(
        fake.recorder
            .matching("POST /repos/acme/payments/pulls")
            .len(),
        2
    );
    assert_eq!(fake.pull_state("acme/payments", 2), None);
    assert_not_logged(&harness, TOKEN);
}

#[tokio::test]
async fn github_updates_an_existing_file_with_its_sha() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
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
    let put = fake
        .recorder
        .matching("PUT /repos/acme/payments/contents/README.md");
    assert!(
        put[0].json["sha"].is_string(),
        "an update names the blob it replaces"
    );
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
async fn github_reads_a_merged_pull_request_and_closes_another() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    open_pull(&fake, &harness, "one").await;
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

    open_pull(&fake, &harness, "two").await;
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
    assert_eq!(
        fake.recorder.matching("PATCH /repos/acme/payments/pulls/2")[0].json,
        json!({"state": "closed"})
    );
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
async fn github_grants_team_access_across_pages_of_teams() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    let input = json!({"repository": "acme/payments", "team": "Platform Engineers", "permission": "maintain"});
    let out = harness
        .call("git-provider", "grant-team-access", settings(&fake), input)
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(
        fake.team_permission("acme/payments", "platform-engineers")
            .as_deref(),
        Some("maintain")
    );
    let pages = fake.recorder.matching("GET /orgs/acme/teams");
    assert_eq!(pages.len(), 3, "the team is on the third page of two");
    assert!(pages[0].query.contains("per_page=100"));
    assert!(pages[2].query.contains("page=3"));
    let put = fake
        .recorder
        .matching("PUT /orgs/acme/teams/platform-engineers/repos/acme/payments");
    assert_eq!(put[0].json, json!({"permission": "maintain"}));

    let unknown = json!({"repository": "acme/payments", "team": "Nobody", "permission": "pull"});
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
    assert!(e.message().contains("Nobody"), "{}", e.message());
    let bad = json!({"repository": "acme/payments", "team": "Backend", "permission": "owner"});
    let e = failure(
        harness
            .call("git-provider", "grant-team-access", settings(&fake), bad)
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
}

#[tokio::test]
async fn github_invites_a_user_as_a_collaborator_and_changes_their_permission() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    let grant = |user: &str, permission: &str| json!({"repository": "acme/payments", "user": user, "permission": permission});
    let out = harness
        .call(
            "git-provider",
            "grant-user-access",
            settings(&fake),
            grant("bob", "triage"),
        )
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert_eq!(
        fake.collaborator_permission("acme/payments", "bob")
            .as_deref(),
        Some("triage")
    );
    // Again with another permission: GitHub answers 204 and the permission is the new one.
    harness
        .call(
            "git-provider",
            "grant-user-access",
            settings(&fake),
            grant("bob", "admin"),
        )
        .await
        .unwrap();
    assert_eq!(
        fake.collaborator_permission("acme/payments", "bob")
            .as_deref(),
        Some("admin")
    );
    let puts = fake
        .recorder
        .matching("PUT /repos/acme/payments/collaborators/bob");
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[1].json, json!({"permission": "admin"}));

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
    let e = failure(
        harness
            .call(
                "git-provider",
                "grant-user-access",
                settings(&fake),
                grant("bob", "owner"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
}

#[tokio::test]
async fn github_validation_failure_is_invalid_input_with_its_message() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                settings(&fake),
                new_repo("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
    assert!(
        e.message().contains("name already exists on this account"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn github_missing_pull_request_is_not_found() {
    let (fake, harness) = setup().await;
    let input = json!({"repository": "acme/nothing", "number": 7});
    let e = failure(
        harness
            .call("git-provider", "get-pull-request", settings(&fake), input)
            .await,
    );
    assert_eq!(e.code(), "plugin-not-found");
    assert!(e.message().contains("Not Found"), "{}", e.message());
}

#[tokio::test]
async fn github_other_client_errors_are_fatal_with_the_message() {
    let (fake, harness) = setup().await;
    create_repo(&fake, &harness, "payments").await;
    let body = json!({"message": "Repository was archived so is read-only.", "documentation_url": "https://docs.github.com/rest"});
    fake.recorder.fail(Fault {
        matches: "DELETE /repos/acme/payments".into(),
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
        e.message()
            .contains("Repository was archived so is read-only."),
        "{}",
        e.message()
    );
    assert!(fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn github_rate_limit_is_waited_out() {
    let (fake, harness) = setup().await;
    let body = json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"});
    fake.recorder.fail(Fault {
        matches: "POST /orgs/acme/repos".into(),
        times: 1,
        status: 429,
        body,
        retry_after: Some(1),
    });
    create_repo(&fake, &harness, "payments").await;
    let sent = fake.recorder.matching("POST /orgs/acme/repos");
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].at.duration_since(sent[0].at) >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    assert!(fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn github_server_errors_end_retryable() {
    let (fake, harness) = setup().await;
    let body = json!({"message": "Service Unavailable"});
    fake.recorder.fail(Fault {
        matches: "POST /orgs/acme/repos".into(),
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
                new_repo("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-retryable");
    assert!(e.message().contains("retry"), "{}", e.message());
    assert!(
        e.message().contains("Service Unavailable"),
        "{}",
        e.message()
    );
    assert_eq!(fake.recorder.matching("POST /orgs/acme/repos").len(), 3);
    assert!(!fake.repo_exists("acme/payments"));
}

#[tokio::test]
async fn github_app_signs_a_jwt_and_uses_the_installation_token() {
    let fake = FakeGitHub::start(TOKEN).await;
    fake.enable_app("12345", "678", APP_PUBLIC_KEY);
    let harness = AdapterHarness::new(
        "adapter_github",
        &fake.authority(),
        &[("github-app-key", APP_PRIVATE_KEY)],
    )
    .await;
    let app = json!({"base_url": fake.base_url(), "app_id": 12345, "installation_id": "678", "private_key": "secret://github-app-key"});
    let repo = harness
        .call(
            "git-provider",
            "create-repository",
            app.clone(),
            new_repo("payments"),
        )
        .await
        .unwrap();
    assert_eq!(repo["full_name"], "acme/payments");

    let exchange = fake
        .recorder
        .matching("POST /app/installations/678/access_tokens");
    assert_eq!(exchange.len(), 1);
    let jwt = exchange[0]
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_string();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "12345");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let create = fake.recorder.matching("POST /orgs/acme/repos");
    assert_eq!(
        create[0].header("authorization"),
        Some("Bearer ghs_installation1")
    );
    assert_not_logged(&harness, "ghs_installation1");
    assert_not_logged(&harness, "PRIVATE KEY");

    // An App GitHub does not know (the JWT's `iss`) is refused as GitHub refuses it.
    let mut other = app;
    other["app_id"] = json!(999);
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                other,
                new_repo("orders"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-denied");
    assert!(
        e.message().contains("Integration not found"),
        "{}",
        e.message()
    );
}

#[tokio::test]
async fn github_wrong_token_is_denied() {
    let fake = FakeGitHub::start(TOKEN).await;
    let harness = AdapterHarness::new(
        "adapter_github",
        &fake.authority(),
        &[("github-token", "ghp_revoked")],
    )
    .await;
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                settings(&fake),
                new_repo("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-denied");
    assert!(e.message().contains("Bad credentials"), "{}", e.message());
    assert_not_logged(&harness, "ghp_revoked");
}

#[tokio::test]
async fn github_refuses_an_inline_token() {
    let (fake, harness) = setup().await;
    let inline = json!({"base_url": fake.base_url(), "token": "ghp_inline_value"});
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                inline,
                new_repo("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "plugin-invalid-input");
    assert!(e.message().contains("secret://"), "{}", e.message());
    assert!(fake.recorder.requests().is_empty());
    assert!(!e.message().contains("ghp_inline_value"));
}

#[tokio::test]
async fn github_cannot_reach_a_host_it_was_not_granted() {
    let (fake, harness) = setup().await;
    let elsewhere = json!({"base_url": "http://127.0.0.1:1", "token": "secret://github-token"});
    let e = failure(
        harness
            .call(
                "git-provider",
                "create-repository",
                elsewhere,
                new_repo("payments"),
            )
            .await,
    );
    assert_eq!(e.code(), "host-not-granted", "{}", e.message());
    assert!(fake.recorder.requests().is_empty());
}
