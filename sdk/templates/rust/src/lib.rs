//! `{{name}}`: asks a greetings API for a greeting, with a granted token.

use lever_sdk::{ActionError, Context, action, http, log, secrets};

/// Input of `{{name}}`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Who to greet.
    name: String,
    /// The greetings API (its host must be granted: `hosts` below, or `--grant-host` at publish).
    #[serde(default = "default_api")]
    api_url: String,
}

fn default_api() -> String {
    "https://greetings.example.com".into()
}

/// Output of `{{name}}`.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Output {
    /// What the API answered.
    greeting: String,
}

#[action(
    name = "{{name}}",
    version = "0.1.0",
    description = "Asks a greetings API for a greeting",
    hosts = ["greetings.example.com"],
    secrets = ["greetings-token"]
)]
fn run(ctx: &Context, input: Input) -> Result<Output, ActionError> {
    log::progress(10, "asking for a greeting");
    let token = secrets::reveal("greetings-token")?;
    let url = format!(
        "{}/greeting?name={}",
        input.api_url.trim_end_matches('/'),
        input.name
    );
    let response = http::send(&http::Request {
        method: "GET".into(),
        url: url.clone(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: Vec::new(),
    })?;
    match response.status {
        200 => {}
        429 | 500..=599 => {
            return Err(ActionError::Retryable(format!(
                "{url} answered {}: try again later",
                response.status
            )));
        }
        status => {
            return Err(ActionError::Fatal(format!(
                "{url} answered {status}: check the token `greetings-token` and the API URL"
            )));
        }
    }
    let body: serde_json::Value = serde_json::from_slice(&response.body)
        .map_err(|e| ActionError::Fatal(format!("{url} answered something not JSON: {e}")))?;
    let greeting = body["greeting"].as_str().unwrap_or_default().to_string();
    log::info(&format!("run {}: {greeting}", ctx.run_id));
    log::progress(100, "greeted");
    Ok(Output { greeting })
}
