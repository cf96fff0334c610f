//! Slack adapter: the `notifier` capability over `chat.postMessage` with Block Kit.
//!
//! A message becomes a section (bold subject, then the text as Slack mrkdwn) and, when it has
//! links, an actions block: `approve` and `reject` links are buttons whose `value` is the link
//! (action ids `lever-approve` / `lever-reject`, for the Lever Slack app's interactivity
//! endpoint), `link` links are URL buttons. The id returned is `CHANNEL:TS`.

use lever_adapter_sdk::bindings::lever::host::state::{self, Scope};
use lever_adapter_sdk::capabilities::notifier::{ActionLink, Message};
use lever_adapter_sdk::rest::Api;
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{AdapterManifest, Context, Error, Grants, Guest, input, output, settings};

/// Slack's limits (Block Kit reference): section text, button label, value and URL lengths, and
/// elements in one actions block.
const SECTION_TEXT: usize = 3000;
const BUTTON_LABEL: usize = 75;
const BUTTON_VALUE: usize = 2000;
const BUTTON_URL: usize = 3000;
const BUTTONS: usize = 25;

struct Slack;

impl Guest for Slack {
    fn describe() -> AdapterManifest {
        let schema = json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "description": "API address (default https://slack.com)"},
                "token": {"type": "string", "description": "secret://NAME of the bot token (xoxb-...) with chat:write"},
                "default_channel": {"type": "string", "description": "Channel used when a message has no `to`"},
                "signing_secret": {"type": "string", "description": "secret://NAME of the app's signing secret: not used by the adapter; Lever's /slack/interactions endpoint verifies button presses with it"}
            },
            "required": ["token"],
            "additionalProperties": false
        });
        AdapterManifest {
            name: "slack".into(),
            version: "0.1.0".into(),
            description: "Slack: messages with approve/reject buttons".into(),
            capabilities: vec!["notifier".into()],
            settings_schema: schema.to_string(),
            grants: Grants {
                hosts: vec!["slack.com".into()],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        if function != "send" {
            return Err(lever_adapter_sdk::unsupported("slack", &function));
        }
        let settings = settings::parse(&settings)?;
        let message: Message = input(&function, &input_json)?;
        let channel = match message.to.trim() {
            "" => settings
                .get("default_channel")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::InvalidInput(
                        "the message has no `to` and the binding has no `default_channel`".into(),
                    )
                })?,
            to => to.to_string(),
        };
        if message.subject.trim().is_empty() && message.text.trim().is_empty() {
            return Err(Error::InvalidInput(
                "the message needs a `subject` or a `text`".into(),
            ));
        }
        let body = post_body(&channel, &message)?;
        // One step posts a message once: a retried step gets the first message's id back.
        let memo = format!(
            "slack/send/{}/{}/{:016x}",
            ctx.run_id,
            ctx.step_id,
            fnv(&input_json)
        );
        if let Some(id) = state::get(Scope::Run, &memo)
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
        {
            return output(&id);
        }
        let token = settings::secret(&settings, "token")?;
        let api = Api {
            provider: "Slack",
            base: settings::string(&settings, "base_url", "https://slack.com"),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                // Without the charset Slack warns `missing_charset`; without JSON it reads a form.
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
            ],
            message: slack_error,
        };
        let answer = api.post("/api/chat.postMessage", &body)?.body;
        if answer.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(error_of(&answer));
        }
        let (Some(channel), Some(ts)) = (
            answer.get("channel").and_then(Value::as_str),
            answer.get("ts").and_then(Value::as_str),
        ) else {
            return Err(Error::Fatal(
                "Slack answered ok without `channel` and `ts`".into(),
            ));
        };
        let id = format!("{channel}:{ts}");
        let _ = state::set(Scope::Run, &memo, id.as_bytes());
        output(&id)
    }
}

/// The `chat.postMessage` body: fallback text for notifications plus the blocks.
fn post_body(channel: &str, message: &Message) -> Result<Value, Error> {
    let fallback = if message.text.is_empty() {
        message.subject.clone()
    } else {
        format!("{}\n{}", message.subject, message.text)
    };
    let section = if message.subject.is_empty() {
        message.text.clone()
    } else {
        format!("*{}*\n{}", message.subject, message.text)
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(section.trim(), SECTION_TEXT)}}),
    ];
    if !message.links.is_empty() {
        if message.links.len() > BUTTONS {
            return Err(Error::InvalidInput(format!(
                "Slack shows at most {BUTTONS} buttons; the message has {}",
                message.links.len()
            )));
        }
        let buttons = (0..message.links.len())
            .map(|i| button(&message.links, i))
            .collect::<Result<Vec<_>, _>>()?;
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    Ok(
        json!({"channel": channel, "text": truncate(fallback.trim(), SECTION_TEXT), "blocks": blocks}),
    )
}

/// Link `index` as a button. Action ids must be unique in the block, so a second button of the
/// same kind gets its position appended.
fn button(links: &[ActionLink], index: usize) -> Result<Value, Error> {
    let link = &links[index];
    // Slack refuses an empty button label: fall back to the kind.
    let label = if link.label.trim().is_empty() {
        &link.kind
    } else {
        &link.label
    };
    let label = json!({"type": "plain_text", "text": truncate(label, BUTTON_LABEL)});
    let repeated = links[..index].iter().any(|l| l.kind == link.kind);
    let suffix = if repeated {
        format!("-{index}")
    } else {
        String::new()
    };
    let (style, action) = match link.kind.as_str() {
        "approve" => ("primary", "lever-approve"),
        "reject" => ("danger", "lever-reject"),
        "link" => {
            if link.url.len() > BUTTON_URL {
                return Err(Error::InvalidInput(format!(
                    "link `{}`: Slack takes URLs up to {BUTTON_URL} characters",
                    link.label
                )));
            }
            return Ok(
                json!({"type": "button", "text": label, "action_id": format!("lever-link-{index}"), "url": link.url}),
            );
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "link `{}`: kind `{other}` is not approve, reject or link",
                link.label
            )));
        }
    };
    if link.url.len() > BUTTON_VALUE {
        return Err(Error::InvalidInput(format!(
            "link `{}`: Slack takes button values up to {BUTTON_VALUE} characters",
            link.label
        )));
    }
    Ok(
        json!({"type": "button", "text": label, "style": style, "action_id": format!("{action}{suffix}"), "value": link.url}),
    )
}

/// `text` cut to `max` characters (not bytes), with an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max - 1).chain(['…']).collect()
}

/// Slack answers most errors with HTTP 200 and `{"ok": false, "error": CODE}`: maps the code.
fn error_of(answer: &Value) -> Error {
    let message = format!(
        "Slack refused chat.postMessage: {}",
        slack_error(answer).unwrap_or_else(|| "no error code".into())
    );
    match answer.get("error").and_then(Value::as_str).unwrap_or("") {
        "ratelimited"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout" => Error::Retryable(message),
        "invalid_auth" | "not_authed" | "account_inactive" | "missing_scope" | "token_revoked"
        | "token_expired" | "no_permission" | "not_in_channel" | "restricted_action"
        | "ekm_access_denied" => Error::Denied(message),
        "channel_not_found" | "user_not_found" => Error::NotFound(message),
        "invalid_blocks"
        | "invalid_blocks_format"
        | "invalid_arguments"
        | "no_text"
        | "msg_too_long"
        | "too_many_attachments"
        | "invalid_charset"
        | "invalid_form_data" => Error::InvalidInput(message),
        _ => Error::Fatal(message),
    }
}

/// The error code and Slack's detail messages (`response_metadata.messages`).
fn slack_error(body: &Value) -> Option<String> {
    let code = body.get("error").and_then(Value::as_str)?;
    let details: Vec<&str> = body
        .pointer("/response_metadata/messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    Some(if details.is_empty() {
        code.to_string()
    } else {
        format!("{code} ({})", details.join("; "))
    })
}

/// FNV-1a: a short, stable digest of the input for the memo key.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

lever_adapter_sdk::bindings::export!(Slack with_types_in lever_adapter_sdk::bindings);
