//! `notification:send`: Backstage's notification, sent through the bound `notifier`
//! (Slack, email…).

use lever_sdk::capabilities::notifier::{self, ActionLink, Message};
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

/// Input of `notification:send` (Backstage's names).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// `broadcast` or `entity`.
    recipients: String,
    /// The users or groups (`user:default/jane`, `group:default/team`) for `entity`.
    #[serde(default)]
    entity_refs: Option<Vec<String>>,
    /// One line.
    title: String,
    /// The text.
    #[serde(default)]
    info: Option<String>,
    /// The text (the name some templates use).
    #[serde(default)]
    description: Option<String>,
    /// A link.
    #[serde(default)]
    link: Option<String>,
    /// `low`, `normal`, `high` or `critical`.
    #[serde(default)]
    severity: Option<String>,
    /// Backstage's deduplication scope.
    #[serde(default)]
    scope: Option<String>,
    /// A failure to send does not fail the step.
    #[serde(default)]
    optional: Option<bool>,
}

#[action(
    name = "notification-send",
    version = "0.1.0",
    description = "Sends a notification through the bound notifier (Backstage's notification:send)"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let to: Vec<String> = match input.recipients.as_str() {
        "broadcast" => vec!["broadcast".into()],
        "entity" => {
            let refs = input.entity_refs.clone().unwrap_or_default();
            if refs.is_empty() {
                return Err(ActionError::InvalidInput(
                    "recipients `entity` needs entityRefs: the users or groups to tell".into(),
                ));
            }
            // `user:default/jane` → `jane`: the name the notifier's directory knows.
            refs.iter()
                .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
                .collect()
        }
        other => {
            return Err(ActionError::InvalidInput(format!(
                "recipients `{other}` is `broadcast` or `entity`"
            )));
        }
    };
    let severity = input.severity.clone().unwrap_or_else(|| "normal".into());
    let text = input
        .info
        .clone()
        .or(input.description.clone())
        .unwrap_or_default();
    let mut sent = Vec::new();
    for recipient in &to {
        let message = Message {
            to: recipient.clone(),
            subject: if severity == "normal" {
                input.title.clone()
            } else {
                format!("[{severity}] {}", input.title)
            },
            text: text.clone(),
            links: input
                .link
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| ActionLink {
                    label: "Open".into(),
                    url: l.clone(),
                    kind: "link".into(),
                })
                .collect(),
        };
        match notifier::send(&message) {
            Ok(id) => sent.push(id),
            Err(e) if input.optional == Some(true) => {
                lever_sdk::log::warn(&format!(
                    "notification to {recipient} not sent (optional): {e:?}"
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let _ = &input.scope;
    Ok(json!({"sent": sent}))
}
