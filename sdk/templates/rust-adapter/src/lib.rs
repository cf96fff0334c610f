//! `{{name}}`: a provider adapter implementing the `notifier` capability over a chat API
//! (`POST {base_url}/messages` with a bearer token), so templates' `notifier.send` steps and
//! approval notices reach it once a binding names it.

use lever_adapter_sdk::bindings::lever::host::progress;
use lever_adapter_sdk::capabilities::notifier::Message;
use lever_adapter_sdk::http::{self, HttpError, Request};
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{
    AdapterManifest, Context, Error, Grants, Guest, input, output, settings, unsupported,
};

struct Adapter;

impl Guest for Adapter {
    fn describe() -> AdapterManifest {
        // What a binding may set: `lever.yaml` → bindings.notifier.settings.
        let settings_schema = json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "description": "The chat API (default https://chat.example.com)"},
                "token": {"type": "string", "description": "secret://NAME of the API token"}
            },
            "required": ["token"],
            "additionalProperties": false
        });
        AdapterManifest {
            name: "{{name}}".into(),
            version: "0.1.0".into(),
            description: "Sends notifier messages to a chat API".into(),
            capabilities: vec!["notifier".into()],
            settings_schema: settings_schema.to_string(),
            grants: Grants {
                hosts: vec!["chat.example.com".into()],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(ctx: Context, function: String, settings: String, input_json: String) -> Result<String, Error> {
        if function != "send" {
            return Err(unsupported("{{name}}", &function));
        }
        let settings = settings::parse(&settings)?;
        let message: Message = input(&function, &input_json)?;
        // The binding refers to the token as `secret://NAME`; the host grants exactly that name.
        let token = settings::secret(&settings, "token")?;
        let base = settings::string(&settings, "base_url", "https://chat.example.com");
        progress::report(10, &format!("sending `{}` to {}", message.subject, message.to));
        let url = format!("{base}/messages");
        let body = json!({
            "channel": message.to,
            "subject": message.subject,
            "text": message.text,
            "links": message.links.iter().map(|l| json!({"label": l.label, "url": l.url})).collect::<Vec<_>>(),
            "idempotency_key": ctx.idempotency_key,
        });
        let response = http::send(&Request {
            method: "POST".into(),
            url: url.clone(),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
        })
        .map_err(|e| match e {
            HttpError::Denied(m) => Error::Denied(m),
            HttpError::Invalid(m) => Error::InvalidInput(m),
            HttpError::Transport(m) => Error::Retryable(format!("{url}: {m}")),
        })?;
        match response.status {
            200 | 201 => {}
            429 | 500..=599 => {
                return Err(Error::Retryable(format!(
                    "{url} answered {}: try again later",
                    response.status
                )));
            }
            401 | 403 => {
                return Err(Error::Denied(format!(
                    "{url} answered {}: check the token the binding's `token` refers to",
                    response.status
                )));
            }
            status => return Err(Error::Fatal(format!("{url} answered {status}"))),
        }
        let answer: Value = lever_adapter_sdk::serde_json::from_slice(&response.body)
            .map_err(|e| Error::Fatal(format!("{url} answered something not JSON: {e}")))?;
        let id = answer["id"]
            .as_str()
            .ok_or_else(|| Error::Fatal(format!("{url} answered without an `id`")))?;
        // `send` returns the provider's id for the message.
        output(&id)
    }
}

lever_adapter_sdk::bindings::export!(Adapter with_types_in lever_adapter_sdk::bindings);
