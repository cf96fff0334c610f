//! Makes an HTTP request to `url`, whose host it does not ask for: must end with host-not-granted.
use lever_sdk::http::{Request, send};
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    url: String,
}

#[action(
    name = "sandbox-http-denied",
    version = "0.1.0",
    description = "Calls a host it was not granted"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let response = send(&Request {
        method: "GET".into(),
        url: input.url,
        headers: vec![],
        body: vec![],
    })?;
    Ok(json!({ "status": response.status }))
}
