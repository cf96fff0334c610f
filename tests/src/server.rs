//! A real `lever serve` process on a free port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::databases::TestDatabase;
use crate::repo_root;

static BIN: OnceLock<PathBuf> = OnceLock::new();

/// Makes the servers of this process run `path` (the benchmarks use a release build).
pub fn use_lever_binary(path: PathBuf) {
    let _ = BIN.set(path);
}

/// Builds `lever` (a no-op when it is fresh) and returns its path, unless
/// [`use_lever_binary`] or `LEVER_TEST_BINARY` (a copy taken before the tree changes again)
/// chose one.
///
/// The build selects what `cargo test --workspace` selects (`--workspace --tests`), so cargo
/// resolves the same features and reuses the test build's dependencies instead of compiling the
/// whole tree a second time under `-p lever-cli`'s narrower feature set.
pub fn lever_binary() -> &'static Path {
    BIN.get_or_init(|| {
        if let Ok(path) = std::env::var("LEVER_TEST_BINARY") {
            return PathBuf::from(path);
        }
        let status = crate::cargo()
            .args(["build", "--workspace", "--tests", "--bin", "lever"])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the lever binary failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join("target"));
        target.join("debug/lever")
    })
}

/// A running server and its data dir.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data dir (SQLite file, compiled-code cache, server log).
    pub data_dir: PathBuf,
    _temp: Option<TempDir>,
    _database: Option<TestDatabase>,
    /// HTTP client that authenticates as `admin` (platform role).
    pub http: reqwest::Client,
    /// The admin API token printed at first start.
    pub admin_token: String,
}

/// An HTTP client sending `token` as its bearer token.
pub fn client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header value"),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        // Idle connections are dropped before the server closes them (its header read timeout,
        // 30 s by default, also bounds keep-alive idleness): a test that blocked its runtime
        // (building guests) must not reuse a connection whose close it has not seen yet.
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("http client")
}

impl Server {
    /// Starts a server on a fresh data dir with SQLite.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut server = Self::start_in(&dir, &[]);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on a fresh data dir with a fresh PostgreSQL database.
    pub async fn start_postgres() -> Self {
        let database = TestDatabase::postgres().await;
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut server = Self::start_in(&dir, &["--database", &database.url]);
        server._temp = Some(temp);
        server._database = Some(database);
        server
    }

    /// Starts a server on a fresh data dir whose `lever.yaml` is `config`.
    pub fn start_configured(config: &str, extra: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        std::fs::write(temp.path().join("lever.yaml"), config).expect("write lever.yaml");
        let dir = temp.path().to_path_buf();
        let mut server = Self::start_in(&dir, extra);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on a fresh PostgreSQL database whose data dir's `lever.yaml` is `config`.
    pub async fn start_postgres_configured(config: &str, extra: &[&str]) -> Self {
        let database = TestDatabase::postgres().await;
        let temp = tempfile::tempdir().expect("temp dir");
        std::fs::write(temp.path().join("lever.yaml"), config).expect("write lever.yaml");
        let dir = temp.path().to_path_buf();
        let mut args = vec!["--database", database.url.as_str()];
        args.extend_from_slice(extra);
        let mut server = Self::start_in(&dir, &args);
        server._temp = Some(temp);
        server._database = Some(database);
        server
    }

    /// Starts the README's run command's server in `data_dir`: the first-party plugins
    /// published and the demo catalog (`demo/templates`) applied at start.
    pub fn start_demo(data_dir: &Path) -> Self {
        let plugins = crate::guests::plugins_dir().to_string_lossy().into_owned();
        let templates = crate::repo_root()
            .join("demo/templates")
            .to_string_lossy()
            .into_owned();
        Self::start_in(
            data_dir,
            &["--publish", &plugins, "--templates", &templates],
        )
    }

    /// Starts a server on `data_dir` with extra arguments (`--database URL`...).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        Self::start_listening(data_dir, "127.0.0.1:0", extra)
    }

    /// Like [`Server::start_in`], listening on `listen` (`0.0.0.0:0`: every interface).
    pub fn start_listening(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))
            .expect("server log");
        let mut child = Command::new(lever_binary())
            .arg("serve")
            .args(["--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("LEVER_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn lever serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let token_file = data_dir.join("admin-token");
        let mut url = None;
        while url.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| {
                    let log =
                        std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
                    panic!("lever serve did not start; its log:\n{log}")
                });
            if let Some(rest) = line.split("the admin API token is ").nth(1) {
                // Printed once, at first start: keep it for restarts on the same data dir.
                let token = rest.split_whitespace().next().expect("token").to_string();
                std::fs::write(&token_file, &token).expect("keep the admin token");
            } else if line.contains("listening on") {
                url = Some(line.rsplit(' ').next().expect("address").trim().to_string());
            }
        }
        let admin_token =
            std::fs::read_to_string(&token_file).expect("the admin token of this data dir");
        Self {
            child,
            url: url.expect("address"),
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            _database: None,
            http: client(Some(&admin_token)),
            admin_token,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// Publishes a component; returns status and body.
    pub async fn publish(&self, bytes: Vec<u8>, query: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/plugins", self.url))
            .query(query)
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await
            .expect("publish request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Publishes and asserts 201 or 200.
    pub async fn publish_ok(&self, bytes: Vec<u8>, query: &[(&str, &str)]) -> Value {
        let (status, body) = self.publish(bytes, query).await;
        assert!(
            status == 201 || status == 200,
            "publish failed with {status}: {body}"
        );
        body
    }

    /// Stores secret `name` as admin; panics unless the server answers 204.
    pub async fn put_secret(&self, name: &str, value: &str) {
        let response = self
            .http
            .put(format!("{}/api/v1/secrets/{name}", self.url))
            .json(&json!({ "value": value }))
            .send()
            .await
            .expect("put secret");
        assert_eq!(response.status().as_u16(), 204, "storing {name}");
    }

    /// Applies a template (YAML) as admin; panics with the server's answer unless it is taken.
    pub async fn apply_template(&self, yaml: &str) {
        let response = self
            .http
            .post(format!("{}/api/v1/templates", self.url))
            .body(yaml.to_string())
            .send()
            .await
            .expect("apply template");
        let status = response.status();
        assert!(
            status.is_success(),
            "applying the template answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Submits a run of `template` with `parameters` as admin and waits for it to settle.
    pub async fn run_template(&self, template: &str, parameters: Value) -> Value {
        let (status, run) = self
            .post_json(
                "/api/v1/runs",
                json!({"template": template, "parameters": parameters}),
            )
            .await;
        assert_eq!(status, 201, "submitting {template}: {run}");
        self.wait(run["id"].as_str().expect("run id")).await
    }

    /// POSTs `body` as JSON to `path`; returns status and body.
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("POST request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path`; returns status and body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST /api/v1/runs`; returns status and body.
    pub async fn submit(&self, action: &str, input: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/runs", self.url))
            .json(&json!({"action": action, "input": input}))
            .send()
            .await
            .expect("submit request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits a run, waits for it to finish and returns it.
    pub async fn run(&self, action: &str, input: Value) -> Value {
        let (status, created) = self.submit(action, input).await;
        assert_eq!(status, 201, "submit failed: {created}");
        self.wait(created["id"].as_str().expect("run id")).await
    }

    /// Waits for a run to finish (at most 60 s) and returns it.
    pub async fn wait(&self, id: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/api/v1/runs/{id}", self.url))
            .query(&[("wait", "60")])
            .send()
            .await
            .expect("get run");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("run json")
    }

    /// Creates an API token for `user` (as admin) and returns a client using it.
    pub async fn client_for(&self, user: &str) -> reqwest::Client {
        let (status, body) = self
            .post_json("/api/v1/tokens", json!({"user": user, "name": "test"}))
            .await;
        assert_eq!(status, 201, "token for {user}: {body}");
        client(body["token"].as_str())
    }

    /// The database this server was started on, when the test made one for it.
    pub fn database(&self) -> Option<&TestDatabase> {
        self._database.as_ref()
    }

    /// Stops the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
