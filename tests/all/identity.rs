//! Identity and accountability through the API: OIDC bearer tokens from a test issuer, the
//! hash-chained audit trail (and `lever audit verify` catching an edited or deleted row),
//! policy publishing with syntax errors, the preview's route, `lever policy`, and measures.

use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lever_tests::repo_root;
use lever_tests::server::{Server, client, lever_binary};
use serde_json::{Value, json};

use crate::approvals::{User, approval_server, config, stage, wait_for};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures/oidc").join(name)).unwrap()
}

/// A local OIDC issuer: discovery document and JWKS, as an identity provider serves them.
async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    let discovery = json!({"issuer": base, "jwks_uri": format!("{base}/jwks"), "id_token_signing_alg_values_supported": ["ES256"]});
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/jwks",
            axum::routing::get(move || async move { axum::Json(jwks) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn jwt(issuer: &str, key: &str, subject: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"iss": issuer, "aud": "lever", "sub": subject, "preferred_username": subject, "groups": ["payments-leads"], "iat": now, "exp": now + 600});
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-key-1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(&fixture(key)).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_oidc_token_from_the_issuer_is_accepted_and_a_bad_signature_refused() {
    let base = issuer().await;
    let oidc =
        format!("oidc:\n  issuer: {base}\n  audience: lever\n  user_claim: preferred_username\n");
    let server = Server::start_configured(&config(&oidc), &[]);
    let carol = client(Some(&jwt(&base, "issuer.pem", "carol")));
    let response = carol
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], "carol");
    assert!(me["groups"].to_string().contains("payments-leads"), "{me}");

    let forged = client(Some(&jwt(&base, "other.pem", "carol")));
    let response = forged
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body = response.text().await.unwrap();
    assert!(body.contains("signature"), "{body}");
}

fn lever(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(lever_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_audit_trail_records_each_decision_and_verify_catches_tampering() {
    let mut server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let carol = User::of(&server, "carol").await;
    assert_eq!(
        carol
            .approve(
                stage(&server, id, "team-lead").await["id"]
                    .as_str()
                    .unwrap()
            )
            .await
            .0,
        200
    );
    wait_for(&server, id, "succeeded").await;

    let (_, audit) = alice.get(&format!("/api/v1/audit?run={id}")).await;
    let entries = audit["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run-requested",
            "stage-opened",
            "approval-decided",
            "stage-approved",
            "run-released"
        ],
        "{audit:#}"
    );
    assert_eq!(entries[0]["actor"], "alice");
    assert!(
        entries[0]["policy_version"]
            .as_str()
            .unwrap()
            .starts_with("default@"),
        "{audit:#}"
    );
    assert_eq!(entries[2]["actor"], "carol");
    assert_eq!(
        server.get_json("/api/v1/audit/verify").await.1["intact"],
        true
    );
    server.kill();

    let dir = server.data_dir.clone();
    let verified = lever(&dir, &["audit", "verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // Edit a decision's actor behind Lever's back: verify names the row.
    let url = format!("sqlite://{}", dir.join("lever.db").display());
    let store = lever_store::Store::connect(&url).await.unwrap();
    let seq = entries[2]["seq"].as_i64().unwrap();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1")
        .bind(seq)
        .execute(&pool)
        .await
        .unwrap();
    let broken = lever(&dir, &["audit", "verify"]);
    assert!(!broken.status.success());
    let report = String::from_utf8_lossy(&broken.stdout);
    assert!(
        report.contains(&format!("row {seq} (approval-decided)")) && report.contains("edited"),
        "{report}"
    );

    // Put it back, then delete a row instead: the next row no longer links.
    sqlx::query("UPDATE audit_log SET actor = 'carol' WHERE seq = $1")
        .bind(seq)
        .execute(&pool)
        .await
        .unwrap();
    assert!(store.verify_audit().await.unwrap().intact);
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(seq)
        .execute(&pool)
        .await
        .unwrap();
    let verification = store.verify_audit().await.unwrap();
    assert!(!verification.intact);
    assert!(
        verification.problems[0].contains(&format!("row {}", seq + 1))
            && verification.problems[0].contains("link"),
        "{verification:?}"
    );
}

#[tokio::test]
async fn policies_publish_with_versions_and_a_syntax_error_names_line_and_column() {
    let server = approval_server("").await;
    let put = |body: &'static str| {
        server
            .http
            .put(format!("{}/api/v1/policies/extra", server.url))
            .body(body)
            .send()
    };
    let response = put("package lever.extra\n\nallow if {\n  input.x ==\n}\n")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "policy-syntax", "{body}");
    assert!(
        body["error"]["details"]["line"].as_u64().unwrap() >= 4,
        "{body}"
    );
    assert!(
        body["error"]["details"]["column"].as_u64().is_some(),
        "{body}"
    );

    let response = put("package lever.extra\nimport rego.v1\n\nlimit := 5\n")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 1);
    let (_, listed) = server.get_json("/api/v1/policies").await;
    assert_eq!(listed["in_force"], "default@builtin,extra@1");

    // The preview shows the route the policy chose, and why.
    let alice = User::of(&server, "alice").await;
    let (status, preview) = alice
        .post(
            "/api/v1/templates/provision/preview",
            json!({"parameters": {"environment": "production", "monthly_usd": 700}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["approval"]["route"], "approval");
    let reasons =
        preview["approval"]["reasons"].to_string() + &preview["approval"]["stages"].to_string();
    assert!(
        reasons.contains("finance") && reasons.contains("production"),
        "{preview:#}"
    );
}

#[test]
fn lever_policy_test_passes_the_default_suite_and_eval_prints_the_decision() {
    let out = Command::new(lever_binary())
        .args(["policy", "test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("0 failed") && stdout.contains("PASS"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    let request = json!({
        "template": {"name": "db", "owner": "group:default/payments", "type": "resource", "tags": []},
        "parameters": {}, "environment": "production", "cost": {"monthly_usd": 20.0},
        "steps": [{"id": "drop", "action": "delete-database", "risk": "high", "approval_required": false}],
        "teams_affected": ["payments"],
        "requester": {"id": "alice", "team": "payments", "groups": ["payments"]},
        "time": {"now": "2026-12-24T10:00:00Z", "freeze": {"active": true, "windows": [{"name": "year-end", "reason": "year-end freeze"}]}}
    });
    std::fs::write(&input, request.to_string()).unwrap();
    let out = Command::new(lever_binary())
        .args(["policy", "eval", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stage in ["team-lead", "security-review", "change-freeze-exception"] {
        assert!(stdout.contains(stage), "{stage} missing from:\n{stdout}");
    }

    // A failing test fails the command.
    let failing = dir.path().join("failing_test.rego");
    std::fs::write(
        &failing,
        "package lever.failing_test\nimport rego.v1\n\ntest_wrong if {\n  1 == 2\n}\n",
    )
    .unwrap();
    let out = Command::new(lever_binary())
        .args(["policy", "test"])
        .arg(&failing)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[tokio::test]
async fn measures_count_automatic_runs_and_time_to_approval() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    let automatic = alice.submit("provision", json!({})).await;
    wait_for(&server, automatic["id"].as_str().unwrap(), "succeeded").await;
    let gated = alice
        .submit("provision", json!({"environment": "production"}))
        .await;
    let id = gated["id"].as_str().unwrap();
    let (status, _) = server
        .post_json("/api/v1/admin/clock", json!({"advance_ms": 30 * 60_000}))
        .await;
    assert_eq!(status, 200);
    let carol = User::of(&server, "carol").await;
    assert_eq!(
        carol
            .approve(
                stage(&server, id, "team-lead").await["id"]
                    .as_str()
                    .unwrap()
            )
            .await
            .0,
        200
    );
    let (_, measures) = server.get_json("/api/v1/insights/approvals").await;
    assert_eq!(measures["runs"], 2, "{measures:#}");
    assert_eq!(measures["share_automatic"], 0.5);
    let lead = &measures["stages"][0];
    assert_eq!(lead["stage"], "team-lead");
    assert!(
        lead["mean_ms_to_approval"].as_i64().unwrap() >= 30 * 60_000,
        "{measures:#}"
    );
}
