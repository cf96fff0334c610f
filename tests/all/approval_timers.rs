//! One-click links and SLA timers, on a server whose clock the test moves.

use hmac::{Hmac, Mac};
use lever_tests::server::Server;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::approvals::{LINK_KEY, User, approval_server, config, stage, wait_for};

async fn advance(server: &Server, minutes: i64) {
    let (status, body) = server
        .post_json(
            "/api/v1/admin/clock",
            json!({"advance_ms": minutes * 60_000}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Notifications `user` received about `stage_id`, by kind.
async fn notifications(user: &User, stage_id: &str, kind: &str) -> Vec<Value> {
    let (_, body) = user.get("/api/v1/notifications").await;
    body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["stage_id"] == stage_id && n["kind"] == kind)
        .cloned()
        .collect()
}

/// Polls until `user` has a `kind` notification for the stage (the timer task runs apart).
async fn notified(user: &User, stage_id: &str, kind: &str) -> Vec<Value> {
    for _ in 0..100 {
        let found = notifications(user, stage_id, kind).await;
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {kind} notification for stage {stage_id}");
}

/// A link token signed with the test key, for claims a test chooses.
fn sign(claims: &Value) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = engine.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(LINK_KEY).unwrap()).unwrap();
    mac.update(payload.as_bytes());
    format!("{payload}.{}", engine.encode(mac.finalize().into_bytes()))
}

async fn production_run(server: &Server) -> (String, String) {
    let alice = User::of(server, "alice").await;
    let created = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let lead = stage(server, &id, "team-lead").await;
    (id, lead["id"].as_str().unwrap().to_string())
}

fn token_of(link: &Value) -> String {
    link.as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_one_click_link_shows_context_on_get_and_decides_once_on_post() {
    let server = approval_server("").await;
    let (run, stage_id) = production_run(&server).await;
    let carol = User::of(&server, "carol").await;
    let request = notified(&carol, &stage_id, "approval-requested").await;
    let links = &request[0]["links"];
    assert!(
        request[0]["body"]["context"]["requested_by"]["id"] == "alice",
        "{request:#?}"
    );
    let approve = links["approve"].as_str().unwrap().to_string();

    // GET shows the whole context and a button, and changes nothing.
    let anonymous = reqwest::Client::new();
    for _ in 0..2 {
        let page = anonymous.get(&approve).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("id=confirm") && html.contains("alice") && html.contains("production"),
            "{html}"
        );
    }
    assert_eq!(stage(&server, &run, "team-lead").await["status"], "open");

    // Someone else signed in cannot use carol's link.
    let dave = User::of(&server, "dave").await;
    let response = dave
        .http
        .post(&approve)
        .form(&[("comment", "mine now")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // The POST behind the button decides; the same link again is refused.
    let response = anonymous
        .post(&approve)
        .form(&[("comment", "ok from mail")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );
    let replay = anonymous.post(&approve).send().await.unwrap();
    assert_eq!(replay.status().as_u16(), 409);
    assert_eq!(
        anonymous
            .get(&approve)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        409
    );
    let run = wait_for(&server, &run, "succeeded").await;
    let decisions = &run["approvals"][0]["decisions"];
    assert_eq!(decisions[0]["approver"], "carol");
    assert_eq!(decisions[0]["via"], "link");
}

#[tokio::test]
async fn forged_expired_and_other_approver_links_are_refused() {
    let server = approval_server("").await;
    let (_run, stage_id) = production_run(&server).await;
    let carol = User::of(&server, "carol").await;
    let request = notified(&carol, &stage_id, "approval-requested").await;
    let token = token_of(&request[0]["links"]["approve"]);
    let anonymous = reqwest::Client::new();
    let at = |t: &str| format!("{}/approve/{t}", server.url);

    // Forged: the payload changed to reject, the signature kept.
    let (payload, signature) = token.split_once('.').unwrap();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap();
    claims["decision"] = json!("reject");
    let forged = format!("{}.{signature}", engine.encode(claims.to_string()));
    assert_eq!(
        anonymous
            .post(at(&forged))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        anonymous
            .get(at("garbage"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );

    // Another approver's token: correctly signed, but dave does not lead payments.
    let mut other = claims.clone();
    other["decision"] = json!("approve");
    other["approver"] = json!("dave");
    other["nonce"] = json!("0123456789abcdef0123456789abcdef");
    let response = anonymous.post(at(&sign(&other))).send().await.unwrap();
    assert_eq!(
        response.status().as_u16(),
        403,
        "{}",
        response.text().await.unwrap()
    );

    // Expired: the links live 60 minutes.
    advance(&server, 61).await;
    let response = anonymous.post(at(&token)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 410);
    assert_eq!(stage(&server, &_run, "team-lead").await["status"], "open");
}

#[tokio::test]
async fn reminder_at_half_time_then_escalation_after_the_sla_then_expiry() {
    let server = approval_server("").await;
    let (run, stage_id) = production_run(&server).await;
    let carol = User::of(&server, "carol").await;
    let heidi = User::of(&server, "heidi").await;
    notified(&carol, &stage_id, "approval-requested").await;
    assert!(
        notifications(&carol, &stage_id, "reminder")
            .await
            .is_empty()
    );
    // The team lead's SLA is 4 hours: a reminder at 2 hours, once.
    advance(&server, 119).await;
    assert!(
        notifications(&carol, &stage_id, "reminder")
            .await
            .is_empty(),
        "no reminder before half-time"
    );
    advance(&server, 2).await;
    notified(&carol, &stage_id, "reminder").await;
    // heidi (platform-oncall, the escalation target) cannot approve before the SLA passes.
    assert_eq!(heidi.approve(&stage_id).await.0, 403);
    advance(&server, 120).await;
    let escalated = notified(&heidi, &stage_id, "escalated").await;
    assert!(
        escalated[0]["links"]["approve"].is_string(),
        "the escalation target gets links: {escalated:#?}"
    );
    advance(&server, 1).await;
    assert_eq!(
        notifications(&carol, &stage_id, "reminder").await.len(),
        1,
        "each timer fires once"
    );
    assert_eq!(notifications(&heidi, &stage_id, "escalated").await.len(), 1);
    let view = stage(&server, &run, "team-lead").await;
    assert!(
        view["groups"].to_string().contains("platform-oncall"),
        "{view:#}"
    );
    assert!(view["escalated_at"].is_i64());
    let (_, audit) = server.get_json(&format!("/api/v1/audit?run={run}")).await;
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"stage-reminded") && kinds.contains(&"stage-escalated"),
        "{kinds:?}"
    );

    // A second run left alone expires after 3 days and is rejected.
    let (other, _) = production_run(&server).await;
    advance(&server, 3 * 24 * 60 + 1).await;
    let rejected = wait_for(&server, &other, "rejected").await;
    assert_eq!(rejected["error"]["kind"], "approval-expired");
}

#[tokio::test]
async fn a_run_waiting_for_approval_survives_a_restart_and_timers_fire_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lever.yaml"), config("")).unwrap();
    let mut server = Server::start_in(dir.path(), &["--manual-clock"]);
    crate::approvals::prepare_public(&server).await;
    let (run, stage_id) = production_run(&server).await;
    let carol = User::of(&server, "carol").await;
    notified(&carol, &stage_id, "approval-requested").await;
    server.kill();

    let server = Server::start_in(dir.path(), &["--manual-clock"]);
    let carol = User::of(&server, "carol").await;
    assert_eq!(
        server.get_json(&format!("/api/v1/runs/{run}")).await.1["status"],
        "awaiting-approval"
    );
    // Past half the lead's 4-hour SLA: the restarted server's timers send the reminder — the
    // observed proof that they ran over this stage — and not the request a second time.
    advance(&server, 121).await;
    notified(&carol, &stage_id, "reminder").await;
    assert_eq!(
        notifications(&carol, &stage_id, "approval-requested")
            .await
            .len(),
        1,
        "the request is not sent again"
    );
    assert_eq!(carol.approve(&stage_id).await.0, 200);
    wait_for(&server, &run, "succeeded").await;
}
