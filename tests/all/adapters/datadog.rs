//! The Datadog adapter against a fake Datadog API (dashboards and monitors).

use std::time::Duration;

use lever_tests::adapters::{AdapterFailure, AdapterHarness};
use lever_tests::fakes::Fault;
use lever_tests::fakes::datadog::FakeDatadog;
use serde_json::{Value, json};

const API_KEY: &str = "dd-api-key-never-logged";
const APP_KEY: &str = "dd-app-key-never-logged";
const QUERY: &str = "avg(last_5m):avg:system.cpu.user{service:payments} > 90";

async fn fake() -> FakeDatadog {
    FakeDatadog::start(API_KEY, APP_KEY).await
}

async fn harness(fake: &FakeDatadog) -> AdapterHarness {
    AdapterHarness::new(
        "adapter_datadog",
        &fake.authority(),
        &[("dd-api", API_KEY), ("dd-app", APP_KEY)],
    )
    .await
}

fn settings(fake: &FakeDatadog) -> Value {
    json!({"base_url": fake.base_url(), "api_key": "secret://dd-api", "app_key": "secret://dd-app"})
}

async fn call(
    harness: &AdapterHarness,
    fake: &FakeDatadog,
    function: &str,
    input: Value,
) -> Result<Value, AdapterFailure> {
    harness
        .call("observability", function, settings(fake), input)
        .await
}

fn assert_keys_sent(request: &lever_tests::fakes::Recorded) {
    assert_eq!(request.header("dd-api-key"), Some(API_KEY));
    assert_eq!(request.header("dd-application-key"), Some(APP_KEY));
}

#[tokio::test]
async fn describes_itself() {
    let fake = fake().await;
    let manifest = harness(&fake).await.manifest().clone();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("datadog", "0.1.0")
    );
    assert_eq!(manifest.capabilities, vec!["observability".to_string()]);
    assert_eq!(manifest.grants.hosts, vec!["api.datadoghq.com".to_string()]);
    assert_eq!(manifest.input_schema["additionalProperties"], json!(false));
}

#[tokio::test]
async fn a_dashboard_is_created_with_its_web_address_and_deleted() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let widgets = json!([{"definition": {"type": "timeseries", "requests": [{"q": "avg:system.cpu.user{service:payments}"}]}}]);
    let dashboard = call(
        &harness,
        &fake,
        "create-dashboard",
        json!({"title": "Payments", "definition": {"widgets": widgets}}),
    )
    .await
    .unwrap();
    let id = dashboard["id"].as_str().unwrap().to_string();
    assert_eq!(
        dashboard["url"],
        format!("{}/dashboard/{id}/payments", fake.base_url())
    );
    assert!(fake.dashboard_exists(&id));

    let post = &fake.recorder.matching("POST /api/v1/dashboard")[0];
    assert_keys_sent(post);
    assert_eq!(post.json["title"], "Payments");
    assert_eq!(post.json["layout_type"], "ordered");
    assert_eq!(post.json["widgets"], widgets);
    assert!(post.json["description"].as_str().unwrap().contains("Lever"));

    let out = call(
        &harness,
        &fake,
        "delete",
        json!({"kind": "dashboard", "id": id}),
    )
    .await
    .unwrap();
    assert_eq!(out, Value::Null);
    assert!(!fake.dashboard_exists(&id));
    let delete = &fake
        .recorder
        .matching(&format!("DELETE /api/v1/dashboard/{id}"))[0];
    assert_keys_sent(delete);
    call(
        &harness,
        &fake,
        "delete",
        json!({"kind": "dashboard", "id": id}),
    )
    .await
    .expect("deleting twice succeeds");

    for line in harness.log.lines() {
        assert!(
            !line.message.contains(API_KEY) && !line.message.contains(APP_KEY),
            "{}",
            line.message
        );
    }
}

#[tokio::test]
async fn app_url_sets_the_dashboard_web_host_and_definition_fields_pass_through() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let settings = json!({"base_url": fake.base_url(), "app_url": "https://app.datadoghq.eu/", "api_key": "secret://dd-api", "app_key": "secret://dd-app"});
    let definition =
        json!({"layout_type": "free", "template_variables": [{"name": "env", "prefix": "env"}]});
    let dashboard = harness
        .call(
            "observability",
            "create-dashboard",
            settings,
            json!({"title": "Free", "definition": definition}),
        )
        .await
        .unwrap();
    assert!(
        dashboard["url"]
            .as_str()
            .unwrap()
            .starts_with("https://app.datadoghq.eu/dashboard/"),
        "{dashboard}"
    );
    let post = &fake.recorder.matching("POST /api/v1/dashboard")[0];
    assert_eq!(post.json["layout_type"], "free");
    assert_eq!(post.json["template_variables"][0]["name"], "env");
    assert_eq!(post.json["widgets"], json!([]));
}

#[tokio::test]
async fn a_monitor_is_created_and_deleted() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let id = call(
        &harness,
        &fake,
        "create-monitor",
        json!({"name": "Payments CPU", "query": QUERY, "message": "CPU high @slack-ops"}),
    )
    .await
    .unwrap();
    let id = id.as_str().expect("the id is a string").to_string();
    assert!(id.parse::<u64>().is_ok(), "{id}");
    assert!(fake.monitor_exists(&id));
    let post = &fake.recorder.matching("POST /api/v1/monitor")[0];
    assert_keys_sent(post);
    assert_eq!(
        post.json,
        json!({"name": "Payments CPU", "type": "metric alert", "query": QUERY, "message": "CPU high @slack-ops"})
    );

    call(
        &harness,
        &fake,
        "delete",
        json!({"kind": "monitor", "id": id}),
    )
    .await
    .unwrap();
    assert!(!fake.monitor_exists(&id));
    assert_eq!(
        fake.recorder
            .matching(&format!("DELETE /api/v1/monitor/{id}"))
            .len(),
        1
    );
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_x_ratelimit_reset() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.rate_limit(1, 1);
    let id = call(
        &harness,
        &fake,
        "create-monitor",
        json!({"name": "Limited", "query": QUERY, "message": ""}),
    )
    .await
    .unwrap();
    let posts = fake.recorder.matching("POST /api/v1/monitor");
    assert_eq!(posts.len(), 2);
    assert!(
        posts[1].at.duration_since(posts[0].at) >= Duration::from_secs(1),
        "the retry waited for X-RateLimit-Reset"
    );
    assert!(fake.monitor_exists(id.as_str().unwrap()));
}

#[tokio::test]
async fn persistent_503_is_retryable() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    fake.recorder.fail(Fault {
        matches: "/api/v1/".into(),
        times: 10,
        status: 503,
        body: json!({"errors": ["Service Unavailable"]}),
        retry_after: None,
    });
    let err = call(
        &harness,
        &fake,
        "create-dashboard",
        json!({"title": "Down", "definition": {}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-retryable", "{}", err.message());
    assert!(
        err.message().contains("Service Unavailable"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn an_invalid_query_is_invalid_input_with_datadogs_message() {
    let fake = fake().await;
    let harness = harness(&fake).await;
    let err = call(
        &harness,
        &fake,
        "create-monitor",
        json!({"name": "No threshold", "query": "avg:system.cpu.user{*}", "message": ""}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(
        err.message()
            .contains("The value provided for parameter 'query' is invalid"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn wrong_keys_are_denied_and_inline_keys_or_bad_deletes_are_refused() {
    let fake = fake().await;
    let wrong = AdapterHarness::new(
        "adapter_datadog",
        &fake.authority(),
        &[("dd-api", API_KEY), ("dd-app", "wrong")],
    )
    .await;
    let err = call(
        &wrong,
        &fake,
        "create-monitor",
        json!({"name": "x", "query": QUERY, "message": ""}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-denied", "{}", err.message());
    assert!(err.message().contains("Forbidden"), "{}", err.message());

    let harness = harness(&fake).await;
    let before = fake.recorder.requests().len();
    let inline =
        json!({"base_url": fake.base_url(), "api_key": API_KEY, "app_key": "secret://dd-app"});
    let err = harness
        .call(
            "observability",
            "create-monitor",
            inline,
            json!({"name": "x", "query": QUERY, "message": ""}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert!(!err.message().contains(API_KEY));
    for input in [
        json!({"kind": "notebook", "id": "1"}),
        json!({"kind": "monitor", "id": "12/../1"}),
        json!({"kind": "dashboard", "id": "a/b"}),
    ] {
        let err = call(&harness, &fake, "delete", input.clone())
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            "plugin-invalid-input",
            "{input}: {}",
            err.message()
        );
    }
    let err = call(
        &harness,
        &fake,
        "create-dashboard",
        json!({"title": "t", "definition": [1]}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "plugin-invalid-input", "{}", err.message());
    assert_eq!(
        fake.recorder.requests().len(),
        before,
        "refused before any request"
    );
}
