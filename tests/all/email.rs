//! Approval notifications by email: a real SMTP server (aiosmtpd, from PyPI) receives them,
//! and the link in the mail approves the run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use lever_tests::server::Server;
use serde_json::json;

use crate::approvals::{User, config, prepare_public, wait_for};

/// `python3 -m aiosmtpd` writing every message into a Maildir; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .spawn()
            .expect("python3 -m aiosmtpd (pip install aiosmtpd; .ci/run does)");
        // Owned from here on, so it is killed (and waited for) however this ends.
        let server = Self {
            child,
            port,
            maildir,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    /// Every message received so far, decoded from quoted-printable where needed.
    fn messages(&self) -> Vec<String> {
        let read = |dir: &Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .map(|d| {
                    d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut all = read(&self.maildir.join("new"));
        all.extend(read(&self.maildir.join("cur")));
        all.into_iter()
            .map(|m| decode_quoted_printable(&m))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn decode_quoted_printable(text: &str) -> String {
    if !text.contains("quoted-printable") {
        return text.to_string();
    }
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_team_lead_gets_an_email_with_the_context_and_its_link_approves() {
    let smtp = SmtpServer::start();
    let extra = format!(
        "smtp:\n  host: 127.0.0.1\n  port: {}\n  from: \"Lever <lever@example.com>\"\n",
        smtp.port
    );
    let yaml = config(&extra).replace(
        "{id: carol, team: payments,",
        "{id: carol, name: Carol Lead, email: carol@example.com, team: payments,",
    );
    let server = Server::start_configured(&yaml, &["--manual-clock"]);
    prepare_public(&server).await;
    let alice = User::of(&server, "alice").await;
    let created = alice
        .submit(
            "provision",
            json!({"environment": "production", "monthly_usd": 42}),
        )
        .await;
    let id = created["id"].as_str().unwrap();

    let mut mail = None;
    for _ in 0..100 {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("carol@example.com"))
        {
            mail = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mail = mail.expect("carol received an email");
    for expected in [
        "Subject: Approval needed (team-lead)",
        "Requested by: alice",
        "Environment: production",
        "$42",
        "production",
        "Approve: http",
    ] {
        assert!(
            mail.contains(expected),
            "`{expected}` missing from:\n{mail}"
        );
    }
    let approve = mail
        .lines()
        .find_map(|l| l.strip_prefix("Approve: "))
        .unwrap()
        .trim()
        .to_string();
    let anonymous = reqwest::Client::new();
    assert_eq!(
        anonymous
            .get(&approve)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        anonymous
            .post(&approve)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    wait_for(&server, id, "succeeded").await;
    assert!(
        !smtp
            .messages()
            .iter()
            .any(|m| m.contains("To: alice") || m.contains("alice@")),
        "the requester is not asked"
    );
}

#[tokio::test]
async fn the_notifier_capability_bound_to_email_tells_the_owning_team() {
    let smtp = SmtpServer::start();
    let people = lever_identity::EMBEDDED_CONFIG
        .split("\nbindings:")
        .next()
        .unwrap();
    let yaml = format!(
        "{people}\nsmtp:\n  host: 127.0.0.1\n  port: {}\n  from: \"Lever <lever@example.com>\"\nbindings:\n  infrastructure: {{adapter: 'builtin:postgres'}}\n  notifier: {{adapter: 'builtin:email'}}\n",
        smtp.port
    );
    let templates = lever_tests::repo_root()
        .join("demo/templates")
        .to_string_lossy()
        .into_owned();
    let server = Server::start_configured(&yaml, &["--templates", &templates]);
    let name = lever_tests::databases::unique_name("mail");
    let alice = server.client_for("alice").await;
    let response = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": "provision-postgresql-database", "parameters": {"name": name, "owner": "payments"}}))
        .send()
        .await
        .unwrap();
    let created: serde_json::Value = response.json().await.unwrap();
    let done = server.wait(created["id"].as_str().unwrap()).await;
    let object = format!("{}_dev", name.replace('-', "_"));
    lever_tests::databases::drop_provisioned(&object).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    let announce = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "announce")
        .unwrap();
    assert_eq!(announce["status"], "succeeded", "{done:#}");
    let mails: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains(&format!("Database {name} (dev) is ready")))
        .collect();
    for member in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        assert!(
            mails.iter().any(|m| m.contains(member)),
            "{member} was not mailed; got {mails:#?}"
        );
    }
    assert!(
        !mails.iter().any(|m| m.contains("dave@example.com")),
        "dave is not in payments"
    );
    assert!(
        mails[0].contains(&format!(
            "credentials are in the secrets store at secret://databases/{name}/dev"
        )),
        "{}",
        mails[0]
    );
}
