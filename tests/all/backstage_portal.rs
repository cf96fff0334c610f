//! A Backstage portal's own templates run through Lever unchanged: with `backstage.catalog`,
//! the template a task names is read from the portal's catalog as the caller (their Backstage
//! token, never a Lever token), its files from its location — a `file:` location on disk under
//! `file_roots`, a `url:` location through the bound git-provider (the GitHub fake) — and each
//! run pins the version it was asked on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use lever_tests::fakes::github::FakeGitHub;
use lever_tests::server::{Server, client};
use serde_json::{Value, json};

use crate::backstage::{portal_with, user_token};

const GITHUB_TOKEN: &str = "ghp_portal0000000000000000000000000001";

/// The portal's catalog: its template entities by name, and every `Authorization` it was sent.
#[derive(Clone, Default)]
struct Catalog {
    entities: Arc<Mutex<BTreeMap<String, Value>>>,
    seen: Arc<Mutex<Vec<String>>>,
    etag: Arc<Mutex<u64>>,
}

/// `GET /api/catalog/entities/by-name/template/{namespace}/{name}`, as Backstage's catalog
/// answers it: the entity as processed (uid, etag, relations, status), 401 without a token.
async fn by_name(
    State(catalog): State<Catalog>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
) -> (StatusCode, axum::Json<Value>) {
    let Some(authorization) = headers.get("authorization").and_then(|h| h.to_str().ok()) else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": {"name": "AuthenticationError", "message": "Missing credentials"}}),
            ),
        );
    };
    catalog.seen.lock().unwrap().push(authorization.to_string());
    let found = (namespace == "default")
        .then(|| catalog.entities.lock().unwrap().get(&name).cloned())
        .flatten();
    match found {
        Some(mut entity) => {
            // The catalog's processing changes the etag on every refresh.
            let mut etag = catalog.etag.lock().unwrap();
            *etag += 1;
            entity["metadata"]["etag"] = json!(format!("etag-{etag}"));
            (StatusCode::OK, axum::Json(entity))
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": {"name": "NotFoundError", "message": format!("No entity named '{name}' found, with kind 'template' in namespace '{namespace}'")}}),
            ),
        ),
    }
}

/// A template entity at `location`: a skeleton fetched with the task's name, then the
/// workspace listed in the log.
fn template(name: &str, title: &str, location: &str) -> Value {
    json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": name,
            "namespace": "default",
            "title": title,
            "uid": format!("uid-{name}"),
            "annotations": {
                "backstage.io/managed-by-location": location,
                "backstage.io/managed-by-origin-location": location,
            },
        },
        "spec": {
            "owner": "group:default/payments",
            "type": "service",
            "parameters": [{
                "title": "Name",
                "required": ["name"],
                "properties": {"name": {"type": "string", "title": "Name"}},
            }],
            "steps": [
                {"id": "fetch", "name": "Fetch the skeleton", "action": "fetch:template",
                 "input": {"url": "./skeleton", "values": {"name": "${{ parameters.name }}"}}},
                {"id": "list", "name": "List the workspace", "action": "debug:log",
                 "input": {"message": "fetched", "listWorkspace": true}},
            ],
        },
        "relations": [{"type": "ownedBy", "targetRef": "group:default/payments"}],
        "status": {"items": []},
    })
}

/// Submits `template` with `name` as `token`; answers the status and body.
async fn scaffold(server: &Server, token: &str, template: &str, name: &str) -> (u16, Value) {
    let response = client(Some(token))
        .post(format!("{}/api/scaffolder/v2/tasks", server.url))
        .json(&json!({"templateRef": format!("template:default/{template}"), "values": {"name": name}}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits for task `id` to finish; answers its status and every log message of its events.
async fn finished(server: &Server, token: &str, id: &str) -> (String, Vec<String>) {
    let run = server.wait(id).await;
    let events: Value = client(Some(token))
        .get(format!(
            "{}/api/scaffolder/v2/tasks/{id}/events",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["body"]["message"].as_str().map(str::to_string))
        .collect();
    (run["status"].as_str().unwrap_or("").to_string(), messages)
}

#[tokio::test]
async fn a_portals_templates_run_from_its_catalog_as_the_caller_with_their_files_from_disk_and_from_the_repository()
 {
    // The portal's templates on its disk, one folder inside the allowed root and one outside.
    let disk = tempfile::tempdir().unwrap();
    let root = disk.path().join("templates");
    let outside = disk.path().join("elsewhere");
    for folder in [root.join("hello"), outside.join("hello")] {
        std::fs::create_dir_all(folder.join("skeleton")).unwrap();
        std::fs::write(folder.join("template.yaml"), "# read from the catalog\n").unwrap();
        std::fs::write(
            folder.join("skeleton/${{ values.name }}.md"),
            "# ${{ values.name }}\n",
        )
        .unwrap();
    }
    // And in a repository.
    let github = FakeGitHub::start(GITHUB_TOKEN).await;
    github.seed(
        "acme/templates",
        &[
            ("hello/template.yaml", b"# read from the catalog\n", false),
            (
                "hello/skeleton/${{ values.name }}-from-git.md",
                b"# ${{ values.name }}\n",
                false,
            ),
        ],
    );
    let catalog = Catalog::default();
    for entity in [
        template(
            "hello-file",
            "Hello from the portal",
            &format!("file:{}/hello/template.yaml", root.display()),
        ),
        template(
            "hello-repo",
            "Hello from the repository",
            "url:https://github.com/acme/templates/blob/main/hello/template.yaml",
        ),
        template(
            "hello-outside",
            "Hello from elsewhere",
            &format!("file:{}/hello/template.yaml", outside.display()),
        ),
    ] {
        let name = entity["metadata"]["name"].as_str().unwrap().to_string();
        catalog.entities.lock().unwrap().insert(name, entity);
    }
    let routes = axum::Router::new()
        .route(
            "/api/catalog/entities/by-name/template/{namespace}/{name}",
            axum::routing::get(by_name),
        )
        .with_state(catalog.clone());
    let base = portal_with(routes).await;
    let extra = format!(
        "backstage:\n  base_url: {base}\n  catalog:\n    file_roots: ['{}']\nbindings:\n  git-provider: {{adapter: github, hosts: [github.com], settings: {{base_url: '{}', token: 'secret://github-token'}}}}\n",
        root.display(),
        github.base_url()
    );
    let plugins = lever_tests::guests::plugins_dir()
        .to_string_lossy()
        .into_owned();
    let server =
        Server::start_configured(&crate::approvals::config(&extra), &["--publish", &plugins]);
    server.put_secret("github-token", GITHUB_TOKEN).await;
    let alice = user_token(
        &format!("{base}/api/auth"),
        "issuer.pem",
        "user:default/alice",
        "vnd.backstage.user",
        600,
    );

    // The form Backstage's frontend shows is the portal's template.
    let schema: Value = client(Some(&alice))
        .get(format!(
            "{}/api/scaffolder/v2/templates/default/template/hello-file/parameter-schema",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema["title"], "Hello from the portal", "{schema}");
    assert_eq!(
        schema["steps"][0]["schema"]["properties"]["name"]["type"], "string",
        "{schema}"
    );

    // A file: location: the skeleton beside the template on disk, rendered with the values.
    let (status, task) = scaffold(&server, &alice, "hello-file", "svc-file").await;
    assert_eq!(status, 201, "{task}");
    let first = task["id"].as_str().unwrap().to_string();
    let (status, log) = finished(&server, &alice, &first).await;
    assert_eq!(status, "succeeded", "{log:?}");
    assert!(
        log.iter().any(|m| m.contains("svc-file.md")),
        "the skeleton from disk, rendered: {log:?}"
    );

    // A url: location: the skeleton downloaded through the bound git-provider.
    let (status, task) = scaffold(&server, &alice, "hello-repo", "svc-repo").await;
    assert_eq!(status, 201, "{task}");
    let (status, log) = finished(&server, &alice, task["id"].as_str().unwrap()).await;
    assert_eq!(status, "succeeded", "{log:?}");
    assert!(
        log.iter().any(|m| m.contains("svc-repo-from-git.md")),
        "the skeleton from the repository, rendered: {log:?}"
    );

    // The same template again is the same version (the catalog's etag aside); a changed one
    // is a new version, and the earlier run stays pinned to what it was asked on.
    let (status, task) = scaffold(&server, &alice, "hello-file", "svc-again").await;
    assert_eq!(status, 201, "{task}");
    let (_, shown) = server.get_json("/api/v1/templates/hello-file").await;
    assert_eq!(shown["version"], 1, "{shown}");
    catalog
        .entities
        .lock()
        .unwrap()
        .get_mut("hello-file")
        .unwrap()["metadata"]["title"] = json!("Hello, changed");
    let (status, task) = scaffold(&server, &alice, "hello-file", "svc-changed").await;
    assert_eq!(status, 201, "{task}");
    let changed = server.wait(task["id"].as_str().unwrap()).await;
    assert_eq!(changed["template_version"], 2, "{changed}");
    let (_, run) = server.get_json(&format!("/api/v1/runs/{first}")).await;
    assert_eq!(run["template_version"], 1, "{run}");

    // A location outside file_roots is never read.
    let (status, body) = scaffold(&server, &alice, "hello-outside", "svc-x").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("file_roots"),
        "{body}"
    );
    // What the portal does not have is not found, in Backstage's error shape.
    let (status, body) = scaffold(&server, &alice, "no-such-template", "svc-y").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["name"], "NotFoundError", "{body}");

    // A caller with a Lever API token has no token the portal knows: refused, and the portal
    // never sees Lever's token.
    let (status, lever_token) = server
        .post_json("/api/v1/tokens", json!({"user": "alice", "name": "cli"}))
        .await;
    assert_eq!(status, 201);
    let lever_token = lever_token["token"].as_str().unwrap().to_string();
    let (status, body) = scaffold(&server, &lever_token, "hello-file", "svc-z").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Backstage user token"),
        "{body}"
    );
    let seen = catalog.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|h| *h == format!("Bearer {alice}")),
        "the portal was sent only alice's own Backstage token: {seen:?}"
    );
}

/// Every answer of the pickers' test, for Backstage's OpenAPI document.
static EXCHANGES: Mutex<Vec<Value>> = Mutex::new(Vec::new());

/// `POST /v2/autocomplete/{provider}/{resource}` as Backstage's pickers send it, the answer
/// recorded in [`EXCHANGES`].
async fn autocomplete(
    server: &Server,
    provider: &str,
    resource: &str,
    context: Value,
) -> (u16, Value) {
    let url = format!(
        "{}/api/scaffolder/v2/autocomplete/{provider}/{resource}",
        server.url
    );
    let response = server
        .http
        .post(&url)
        .json(&json!({"token": "the user's own SCM token, unused", "context": context}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).to_string());
    let text = response.text().await.unwrap();
    EXCHANGES.lock().unwrap().push(json!({
        "method": "POST", "url": url, "status": status, "contentType": content_type, "body": text,
    }));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn backstages_pickers_list_owners_repositories_and_branches_through_the_bound_git_providers()
{
    let github = FakeGitHub::start(GITHUB_TOKEN).await;
    github.seed("acme/payments-api", &[("README.md", b"# api\n", false)]);
    github.seed("tools/linter", &[("README.md", b"# lint\n", false)]);
    let gitlab =
        lever_tests::fakes::gitlab::FakeGitLab::start("glpat-pickers000000000000002").await;
    gitlab.seed(
        "acme/payments/ledger",
        &[("README.md", b"# ledger\n", false)],
    );
    let extra = format!(
        "bindings:\n  git-provider: {{adapter: github, hosts: [github.com], settings: {{base_url: '{}', token: 'secret://github-token'}}}}\n  git-provider/gitlab: {{adapter: gitlab, hosts: [gitlab.com], settings: {{base_url: '{}', token: 'secret://gitlab-token'}}}}\n",
        github.base_url(),
        gitlab.base_url(),
    );
    let plugins = lever_tests::guests::plugins_dir()
        .to_string_lossy()
        .into_owned();
    let server =
        Server::start_configured(&crate::approvals::config(&extra), &["--publish", &plugins]);
    server.put_secret("github-token", GITHUB_TOKEN).await;
    server
        .put_secret("gitlab-token", "glpat-pickers000000000000002")
        .await;

    // GitHub, with Backstage's resource names: owners, repositories, a repository's branches.
    let (status, body) = autocomplete(&server, "github", "owners", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["acme", "tools"]);
    let (status, body) = autocomplete(&server, "github", "repositoriesWithOwner", json!({})).await;
    assert_eq!(status, 200, "{body}");
    // (The fake starts with a template repository of its own.)
    assert_eq!(
        ids(&body),
        ["acme/payments-api", "acme/service-template", "tools/linter"]
    );
    let (_, body) = autocomplete(
        &server,
        "github",
        "repositoriesWithOwner",
        json!({"owner": "tools"}),
    )
    .await;
    assert_eq!(ids(&body), ["tools/linter"]);
    let (_, body) = autocomplete(
        &server,
        "github",
        "branches",
        json!({"owner": "acme", "repository": "payments-api"}),
    )
    .await;
    assert_eq!(ids(&body), ["main"]);
    // GitLab's binding, chosen by the provider's name.
    let (status, body) = autocomplete(
        &server,
        "gitlab",
        "repositories",
        json!({"id": "acme/payments"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["acme/payments/ledger"]);
    let (_, body) = autocomplete(&server, "gitlab", "groups", json!({})).await;
    assert!(ids(&body).contains(&"acme/payments".to_string()), "{body}");
    let (_, body) = autocomplete(
        &server,
        "gitlab",
        "branches",
        json!({"id": "acme/payments/ledger"}),
    )
    .await;
    assert_eq!(ids(&body), ["main"]);

    // What Backstage refuses, refused in its words.
    for (provider, resource, context, says) in [
        (
            "bitbucketCloud",
            "workspaces",
            json!({}),
            "Unsupported provider: bitbucketCloud",
        ),
        (
            "github",
            "branches",
            json!({"owner": "acme"}),
            "Missing owner and/or repository",
        ),
        ("github", "tags", json!({}), "Invalid resource: tags"),
    ] {
        let (status, body) = autocomplete(&server, provider, resource, context).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["name"], "InputError", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(says),
            "{says}: {body}"
        );
    }

    // Each answer, the lists and the refusals, as Backstage's OpenAPI document has them.
    let exchanges = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        exchanges.path(),
        serde_json::to_vec(&*EXCHANGES.lock().unwrap()).unwrap(),
    )
    .unwrap();
    let validated = std::process::Command::new("python3")
        .arg("validate.py")
        .arg("scaffolder-openapi.json")
        .arg(exchanges.path())
        .current_dir(lever_tests::repo_root().join("tests/backstage"))
        .output()
        .expect("python3");
    assert!(
        validated.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
}
