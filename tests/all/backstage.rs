//! Lever as a Backstage portal's scaffolder backend: Backstage's own `ScaffolderClient` (npm
//! `@backstage/plugin-scaffolder-common`, pinned in `tests/backstage/package.json`) drives
//! `/api/scaffolder/v2` — the form's schema, scaffold, the event stream and the long poll,
//! lists, an approval, a failure with its rollback and a retry, cancel, dry run, errors — and
//! every answer it got is validated against Backstage's OpenAPI document by openapi-core.

use std::path::{Path, PathBuf};
use std::process::Command;

use lever_tests::repo_root;
use lever_tests::server::Server;
use serde::Deserialize;
use serde_json::{Value, json};

/// `tests/backstage`, its npm packages installed from the lock file on first use.
fn client_dir() -> PathBuf {
    // Tests of this module run side by side: one installs, the others wait for it.
    static INSTALLED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
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
    // Not published as a location unless lever.yaml says so.
    let location = reqwest::get(format!("{}/api/scaffolder/catalog-info.yaml", server.url))
        .await
        .unwrap();
    assert_eq!(location.status().as_u16(), 404);
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

    // The secret was sealed only while its run could use it: none is left once it finished.
    let db = format!("sqlite://{}", dir.path().join("lever.db").display());
    let mut connection = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    let (kept,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM secrets WHERE name LIKE 'lever/run-secrets/%'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(
        kept, 0,
        "template secrets left at rest after their runs finished"
    );
    let (refs,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM runs WHERE secrets_ref IS NOT NULL")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert!(refs >= 1, "the secret task kept its reference");

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

pub(crate) fn oidc_fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/fixtures/oidc").join(name)).unwrap()
}

/// A Backstage portal's auth backend as Lever reads it: its JWKS at
/// `/api/auth/.well-known/jwks.json`.
async fn portal() -> String {
    portal_with(axum::Router::new()).await
}

/// [`portal`], serving `routes` too (its catalog).
pub(crate) async fn portal_with(routes: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let jwks: Value = serde_json::from_slice(&oidc_fixture("jwks.json")).unwrap();
    let app = routes.route(
        "/api/auth/.well-known/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A user token as Backstage's auth backend signs it (`typ: vnd.backstage.user`, ES256).
pub(crate) fn user_token(
    issuer: &str,
    key: &str,
    subject: &str,
    typ: &str,
    expires_in: i64,
) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"iss": issuer, "aud": "backstage", "sub": subject, "ent": [subject], "iat": now - 60, "exp": now + expires_in});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("test-key-1".into());
    header.typ = Some(typ.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(&oidc_fixture(key)).unwrap(),
    )
    .unwrap()
}

/// The same claims unsigned, `alg: none`.
fn unsigned(issuer: &str, subject: &str) -> String {
    use base64::Engine;
    let b64 = |v: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "vnd.backstage.user"})),
        b64(json!({"iss": issuer, "aud": "backstage", "sub": subject, "exp": now + 600}))
    )
}

#[tokio::test]
async fn a_backstage_user_token_is_verified_against_the_portals_jwks_and_mapped_to_a_lever_user_and_the_templates_are_published_as_a_location()
 {
    let base = portal().await;
    let issuer = format!("{base}/api/auth");
    let backstage = format!(
        "backstage:\n  base_url: {base}\n  publish_templates: true\n  users:\n    user:default/alice.smith: alice\n"
    );
    let server = Server::start_configured(&crate::approvals::config(&backstage), &[]);
    let call = |token: String| {
        let url = format!("{}/api/scaffolder/v2/tasks", server.url);
        async move {
            let response = lever_tests::server::client(Some(&token))
                .get(url)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    // Mapped by backstage.users, and by name for a ref that names a configured user.
    let (status, body) = call(user_token(
        &issuer,
        "issuer.pem",
        "user:default/alice.smith",
        "vnd.backstage.user",
        600,
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let me = lever_tests::server::client(Some(&user_token(
        &issuer,
        "issuer.pem",
        "user:default/alice.smith",
        "vnd.backstage.user",
        600,
    )))
    .get(format!("{}/api/v1/me", server.url))
    .send()
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(me["id"], "alice", "{me}");
    let (status, _) = call(user_token(
        &issuer,
        "issuer.pem",
        "user:default/bob",
        "vnd.backstage.user",
        600,
    ))
    .await;
    assert_eq!(status, 200);

    // Refused, each in Backstage's error shape, with what was wrong.
    for (token, says) in [
        (
            user_token(
                &issuer,
                "issuer.pem",
                "user:default/mallory",
                "vnd.backstage.user",
                600,
            ),
            "not a Lever user",
        ),
        (
            user_token(
                &issuer,
                "issuer.pem",
                "user:default/alice.smith",
                "vnd.backstage.user",
                -120,
            ),
            "expired",
        ),
        (
            user_token(
                "http://elsewhere/api/auth",
                "issuer.pem",
                "user:default/alice.smith",
                "vnd.backstage.user",
                600,
            ),
            "issuer",
        ),
        (
            user_token(
                &issuer,
                "other.pem",
                "user:default/alice.smith",
                "vnd.backstage.user",
                600,
            ),
            "signature",
        ),
        (
            user_token(
                &issuer,
                "issuer.pem",
                "user:default/alice.smith",
                "vnd.backstage.plugin",
                600,
            ),
            "typ",
        ),
        (unsigned(&issuer, "user:default/alice.smith"), "malformed"),
    ] {
        let (status, body) = call(token).await;
        assert_eq!(status, 401, "{says}: {body}");
        assert_eq!(body["error"]["name"], "AuthenticationError", "{body}");
        assert_eq!(body["response"]["statusCode"], 401, "{body}");
        assert_eq!(body["request"]["url"], "/api/scaffolder/v2/tasks", "{body}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{says} in {message}");
    }

    // The templates published to Lever, as one location a portal's catalog registers.
    let hello =
        std::fs::read_to_string(repo_root().join("tests/backstage/templates/backstage-hello.yaml"))
            .unwrap();
    server.apply_template(&hello).await;
    let location = reqwest::get(format!("{}/api/scaffolder/catalog-info.yaml", server.url))
        .await
        .unwrap();
    assert_eq!(location.status().as_u16(), 200);
    let text = location.text().await.unwrap();
    let entities: Vec<Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .collect();
    let names: Vec<&str> = entities
        .iter()
        .filter_map(|e| e["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"backstage-hello"), "{names:?}");
    assert!(
        entities.iter().all(
            |e| e["kind"] == "Template" && e["apiVersion"] == "scaffolder.backstage.io/v1beta3"
        ),
        "{text}"
    );
}

/// The Backstage scaffolder peer (`runtime/bench/peer/backstage`), installed from npm into
/// the target dir on first use, running on a free port until dropped.
struct BackstagePeer {
    dir: PathBuf,
    url: String,
    token: String,
}

impl BackstagePeer {
    fn start() -> BackstagePeer {
        let kit = repo_root().join("runtime/bench/peer/backstage");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        let dir = target.join("backstage-peer");
        if !dir
            .join("node_modules/@backstage/plugin-scaffolder-backend")
            .exists()
        {
            let status = Command::new(kit.join("setup.sh"))
                .arg(&dir)
                .status()
                .expect("setup.sh");
            assert!(status.success(), "installing the Backstage peer");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let token = "peer-static-token-0123456789".to_string();
        // Its own copy of the kit's scripts and template, whatever setup.sh copied before.
        for file in [
            "start.sh",
            "index.js",
            "app-config.yaml",
            "templates/peer-3-debug-log.yaml",
        ] {
            std::fs::copy(kit.join(file), dir.join(file)).expect("copy the peer kit");
        }
        let started = Command::new(dir.join("start.sh"))
            .arg(&dir)
            .env("BS_PEER_PORT", port.to_string())
            .env("BS_PEER_TOKEN", &token)
            .env("LOG_LEVEL", "warn")
            .output()
            .expect("start.sh");
        assert!(
            started.status.success(),
            "the Backstage peer did not start: {}{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr)
        );
        BackstagePeer {
            dir,
            url: format!("http://127.0.0.1:{port}"),
            token,
        }
    }
}

impl Drop for BackstagePeer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("server.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            let _ = std::fs::remove_file(self.dir.join("server.pid"));
        }
    }
}

#[tokio::test]
async fn one_template_through_backstages_scaffolder_and_through_lever_gives_the_same_steps_events_and_output()
 {
    let client = client_dir();
    let peer = tokio::task::spawn_blocking(BackstagePeer::start)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = backstage_server(dir.path());
    let compared = tokio::task::spawn_blocking({
        let (client, peer_url, peer_token) = (client.clone(), peer.url.clone(), peer.token.clone());
        let (url, token) = (server.url.clone(), server.admin_token.clone());
        move || {
            Command::new("node")
                .arg("compare.cjs")
                .current_dir(&client)
                .env("BACKSTAGE_URL", peer_url)
                .env("BACKSTAGE_TOKEN", peer_token)
                .env("LEVER_URL", url)
                .env("LEVER_TOKEN", token)
                .output()
                .expect("node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&compared.stdout);
    assert!(
        compared.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&compared.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the comparison");
    let (backstage, lever) = (&seen["backstage"], &seen["lever"]);
    // The same steps, each through the same statuses in the same order; the same event types
    // in the same order (runs of `log`, then one `completion`); the same output shape.
    assert_eq!(backstage["steps"], lever["steps"], "{seen:#}");
    assert_eq!(backstage["transitions"], lever["transitions"], "{seen:#}");
    assert_eq!(backstage["types"], json!(["log", "completion"]), "{seen:#}");
    assert_eq!(backstage["types"], lever["types"], "{seen:#}");
    assert_eq!(backstage["output"], lever["output"], "{seen:#}");
    assert_eq!(backstage["completion"], lever["completion"], "{seen:#}");
}
