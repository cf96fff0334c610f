//! Lever as a Backstage portal's scaffolder backend: Backstage's own `ScaffolderClient` (npm
//! `@backstage/plugin-scaffolder-common`, pinned in `tests/backstage/package.json`) drives
//! `/api/scaffolder/v2` — the form's schema, scaffold, the event stream and the long poll,
//! lists, an approval, a failure with its rollback and a retry, cancel, dry run, errors — and
//! every answer it got is validated against Backstage's OpenAPI document by openapi-core.

use std::path::{Path, PathBuf};
use std::process::Command;

use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};

/// `tests/backstage`, its npm packages installed from the lock file on first use.
fn client_dir() -> PathBuf {
    let dir = repo_root().join("tests/backstage");
    if !dir
        .join("node_modules/@backstage/plugin-scaffolder-common")
        .exists()
    {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .expect("npm");
        assert!(status.success(), "npm ci in tests/backstage");
    }
    dir
}

/// A server with the first-party plugins and the test's templates.
fn backstage_server(dir: &Path) -> Server {
    let plugins = lever_tests::guests::plugins_dir()
        .to_string_lossy()
        .into_owned();
    let templates = repo_root()
        .join("tests/backstage/templates")
        .to_string_lossy()
        .into_owned();
    Server::start_in(dir, &["--publish", &plugins, "--templates", &templates])
}

async fn token(server: &Server, user: &str) -> String {
    let (status, body) = server
        .post_json("/api/v1/tokens", json!({"user": user, "name": "backstage"}))
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn backstages_own_scaffolder_client_drives_lever_and_every_answer_meets_backstages_openapi() {
    let client = client_dir();
    let dir = tempfile::tempdir().unwrap();
    let server = backstage_server(dir.path());
    let alice = token(&server, "alice").await;
    let carol = token(&server, "carol").await;
    let hello: Value = serde_yaml::from_str(
        &std::fs::read_to_string(client.join("templates/backstage-hello.yaml")).unwrap(),
    )
    .unwrap();
    let entity = dir.path().join("backstage-hello.json");
    std::fs::write(&entity, hello.to_string()).unwrap();
    let exchanges = dir.path().join("exchanges.json");

    let driven = tokio::task::spawn_blocking({
        let (client, url, exchanges) = (client.clone(), server.url.clone(), exchanges.clone());
        move || {
            Command::new("node")
                .arg("drive.cjs")
                .current_dir(&client)
                .env("LEVER_URL", url)
                .env("ALICE_TOKEN", alice)
                .env("CAROL_TOKEN", carol)
                .env("DRY_TEMPLATE", entity)
                .env("EXCHANGES", exchanges)
                .output()
                .expect("node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&driven.stdout);
    assert!(
        driven.status.success(),
        "Backstage's client against Lever:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&driven.stderr),
        server.log()
    );
    // What the client saw of the plain task: Backstage's event types, in Backstage's order.
    let report: Value = serde_json::from_str(stdout.trim()).expect("the client's report");
    let types: Vec<&str> = report["sse_types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(types.last(), Some(&"completion"), "{report:#}");
    assert!(
        types[..types.len() - 1].iter().all(|t| *t == "log"),
        "{report:#}"
    );
    let messages: Vec<&str> = report["sse_messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "Starting up task with 2 steps",
        "Beginning step Greet",
        "Finished step Greet",
        "Beginning step Say goodbye",
        "Finished step Say goodbye",
        "Run completed with status: completed",
    ] {
        assert!(messages.contains(&expected), "{expected} in {messages:?}");
    }

    let validated = Command::new("python3")
        .arg("validate.py")
        .arg("scaffolder-openapi.json")
        .arg(&exchanges)
        .current_dir(&client)
        .output()
        .expect("python3");
    let verdict = String::from_utf8_lossy(&validated.stdout);
    assert!(
        validated.status.success(),
        "answers against Backstage's OpenAPI document:\n{verdict}{}",
        String::from_utf8_lossy(&validated.stderr)
    );
    // Every call the client made was checked: the form, tasks, lists, controls, errors.
    let checked: usize = verdict
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checked >= 25, "{verdict}");
}
