//! Writes `count` keys of `size` bytes into one state scope until the host refuses, then
//! reports how many it wrote, the refusal, and whether the first key still reads back.
use lever_sdk::state::Scope;
use lever_sdk::{ActionError, Context, action, state};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// `run` or `plugin`.
    scope: String,
    count: u32,
    size: u32,
    prefix: String,
}

#[action(
    name = "state-quota",
    version = "0.1.0",
    description = "Fills a state scope"
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let scope = if input.scope == "plugin" {
        Scope::Plugin
    } else {
        Scope::Run
    };
    let value = vec![b'v'; input.size as usize];
    let mut written = 0;
    let mut refusal = Value::Null;
    for i in 0..input.count {
        match state::set(scope, &format!("{}-{i}", input.prefix), &value) {
            Ok(()) => written += 1,
            Err(e) => {
                refusal = json!(format!("{e:?}"));
                break;
            }
        }
    }
    let first = state::get(scope, &format!("{}-0", input.prefix))?;
    Ok(json!({
        "written": written,
        "refusal": refusal,
        "first_intact": first.as_deref() == Some(value.as_slice()),
    }))
}
