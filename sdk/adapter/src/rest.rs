//! A REST client for adapters: JSON in and out through `wasi:http`, rate limits and server
//! errors retried a few times honouring `Retry-After`, and every other answer mapped onto the
//! WIT `error` with the provider's own message.

use std::time::Duration;

use serde_json::Value;

use crate::Error;
use crate::http::{HttpError, Request, Response, send};

/// Attempts for one call when the provider answers 429 or 5xx.
const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` the adapter waits itself; longer ones go back to the host as
/// `retryable`, whose step retry policy decides.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// One provider's API: base URL, headers sent on every call, and how to read its error bodies.
pub struct Api {
    /// Provider name for messages (`GitHub`).
    pub provider: &'static str,
    /// Base URL without a trailing slash.
    pub base: String,
    /// Headers sent on every call (auth, API version, accept).
    pub headers: Vec<(String, String)>,
    /// Pulls the human message out of an error body.
    pub message: fn(&Value) -> Option<String>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
}

impl Answer {
    /// A response header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Api {
    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Answer, Error> {
        self.call("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, Error> {
        self.call("POST", path, Some(body))
    }

    /// Sends one call; a body goes as `application/json` unless `headers` name the provider's
    /// own content type (`application/vnd.api+json`). 429, 5xx and an exhausted rate limit are
    /// tried again (up to three attempts) after the wait the provider asks for, when it is short.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, Error> {
        let mut headers = self.headers.clone();
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        headers.push(("user-agent".into(), "lever-adapter".into()));
        let request = Request {
            method: method.into(),
            url: format!("{}{}", self.base, path),
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        };
        let mut attempt = 1;
        loop {
            let response = send(&request).map_err(|e| match e {
                HttpError::Denied(m) => Error::Denied(m),
                HttpError::Invalid(m) => Error::InvalidInput(m),
                HttpError::Transport(m) => Error::Retryable(format!("{}: {m}", self.provider)),
            })?;
            if (200..300).contains(&response.status) {
                let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
                return Ok(Answer {
                    status: response.status,
                    headers: response.headers,
                    body,
                });
            }
            let retryable =
                response.status == 429 || response.status >= 500 || rate_limited(&response);
            let wait =
                retry_after(&response).unwrap_or(Duration::from_millis(500 * u64::from(attempt)));
            if retryable && attempt < ATTEMPTS && wait <= MAX_WAIT {
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            return Err(self.error(method, path, &response, retryable.then_some(wait)));
        }
    }

    fn error(
        &self,
        method: &str,
        path: &str,
        response: &Response,
        retry: Option<Duration>,
    ) -> Error {
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let said = (self.message)(&body)
            .or_else(|| {
                Some(
                    String::from_utf8_lossy(&response.body)
                        .trim()
                        .chars()
                        .take(300)
                        .collect::<String>(),
                )
                .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "no message".into());
        let message = format!(
            "{} answered {} to {method} {path}: {said}",
            self.provider, response.status
        );
        match (response.status, retry) {
            (_, Some(wait)) => Error::Retryable(format!(
                "{message} (retry after {} s)",
                wait.as_secs().max(1)
            )),
            (400 | 422, _) => Error::InvalidInput(message),
            (401 | 403, _) => Error::Denied(message),
            (404, _) => Error::NotFound(message),
            _ => Error::Fatal(message),
        }
    }
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// GitHub answers an exhausted primary rate limit with 403 and `x-ratelimit-remaining: 0`.
fn rate_limited(response: &Response) -> bool {
    response.status == 403 && header(response, "x-ratelimit-remaining") == Some("0")
}

/// How long the provider asks us to wait: `Retry-After` in seconds, else `x-ratelimit-reset`
/// (seconds to wait at Datadog, a Unix time at GitHub).
fn retry_after(response: &Response) -> Option<Duration> {
    if let Some(seconds) = header(response, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    let reset = header(response, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())?;
    if reset < 1_000_000_000 {
        return Some(Duration::from_secs(reset));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

/// Percent-encodes a path segment (`group/project` → `group%2Fproject`, as GitLab wants ids).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
