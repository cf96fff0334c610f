//! The Vault adapter against a fake Vault speaking KV version 2 and AppRole.

use std::time::Duration;

use lever_tests::adapters::AdapterHarness;
use lever_tests::fakes::Fault;
use lever_tests::fakes::vault::{APPROLE_TOKEN, FakeVault};
use serde_json::{Value, json};

const TOKEN: &str = "s.vault-root-token";
const ROLE_ID: &str = "role-1234";
const SECRET_ID: &str = "secret-id-5678";
const VALUE: &str = "db-password-never-logged";

async fn fake() -> FakeVault {
    FakeVault::start(TOKEN, ROLE_ID, SECRET_ID).await
}

async fn harness(fake: &FakeVault) -> AdapterHarness {
    AdapterHarness::new(
        "adapter_vault",
        &fake.authority(),
        &[("vault-token", TOKEN), ("vault-secret-id", SECRET_ID)],
    )
    .await
}

fn settings(fake: &FakeVault) -> Value {
    json!({"base_url": fake.base_url(), "token": "secret://vault-token"})
}

/// No credential or secret value in the run log.
fn assert_nothing_leaked(harness: &AdapterHarness, secrets: &[&str]) {
    for line in harness.log.lines() {
        for secret in secrets {
            assert!(
                !line.message.contains(secret),
                "the log leaks a secret: {}",
                line.message
            );
        }
    }
}

#[tokio::test]
async fn describes_itself() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let manifest = harness.manifest();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("vault", "0.1.0")
    );
    assert_eq!(manifest.capabilities, vec!["secrets-store".to_string()]);
    assert!(
        manifest.grants.hosts.is_empty(),
        "Vault has no public default host"
    );
    assert_eq!(manifest.input_schema["additionalProperties"], json!(false));
    assert!(manifest.input_schema["properties"]["role_id"].is_object());
}

#[tokio::test]
async fn put_writes_kv_v2_with_the_token_and_returns_a_reference() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let out = harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/payments/db", "value": VALUE}),
        )
        .await
        .unwrap();
    assert_eq!(out, json!("vault://secret/apps/payments/db"));
    assert_eq!(fake.secret("apps/payments/db").as_deref(), Some(VALUE));
    let writes = fake
        .recorder
        .matching("POST /v1/secret/data/apps/payments/db");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].header("x-vault-token"), Some(TOKEN));
    assert_eq!(writes[0].json, json!({"data": {"value": VALUE}}));
    assert!(!out.to_string().contains(VALUE));
    assert_nothing_leaked(&harness, &[TOKEN, VALUE]);
}

#[tokio::test]
async fn reference_reads_the_metadata_and_a_missing_secret_is_not_found() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/api/key", "value": VALUE}),
        )
        .await
        .unwrap();
    let out = harness
        .call(
            "secrets-store",
            "reference",
            settings(&fake),
            json!({"path": "/apps/api/key/"}),
        )
        .await
        .unwrap();
    assert_eq!(out, json!("vault://secret/apps/api/key"));
    let reads = fake
        .recorder
        .matching("GET /v1/secret/metadata/apps/api/key");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].header("x-vault-token"), Some(TOKEN));

    let missing = harness
        .call(
            "secrets-store",
            "reference",
            settings(&fake),
            json!({"path": "apps/nothing"}),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "plugin-not-found", "{}", missing.message());
    assert!(
        missing.message().contains("vault://secret/apps/nothing"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn rotate_increments_the_version_with_check_and_set() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/db", "value": "one"}),
        )
        .await
        .unwrap();
    let second = harness
        .call(
            "secrets-store",
            "rotate",
            settings(&fake),
            json!({"path": "apps/db", "value": "two"}),
        )
        .await
        .unwrap();
    let third = harness
        .call(
            "secrets-store",
            "rotate",
            settings(&fake),
            json!({"path": "apps/db", "value": "three"}),
        )
        .await
        .unwrap();
    assert_eq!((second, third), (json!(2), json!(3)));
    assert_eq!(fake.secret("apps/db").as_deref(), Some("three"));
    let writes = fake.recorder.matching("POST /v1/secret/data/apps/db");
    assert_eq!(
        writes[1].json,
        json!({"data": {"value": "two"}, "options": {"cas": 1}})
    );
    assert_eq!(writes[2].json["options"]["cas"], json!(2));

    let missing = harness
        .call(
            "secrets-store",
            "rotate",
            settings(&fake),
            json!({"path": "apps/none", "value": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "plugin-not-found", "{}", missing.message());
    assert!(!fake.exists("apps/none"), "rotate must not create a secret");
}

#[tokio::test]
async fn delete_removes_every_version_and_repeats_safely() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/tmp", "value": VALUE}),
        )
        .await
        .unwrap();
    assert!(fake.exists("apps/tmp"));
    let out = harness
        .call(
            "secrets-store",
            "delete",
            settings(&fake),
            json!({"path": "apps/tmp"}),
        )
        .await
        .unwrap();
    assert_eq!(out, Value::Null);
    assert!(!fake.exists("apps/tmp"));
    let deletes = fake
        .recorder
        .matching("DELETE /v1/secret/metadata/apps/tmp");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].header("x-vault-token"), Some(TOKEN));
    harness
        .call(
            "secrets-store",
            "delete",
            settings(&fake),
            json!({"path": "apps/tmp"}),
        )
        .await
        .expect("a second delete succeeds");
}

#[tokio::test]
async fn approle_logs_in_then_uses_the_issued_token() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let settings = json!({"base_url": fake.base_url(), "mount": "secret", "role_id": ROLE_ID, "secret_id": "secret://vault-secret-id"});
    harness
        .call(
            "secrets-store",
            "put",
            settings,
            json!({"path": "apps/approle", "value": VALUE}),
        )
        .await
        .unwrap();
    let requests = fake.recorder.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/v1/auth/approle/login")
    );
    assert_eq!(
        requests[0].json,
        json!({"role_id": ROLE_ID, "secret_id": SECRET_ID})
    );
    assert_eq!(requests[1].path, "/v1/secret/data/apps/approle");
    assert_eq!(requests[1].header("x-vault-token"), Some(APPROLE_TOKEN));
    assert_eq!(fake.secret("apps/approle").as_deref(), Some(VALUE));
    assert_nothing_leaked(&harness, &[SECRET_ID, APPROLE_TOKEN, VALUE]);
}

#[tokio::test]
async fn a_wrong_approle_secret_or_token_is_denied() {
    let fake = fake().await;
    let harness = AdapterHarness::new(
        "adapter_vault",
        &fake.authority(),
        &[
            ("vault-secret-id", "wrong-secret-id"),
            ("vault-token", "s.wrong"),
        ],
    )
    .await;
    let approle = json!({"base_url": fake.base_url(), "role_id": ROLE_ID, "secret_id": "secret://vault-secret-id"});
    let err = harness
        .call(
            "secrets-store",
            "put",
            approle,
            json!({"path": "a", "value": "b"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-denied", "{}", err.message());
    assert!(
        err.message().contains("invalid secret id"),
        "{}",
        err.message()
    );

    let err = harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "a", "value": "b"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-denied", "{}", err.message());
    assert!(
        err.message().contains("permission denied"),
        "{}",
        err.message()
    );
    assert!(!fake.exists("a"));
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_retry_after() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "POST /v1/secret/data/".into(),
        times: 1,
        status: 429,
        body: json!({"errors": ["request path \"secret/data/apps/limited\": rate limit quota exceeded"]}),
        retry_after: Some(1),
    });
    harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/limited", "value": VALUE}),
        )
        .await
        .unwrap();
    let writes = fake.recorder.matching("POST /v1/secret/data/apps/limited");
    assert_eq!(writes.len(), 2);
    assert!(
        writes[1].at.duration_since(writes[0].at) >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    assert_eq!(fake.version("apps/limited"), 1);
}

#[tokio::test]
async fn a_sealed_vault_is_retryable() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "/v1/".into(),
        times: 10,
        status: 503,
        body: json!({"errors": ["Vault is sealed"]}),
        retry_after: None,
    });
    let err = harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/x", "value": VALUE}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-retryable", "{}", err.message());
    assert!(
        err.message().contains("Vault is sealed"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_provider_400_is_invalid_input_with_vaults_message() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    harness
        .call(
            "secrets-store",
            "put",
            settings(&fake),
            json!({"path": "apps/cas", "value": "one"}),
        )
        .await
        .unwrap();
    fake.recorder.fail(Fault {
        matches: "POST /v1/secret/data/apps/cas".into(),
        times: 1,
        status: 400,
        body: json!({"errors": ["check-and-set parameter did not match the current version"]}),
        retry_after: None,
    });
    let err = harness
        .call(
            "secrets-store",
            "rotate",
            settings(&fake),
            json!({"path": "apps/cas", "value": "two"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(
        err.message()
            .contains("check-and-set parameter did not match"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn inline_credentials_and_escaping_paths_are_refused_before_any_request() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let inline = json!({"base_url": fake.base_url(), "token": TOKEN});
    let err = harness
        .call(
            "secrets-store",
            "put",
            inline,
            json!({"path": "a", "value": "b"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(err.message().contains("secret://"), "{}", err.message());
    assert!(!err.message().contains(TOKEN));
    for path in ["../sys/seal", "apps/../../sys", "a//b", ""] {
        let err = harness
            .call(
                "secrets-store",
                "reference",
                settings(&fake),
                json!({"path": path}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "plugin-invalid-input",
            "{path}: {}",
            err.message()
        );
    }
    assert!(fake.recorder.requests().is_empty());
}
