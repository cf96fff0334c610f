//! `builtin:email`: the `notifier` capability over SMTP. `to` is an address, or a Lever user or
//! team from `lever.yaml` (each member with an email gets the message); links and buttons
//! become labelled lines (an email has no buttons; approve/reject links open Lever's page).

use lever_notify::EmailNotifier;
use lever_sandbox::CapabilityError;
use serde_json::{Value, json};

use super::text;
use crate::{Directory, error};

pub(crate) async fn call(
    email: &EmailNotifier,
    directory: &Directory,
    function: &str,
    input: &Value,
) -> Result<Value, CapabilityError> {
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
                lever_notify::NotifyError::Address { .. } => error("invalid-input", e.to_string()),
                other => error("retryable", other.to_string()),
            })?;
        ids.push(id);
    }
    Ok(json!(ids.join(",")))
}
