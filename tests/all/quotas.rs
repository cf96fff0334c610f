//! Plugin state has bounds: a value's size, a scope's key count and its total bytes, set in
//! lever.yaml (`state_quota:`). Over a bound the guest gets the typed `too-large` error with
//! the limit, and what it stored before is intact.

use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::json;

fn config() -> String {
    format!(
        "{}\nstate_quota:\n  max_value_bytes: 1000\n  max_keys: 5\n  max_total_bytes: 4000\n",
        lever_identity::EMBEDDED_CONFIG
    )
}

#[tokio::test]
async fn state_over_each_quota_is_refused_with_the_limit_and_earlier_keys_are_intact() {
    quotas_hold(Server::start_configured(&config(), &[])).await;
}

#[tokio::test]
async fn state_quotas_hold_on_postgresql() {
    quotas_hold(Server::start_postgres_configured(&config(), &[]).await).await;
}

async fn quotas_hold(server: Server) {
    server.publish_ok(fixture("state_quota"), &[]).await;
    let fill = |scope: &str, count: u32, size: u32, prefix: &str| json!({"scope": scope, "count": count, "size": size, "prefix": prefix});

    // Key count, in the plugin's scope: five fit, the sixth is refused.
    let run = server.run("state-quota", fill("plugin", 10, 10, "k")).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["written"], 5, "{run:#}");
    let refusal = run["output"]["refusal"].as_str().unwrap();
    assert!(
        refusal.contains("TooLarge") && refusal.contains("at most 5 keys"),
        "{refusal}"
    );
    assert_eq!(run["output"]["first_intact"], true);
    // Replacing a key the scope already has is no new key: still allowed when full.
    let again = server.run("state-quota", fill("plugin", 1, 10, "k")).await;
    assert_eq!(again["output"]["written"], 1, "{again:#}");

    // One value over the size bound (in a run's own scope).
    let big = server.run("state-quota", fill("run", 1, 1001, "big")).await;
    assert_eq!(big["output"]["written"], 0, "{big:#}");
    assert!(
        big["output"]["refusal"]
            .as_str()
            .unwrap()
            .contains("limited to 1000 bytes"),
        "{big:#}"
    );

    // Total bytes: four values of 900 fit in 4000, the fifth would not.
    let total = server.run("state-quota", fill("run", 5, 900, "t")).await;
    assert_eq!(total["output"]["written"], 4, "{total:#}");
    assert!(
        total["output"]["refusal"]
            .as_str()
            .unwrap()
            .contains("at most 4000 bytes"),
        "{total:#}"
    );
    assert_eq!(total["output"]["first_intact"], true);
}
