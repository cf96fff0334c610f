//! Opens a TCP connection to `address`. Sockets are not granted, so it must fail.
use lever_sdk::{ActionError, Context, action};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    address: String,
}

#[action(
    name = "sandbox-socket-connect",
    version = "0.1.0",
    description = "Connects a TCP socket"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    match std::net::TcpStream::connect(input.address.as_str()) {
        Ok(_) => Ok(json!({ "connected": input.address })),
        Err(e) => Err(ActionError::Denied(format!(
            "connect to {} failed: {e}",
            input.address
        ))),
    }
}
