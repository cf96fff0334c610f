//! The Slack adapter against a fake Slack Web API (`chat.postMessage`, Block Kit).

use std::time::Duration;

use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::Fault;
use lever_tests::fakes::slack::FakeSlack;
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-bot-token-never-logged";
const APPROVE: &str = "https://lever.example.com/approvals/a1/approve?token=t1";
const REJECT: &str = "https://lever.example.com/approvals/a1/reject?token=t2";
const RUN: &str = "https://lever.example.com/runs/r1";

async fn fake() -> FakeSlack {
    FakeSlack::start(TOKEN, &["deploys", "general"]).await
}

async fn harness(fake: &FakeSlack) -> AdapterHarness {
    AdapterHarness::new("adapter_slack", &fake.authority(), &[("slack-bot", TOKEN)]).await
}

fn settings(fake: &FakeSlack) -> Value {
    json!({"base_url": fake.base_url(), "token": "secret://slack-bot", "default_channel": "#general"})
}

fn message(to: &str, subject: &str) -> Value {
    json!({"to": to, "subject": subject, "text": "Run r1 wants to deploy *payments* to production.", "links": [
        {"label": "Approve", "url": APPROVE, "kind": "approve"},
        {"label": "Reject", "url": REJECT, "kind": "reject"},
        {"label": "Open the run", "url": RUN, "kind": "link"}
    ]})
}

async fn send(
    harness: &AdapterHarness,
    fake: &FakeSlack,
    input: Value,
) -> Result<Value, AdapterFailure> {
    harness
        .call("notifier", "send", settings(fake), input)
        .await
}

#[tokio::test]
async fn describes_itself() {
    let fake = fake().await;
    let manifest = harness(&fake).await.manifest().clone();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("slack", "0.1.0")
    );
    assert_eq!(manifest.capabilities, vec!["notifier".to_string()]);
    assert_eq!(manifest.grants.hosts, vec!["slack.com".to_string()]);
    assert_eq!(manifest.input_schema["additionalProperties"], json!(false));
}

#[tokio::test]
async fn send_posts_block_kit_with_approve_reject_and_link_buttons() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let id = send(
        &harness,
        &fake,
        message("#deploys", "Approve the production deploy"),
    )
    .await
    .unwrap();
    assert_eq!(id, json!("C0001:1700000000.000001"));

    let posts = fake.recorder.matching("POST /api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        posts[0].header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = &posts[0].json;
    assert_eq!(body["channel"], "#deploys");
    let fallback = body["text"].as_str().unwrap();
    assert!(
        fallback.contains("Approve the production deploy") && fallback.contains("Run r1 wants"),
        "{fallback}"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
    assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
    assert!(
        body["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*Approve the production deploy*\n")
    );
    assert_eq!(body["blocks"][1]["type"], "actions");
    let buttons = body["blocks"][1]["elements"].as_array().unwrap();
    assert_eq!(buttons.len(), 3);
    assert_eq!(
        buttons[0],
        json!({"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "style": "primary", "action_id": "lever-approve", "value": APPROVE})
    );
    assert_eq!(
        buttons[1],
        json!({"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "style": "danger", "action_id": "lever-reject", "value": REJECT})
    );
    assert_eq!(buttons[2]["url"], RUN);
    assert_eq!(buttons[2]["text"]["text"], "Open the run");
    assert!(buttons[2].get("style").is_none());
    assert_eq!(fake.messages().len(), 1);
    for line in harness.log.lines() {
        assert!(!line.message.contains(TOKEN), "{}", line.message);
    }
}

#[tokio::test]
async fn an_empty_to_uses_the_default_channel_and_repeated_kinds_get_unique_action_ids() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let input = json!({"to": "", "subject": "Two approvals", "text": "", "links": [
        {"label": "Approve stage 1", "url": APPROVE, "kind": "approve"},
        {"label": "Approve stage 2", "url": REJECT, "kind": "approve"}
    ]});
    let id = send(&harness, &fake, input).await.unwrap();
    assert_eq!(
        id.as_str().unwrap().split(':').next(),
        fake.channel_id("general").as_deref()
    );
    let body = &fake.messages()[0];
    assert_eq!(body["channel"], "#general");
    let ids: Vec<&str> = body["blocks"][1]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lever-approve", "lever-approve-1"]);
}

#[tokio::test]
async fn slack_errors_map_to_kinds_with_the_error_code() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let err = send(&harness, &fake, message("#nowhere", "Missing channel"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-not-found", "{}", err.message());
    assert!(
        err.message().contains("channel_not_found"),
        "{}",
        err.message()
    );

    let wrong = AdapterHarness::new(
        "adapter_slack",
        &fake.authority(),
        &[("slack-bot", "xoxb-wrong")],
    )
    .await;
    let err = send(&wrong, &fake, message("#deploys", "Wrong token"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-denied", "{}", err.message());
    assert!(err.message().contains("invalid_auth"), "{}", err.message());

    fake.recorder.fail(Fault {
        matches: "POST /api/chat.postMessage".into(),
        times: 1,
        status: 200,
        body: json!({"ok": false, "error": "invalid_blocks", "response_metadata": {"messages": ["[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"]}}),
        retry_after: None,
    });
    let err = send(&harness, &fake, message("#deploys", "Blocks refused"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(
        err.message().contains("invalid_blocks")
            && err.message().contains("json-pointer:/blocks/0/text/text"),
        "{}",
        err.message()
    );

    fake.recorder.fail(Fault {
        matches: "POST /api/chat.postMessage".into(),
        times: 1,
        status: 200,
        body: json!({"ok": false, "error": "is_archived"}),
        retry_after: None,
    });
    let err = send(&harness, &fake, message("#deploys", "Archived"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-fatal", "{}", err.message());
    assert!(err.message().contains("is_archived"), "{}", err.message());
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn ratelimited_is_retried_after_retry_after() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "POST /api/chat.postMessage".into(),
        times: 1,
        status: 429,
        body: json!({"ok": false, "error": "ratelimited"}),
        retry_after: Some(1),
    });
    send(&harness, &fake, message("#deploys", "Rate limited once"))
        .await
        .unwrap();
    let posts = fake.recorder.matching("POST /api/chat.postMessage");
    assert_eq!(posts.len(), 2);
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_secs(1));
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn persistent_503_is_retryable() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "POST /api/chat.postMessage".into(),
        times: 10,
        status: 503,
        body: json!({"ok": false, "error": "service_unavailable"}),
        retry_after: None,
    });
    let err = send(&harness, &fake, message("#deploys", "Down"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-retryable", "{}", err.message());
    assert!(
        err.message().contains("service_unavailable"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn bad_links_and_inline_tokens_are_refused_before_posting() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let input = json!({"to": "#deploys", "subject": "s", "text": "t", "links": [{"label": "x", "url": RUN, "kind": "button"}]});
    let err = send(&harness, &fake, input).await.unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    let inline = json!({"base_url": fake.base_url(), "token": TOKEN});
    let err = harness
        .call("notifier", "send", inline, message("#deploys", "Inline"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(!err.message().contains(TOKEN));
    assert!(fake.recorder.requests().is_empty());
}
