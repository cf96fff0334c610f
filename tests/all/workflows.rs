//! Template runs through a real server: outputs flow between steps, and each failure policy
//! (retry, skip, manual, abort with rollback) does what it says, with every step visible.

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};

/// Generates `<name>::sqlite` and `<name>::postgres`: the same test against a server on each store.
macro_rules! on_both_stores {
    ($(async fn $name:ident($server:ident: Server) $body:block)*) => {
        $(mod $name {
            use super::*;

            async fn body($server: Server) $body

            #[tokio::test]
            async fn sqlite() {
                body(server(Server::start()).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                body(server(Server::start_postgres().await).await).await;
            }
        })*
    };
}

async fn server(server: Server) -> Server {
    server.publish_ok(plugin("debug_log"), &[]).await;
    for guest in ["workflow_flaky", "workflow_fail", "workflow_sleep"] {
        server.publish_ok(fixture(guest), &[]).await;
    }
    server
}

async fn apply(server: &Server, yaml: &str) {
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(
        status == 201 || status == 200,
        "{}",
        response.text().await.unwrap()
    );
}

async fn submit(server: &Server, template: &str, parameters: Value) -> String {
    let response = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": template, "parameters": parameters}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn step<'a>(run: &'a Value, id: &str) -> &'a Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {run:#}"))
}

fn template(name: &str, steps: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: {name}\nspec:\n  parameters:\n    - properties:\n        name: {{type: string, default: orders}}\n  steps:\n{steps}"
    )
}

on_both_stores! {
async fn outputs_flow_to_later_steps_and_the_run_output_renders(server: Server) {
    let yaml = template(
        "flow",
        r#"    - id: first
      action: debug:log
      input: {message: "db ${{ parameters.name }}"}
    - id: second
      action: debug-log
      input: {message: "after ${{ steps.first.output.message }}"}
    - id: never
      action: debug-log
      if: ${{ parameters.name == 'other' }}
      input: {message: nope}
  output:
    text:
      - title: Result
        content: "${{ steps.second.output.message }}"
"#,
    );
    apply(&server, &yaml).await;
    let (status, body) = server.post_json("/api/v1/runs", json!({"template": "flow", "parameters": {}, "idempotency_key": "k1"})).await;
    assert_eq!(status, 201, "{body}");
    let (again, same) = server.post_json("/api/v1/runs", json!({"template": "flow", "parameters": {}, "idempotency_key": "k1"})).await;
    assert_eq!((again, &same["id"]), (200, &body["id"]), "the same idempotency key returns the same run");
    let run = server.wait(body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["parameters"], json!({"name": "orders"}));
    assert_eq!(step(&run, "second")["output"]["message"], "after db orders");
    assert_eq!(step(&run, "never")["status"], "skipped");
    assert_eq!(run["output"]["text"][0]["content"], "after db orders");
    let (_, events) = {
        let r = server.http.get(format!("{}/api/v1/runs/{}/events", server.url, run["id"].as_str().unwrap())).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The first event names the plugin versions the run was submitted with.
    assert_eq!(kinds.first(), Some(&"pinned"));
    assert_eq!(kinds.get(1), Some(&"step-started"));
    assert_eq!(kinds.last(), Some(&"run-finished"));
    assert!(kinds.contains(&"step-skipped") && kinds.contains(&"log"), "{kinds:?}");
    // A late client gets the whole history as server-sent events, and the stream ends with the run.
    let sse = server
        .http
        .get(format!("{}/api/v1/runs/{}/events", server.url, run["id"].as_str().unwrap()))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert!(sse.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = tokio::time::timeout(std::time::Duration::from_secs(20), sse.text()).await.expect("the stream ends").unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(names, kinds, "the stream replays the stored events in order");
}
}

on_both_stores! {
async fn retryable_failures_retry_with_backoff_and_keep_stable_idempotency_keys(server: Server) {
    let yaml = template(
        "flaky",
        r#"    - id: flaky
      action: workflow-flaky
      onFailure: retry
      retry: {attempts: 3, backoff: exponential, delay: 50ms, maxDelay: 1s}
      input: {succeed_on: 3}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "flaky", json!({})).await;
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let flaky = step(&run, "flaky");
    assert_eq!(flaky["attempts"], 3);
    assert_eq!(flaky["output"]["attempt"], 3);
    assert_eq!(flaky["output"]["key"], format!("{id}/flaky/3"));
    let events: Value =
        server.http.get(format!("{}/api/v1/runs/{id}/events", server.url)).send().await.unwrap().json().await.unwrap();
    let retrying: Vec<&Value> = events["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "retrying").collect();
    assert_eq!(retrying.len(), 2);
    assert_eq!(retrying[0]["data"]["delay_ms"], 50);
    assert_eq!(retrying[1]["data"]["delay_ms"], 100, "exponential backoff");
}
}

on_both_stores! {
async fn skip_carries_on_and_shows_the_error(server: Server) {
    let yaml = template(
        "skipping",
        r#"    - id: notify
      action: workflow-fail
      onFailure: skip
      input: {kind: fatal, message: "the mail server said no"}
    - id: after
      action: debug-log
      input: {message: still here}
"#,
    );
    apply(&server, &yaml).await;
    let run = server.wait(&submit(&server, "skipping", json!({})).await).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "notify")["status"], "skipped");
    assert_eq!(step(&run, "notify")["error"]["message"], "the mail server said no");
    assert_eq!(step(&run, "after")["status"], "succeeded");
}
}

const ABORTING: &str = r#"    - id: create
      action: debug-log
      input: {message: "create ${{ parameters.name }}"}
      rollback: {action: debug-log, input: {message: "delete ${{ steps.create.output.message }}"}}
    - id: store
      action: debug-log
      input: {message: store}
      rollback: {action: ROLLBACK_ACTION, input: {kind: fatal, message: "cannot delete the secret", message_unused: x}}
    - id: apply
      action: workflow-fail
      input: {kind: fatal, message: "terraform apply failed"}
"#;

on_both_stores! {
async fn abort_rolls_back_completed_steps_in_reverse_order(server: Server) {
    let yaml = template("aborting", &ABORTING.replace("ROLLBACK_ACTION", "debug-log").replace(", input: {kind: fatal, message: \"cannot delete the secret\", message_unused: x}", ", input: {message: forget}"));
    apply(&server, &yaml).await;
    let id = submit(&server, "aborting", json!({})).await;
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert_eq!(run["error"]["step"], "apply");
    assert_eq!(step(&run, "apply")["status"], "failed");
    assert_eq!(step(&run, "store")["status"], "rolled-back");
    assert_eq!(step(&run, "create")["status"], "rolled-back");
    let messages: Vec<&str> = run["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["create orders", "store", "forget", "delete create orders"], "rollbacks run in reverse order");
}
}

on_both_stores! {
async fn a_failed_rollback_leaves_the_run_rollback_failed_listing_what_is_left(server: Server) {
    let yaml = template("leftover", &ABORTING.replace("ROLLBACK_ACTION", "workflow-fail").replace(", message_unused: x", ""));
    apply(&server, &yaml).await;
    let run = server.wait(&submit(&server, "leftover", json!({})).await).await;
    assert_eq!(run["status"], "rollback-failed", "{run:#}");
    assert_eq!(run["error"]["left_behind"], json!(["store"]));
    assert_eq!(step(&run, "store")["status"], "rollback-failed");
    assert_eq!(step(&run, "create")["status"], "rolled-back", "the other rollbacks still run");
}
}

on_both_stores! {
async fn manual_pauses_then_a_retry_with_edited_input_resumes(server: Server) {
    let yaml = template(
        "manual",
        r#"    - id: first
      action: debug-log
      input: {message: one}
    - id: fragile
      action: workflow-flaky
      onFailure: manual
      input: {succeed_on: 99}
    - id: last
      action: debug-log
      input: {message: "attempt ${{ steps.fragile.output.attempt }}"}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "manual", json!({})).await;
    let paused = server.wait(&id).await;
    assert_eq!(paused["status"], "paused", "{paused:#}");
    assert_eq!(step(&paused, "fragile")["status"], "failed");
    let (status, _) = server.post_json(&format!("/api/v1/runs/{id}/steps/last/retry"), json!({})).await;
    assert_eq!(status, 409, "only the failed step can be resolved");
    let (status, body) = server.post_json(&format!("/api/v1/runs/{id}/steps/fragile/retry"), json!({"input": {"succeed_on": 1}})).await;
    assert_eq!(status, 202, "{body}");
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "first")["attempts"], 1, "completed steps do not run again");
    assert_eq!(step(&run, "fragile")["attempts"], 2);
    assert_eq!(step(&run, "last")["output"]["message"], "attempt 2");
}
}

on_both_stores! {
async fn a_paused_run_can_be_skipped_past_or_aborted(server: Server) {
    let yaml = template(
        "pausing",
        r#"    - id: create
      action: debug-log
      input: {message: made}
      rollback: {action: debug-log, input: {message: unmade}}
    - id: fragile
      action: workflow-fail
      onFailure: manual
      input: {kind: fatal, message: broken}
"#,
    );
    apply(&server, &yaml).await;
    let skipped = submit(&server, "pausing", json!({})).await;
    assert_eq!(server.wait(&skipped).await["status"], "paused");
    assert_eq!(server.post_json(&format!("/api/v1/runs/{skipped}/steps/fragile/skip"), json!({})).await.0, 202);
    let run = server.wait(&skipped).await;
    assert_eq!((run["status"].as_str(), step(&run, "fragile")["status"].as_str()), (Some("succeeded"), Some("skipped")));

    let aborted = submit(&server, "pausing", json!({})).await;
    assert_eq!(server.wait(&aborted).await["status"], "paused");
    assert_eq!(server.post_json(&format!("/api/v1/runs/{aborted}/abort"), json!({})).await.0, 202);
    let run = server.wait(&aborted).await;
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert_eq!(step(&run, "create")["status"], "rolled-back");
    assert_eq!(server.post_json(&format!("/api/v1/runs/{aborted}/abort"), json!({})).await.0, 409);
}
}

on_both_stores! {
async fn a_failed_run_retries_from_the_failed_step_and_resubmits_with_new_parameters(server: Server) {
    let yaml = template(
        "retrying",
        r#"    - id: first
      action: debug-log
      input: {message: once}
    - id: check
      action: workflow-fail
      if: ${{ parameters.name == 'orders' }}
      input: {kind: fatal, message: "bad name"}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "retrying", json!({})).await;
    let failed = server.wait(&id).await;
    assert_eq!(failed["status"], "failed", "nothing to roll back: {failed:#}");
    assert_eq!(server.post_json(&format!("/api/v1/runs/{id}/retry"), json!({})).await.0, 202);
    let again = server.wait(&id).await;
    assert_eq!(again["status"], "failed");
    assert_eq!(step(&again, "first")["attempts"], 1, "retry restarts from the failed step");
    assert_eq!(step(&again, "check")["attempts"], 2);

    let (status, body) = server.post_json(&format!("/api/v1/runs/{id}/resubmit"), json!({"parameters": {"name": "payments"}})).await;
    assert_eq!(status, 201, "{body}");
    let new = server.wait(body["id"].as_str().unwrap()).await;
    assert_eq!(new["status"], "succeeded", "{new:#}");
    assert_eq!(new["resubmitted_from"], id);
    assert_eq!(step(&new, "check")["status"], "skipped");
}
}

on_both_stores! {
async fn invalid_parameters_are_refused_per_field(server: Server) {
    apply(&server, &template("strict", "    - id: a\n      action: debug-log\n      input: {message: x}\n")).await;
    let (status, body) = server.post_json("/api/v1/runs", json!({"template": "strict", "parameters": {"name": 5}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid-parameters")), "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "name");
    let (status, _) = server.post_json("/api/v1/runs", json!({"template": "strict", "action": "debug-log"})).await;
    assert_eq!(status, 400);
    let (status, _) = server.post_json("/api/v1/runs", json!({"template": "nope"})).await;
    assert_eq!(status, 404);
}
}

/// Polls until step `step_id` of run `id` is `running`.
async fn until_running(server: &Server, id: &str, step_id: &str) {
    for _ in 0..1200 {
        let run: Value = server
            .http
            .get(format!("{}/api/v1/runs/{id}", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if step(&run, step_id)["status"] == "running" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let run: Value = server
        .http
        .get(format!("{}/api/v1/runs/{id}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    panic!(
        "step {step_id} of run {id} never started: {run:#}\nserver log:\n{}",
        server.log()
    );
}

on_both_stores! {
async fn cancel_stops_at_the_next_step_boundary_and_rolls_back(server: Server) {
    let yaml = template(
        "cancelling",
        r#"    - id: create
      action: debug-log
      input: {message: made}
      rollback: {action: debug-log, input: {message: unmade}}
    - id: slow
      action: workflow-sleep
      input: {ms: 800}
    - id: never
      action: debug-log
      input: {message: should not run}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "cancelling", json!({})).await;
    until_running(&server, &id, "slow").await;
    assert_eq!(server.post_json(&format!("/api/v1/runs/{id}/cancel"), json!({})).await.0, 202);
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "cancelled", "{run:#}");
    assert_eq!(step(&run, "slow")["status"], "succeeded", "the step in flight finishes");
    assert_eq!(step(&run, "never")["status"], "pending");
    assert_eq!(step(&run, "create")["status"], "rolled-back");
    assert_eq!(server.post_json(&format!("/api/v1/runs/{id}/cancel"), json!({})).await.0, 409);
}
}

mod sigkill_mid_run_resumes_every_run_without_repeating_completed_steps {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        crash_scenario(&[]).await;
    }

    #[tokio::test]
    async fn postgres() {
        let database = lever_tests::databases::TestDatabase::postgres().await;
        crash_scenario(&["--database", &database.url]).await;
    }
}

async fn crash_scenario(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), args);
    server.publish_ok(plugin("debug_log"), &[]).await;
    for guest in ["workflow_fail", "workflow_sleep"] {
        server.publish_ok(fixture(guest), &[]).await;
    }
    let yaml = template(
        "crashy",
        r#"    - id: first
      action: debug-log
      input: {message: "first ${{ parameters.name }}"}
      rollback: {action: debug-log, input: {message: "undo ${{ parameters.name }}"}}
    - id: slow
      action: workflow-sleep
      input: {ms: 4000}
    - id: last
      action: workflow-fail
      if: ${{ parameters.name == 'doomed' }}
      input: {kind: fatal, message: doomed}
"#,
    );
    apply(&server, &yaml).await;
    let names = ["a", "b", "doomed"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(submit(&server, "crashy", json!({"name": name})).await);
    }
    // All three are in their slow step at once (16 workers), so the kill lands mid-run.
    futures::future::join_all(ids.iter().map(|id| until_running(&server, id, "slow"))).await;
    server.kill();

    let server = Server::start_in(dir.path(), args);
    for (id, name) in ids.iter().zip(names) {
        let run = server.wait(id).await;
        let expected = if name == "doomed" {
            "rolled-back"
        } else {
            "succeeded"
        };
        assert_eq!(run["status"], expected, "{run:#}");
        assert_eq!(
            step(&run, "first")["attempts"],
            1,
            "a completed step never runs again"
        );
        assert_eq!(
            step(&run, "slow")["attempts"],
            1,
            "the step in flight resumes as the same logical attempt"
        );
        assert_eq!(step(&run, "slow")["output"]["slept_ms"], 4000);
        let firsts = run["logs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["message"] == format!("first {name}"))
            .count();
        assert_eq!(firsts, 1, "{run:#}");
        assert_eq!(
            run["attempt"], 2,
            "the worker picked the run up again after the restart"
        );
    }
    assert!(server.log().contains("resuming unfinished runs"));
}

on_both_stores! {
async fn each_runs_a_step_once_per_item(server: Server) {
    let yaml = template(
        "looping",
        r#"    - id: greet
      action: debug-log
      each: ["alpha", "beta", "gamma"]
      input: {message: "${{ each.key }}: ${{ each.value }} for ${{ parameters.name }}"}
    - id: after
      action: debug-log
      input: {message: "${{ steps.greet.output.results | length }} greeted"}
"#,
    );
    apply(&server, &yaml).await;
    let run = server.wait(&submit(&server, "looping", json!({})).await).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let results: Vec<&str> = step(&run, "greet")["output"]["results"].as_array().unwrap().iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert_eq!(results, ["0: alpha for orders", "1: beta for orders", "2: gamma for orders"]);
    assert_eq!(step(&run, "after")["output"]["message"], "3 greeted");
}
}

#[tokio::test]
async fn a_waiting_run_is_only_a_row_and_wakes_on_time_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.publish_ok(fixture("workflow_flaky"), &[]).await;
    let yaml = template(
        "patient",
        r#"    - id: flaky
      action: workflow-flaky
      retry: {attempts: 2, backoff: constant, delay: 3s}
      input: {succeed_on: 2}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "patient", json!({})).await;
    let mut parked = None;
    for _ in 0..400 {
        let run: Value = server
            .http
            .get(format!("{}/api/v1/runs/{id}", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if run["status"] == "waiting" {
            parked = Some(std::time::Instant::now());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let parked = parked.expect("the run parks after its first failure");
    server.kill();
    let server = Server::start_in(dir.path(), &[]);
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "flaky")["attempts"], 2);
    assert!(
        parked.elapsed() >= std::time::Duration::from_millis(2800),
        "the restart must not cut the backoff short"
    );
}

on_both_stores! {
async fn a_step_is_reported_done_with_its_log_before_the_next_step_runs(server: Server) {
    // The first step's end is committed with the second step's start, so while the second
    // step's plugin runs, clients already see the first one done, with its log.
    let yaml = template(
        "then-sleep",
        r#"    - id: first
      action: debug:log
      input: {message: "first of two"}
    - id: second
      action: workflow-sleep
      input: {ms: 3000}
"#,
    );
    apply(&server, &yaml).await;
    let id = submit(&server, "then-sleep", json!({})).await;
    let started = std::time::Instant::now();
    let run = loop {
        let (status, run) = server.get_json(&format!("/api/v1/runs/{id}")).await;
        assert_eq!(status, 200, "{run}");
        if step(&run, "second")["status"] == "running" {
            break run;
        }
        assert!(started.elapsed().as_secs() < 20, "the second step never started: {run:#}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(run["status"], "running", "{run:#}");
    assert_eq!(step(&run, "first")["status"], "succeeded", "{run:#}");
    assert_eq!(step(&run, "first")["output"]["message"], "first of two");
    assert!(
        run["logs"].as_array().unwrap().iter().any(|l| l["message"] == "first of two"),
        "the first step's log is stored before the second step runs: {run:#}"
    );
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    let seen: Vec<(String, String)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["step_id"].as_str().unwrap_or("").to_string()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("pinned", ""),
        ("step-started", "first"),
        ("log", "first"),
        ("step-succeeded", "first"),
        ("step-started", "second"),
        ("step-succeeded", "second"),
        ("run-finished", ""),
    ]
    .iter()
    .map(|(k, s)| (k.to_string(), s.to_string()))
    .collect();
    assert_eq!(seen, expected, "each transition once, in order");
}
}

on_both_stores! {
async fn a_single_action_run_is_a_one_step_run_with_its_step_row_events_and_retry(server: Server) {
    // Fails on its first attempt, succeeds on its second.
    let (status, created) = server.submit("workflow-flaky", json!({"succeed_on": 2})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let failed = server.wait(&id).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["steps"].as_array().unwrap().len(), 1, "{failed:#}");
    assert_eq!(step(&failed, "main")["status"], "failed");
    assert_eq!(step(&failed, "main")["attempts"], 1);
    assert_eq!(failed["error"]["step"], "main", "the run's error names its step, as a template run's does");
    let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    let kinds: Vec<(String, String)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_string(), e["step_id"].as_str().unwrap_or("").to_string()))
        .collect();
    for expected in [("step-started", "main"), ("step-failed", "main"), ("run-finished", "")] {
        assert!(
            kinds.iter().any(|(k, s)| k == expected.0 && s == expected.1),
            "{expected:?} missing from {kinds:?}"
        );
    }
    // The one path's controls work on it: retried from its failed step, with the next
    // attempt's idempotency key.
    let (status, body) = server.post_json(&format!("/api/v1/runs/{id}/retry"), json!({})).await;
    assert_eq!(status, 202, "{body}");
    let run = server.wait(&id).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"], json!({"attempt": 2, "key": format!("{id}/main/2")}));
    assert_eq!(step(&run, "main")["attempts"], 2);
    assert_eq!(step(&run, "main")["output"], run["output"], "the run's output is its step's");
}
}
