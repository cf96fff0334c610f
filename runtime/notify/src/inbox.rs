//! `builtin:inbox`: the `notifier` capability delivered to people's Lever inbox (the bell in
//! the web UI's navigation, `GET /api/v1/inbox`). `to` is a Lever user or a team or group of
//! `lever.yaml` (each member gets the message); its links are kept as links. A retried or
//! resumed step delivers once: each recipient's entry is keyed by the step's idempotency key.

use std::collections::HashMap;

use lever_capabilities::provider::{CapabilityError, Provider, ProviderCall, error, text};
use lever_store::{InboxLink, NewInboxEntry, Store};
use serde_json::{Value, json};

/// `builtin:inbox`: writes to the inbox table of Lever's own database.
pub struct InboxBuiltin {
    store: Store,
    /// User ids by user id, team and group (`lever.yaml`).
    members: HashMap<String, Vec<String>>,
    clock: std::sync::Arc<dyn lever_store::Clock>,
}

impl InboxBuiltin {
    /// Delivers into `store` to the members `members` names (user ids by user, team and
    /// group), stamping entries with `clock`.
    pub fn new(
        store: Store,
        members: HashMap<String, Vec<String>>,
        clock: std::sync::Arc<dyn lever_store::Clock>,
    ) -> Self {
        Self {
            store,
            members,
            clock,
        }
    }
}

#[lever_capabilities::async_trait]
impl Provider for InboxBuiltin {
    fn name(&self) -> &'static str {
        "builtin:inbox"
    }

    fn capability(&self) -> &'static str {
        "notifier"
    }

    async fn call(&self, call: ProviderCall<'_>) -> Result<Value, CapabilityError> {
        let ProviderCall {
            function,
            input,
            scope,
            ..
        } = call;
        if function != "send" {
            return Err(error(
                "invalid-input",
                format!("notifier has no function `{function}`"),
            ));
        }
        let to = text(input, "to");
        let recipients = self
            .members
            .get(to)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                error(
                    "invalid-input",
                    format!("`{to}` is neither a user nor a team or group with members in lever.yaml; send to one of them"),
                )
            })?;
        let links: Vec<InboxLink> = input["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| InboxLink {
                label: text(l, "label").to_string(),
                url: text(l, "url").to_string(),
                kind: text(l, "kind").to_string(),
            })
            .collect();
        let key = &scope.context.idempotency_key;
        let entry = NewInboxEntry {
            run_id: Some(scope.context.run_id.as_str()).filter(|r| !r.is_empty()),
            kind: "message",
            subject: text(input, "subject"),
            body: text(input, "text"),
            at: self.clock.now_ms(),
            delivery_key: Some(key.as_str()).filter(|k| !k.is_empty()),
        };
        let addressed: Vec<(String, Vec<InboxLink>)> = recipients
            .iter()
            .map(|user| (user.clone(), links.clone()))
            .collect();
        let id = self
            .store
            .deliver_to_inbox(&entry, &addressed)
            .await
            .map_err(|e| error("retryable", format!("the inbox could not be written: {e}")))?;
        scope.log.push(
            "builtin:inbox",
            "info",
            &format!("delivered to the Lever inbox of {}", recipients.join(", ")),
        );
        Ok(json!(id.map_or_else(
            || "already-delivered".to_string(),
            |id| format!("inbox-{id}")
        )))
    }
}
