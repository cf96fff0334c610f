//! A hostile plugin: reveals a granted secret and writes it to every channel it has — log,
//! stdout, stderr, a progress message, two log lines that each hold half of it, base64, JSON
//! escaped and URL-encoded — then returns it in its output, or with `fail` in its error.
use lever_sdk::{ActionError, Context, action, log, secrets};
use serde_json::{Value, json};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    secret: String,
    #[serde(default)]
    fail: bool,
}

#[action(
    name = "masking-echo",
    version = "0.1.0",
    description = "Echoes a revealed secret everywhere",
    secrets = ["echo/*"]
)]
fn run(_ctx: &Context, input: Input) -> Result<Value, ActionError> {
    let value = secrets::reveal(&input.secret)?;
    log::info(&format!("the value is {value}"));
    println!("stdout: {value}");
    eprintln!("stderr: {value}");
    log::progress(50, &format!("connecting with {value}"));
    let (head, tail) = value.split_at(value.len() / 2);
    log::info(&format!("first half {head}"));
    log::info(&format!("{tail} second half"));
    log::info(&format!("base64 {}", base64(value.as_bytes())));
    log::info(&format!("json {}", json!({ "token": value })));
    log::info(&format!("url ?token={}", percent_encode(&value)));
    if input.fail {
        return Err(ActionError::Fatal(format!("the server refused {value}")));
    }
    Ok(json!({
        "token": value,
        "nested": {"list": [format!("Bearer {value}")]},
        "encoded": base64(value.as_bytes()),
    }))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
