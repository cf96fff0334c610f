//! The Vault adapter against a real Vault-API server: OpenBao's `bao server -dev`
//! (`lever_tests::openbao`), where `vault.rs` runs it against the fake. What the fake lets
//! through the real server must let through too, and what the real server refuses must come
//! back as the adapter's typed error.

use lever_tests::adapters::AdapterHarness;
use lever_tests::openbao::OpenBao;
use serde_json::{Value, json};

const VALUE: &str = "db-password-never-logged";

/// The KV version 2 data path of `path` on the dev server's `secret` mount.
fn data(path: &str) -> String {
    format!("/v1/secret/data/{path}")
}

#[tokio::test]
async fn the_vault_adapter_puts_rotates_references_and_deletes_on_a_real_openbao() {
    let bao = OpenBao::start().await;
    let harness = AdapterHarness::new(
        "adapter_vault",
        &bao.authority(),
        &[("vault-token", &bao.root_token)],
    )
    .await;
    let settings = json!({"base_url": bao.address, "token": "secret://vault-token"});
    let call = |function: &'static str, input: Value| {
        let (harness, settings) = (&harness, settings.clone());
        async move {
            harness
                .call("secrets-store", function, settings, input)
                .await
        }
    };

    // put: version 1, read back from the server.
    let out = call("put", json!({"path": "apps/payments/db", "value": VALUE}))
        .await
        .unwrap();
    assert_eq!(out, json!("vault://secret/apps/payments/db"));
    let (status, read) = bao.call("GET", &data("apps/payments/db"), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["data"]["value"], VALUE);
    assert_eq!(read["data"]["metadata"]["version"], 1);

    // reference: the secret exists; a missing one is not-found.
    assert_eq!(
        call("reference", json!({"path": "apps/payments/db"}))
            .await
            .unwrap(),
        json!("vault://secret/apps/payments/db")
    );
    let missing = call("reference", json!({"path": "apps/payments/nothing"}))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "plugin-not-found", "{missing:?}");

    // rotate: a new version over the current one (check-and-set), its number answered.
    let rotated = call(
        "rotate",
        json!({"path": "apps/payments/db", "value": "second"}),
    )
    .await
    .unwrap();
    assert_eq!(rotated, json!(2));
    let (_, read) = bao.call("GET", &data("apps/payments/db"), None).await;
    assert_eq!(read["data"]["data"]["value"], "second");
    // Check-and-set as the server enforces it: a write over a stale version is refused.
    let (status, refused) = bao
        .call(
            "POST",
            &data("apps/payments/db"),
            Some(json!({"data": {"value": "late"}, "options": {"cas": 1}})),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("check-and-set"), "{refused}");

    // delete: every version and the metadata; again is still done (a repeated rollback).
    call("delete", json!({"path": "apps/payments/db"}))
        .await
        .unwrap();
    let (status, _) = bao.call("GET", &data("apps/payments/db"), None).await;
    assert_eq!(status, 404);
    call("delete", json!({"path": "apps/payments/db"}))
        .await
        .unwrap();

    for line in harness.log.lines() {
        assert!(!line.message.contains(VALUE), "{}", line.message);
        assert!(!line.message.contains(&bao.root_token), "{}", line.message);
    }
}

#[tokio::test]
async fn an_approle_confined_to_its_prefix_writes_there_and_is_denied_elsewhere_on_a_real_openbao()
{
    let bao = OpenBao::start().await;
    // The platform's AppRole, as an operator sets it up: a policy on its prefix only.
    let (status, body) = bao
        .call(
            "POST",
            "/v1/sys/auth/approle",
            Some(json!({"type": "approle"})),
        )
        .await;
    assert!(status == 204 || status == 200, "{body}");
    let policy = r#"
path "secret/data/lever/*" { capabilities = ["create", "update", "read", "delete"] }
path "secret/metadata/lever/*" { capabilities = ["read", "delete", "list"] }
"#;
    let (status, body) = bao
        .call(
            "PUT",
            "/v1/sys/policies/acl/lever",
            Some(json!({"policy": policy})),
        )
        .await;
    assert!(status == 204 || status == 200, "{body}");
    let (status, body) = bao
        .call(
            "POST",
            "/v1/auth/approle/role/lever",
            Some(json!({"token_policies": ["lever"], "token_ttl": "1h"})),
        )
        .await;
    assert!(status == 204 || status == 200, "{body}");
    let (_, role) = bao
        .call("GET", "/v1/auth/approle/role/lever/role-id", None)
        .await;
    let role_id = role["data"]["role_id"].as_str().unwrap().to_string();
    let (_, secret) = bao
        .call("POST", "/v1/auth/approle/role/lever/secret-id", None)
        .await;
    let secret_id = secret["data"]["secret_id"].as_str().unwrap().to_string();

    let harness = AdapterHarness::new(
        "adapter_vault",
        &bao.authority(),
        &[("vault-secret-id", &secret_id)],
    )
    .await;
    let settings = json!({"base_url": bao.address, "role_id": role_id, "secret_id": "secret://vault-secret-id"});

    // Inside its prefix: written, and readable there.
    let out = harness
        .call(
            "secrets-store",
            "put",
            settings.clone(),
            json!({"path": "lever/payments/db", "value": VALUE}),
        )
        .await
        .unwrap();
    assert_eq!(out, json!("vault://secret/lever/payments/db"));
    let (_, read) = bao.call("GET", &data("lever/payments/db"), None).await;
    assert_eq!(read["data"]["data"]["value"], VALUE);
    // Outside it: the server's own refusal, as the adapter's typed `denied`.
    let refused = harness
        .call(
            "secrets-store",
            "put",
            settings.clone(),
            json!({"path": "other-team/db", "value": VALUE}),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "plugin-denied", "{refused:?}");
    assert!(
        refused.message().contains("permission denied"),
        "Vault's own words: {refused:?}"
    );
    let (status, _) = bao.call("GET", &data("other-team/db"), None).await;
    assert_eq!(status, 404, "nothing was written outside the prefix");
    // A wrong secret ID: the login is refused, as `denied`.
    let wrong = json!({"base_url": bao.address, "role_id": role_id, "secret_id": "secret://vault-secret-id"});
    let harness = AdapterHarness::new(
        "adapter_vault",
        &bao.authority(),
        &[("vault-secret-id", "not-the-secret-id")],
    )
    .await;
    let refused = harness
        .call(
            "secrets-store",
            "put",
            wrong,
            json!({"path": "lever/x", "value": VALUE}),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "plugin-denied", "{refused:?}");
}
