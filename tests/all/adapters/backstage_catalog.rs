//! The Backstage catalog adapter (`software-catalog`) against a fake catalog backend.

use std::sync::Arc;

use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::backstage_catalog::FakeBackstageCatalog;
use serde_json::{Value, json};

const TOKEN: &str = "backstage-static-token-never-logged";
const TARGET: &str = "https://github.com/acme/payments/blob/main/catalog-info.yaml";
const ENTITIES: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\nspec:\n  type: service\n---\napiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: payments-api\n  namespace: billing\n";

async fn setup() -> (FakeBackstageCatalog, AdapterHarness) {
    let fake = FakeBackstageCatalog::start(
        TOKEN,
        Arc::new(|url: &str| (url == TARGET).then(|| ENTITIES.to_string())),
    )
    .await;
    let harness = AdapterHarness::new(
        "adapter_backstage_catalog",
        &fake.addr.to_string(),
        &[("backstage-token", TOKEN)],
    )
    .await;
    (fake, harness)
}

fn settings(fake: &FakeBackstageCatalog) -> Value {
    json!({"base_url": fake.base_url(), "token": "secret://backstage-token"})
}

fn failure(result: Result<Value, AdapterFailure>) -> AdapterFailure {
    match result {
        Ok(v) => panic!("expected a failure, got {v}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn describes_itself() {
    let (_fake, harness) = setup().await;
    let manifest = harness.manifest().clone();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("backstage-catalog", "0.1.0")
    );
    assert_eq!(manifest.capabilities, vec!["software-catalog".to_string()]);
    assert!(manifest.grants.hosts.is_empty());
}

#[tokio::test]
async fn a_location_is_registered_once_with_its_entities_and_unregistered() {
    let (fake, harness) = setup().await;
    let register = || {
        harness.call(
            "software-catalog",
            "register-location",
            settings(&fake),
            json!({"target": TARGET}),
        )
    };
    let location = register().await.unwrap();
    let id = location["id"].as_str().unwrap().to_string();
    assert_eq!(location["target"], TARGET);
    assert_eq!(
        location["entity_refs"],
        json!(["component:default/payments", "api:billing/payments-api"])
    );
    assert_eq!(fake.targets(), vec![TARGET.to_string()]);
    let posts = fake.recorder.matching("POST /api/catalog/locations");
    assert_eq!(posts[0].json, json!({"type": "url", "target": TARGET}));
    assert_eq!(posts[0].query, "");
    assert_eq!(posts[1].query, "dryRun=true");
    assert_eq!(
        posts[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // A retried step: Backstage answers 409, the adapter finds the location it made.
    let again = register().await.unwrap();
    assert_eq!(again["id"], id.as_str());
    assert_eq!(fake.targets().len(), 1);

    let unregister = || {
        harness.call(
            "software-catalog",
            "unregister-location",
            settings(&fake),
            json!({"id": id}),
        )
    };
    assert_eq!(unregister().await.unwrap(), Value::Null);
    assert!(fake.targets().is_empty());
    // Already gone counts as done, so a repeated rollback succeeds.
    assert_eq!(unregister().await.unwrap(), Value::Null);
}

#[tokio::test]
async fn catalog_errors_are_typed_with_backstages_message() {
    let (fake, harness) = setup().await;
    let unreadable = failure(
        harness
            .call(
                "software-catalog",
                "register-location",
                settings(&fake),
                json!({"target": "https://github.com/acme/none/blob/main/catalog-info.yaml"}),
            )
            .await,
    );
    assert_eq!(unreadable.code(), "plugin-not-found");
    assert!(
        unreadable
            .message()
            .contains("NotFoundError: Unable to read url"),
        "{}",
        unreadable.message()
    );
    let not_a_url = failure(
        harness
            .call(
                "software-catalog",
                "register-location",
                settings(&fake),
                json!({"target": "catalog-info.yaml"}),
            )
            .await,
    );
    assert_eq!(not_a_url.code(), "plugin-invalid-input");
    assert_eq!(fake.recorder.requests().len(), 2, "the bad target was sent");

    let wrong_token = AdapterHarness::new(
        "adapter_backstage_catalog",
        &fake.addr.to_string(),
        &[("backstage-token", "not-the-token")],
    )
    .await;
    let denied = failure(
        wrong_token
            .call(
                "software-catalog",
                "register-location",
                settings(&fake),
                json!({"target": TARGET}),
            )
            .await,
    );
    assert_eq!(denied.code(), "plugin-denied");
    assert!(
        denied.message().contains("AuthenticationError"),
        "{}",
        denied.message()
    );
    assert!(!denied.message().contains(TOKEN));
}
