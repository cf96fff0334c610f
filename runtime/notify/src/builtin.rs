//! `builtin:email`: the `notifier` capability over SMTP. `to` is an address, or a Lever user or
//! team from `lever.yaml` (each member with an email gets the message); links and buttons
//! become labelled lines (an email has no buttons; approve/reject links open Lever's page).

use lever_capabilities::provider::{CapabilityError, Provider, ProviderCall, error, text};
use serde_json::{Value, json};

use crate::EmailNotifier;

/// `builtin:email`: sends through the SMTP server of `lever.yaml`'s `smtp:` section; without
/// one, every call is refused saying so.
pub struct EmailBuiltin(pub Option<EmailNotifier>);

#[lever_capabilities::async_trait]
impl Provider for EmailBuiltin {
    fn name(&self) -> &'static str {
        "builtin:email"
    }

    fn capability(&self) -> &'static str {
        "notifier"
    }

    async fn call(&self, call: ProviderCall<'_>) -> Result<Value, CapabilityError> {
        let Some(email) = &self.0 else {
            return Err(error(
                "denied",
                "`builtin:email` needs the `smtp:` section of lever.yaml",
            ));
        };
        send(email, call).await
    }
}

async fn send(email: &EmailNotifier, call: ProviderCall<'_>) -> Result<Value, CapabilityError> {
    let ProviderCall {
        function,
        input,
        directory,
        ..
    } = call;
    if function != "send" {
        return Err(error(
            "invalid-input",
            format!("notifier has no function `{function}`"),
        ));
    }
    let links: Vec<(String, String)> = input["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (text(l, "label").to_string(), text(l, "url").to_string()))
        .collect();
    let to = text(input, "to");
    let addresses: Vec<String> = if to.contains('@') {
        vec![to.to_string()]
    } else {
        directory.get(to).cloned().filter(|a| !a.is_empty()).ok_or_else(|| {
            error("invalid-input", format!("`{to}` is neither an email address nor a user or team of lever.yaml with an email"))
        })?
    };
    let mut ids = Vec::new();
    for address in &addresses {
        let id = email
            .send_message(address, text(input, "subject"), text(input, "text"), &links)
            .await
            .map_err(|e| match e {
                crate::NotifyError::Address { .. } => error("invalid-input", e.to_string()),
                other => error("retryable", other.to_string()),
            })?;
        ids.push(id);
    }
    Ok(json!(ids.join(",")))
}
