//! What the requester and the approver saw is what runs: a template run is pinned at submit to
//! the template version it was previewed and routed on and to each plugin step's version (by
//! digest), whatever is published or applied while it waits for approval, and after a crash.

use lever_tests::guests::fixture;
use lever_tests::server::Server;
use lever_tests::step;
use serde_json::{Value, json};

/// Version `n` of a template whose `echo` step says which template version wrote its input.
fn template(n: u32, slow_ms: u64) -> String {
    format!(
        r#"
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {{name: pinned, tags: [payments]}}
spec:
  owner: platform-team
  parameters:
    - properties:
        environment: {{type: string, default: production}}
  steps:
    - id: slow
      action: workflow-sleep
      input: {{ms: {slow_ms}}}
    - id: echo
      action: pinned-echo
      input: {{message: "template v{n}"}}
"#
    )
}

async fn events(server: &Server, id: &str) -> Value {
    let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    events
}

#[tokio::test]
async fn a_run_approved_after_a_new_version_is_published_runs_the_version_the_approver_saw() {
    let server = Server::start();
    server.publish_ok(fixture("workflow_sleep"), &[]).await;
    let old = server.publish_ok(fixture("pinned_old"), &[]).await;
    server.apply_template(&template(1, 10)).await;
    let alice = server.client_for("alice").await;
    let carol = server.client_for("carol").await;

    // Production: the payments lead approves it.
    let created: Value = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "pinned", "parameters": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "awaiting-approval", "{created:#}");
    let id = created["id"].as_str().unwrap();
    let lead = crate::approvals::stage(&server, id, "team-lead").await;
    let shown = lead["context"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "echo")
        .cloned()
        .unwrap();
    assert_eq!(shown["plugin"], "pinned-echo@0.1.0", "{lead:#}");
    let digest = old["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    assert_eq!(shown["digest"], digest.as_str());

    // While it waits: a new version of the action, and a new version of the template.
    server.publish_ok(fixture("pinned_new"), &[]).await;
    server.apply_template(&template(2, 10)).await;

    let (status, decided) = {
        let response = carol
            .post(format!(
                "{}/api/v1/approvals/{}/approve",
                server.url,
                lead["id"].as_str().unwrap()
            ))
            .json(&json!({"comment": "as shown"}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(status, 200, "{decided}");
    let run = server.wait(id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "echo")["output"]["version"], "0.1.0", "{run:#}");
    assert_eq!(
        step(&run, "echo")["output"]["message"],
        "template v1",
        "the template version it was routed on"
    );
    assert_eq!(run["template_version"], 1);
    let said = events(&server, id).await.to_string();
    assert!(
        said.contains("\"pinned\"") && said.contains(&digest),
        "its events name the digest: {said}"
    );

    // A new submission takes what is published now.
    let created: Value = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "pinned", "parameters": {"environment": "dev"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run = server.wait(created["id"].as_str().unwrap()).await;
    assert_eq!(step(&run, "echo")["output"]["version"], "0.2.0", "{run:#}");
    assert_eq!(step(&run, "echo")["output"]["message"], "template v2");
}

#[tokio::test]
async fn a_run_resumed_after_a_crash_runs_the_versions_it_was_submitted_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.publish_ok(fixture("workflow_sleep"), &[]).await;
    server.publish_ok(fixture("pinned_old"), &[]).await;
    server.apply_template(&template(1, 3000)).await;
    let (status, created) = server
        .post_json(
            "/api/v1/runs",
            json!({"template": "pinned", "parameters": {"environment": "dev"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    for _ in 0..400 {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        if step(&run, "slow")["status"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    server.publish_ok(fixture("pinned_new"), &[]).await;
    server.kill();

    let server = Server::start_in(dir.path(), &[]);
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["attempt"], 2, "it was resumed after the crash");
    assert_eq!(step(&run, "echo")["output"]["version"], "0.1.0", "{run:#}");
}

#[tokio::test]
async fn runs_submitted_while_the_template_changes_run_the_version_their_route_was_computed_for() {
    let server = Server::start();
    server.publish_ok(fixture("workflow_sleep"), &[]).await;
    server.publish_ok(fixture("pinned_old"), &[]).await;
    server.apply_template(&template(1, 10)).await;
    let alice = server.client_for("alice").await;
    // Submissions (production: each waits for the lead, with the context the route saw) while
    // new versions of the template are applied as fast as the server takes them.
    let applying = async {
        for n in 2..=12 {
            server.apply_template(&template(n, 10)).await;
        }
    };
    let submitting = async {
        let mut ids = Vec::new();
        for _ in 0..12 {
            let created: Value = alice
                .post(format!("{}/api/v1/runs", server.url))
                .json(&json!({"template": "pinned", "parameters": {}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(created["id"].as_str().unwrap().to_string());
        }
        ids
    };
    let ((), ids) = tokio::join!(applying, submitting);
    let mut versions = std::collections::BTreeSet::new();
    for id in ids {
        let (_, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        let lead = crate::approvals::stage(&server, &id, "team-lead").await;
        assert_eq!(
            run["template_version"], lead["context"]["template_version"],
            "run {id} is the version its route was computed for: {run:#}"
        );
        versions.insert(run["template_version"].as_i64().unwrap());
    }
    assert!(!versions.is_empty());
}

/// A run submitted on one node waits for approval; that node goes away, and through a second
/// node on the same database a new version of its action and of its template are published,
/// the approver approves and the second node runs it: with the versions it was submitted with.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_taken_up_by_a_second_node_runs_the_versions_it_was_submitted_with() {
    let database = lever_tests::databases::TestDatabase::postgres().await;
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut first = Server::start_in(first_dir.path(), &["--database", &database.url]);
    first.publish_ok(fixture("workflow_sleep"), &[]).await;
    let old = first.publish_ok(fixture("pinned_old"), &[]).await;
    first.apply_template(&template(1, 10)).await;
    let alice = first.client_for("alice").await;
    let created: Value = alice
        .post(format!("{}/api/v1/runs", first.url))
        .json(&json!({"template": "pinned", "parameters": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "awaiting-approval", "{created:#}");
    let id = created["id"].as_str().unwrap().to_string();
    let stage_id = crate::approvals::stage(&first, &id, "team-lead").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(second_dir.path().join("admin-token"), &first.admin_token).unwrap();
    first.kill();

    let second = Server::start_in(second_dir.path(), &["--database", &database.url]);
    second.publish_ok(fixture("pinned_new"), &[]).await;
    second.apply_template(&template(2, 10)).await;
    let carol = second.client_for("carol").await;
    let response = carol
        .post(format!(
            "{}/api/v1/approvals/{stage_id}/approve",
            second.url
        ))
        .json(&json!({"comment": "as shown"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let run = second.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "echo")["output"]["version"], "0.1.0", "{run:#}");
    assert_eq!(step(&run, "echo")["output"]["message"], "template v1");
    let second_node = std::fs::read_to_string(second_dir.path().join("node-id")).unwrap();
    let said = events(&second, &id).await;
    let echo_started = said["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "step-started" && e["step_id"] == "echo")
        .cloned()
        .unwrap();
    assert_eq!(
        echo_started["data"]["node"].as_str(),
        Some(second_node.trim()),
        "the second node ran it: {echo_started}"
    );
    let digest = old["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    assert!(
        said.to_string().contains(digest),
        "its events name the digest it was submitted with: {said}"
    );
}
