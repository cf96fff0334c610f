//! `builtin:email`: the `notifier` capability over SMTP. `to` is an address; links and buttons
//! become labelled lines (an email has no buttons; approve/reject links open Lever's page).

use lever_notify::EmailNotifier;
use lever_sandbox::CapabilityError;
use serde_json::{Value, json};

use super::text;
use crate::error;

pub(crate) async fn call(email: &EmailNotifier, function: &str, input: &Value) -> Result<Value, CapabilityError> {
    if function != "send" {
        return Err(error("invalid-input", format!("notifier has no function `{function}`")));
    }
    let links: Vec<(String, String)> = input["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (text(l, "label").to_string(), text(l, "url").to_string()))
        .collect();
    let id = email
        .send_message(text(input, "to"), text(input, "subject"), text(input, "text"), &links)
        .await
        .map_err(|e| match e {
            lever_notify::NotifyError::Address { .. } => error("invalid-input", e.to_string()),
            other => error("retryable", other.to_string()),
        })?;
    Ok(json!(id))
}
