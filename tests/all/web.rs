//! The web UI in a real headless Chromium over WebDriver, against a real `lever serve` on
//! SQLite with the demo catalog: the journeys of a developer, an approver and the platform
//! team, with a screenshot of every page under `target/screenshots/`.

use lever_tests::browser::{Browser, Driver};
use lever_tests::databases::{drop_provisioned, unique_name};
use lever_tests::forms::{hidden, set_cookie};
use lever_tests::server::Server;

use crate::approvals::User;
use serde_json::{Value, json};

fn demo_server(dir: &std::path::Path) -> Server {
    Server::start_demo(dir)
}

/// Clicks the form's Next on page `n` (1-based) and waits for page `n + 1`: Next checks the
/// page against the server's last answer first, which can take a moment after typing.
async fn next_page(browser: &Browser, n: usize) {
    browser.click(&format!("#next-{n}")).await;
    browser
        .wait_attr(
            &format!("fieldset[data-page='{}']", n - 1),
            "hidden",
            "true",
            10,
        )
        .await;
}

/// Fills the first page of the database form with `name`.
async fn open_database_form(browser: &Browser, base: &str) {
    browser.goto(&format!("{base}/")).await;
    browser
        .click("[data-template=provision-postgresql-database] h2 a")
        .await;
    browser.find("#run-form").await;
}

#[tokio::test]
async fn alice_provisions_a_dev_database_in_the_browser_and_only_her_team_reveals_the_credentials()
{
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    let name = unique_name("webdb");
    let object = format!("{}_dev", name.replace('-', "_"));

    alice.goto(&format!("{}/", server.url)).await;
    alice.find("#token").await; // not signed in: the sign-in page
    alice.shot("sign-in").await;
    alice.sign_in_as(&server.url, "alice").await;
    let card = alice
        .text("[data-template=provision-postgresql-database]")
        .await;
    assert!(card.contains("PostgreSQL database"), "{card}");
    assert!(card.contains("from $50/month"), "the cost hint: {card}");
    alice.shot("catalog").await;

    open_database_form(&alice, &server.url).await;
    assert_eq!(alice.value("#f-environment").await, "dev");
    assert_eq!(alice.value("#f-size").await, "small");
    assert!(alice.source().await.contains("Small ($50/month)"));
    assert_eq!(
        alice.value("#f-owner").await,
        "group:default/payments",
        "the owner defaults to her team, picked from the teams Lever knows"
    );
    let teams = alice.text("#f-owner").await;
    assert!(
        teams.contains("payments (group)") && teams.contains("search (group)"),
        "{teams}"
    );

    alice.type_into("#f-name", "Orders!").await;
    let error = alice.wait_text("#err-f-name", 10, |t| !t.is_empty()).await;
    assert!(
        error.contains("does not match") && error.contains("Lowercase letters"),
        "the validator's message, with what the field allows: {error}"
    );
    assert!(
        !error.contains("^[a-z]"),
        "the field's words, not its regular expression: {error}"
    );
    alice.shot("form-invalid").await;
    alice.type_into("#f-name", &name).await;
    alice.wait_text("#err-f-name", 10, str::is_empty).await;
    alice
        .wait_text("#preview-cost", 10, |t| t.contains("$50.00/month"))
        .await;
    alice
        .wait_text("#preview-route", 10, |t| t.contains("automatic"))
        .await;
    let preview = alice.text("#preview").await;
    assert!(
        !preview.contains('`'),
        "plans read as text, code in code spans, no literal backticks: {preview}"
    );
    next_page(&alice, 1).await;
    next_page(&alice, 2).await;
    alice
        .wait_text("#submit", 10, |t| t.contains("Runs now"))
        .await;
    let review = alice.text("#review").await;
    assert!(
        review.contains(&name),
        "the review lists the answers: {review}"
    );
    alice.shot("form-review").await;
    alice.click("#submit").await;

    // The run page follows the run without a reload.
    alice.find("#run-live").await;
    alice
        .wait_attr("#run-status", "data-status", "succeeded", 60)
        .await;
    alice
        .wait_attr("[data-step=database]", "data-status", "succeeded", 5)
        .await;
    let asked = alice.text("#asked").await;
    assert!(
        asked.contains(&name) && asked.contains("Environment"),
        "the run page opens with what was asked: {asked}"
    );
    let outputs = alice.text("#outputs").await;
    let reference = format!("secret://databases/{name}/dev");
    assert!(outputs.contains(&reference), "{outputs}");
    let before = alice.source().await;
    assert!(
        !before.contains("\"password\""),
        "credentials are not in the page until revealed"
    );
    alice.click("#reveal-1").await;
    let value = alice
        .wait_text(".secret-value", 10, |t| !t.is_empty())
        .await;
    assert!(
        value.contains("Password") && value.contains(&format!("postgresql://{object}:")),
        "the credentials' fields and a connection string ready to paste: {value}"
    );
    assert!(
        value.contains(&format!("psql 'postgresql://{object}:")),
        "{value}"
    );
    alice.shot("run-succeeded-revealed").await;
    alice.click(".connection-string [data-copy]").await;
    alice
        .wait_text(".connection-string [data-copy]", 10, |t| t == "Copied")
        .await;
    alice.click("[data-hide]").await;
    alice.wait_text("[data-hide]", 10, |t| t == "Show").await;
    assert_eq!(
        alice.text(".secret-body").await,
        "",
        "hidden values leave the screen"
    );
    let run_url = alice.client.current_url().await.unwrap().to_string();

    // dave (search team) had no part in it: to him the run does not exist.
    let dave = driver.browser(1200).await;
    dave.sign_in_as(&server.url, "dave").await;
    dave.goto(&run_url).await;
    let page = dave.text("main").await;
    assert!(page.contains("no run with id"), "{page}");
    assert!(!dave.source().await.contains(&reference));
    dave.shot("run-not-visible").await;

    // The notifier is the Lever inbox in the demo: the bell counts the announcement, the
    // inbox shows it with the run's link, and reading it clears the count.
    alice.goto(&format!("{}/", server.url)).await;
    let bell = alice.text("#inbox-link").await;
    assert!(
        alice.text("#unread").await.parse::<i64>().unwrap() >= 1,
        "{bell}"
    );
    alice.click("#inbox-link").await;
    let entry = alice.text("#inbox").await;
    assert!(
        entry.contains(&format!("Database {name} (dev) is ready")),
        "{entry}"
    );
    assert!(
        alice.has("[data-kind=message] a[data-kind=run]").await,
        "a template's message links to the run that sent it"
    );
    alice.shot("inbox").await;
    alice.goto(&format!("{}/", server.url)).await;
    assert!(!alice.has("#unread").await, "read entries are not counted");

    // My runs lists it; the rating is stored with the run.
    alice.goto(&format!("{}/runs", server.url)).await;
    let listed = alice.text("#my-runs").await;
    assert!(
        listed.contains("PostgreSQL database") && listed.contains(&format!("Name: {name}")),
        "runs are told apart by their title and first answers, not ids: {listed}"
    );
    assert!(
        !listed.contains("provision-postgresql-database"),
        "{listed}"
    );
    alice.shot("my-runs").await;
    alice.type_into("#filter-q", "no-such-database").await;
    alice.click(".filters button").await;
    alice.find("#no-runs").await;
    alice
        .goto(&format!("{}/runs?q={name}&status=succeeded", server.url))
        .await;
    let found = alice.text("#my-runs").await;
    assert!(found.contains(&format!("Name: {name}")), "{found}");
    alice.goto(&run_url).await;
    // A comment over the bound (pasted past the textarea's own limit) is the field's error,
    // and what was typed is still there to shorten.
    alice
        .client
        .execute(
            "document.getElementById('comment').value = 'x'.repeat(2001)",
            vec![],
        )
        .await
        .unwrap();
    alice.click("#score-5").await;
    alice.click("#rate").await;
    let error = alice.wait_text("#err-comment", 10, |t| !t.is_empty()).await;
    assert!(error.contains("at most 2,000 characters"), "{error}");
    assert_eq!(
        alice.value("#comment").await.len(),
        2001,
        "the text is kept"
    );
    assert_eq!(
        alice.attr("#comment", "aria-invalid").await.as_deref(),
        Some("true")
    );
    alice
        .type_into("#comment", "two minutes, not three days")
        .await;
    alice.click("#rate").await;
    alice
        .wait_text("#rating-done", 10, |t| t.contains("5/5"))
        .await;
    let run_id = run_url.rsplit('/').next().unwrap();
    let (_, ratings) = server
        .get_json(&format!("/api/v1/runs/{run_id}/rating"))
        .await;
    assert_eq!(ratings["ratings"][0]["score"], 5, "{ratings}");

    alice.close().await;
    dave.close().await;
    drop_provisioned(&object).await;
}

#[tokio::test]
async fn a_production_database_waits_for_the_payments_lead_and_alices_page_moves_on_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    let name = unique_name("webprod");
    let object = format!("{}_production", name.replace('-', "_"));

    alice.sign_in_as(&server.url, "alice").await;
    open_database_form(&alice, &server.url).await;
    alice.type_into("#f-name", &name).await;
    next_page(&alice, 1).await;
    let environment = alice.find("#f-environment").await;
    environment
        .select_by_value("production")
        .await
        .expect("choose production");
    alice
        .find("#f-size")
        .await
        .select_by_value("medium")
        .await
        .expect("choose medium");
    let route = alice
        .wait_text("#preview-route", 10, |t| t.contains("Needs approval"))
        .await;
    assert!(route.contains("Needs approval"), "{route}");
    // The people who can approve, by name, not the group's id.
    let stages = alice.text("#preview-stages").await;
    assert!(stages.contains("Carol Example"), "{stages}");
    assert!(!alice.has("#preview-nobody").await);
    alice
        .wait_text("#preview-cost", 10, |t| t.contains("$150.00/month"))
        .await;
    next_page(&alice, 2).await;
    let label = alice
        .wait_text("#submit", 10, |t| t.contains("Needs approval from"))
        .await;
    assert!(label.contains("Carol Example"), "{label}");
    alice.shot("form-needs-approval").await;
    alice.click("#submit").await;
    alice
        .wait_attr("#run-status", "data-status", "awaiting-approval", 20)
        .await;
    let waiting = alice.text("#run-approvals").await;
    assert!(
        waiting.contains("Carol Example") && waiting.contains("payments-leads"),
        "who decides, by name and group: {waiting}"
    );
    alice.shot("run-awaiting-approval").await;

    let carol = driver.browser(1200).await;
    carol.sign_in_as(&server.url, "carol").await;
    carol.goto(&format!("{}/approvals", server.url)).await;
    let card = carol.text("#assigned").await;
    assert!(card.contains("$150.00/month"), "the cost: {card}");
    assert!(
        card.contains("What was asked") && card.contains(&name) && card.contains("Medium"),
        "the request's answers as the form's review read them, not its JSON: {card}"
    );
    assert!(!card.contains("\"size\""), "{card}");
    assert!(card.contains("alice"), "the requester: {card}");
    assert!(card.contains("production"), "the environment: {card}");
    carol.shot("approvals-inbox").await;
    carol.click("#assigned button[value=approve]").await;
    carol
        .wait_text("#decision-message", 10, |t| t.contains("approved"))
        .await;
    carol.shot("approvals-decided").await;

    // alice's page, open all along, follows the run to the end.
    alice
        .wait_attr("#run-status", "data-status", "succeeded", 60)
        .await;
    alice.shot("run-approved-succeeded").await;
    alice.close().await;
    carol.close().await;
    drop_provisioned(&object).await;
}

const MANUAL: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: web-manual
  title: Manual recovery
  tags: [recommended]
spec:
  owner: platform-team
  parameters:
    - title: Input
      properties:
        count: {type: integer, title: Count, default: 5}
  steps:
    - id: create
      name: Create the thing
      action: debug-log
      input: {message: made}
      rollback: {action: debug-log, input: {message: unmade}}
    - id: fragile
      name: A step that needs a human
      action: debug-log
      input: {message: "${{ parameters.count }}"}
      onFailure: manual
"#;

#[tokio::test]
async fn a_paused_step_is_retried_with_an_edited_input_and_an_aborted_run_shows_its_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let (status, body) = server
        .post_json("/api/v1/templates", Value::String(String::new()))
        .await;
    assert_eq!(status, 400, "{body}");
    let applied = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(MANUAL)
        .send()
        .await
        .unwrap();
    assert!(applied.status().is_success());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;

    for round in ["retry", "abort"] {
        alice
            .goto(&format!("{}/templates/web-manual", server.url))
            .await;
        next_page(&alice, 1).await;
        alice
            .wait_text("#submit", 10, |t| t.contains("Runs now"))
            .await;
        alice.click("#submit").await;
        alice
            .wait_attr("#run-status", "data-status", "paused", 30)
            .await;
        alice.find("#retry-fragile").await;
        alice.find("#skip-fragile").await;
        alice.find("#abort").await;
        alice.shot(&format!("run-paused-{round}")).await;
        if round == "retry" {
            alice.click("#steps details summary").await;
            alice
                .type_into("#input-fragile", r#"{"message": "five"}"#)
                .await;
            alice.click("#retry-edited-fragile").await;
            alice
                .wait_attr("#run-status", "data-status", "succeeded", 30)
                .await;
            alice
                .wait_attr("[data-step=fragile]", "data-status", "succeeded", 5)
                .await;
            alice.shot("run-retried-succeeded").await;
        } else {
            alice.click("#abort").await;
            alice
                .wait_attr("[data-step=create]", "data-status", "rolled-back", 30)
                .await;
            let status = alice.text("#run-status").await;
            assert_ne!(status, "succeeded");
            let log = alice.text("#logs").await;
            assert!(log.contains("unmade"), "the rollback ran: {log}");
            alice.shot("run-aborted-rolled-back").await;
            // Edit and resubmit opens the form pre-filled; the new run links to this one.
            let aborted = alice.client.current_url().await.unwrap().to_string();
            let aborted_id = aborted.rsplit('/').next().unwrap().to_string();
            alice.click("#edit-resubmit").await;
            assert_eq!(alice.value("#f-count").await, "5");
            next_page(&alice, 1).await;
            alice.click("#submit").await;
            let note = alice
                .wait_text("#run-live .muted", 20, |t| t.contains("resubmitted from"))
                .await;
            assert!(note.contains(&aborted_id), "{note}");
            alice.shot("run-resubmitted").await;
        }
    }
    alice.close().await;
}

#[tokio::test]
async fn a_backstage_corpus_template_with_owner_name_and_repo_pickers_renders_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let source =
        lever_tests::corpus::corpus_bundle("backstage__software-templates__rails-demo.yaml")
            .to_tar();
    let applied = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(source)
        .send()
        .await
        .unwrap();
    assert!(applied.status().is_success(), "{:?}", applied.text().await);
    let driver = Driver::start().await;
    let admin = driver.browser(1200).await;
    admin.sign_in_as(&server.url, "admin").await;
    admin
        .goto(&format!("{}/templates/rails-demo", server.url))
        .await;
    let page = admin.source().await;
    assert!(
        page.contains("group:default/payments"),
        "the OwnerPicker offers the groups"
    );
    admin.type_into("#f-name", "-bad-").await;
    let error = admin.wait_text("#err-f-name", 10, |t| !t.is_empty()).await;
    assert!(
        error.contains("start and end"),
        "EntityNamePicker rule: {error}"
    );
    admin.type_into("#f-name", "my-rails-app").await;
    admin.wait_text("#err-f-name", 10, str::is_empty).await;
    admin.type_into("#f-owner", "group:default/payments").await;
    next_page(&admin, 1).await;
    assert_eq!(admin.value("#f-repoUrl-host").await, "github.com");
    admin.type_into("#f-repoUrl-owner", "acme").await;
    admin.type_into("#f-repoUrl-repo", "bad repo").await;
    let error = admin
        .wait_text("#err-f-repoUrl", 10, |t| t.contains("bad repo"))
        .await;
    assert!(
        error.contains("repository name"),
        "RepoUrlPicker rule: {error}"
    );
    admin.type_into("#f-repoUrl-repo", "rails-app").await;
    admin.wait_text("#err-f-repoUrl", 10, str::is_empty).await;
    admin.shot("form-corpus-rails-demo").await;
    // The same validator answers the API.
    let (status, body) = server
        .post_json(
            "/api/v1/templates/rails-demo/validate",
            json!({"parameters": {"name": "-bad-", "owner": "group:default/payments", "repoUrl": "github.com?owner=acme&repo=x", "dryRun": true}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "name", "{body}");
    admin.close().await;
}

#[tokio::test]
async fn platform_pages_show_plugins_templates_bindings_policies_and_the_audit_check() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let admin = driver.browser(1200).await;
    admin.sign_in_as(&server.url, "admin").await;
    for (path, marker, shot) in [
        ("/platform", "#plugins", "platform-plugins"),
        (
            "/platform/templates",
            "[data-template=create-service]",
            "platform-templates",
        ),
        ("/platform/bindings", "#bindings", "platform-bindings"),
        ("/platform/policies", "#policy-version", "platform-policies"),
        ("/platform/audit", "#audit-verify", "platform-audit"),
    ] {
        admin.goto(&format!("{}{path}", server.url)).await;
        admin.find(marker).await;
        admin.shot(shot).await;
    }
    assert!(admin.text("#audit-verify").await.contains("intact"));
    admin
        .goto(&format!("{}/platform/policies", server.url))
        .await;
    // The sample is the input a real request is routed on: the policy's own field names.
    let sample = admin.value("#policy-input").await;
    assert!(
        sample.contains("\"monthly_usd\"") && !sample.contains("monthly_cents"),
        "{sample}"
    );
    assert!(sample.contains("provision-postgresql-database"), "{sample}");
    admin.click("#evaluate").await;
    let decision = admin.text("#evaluation").await;
    assert!(
        decision.contains("production environment") && decision.contains("-leads"),
        "{decision}"
    );
    // Plugins, bindings and audit entries read as tables, not JSON.
    admin
        .goto(&format!("{}/platform/bindings", server.url))
        .await;
    let bound = admin.text("[data-capability=infrastructure]").await;
    assert!(bound.contains("builtin:postgres"), "{bound}");
    let unbound = admin.text("[data-capability=git-provider]").await;
    assert!(unbound.contains("not bound"), "{unbound}");
    assert!(!admin.text("#bindings").await.contains('{'));
    admin.goto(&format!("{}/platform", server.url)).await;
    let plugins = admin.text("#plugins").await;
    assert!(
        plugins.contains("MiB") && !plugins.contains("\"fuel\""),
        "{plugins}"
    );
    // A developer does not get them.
    let alice = driver.browser(360).await;
    alice.sign_in_as(&server.url, "alice").await;
    alice.goto(&format!("{}/platform", server.url)).await;
    assert!(alice.text("#error-message").await.contains("platform role"));
    alice.goto(&format!("{}/", server.url)).await;
    alice.shot("catalog-360px").await;
    admin.close().await;
    alice.close().await;
}

#[tokio::test]
async fn the_api_reference_page_shows_every_operation_of_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let document: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;
    // Every signed-in user reaches it from the main navigation.
    alice.click("nav[aria-label=Main] a[href='/api']").await;
    alice.find("#tag-runs").await;
    let page = alice.source().await;
    assert_eq!(
        page.matches("class=\"card operation\"").count(),
        operations,
        "one entry per operation of the document"
    );
    // An operation opens to its parameters, body and answers; its body links to the schema.
    alice.click("#post-api-v1-runs summary").await;
    let create = alice.text("#post-api-v1-runs").await;
    for expected in [
        "Request body",
        "application/json",
        "201",
        "CreateRun",
        "ErrorBody",
    ] {
        assert!(create.contains(expected), "{expected} in {create}");
    }
    alice.shot("api-reference-operation").await;
    alice
        .click("#post-api-v1-runs a[href='#schema-CreateRun']")
        .await;
    alice.click("#schema-CreateRun summary").await;
    let schema = alice.text("#schema-CreateRun").await;
    assert!(schema.contains("idempotency_key"), "{schema}");
    alice.shot("api-reference-schema").await;
    alice.close().await;
}

#[tokio::test]
async fn a_developer_answers_the_nps_question_and_the_insights_page_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;
    alice.find("#search").await;
    assert!(
        !alice.has("#nps").await,
        "not asked before she has used Lever"
    );
    // Three finished runs of her own later, she is asked.
    server
        .apply_template(
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: hello}\nspec:\n  owner: group:default/payments\n  steps:\n    - id: hello\n      name: Hello\n      action: notifier.send\n      input: {to: alice, subject: hello, text: hello, links: []}\n",
        )
        .await;
    let api = User::of(&server, "alice").await;
    for _ in 0..3 {
        let created = api.submit("hello", json!({})).await;
        let run = server.wait(created["id"].as_str().unwrap()).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
    }
    alice.goto(&format!("{}/", server.url)).await;
    alice.find("#nps").await;
    alice.shot("catalog-nps-question").await;
    alice.click("#nps input[name=score][value='9']").await;
    alice.type_into("#nps-comment", "it just works").await;
    alice.click("#nps-submit").await;
    // The answer posts and the catalog comes back without the question (asked once a quarter).
    let started = std::time::Instant::now();
    while !alice.current_url().await.contains("thanks=nps") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the answer never came back to the catalog"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    alice.find("#search").await;
    assert!(
        !alice.has("#nps").await,
        "asked once a quarter, not on every page"
    );
    assert!(alice.text("#nps-thanks").await.contains("recorded"));
    alice.close().await;

    let admin = driver.browser(1200).await;
    admin.sign_in_as(&server.url, "admin").await;
    admin
        .goto(&format!("{}/platform/insights", server.url))
        .await;
    admin.find("#findings").await;
    assert_eq!(admin.text("#figure-nps").await.trim(), "100");
    admin.find("#runs-per-week").await;
    assert!(
        admin
            .text("#runs-per-week-axes")
            .await
            .contains("Each bar is a week")
    );
    // The filters pick from the catalog's templates and the configured teams.
    let templates = admin.text("#insights-template").await;
    assert!(templates.contains("PostgreSQL database"), "{templates}");
    admin
        .find("#insights-team")
        .await
        .select_by_value("payments")
        .await
        .expect("choose payments");
    admin.click("#insights-filter button").await;
    admin
        .wait_attr(
            "#insights-team option[value=payments]",
            "selected",
            "true",
            10,
        )
        .await;
    admin.shot("platform-insights").await;
    admin
        .goto(&format!("{}/platform/insights?days=0", server.url))
        .await;
    admin.find("#findings").await;
    admin.close().await;
}

async fn demo_sign_in(server: &Server, user: &str) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/sign-in", server.url))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&page, "lever_sign_in").expect("sign-in cookie");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    http.post(format!("{}/sign-in/demo", server.url))
        .header("cookie", cookie)
        .form(&[("csrf", csrf.as_str()), ("user", user)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn demo_sign_in_needs_the_flag_and_a_loopback_listener_and_forms_need_their_csrf_token() {
    // Without the flag: no list, and the endpoint refuses.
    let config =
        lever_identity::EMBEDDED_CONFIG.replace("demo_sign_in: true", "demo_sign_in: false");
    let flagless = Server::start_configured(&config, &[]);
    let page = reqwest::get(format!("{}/sign-in", flagless.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("demo-sign-in"),
        "no demo list without the flag"
    );
    assert_eq!(demo_sign_in(&flagless, "alice").await.status(), 403);

    // Listening on every interface (not loopback): refused too.
    let dir = tempfile::tempdir().unwrap();
    let open = Server::start_listening(dir.path(), "0.0.0.0:0", &[]);
    let page = reqwest::get(format!("{}/sign-in", open.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("demo-sign-in"), "no demo list off loopback");
    let refused = demo_sign_in(&open, "alice").await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("loopback"));

    // The demo server: a session, then a forged and a missing CSRF token refused.
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let signed = demo_sign_in(&server, "alice").await;
    assert_eq!(signed.status(), 303, "{:?}", signed.text().await);
    let session = set_cookie(&signed, "lever_session").expect("session cookie");
    let attributes = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("lever_session="))
        .unwrap();
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict"));
    let http = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form_page = http
        .get(format!(
            "{}/templates/provision-postgresql-database",
            server.url
        ))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(form_page.status(), 200);
    let html = form_page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    for sent in [Some("forged-token"), None] {
        let mut fields = vec![("name", "forged"), ("owner", "payments")];
        if let Some(token) = sent {
            fields.push(("csrf", token));
        }
        let response = http
            .post(format!(
                "{}/templates/provision-postgresql-database/submit",
                server.url
            ))
            .header("cookie", &session)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "CSRF token {sent:?} refused");
        assert!(response.text().await.unwrap().contains("CSRF"));
    }
    let (_, runs) = server.get_json("/api/v1/runs").await;
    assert_eq!(
        runs["runs"].as_array().unwrap().len(),
        0,
        "nothing was submitted"
    );

    // Signing out revokes the session.
    let out = http
        .post(format!("{}/sign-out", server.url))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = http
        .get(format!("{}/runs", server.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "a revoked session signs in again");
    assert!(
        after.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/sign-in")
    );
}

#[tokio::test]
async fn oidc_sign_in_uses_the_authorization_code_with_pkce_and_the_verified_claims() {
    use lever_tests::fakes::oidc::{FakeOidc, OidcUser};
    let idp = FakeOidc::start(OidcUser {
        sub: "olga".into(),
        name: "Olga from the IdP".into(),
        groups: vec!["payments".into()],
        team: Some("payments".into()),
    })
    .await;
    let config = format!(
        "{}\noidc:\n  issuer: {}\n  audience: lever\n",
        lever_identity::EMBEDDED_CONFIG.replace("demo_sign_in: true", "demo_sign_in: false"),
        idp.issuer
    );
    let server = Server::start_configured(&config, &[]);
    let driver = Driver::start().await;
    let browser = driver.browser(1200).await;
    browser.goto(&format!("{}/runs", server.url)).await;
    assert!(!browser.has("#demo-sign-in").await);
    browser.click("#sign-in-oidc").await;
    // Through the provider and back, signed in as the token's user, on the page asked for.
    let who = browser.text("#signed-in-as").await;
    assert!(
        who.contains("Olga from the IdP") && who.contains("payments"),
        "{who}"
    );
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/runs")
    );
    browser.shot("oidc-signed-in").await;
    assert!(idp.refusals().is_empty(), "{:?}", idp.refusals());

    // A callback with a state this server never issued is refused.
    let forged = reqwest::get(format!(
        "{}/sign-in/oidc/callback?code=x&state=forged",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), 400);
    assert!(
        forged
            .text()
            .await
            .unwrap()
            .contains("start the sign-in again")
    );
    browser.close().await;
}

#[tokio::test]
async fn every_page_answers_every_demo_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let http = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let config = lever_identity::Config::embedded_default();
    for user in &config.users {
        let signed = demo_sign_in(&server, &user.id).await;
        assert_eq!(signed.status(), 303, "{} signs in", user.id);
        let session = set_cookie(&signed, "lever_session").unwrap();
        let principal = config.principal(&user.id).unwrap();
        for path in [
            "/",
            "/runs",
            "/resources",
            "/approvals",
            "/templates/provision-postgresql-database",
            "/templates/create-service",
            "/platform",
            "/platform/audit",
            "/platform/insights",
            "/api",
        ] {
            let response = http
                .get(format!("{}{path}", server.url))
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let refused = (path.starts_with("/platform") && !principal.is_platform())
                || (path.starts_with("/templates/")
                    && !principal.can_run("platform-team", &["recommended".to_string()]));
            let expected = if refused { 403 } else { 200 };
            assert_eq!(status, expected, "{} at {path}: {body}", user.id);
            if status == 403 {
                assert!(
                    body.contains("platform role") || body.contains("may not run"),
                    "a 403 says why: {body}"
                );
            }
        }
    }
}

const CONDITIONAL: &str = r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: web-conditional
  title: Conditional fields
  tags: [recommended]
spec:
  owner: platform-team
  parameters:
    - title: Kind
      properties:
        kind:
          title: Kind
          type: string
          enum: [database, cache]
          default: database
        replicas:
          title: Replicas
          type: integer
          default: 1
      dependencies:
        kind:
          oneOf:
            - properties:
                kind: {enum: [database]}
                engine: {title: Engine, type: string, enum: [postgres, mysql]}
              required: [engine]
            - properties:
                kind: {enum: [cache]}
                ttl: {title: TTL seconds, type: integer}
      if:
        properties:
          replicas: {minimum: 2}
      then:
        properties:
          zone: {title: Zone, type: string, ui:help: "Where the replicas run"}
  steps:
    - id: note
      action: debug-log
      input: {message: "${{ parameters.kind }}"}
"#;

/// Whether the field `id` is shown (its wrapper has no `hidden` attribute).
async fn shown(browser: &Browser, id: &str) -> bool {
    browser
        .find(&format!("#field-{id}"))
        .await
        .attr("hidden")
        .await
        .unwrap()
        .is_none()
}

/// Waits (at most 10 s) until the field `id` is shown.
async fn wait_shown(browser: &Browser, id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !shown(browser, id).await {
        assert!(std::time::Instant::now() < deadline, "{id} never showed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn conditional_fields_show_and_hide_as_the_answers_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let applied = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(CONDITIONAL)
        .send()
        .await
        .unwrap();
    assert!(applied.status().is_success());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;
    alice
        .goto(&format!("{}/templates/web-conditional", server.url))
        .await;
    // dependencies/oneOf: the database branch's field shows, the cache branch's does not.
    assert!(shown(&alice, "f-engine").await);
    assert!(!shown(&alice, "f-ttl").await);
    assert!(
        !shown(&alice, "f-zone").await,
        "if/then: one replica, no zone"
    );
    alice
        .find("#f-kind")
        .await
        .select_by_value("cache")
        .await
        .unwrap();
    wait_shown(&alice, "f-ttl").await;
    assert!(!shown(&alice, "f-engine").await);
    alice.type_into("#f-replicas", "3").await;
    wait_shown(&alice, "f-zone").await;
    alice.shot("form-conditional").await;
    // A hidden field is not sent: the cache run validates without an engine.
    next_page(&alice, 1).await;
    alice
        .wait_text("#submit", 10, |t| t.contains("Runs now"))
        .await;
    alice.click("#submit").await;
    alice
        .wait_attr("#run-status", "data-status", "succeeded", 30)
        .await;
    alice.close().await;
}

#[tokio::test]
async fn the_resources_page_lists_what_a_team_owns_and_another_teams_request_for_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let name = unique_name("webres");
    let object = format!("{}_dev", name.replace('-', "_"));
    let alice_api = server.client_for("alice").await;
    let created: Value = alice_api
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "provision-postgresql-database", "parameters": {"name": name, "owner": "payments"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");

    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;
    alice.click("nav a[href='/resources']").await;
    let row = format!("[data-scope='{name}-dev']");
    let listed = alice.text(&row).await;
    assert!(
        listed.contains(&object) && listed.contains("payments") && listed.contains("live"),
        "{listed}"
    );
    assert!(listed.contains("$50.00"), "its cost: {listed}");
    assert_eq!(
        alice.value("#filter-team").await,
        "payments",
        "her team by default"
    );
    alice.click(&format!("{row} button")).await;
    let value = alice
        .wait_text(".secret-value", 10, |t| !t.is_empty())
        .await;
    assert!(
        value.contains("Password") && value.contains(&format!("postgresql://{object}:")),
        "{value}"
    );
    alice.shot("resources-revealed").await;

    // A day-2 action from the resource's row: the form opens with the database filled in,
    // the preview names it as payments', and the run rotates its password.
    let before = value.clone();
    alice
        .click(&format!(
            "{row} a.day-2[href^='/templates/rotate-postgresql-credentials']"
        ))
        .await;
    alice.find("#run-form").await;
    assert_eq!(
        alice.value("#f-name").await,
        name,
        "filled in from the resource"
    );
    assert_eq!(alice.value("#f-environment").await, "dev");
    alice
        .wait_text("#preview", 10, |t| t.contains("team payments"))
        .await;
    next_page(&alice, 1).await;
    alice
        .wait_text("#submit", 10, |t| t.contains("Runs now"))
        .await;
    alice.click("#submit").await;
    alice
        .wait_attr("#run-status", "data-status", "succeeded", 60)
        .await;
    alice.shot("day-2-rotated").await;
    alice.goto(&format!("{}/resources", server.url)).await;
    alice.click(&format!("{row} button")).await;
    let after = alice
        .wait_text(".secret-value", 10, |t| !t.is_empty())
        .await;
    assert_ne!(after, before, "a new password in the same secret");

    // dave sees it among every team's, with no Reveal; his own team's list does not have it.
    let dave = driver.browser(1200).await;
    dave.sign_in_as(&server.url, "dave").await;
    dave.goto(&format!("{}/resources", server.url)).await;
    assert!(
        !dave.has(&row).await,
        "search's resources are not payments'"
    );
    dave.goto(&format!("{}/resources?team=", server.url)).await;
    let listed = dave.text(&row).await;
    assert!(listed.contains("payments"), "{listed}");
    assert!(
        !dave.has(&format!("{row} button")).await,
        "no Reveal for dave"
    );
    dave.shot("resources-other-team").await;

    // dave asks for the same name for search: the preview says whose it is, and the submit
    // comes back to the form saying so.
    open_database_form(&dave, &server.url).await;
    dave.type_into("#f-name", &name).await;
    let conflict = dave
        .wait_text("#preview-conflicts", 10, |t| t.contains("team payments"))
        .await;
    assert!(conflict.contains("belongs to team payments"), "{conflict}");
    let route = dave.text("#preview-route").await;
    assert!(route.contains("Refused"), "not shown as runnable: {route}");
    next_page(&dave, 1).await;
    next_page(&dave, 2).await;
    dave.click("#submit").await;
    let said = dave
        .wait_text("#form-error", 10, |t| {
            t.contains("belongs to team payments")
        })
        .await;
    assert!(said.contains(&object), "{said}");
    dave.shot("form-refused-owned").await;

    alice.close().await;
    dave.close().await;
    drop_provisioned(&object).await;
}

#[tokio::test]
async fn a_template_that_cannot_run_here_says_so_before_the_form_and_cannot_be_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;

    // The catalog says it in words, without the platform team's fix.
    let card = alice.text("[data-template=create-service]").await;
    assert!(card.contains("Not available here yet"), "{card}");
    assert!(
        card.contains("This needs git-provider (source hosting"),
        "{card}"
    );
    assert!(
        !card.contains("lever.yaml"),
        "the fix is for the platform team: {card}"
    );
    alice
        .wait_attr(
            "[data-template=create-service]",
            "data-available",
            "false",
            5,
        )
        .await;
    alice
        .wait_attr(
            "[data-template=provision-postgresql-database]",
            "data-available",
            "true",
            5,
        )
        .await;
    alice.shot("catalog-unavailable").await;

    // Its form says so at the top, and its submit button stays disabled.
    alice.click("[data-template=create-service] h2 a").await;
    alice.find("#run-form").await;
    let preview = alice
        .wait_text("#preview", 10, |t| t.contains("Not available here yet"))
        .await;
    assert!(preview.contains("This cannot run here yet"), "{preview}");
    // The submit button (on the hidden Review page until then) says so and is disabled.
    alice.wait_attr("#submit", "disabled", "true", 10).await;
    let source = alice.source().await;
    assert!(source.contains("Cannot run here yet"), "{source}");
    alice.shot("form-unavailable").await;

    // The platform team sees the fix, on the catalog and on its template list.
    let admin = driver.browser(1200).await;
    admin.sign_in_as(&server.url, "admin").await;
    let card = admin.text("[data-template=create-service]").await;
    assert!(card.contains("bindings.git-provider"), "{card}");
    admin
        .goto(&format!("{}/platform/templates", server.url))
        .await;
    let listed = admin.text("[data-template=create-service]").await;
    assert!(
        listed.contains("Not available here yet") && listed.contains("bindings.git-provider"),
        "{listed}"
    );
    assert!(!listed.contains("No warnings"), "{listed}");
    admin.shot("platform-templates-unavailable").await;
    alice.close().await;
    admin.close().await;
}

#[tokio::test]
async fn a_request_nobody_else_can_approve_says_so_before_it_is_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    // carol is the only payments lead: her own production request has no one to approve it.
    let carol = driver.browser(1200).await;
    carol.sign_in_as(&server.url, "carol").await;
    open_database_form(&carol, &server.url).await;
    carol.type_into("#f-name", &unique_name("lonely")).await;
    next_page(&carol, 1).await;
    carol
        .find("#f-environment")
        .await
        .select_by_value("production")
        .await
        .expect("choose production");
    let warning = carol
        .wait_text("#preview-nobody", 10, |t| !t.is_empty())
        .await;
    assert!(
        warning.contains("Nobody else can approve team lead, so the platform team will decide it"),
        "{warning}"
    );
    // The default policy sends the stage to the platform team too, so it is not a wait
    // nobody can end.
    let stages = carol.text("#preview-stages").await;
    assert!(
        stages.contains("Platform Admin") && stages.contains("the platform team"),
        "{stages}"
    );
    carol.shot("form-nobody-else-approves").await;
    carol.click(".page-steps [data-goto='2']").await;
    carol
        .wait_text("#submit", 10, |t| {
            t.contains("Needs approval from Platform Admin")
        })
        .await;
    carol.click("#submit").await;
    carol
        .wait_attr("#run-status", "data-status", "awaiting-approval", 20)
        .await;
    let admin = driver.browser(1200).await;
    admin.sign_in_as(&server.url, "admin").await;
    admin.goto(&format!("{}/approvals", server.url)).await;
    let card = admin.text("#assigned").await;
    assert!(card.contains("platform team may decide instead"), "{card}");
    admin.click("#assigned button[value=approve]").await;
    carol
        .wait_attr("#run-status", "data-status", "succeeded", 60)
        .await;
    carol.close().await;
    admin.close().await;
}

#[tokio::test]
async fn the_form_moves_on_with_enter_checks_each_page_and_lists_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let server = demo_server(dir.path());
    let driver = Driver::start().await;
    let alice = driver.browser(1200).await;
    alice.sign_in_as(&server.url, "alice").await;
    open_database_form(&alice, &server.url).await;
    // A skip link to the content; required fields say so; every text field shows its bound
    // (the template's, or the default where it sets none).
    assert!(alice.has("a.skip-link[href='#main']").await && alice.has("main#main").await);
    assert_eq!(
        alice.attr("#f-name", "aria-required").await.as_deref(),
        Some("true")
    );
    assert!(
        alice
            .text("#bound-f-name")
            .await
            .contains("Up to 2000 characters")
    );
    assert_eq!(
        alice.attr("#f-name", "maxlength").await.as_deref(),
        Some("2000")
    );
    alice.wait_attr("#submit", "disabled", "true", 10).await;
    // An empty form's preview does not claim a cost or a failed plan.
    let preview = alice
        .wait_text("#preview-cost", 10, |t| {
            t.contains("once the answers are complete")
        })
        .await;
    assert!(
        !alice.text("#preview").await.contains("plan-failed"),
        "{preview}"
    );

    // Enter in an empty required field neither submits nor moves on: the page is checked,
    // the field says why and has the focus.
    alice.find("#f-name").await.click().await.unwrap();
    alice.press_enter("#f-name").await;
    let why = alice.wait_text("#err-f-name", 10, |t| !t.is_empty()).await;
    assert!(why.contains("required"), "{why}");
    assert_eq!(
        alice.attr("#f-name", "aria-invalid").await.as_deref(),
        Some("true")
    );
    alice.wait_focus("f-name", 10).await;
    assert!(
        alice
            .attr("fieldset[data-page='1']", "hidden")
            .await
            .is_some(),
        "still on page 1"
    );
    alice.shot("form-enter-checks-the-page").await;

    // A broken answer is listed in the review with a link to its field, and Submit waits.
    alice.type_into("#f-name", "Orders!").await;
    alice
        .wait_text("#err-f-name", 10, |t| t.contains("does not match"))
        .await;
    let source = alice.source().await;
    assert!(
        source.contains("id=\"review-errors\"") && source.contains("href=\"#f-name\""),
        "the review lists the error with a link to the field"
    );
    // The page pills are buttons: the keyboard reaches them, and moving on checks the page
    // (once the last change is checked): the form stays, the broken field has the focus.
    alice.click(".page-steps [data-goto='2']").await;
    alice.wait_focus("f-name", 10).await;
    assert!(
        alice
            .attr("fieldset[data-page='2']", "hidden")
            .await
            .is_some(),
        "not past an error"
    );

    // Fixed, Enter moves to the next page, and the review lets the request go.
    let name = unique_name("webform");
    alice.type_into("#f-name", &name).await;
    alice.wait_text("#err-f-name", 10, str::is_empty).await;
    assert!(alice.attr("#f-name", "aria-invalid").await.is_none());
    alice.press_enter("#f-name").await;
    alice
        .wait_attr("fieldset[data-page='0']", "hidden", "true", 10)
        .await;
    assert!(
        alice
            .attr("fieldset[data-page='1']", "hidden")
            .await
            .is_none(),
        "on page 2"
    );
    alice.click(".page-steps [data-goto='2']").await;
    alice
        .wait_text("#submit", 10, |t| t.contains("Runs now"))
        .await;
    assert!(alice.attr("#submit", "disabled").await.is_none());
    assert!(!alice.has("#review-errors").await);
    alice.shot("form-review-clean").await;
    alice.close().await;
}
