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

/// A run's stored log is bounded over all its steps (`run_logs.max_bytes_per_run`): past the
/// bound lines are counted in a note, the run carries on, and what was stored first is kept.
#[tokio::test]
async fn a_runs_stored_log_is_bounded_over_all_its_steps() {
    run_log_bounded(Server::start_configured(&run_log_config(), &[])).await;
}

#[tokio::test]
async fn a_runs_stored_log_is_bounded_on_postgresql() {
    run_log_bounded(Server::start_postgres_configured(&run_log_config(), &[]).await).await;
}

fn run_log_config() -> String {
    format!(
        "{}\nrun_logs:\n  max_bytes_per_run: 1000\n",
        lever_identity::EMBEDDED_CONFIG
    )
}

async fn run_log_bounded(server: Server) {
    server
        .publish_ok(lever_tests::guests::plugin("debug_log"), &[])
        .await;
    let step = |i: usize| {
        format!(
            "    - id: s{i}\n      action: debug-log\n      input: {{message: \"{i}{}\"}}\n",
            "x".repeat(299)
        )
    };
    let steps: String = (0..6).map(step).collect();
    let yaml = format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: chatty\nspec:\n  steps:\n{steps}"
    );
    server.apply_template(&yaml).await;
    let run = server.run_template("chatty", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let messages: Vec<&str> = run["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    let plugin_bytes: usize = messages
        .iter()
        .filter(|m| m.ends_with("xxxx"))
        .map(|m| m.len())
        .sum();
    assert!(plugin_bytes <= 1000, "{messages:#?}");
    assert!(
        messages.iter().any(|m| m.starts_with("0x")),
        "the first step's line is kept: {messages:#?}"
    );
    assert!(
        !messages.iter().any(|m| m.starts_with("5x")),
        "the last step's line is over the bound: {messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("reached its limit of 1000 bytes")),
        "{messages:#?}"
    );
}
