//! `http-request`: one HTTP call through the host's allow-list. The plugin asks for no host;
//! the platform team grants the hosts it may reach when publishing it.

use std::collections::BTreeMap;

use lever_sdk::http::{Request, send};
use lever_sdk::{ActionError, Context, action};

/// Input of `http-request`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// HTTP method, `GET` by default.
    #[serde(default = "get")]
    method: String,
    /// Absolute URL; its host must be granted to this plugin.
    url: String,
    /// Request headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Body: a string is sent as is, anything else as JSON.
    #[serde(default)]
    body: Option<serde_json::Value>,
    /// Return 4xx and 5xx responses as output instead of failing the step.
    #[serde(rename = "allowErrorStatus", default)]
    allow_error_status: bool,
}

fn get() -> String {
    "GET".into()
}

/// Output of `http-request`.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Output {
    /// Response status code.
    status: u16,
    /// Response headers (lowercase names).
    headers: BTreeMap<String, String>,
    /// Response body: parsed when it is JSON, text otherwise.
    body: serde_json::Value,
}

#[action(
    name = "http-request",
    version = "0.1.0",
    description = "Makes one HTTP request to a granted host and returns the response"
)]
fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let mut headers: Vec<(String, String)> = input.headers.into_iter().collect();
    let body = match input.body {
        None => Vec::new(),
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        Some(json) => {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            json.to_string().into_bytes()
        }
    };
    lever_sdk::log::info(&format!(
        "{} {}",
        input.method.to_ascii_uppercase(),
        input.url
    ));
    let response = send(&Request {
        method: input.method,
        url: input.url.clone(),
        headers,
        body,
    })?;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone()));
    if response.status >= 400 && !input.allow_error_status {
        let excerpt: String = text.chars().take(300).collect();
        let message = format!("{} answered {}: {excerpt}", input.url, response.status);
        return Err(if response.status == 429 || response.status >= 500 {
            ActionError::Retryable(message)
        } else {
            ActionError::Fatal(message)
        });
    }
    lever_sdk::log::info(&format!("answered {}", response.status));
    let headers = response
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    Ok(Output {
        status: response.status,
        headers,
        body,
    })
}
