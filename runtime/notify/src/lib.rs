//! The built-in email notifier of the embedded default: each approval notification goes to
//! each recipient as a plain-text email with the whole context and their own approve and
//! reject links, over SMTP (lettre). Configured by the `smtp:` section of `lever.yaml`.
//! [`EmailBuiltin`] is its `builtin:email`: the `notifier` capability, which the binary wires;
//! [`InboxBuiltin`] (`builtin:inbox`) is the same capability delivered to people's Lever inbox.

mod builtin;
mod inbox;

pub use builtin::EmailBuiltin;
pub use inbox::InboxBuiltin;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::Value;

/// The `smtp:` section of `lever.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// SMTP server host.
    pub host: String,
    /// Port (default 25).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Sender, `Lever <lever@example.com>`.
    pub from: String,
    /// Login user, if the server needs one.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password (better: `password_env`).
    #[serde(default)]
    pub password: Option<String>,
    /// The environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

fn default_port() -> u16 {
    25
}

/// Why the notifier could not be built or could not send.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The `smtp:` section is not valid.
    #[error("invalid smtp config: {0}")]
    Config(String),
    /// A recipient or sender address is not valid.
    #[error("invalid address `{address}`: {error}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        error: String,
    },
    /// The server refused or could not be reached.
    #[error("sending email failed: {0}")]
    Send(String),
}

/// The `smtp:` section of a `lever.yaml` text, if it has one.
pub fn smtp_config(lever_yaml: &str) -> Result<Option<SmtpConfig>, NotifyError> {
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        smtp: Option<SmtpConfig>,
    }
    let whole: Whole =
        serde_yaml::from_str(lever_yaml).map_err(|e| NotifyError::Config(e.to_string()))?;
    Ok(whole.smtp)
}

/// One person to notify.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Email address.
    pub email: String,
}

/// Sends notifications by email.
#[derive(Clone)]
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

fn mailbox(address: &str) -> Result<Mailbox, NotifyError> {
    address
        .parse()
        .map_err(|e: lettre::address::AddressError| NotifyError::Address {
            address: address.to_string(),
            error: e.to_string(),
        })
}

impl EmailNotifier {
    /// A notifier for `config`. Plain SMTP (the embedded default talks to a local relay).
    pub fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host).port(config.port);
        let password = match (&config.password, &config.password_env) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                NotifyError::Config(format!("smtp.password_env: ${var} is not set"))
            })?),
            (None, None) => None,
        };
        if let (Some(user), Some(password)) = (&config.username, password) {
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from: mailbox(&config.from)?,
        })
    }

    /// Sends one message to `to` (an address): the `notifier` capability's `send`. Links and
    /// buttons become lines of the text, each with its label.
    pub async fn send_message(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        links: &[(String, String)],
    ) -> Result<String, NotifyError> {
        let mut body = text.to_string();
        if !links.is_empty() {
            body.push('\n');
            for (label, url) in links {
                body.push_str(&format!("\n{label}: {url}"));
            }
            body.push('\n');
        }
        self.mail(mailbox(to)?, subject, body).await
    }

    /// Sends one plain-text email; returns its Message-ID.
    async fn mail(&self, to: Mailbox, subject: &str, body: String) -> Result<String, NotifyError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .message_id(None)
            .subject(subject)
            .body(body)
            .map_err(|e| NotifyError::Send(e.to_string()))?;
        let id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        self.transport
            .send(message)
            .await
            .map_err(|e| NotifyError::Send(e.to_string()))?;
        Ok(id)
    }

    /// Sends one notification (as stored by the approvals service) to one recipient, with the
    /// recipient's own links from `body.links.<id>`.
    pub async fn send(&self, recipient: &Recipient, body: &Value) -> Result<(), NotifyError> {
        let to = match &recipient.name {
            Some(name) => Mailbox::new(Some(name.clone()), mailbox(&recipient.email)?.email),
            None => mailbox(&recipient.email)?,
        };
        self.mail(
            to,
            body["subject"].as_str().unwrap_or("Lever approval"),
            text(recipient, body),
        )
        .await
        .map(|_| ())
    }
}

/// The email's text: what is asked, by whom, where, at what cost and risk, why, and the links.
fn text(recipient: &Recipient, body: &Value) -> String {
    let context = &body["context"];
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        format!(
                            "  - {}",
                            x.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let mut out = format!(
        "Hello {name},\n\n{subject}\n\nRequest: {request}\nRequested by: {requester}\nEnvironment: {environment}\nEstimated cost: ${cost}/month\nStage: {stage} (decide by the deadline, or it escalates)\n\nWhy approval is needed:\n{reasons}\n",
        name = recipient.name.as_deref().unwrap_or(&recipient.id),
        subject = body["subject"].as_str().unwrap_or_default(),
        request = context["request"].as_str().unwrap_or_default(),
        requester = context["requested_by"]["id"].as_str().unwrap_or_default(),
        environment = context["environment"].as_str().unwrap_or_default(),
        cost = context["monthly_cost_usd"],
        stage = body["stage"].as_str().unwrap_or_default(),
        reasons = list(&body["reasons"]),
    );
    let high_risk = list(
        &context["high_risk_steps"]
            .as_array()
            .map(|s| s.iter().map(|x| x["action"].clone()).collect::<Vec<_>>())
            .map(Value::Array)
            .unwrap_or(Value::Null),
    );
    if !high_risk.is_empty() {
        out.push_str(&format!("\nHigh-risk steps:\n{high_risk}\n"));
    }
    if let Some(resources) = context["resources"].as_array().filter(|r| !r.is_empty()) {
        out.push_str("\nWhat it creates:\n");
        for r in resources {
            out.push_str(&format!(
                "  - {} {} ({})\n",
                r["change"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or("")
            ));
        }
    }
    if let Some(links) = body["links"].get(&recipient.id) {
        out.push_str(&format!(
            "\nApprove: {}\nReject:  {}\n\nEach link opens a confirmation page; it works once, for you only.\n",
            links["approve"].as_str().unwrap_or(""),
            links["reject"].as_str().unwrap_or("")
        ));
    }
    out
}
