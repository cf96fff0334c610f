//! An accessibility audit of every page of the web UI with axe-core (npm `axe-core`) in
//! headless Chromium: WCAG 2.1 A and AA rules, each page as the user who sees it, after its
//! live parts have loaded. No serious or critical violation is allowed; every violation found
//! is written to `target/screenshots/accessibility.txt`, which `scripts/test.sh` prints after
//! the tests, so CI's output is the report.

use lever_tests::browser::{Browser, Driver, Violation, screenshots_dir};
use lever_tests::server::Server;

use crate::approvals::User;
use serde_json::json;

/// Audits the page at `path` for `browser`, adding what it finds to `report`; answers the
/// serious and critical violations.
async fn audit(
    browser: &Browser,
    base: &str,
    path: &str,
    ready: &str,
    report: &mut String,
) -> Vec<(String, Violation)> {
    browser.goto(&format!("{base}{path}")).await;
    browser.find(ready).await;
    let found = browser.audit().await;
    for v in &found {
        report.push_str(&format!(
            "{path}: {} ({}) — {}; {:?}\n",
            v.id,
            v.impact.as_deref().unwrap_or("?"),
            v.help,
            v.targets
        ));
    }
    if found.is_empty() {
        report.push_str(&format!("{path}: no violation\n"));
    }
    found
        .into_iter()
        .filter(|v| matches!(v.impact.as_deref(), Some("serious" | "critical")))
        .map(|v| (path.to_string(), v))
        .collect()
}

#[tokio::test]
async fn every_page_passes_axe_core_with_no_serious_or_critical_violation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let base = server.url.clone();
    // A production database waits for the payments lead: a run page with an open stage,
    // carol's approvals inbox with its card, and her inbox with the request.
    let created = User::of(&server, "alice")
        .await
        .submit(
            "provision-postgresql-database",
            json!({"name": "a11y-orders", "owner": "payments", "environment": "production"}),
        )
        .await;
    let run = created["id"].as_str().expect("a run id").to_string();

    let driver = Driver::start().await;
    let mut serious = Vec::new();
    let mut report = String::from("axe-core, WCAG 2.1 A and AA, every page of the web UI:\n");

    let visitor = driver.browser(1200).await;
    // The audit sees what it is for: an image without a text alternative is critical.
    visitor.goto(&format!("{base}/sign-in")).await;
    visitor
        .client
        .execute(
            "const img = document.createElement('img'); img.src = '/assets/none.png'; document.querySelector('main').appendChild(img);",
            vec![],
        )
        .await
        .unwrap();
    let broken = visitor.audit().await;
    assert!(
        broken
            .iter()
            .any(|v| v.id == "image-alt" && v.impact.as_deref() == Some("critical")),
        "{broken:#?}"
    );
    serious.extend(audit(&visitor, &base, "/sign-in", "main", &mut report).await);
    visitor.close().await;

    let alice = driver.browser(1200).await;
    alice.sign_in_as(&base, "alice").await;
    for (path, ready) in [
        ("/".to_string(), "#templates"),
        (
            "/templates/provision-postgresql-database".to_string(),
            "#preview-route",
        ),
        ("/templates/create-service".to_string(), "#preview-route"),
        ("/runs".to_string(), "#my-runs"),
        (format!("/runs/{run}"), "#run-status"),
        ("/resources".to_string(), "main"),
        ("/inbox".to_string(), "main"),
        ("/api".to_string(), "main"),
    ] {
        serious.extend(audit(&alice, &base, &path, ready, &mut report).await);
    }
    alice.close().await;

    let carol = driver.browser(1200).await;
    carol.sign_in_as(&base, "carol").await;
    for path in ["/approvals", "/inbox"] {
        serious.extend(audit(&carol, &base, path, "main", &mut report).await);
    }
    carol.close().await;

    let admin = driver.browser(1200).await;
    admin.sign_in_as(&base, "admin").await;
    for path in [
        "/platform",
        "/platform/templates",
        "/platform/bindings",
        "/platform/policies",
        "/platform/audit",
        "/platform/insights",
    ] {
        serious.extend(audit(&admin, &base, path, "main", &mut report).await);
    }
    admin.close().await;

    std::fs::write(screenshots_dir().join("accessibility.txt"), &report).unwrap();
    assert!(
        serious.is_empty(),
        "serious or critical accessibility violations: {serious:#?}"
    );
}
