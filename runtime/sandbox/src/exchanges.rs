//! Recorded HTTP exchanges: what an invocation's outbound calls were (kept per attempt, so a
//! plugin author can replay a real step), and answering a guest's requests from recorded ones
//! instead of the network (the local harness, replays).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use lever_plugin::Masker;

/// Headers whose values are never recorded: they carry credentials even when no secret was
/// revealed through `lever:host/secrets` (a token baked into settings, a session cookie).
const REDACTED_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// One request and the answer it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExchange {
    /// What the guest sent.
    pub request: RecordedRequest,
    /// What came back; `None` when the request failed or had no recorded answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
}

/// A request as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Header names (lowercase) and values; credentials are redacted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body: JSON when it parses as JSON, else text. In an answer file, a request with a
    /// body only matches a guest request with that body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A response as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResponse {
    /// Status code.
    #[serde(default = "ok")]
    pub status: u16,
    /// Header names (lowercase) and values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body: JSON (sent as JSON) or text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

fn ok() -> u16 {
    200
}

impl RecordedRequest {
    /// `METHOD URL`, how the harness and error messages name a request.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

impl RecordedResponse {
    /// The body's bytes on the wire, and the content type it implies when none is recorded.
    pub fn body_bytes(&self) -> (Vec<u8>, Option<&'static str>) {
        match &self.body {
            None => (Vec::new(), None),
            Some(Value::String(text)) => (text.clone().into_bytes(), Some("text/plain")),
            Some(json) => (json.to_string().into_bytes(), Some("application/json")),
        }
    }
}

/// Reads a body as the recording keeps it: JSON when it parses, else (lossy) text, cut to
/// `limit` bytes with a note when longer.
pub(crate) fn body_value(bytes: &[u8], limit: usize) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    if bytes.len() <= limit
        && let Ok(json) = serde_json::from_slice::<Value>(bytes)
    {
        return Some(json);
    }
    let shown = &bytes[..bytes.len().min(limit)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if bytes.len() > limit {
        text.push_str(&format!("… ({} bytes, cut at {limit})", bytes.len()));
    }
    Some(Value::String(text))
}

/// Header pairs as recorded: lowercase names, credentials redacted, values masked.
pub(crate) fn header_map<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    masker: &Masker,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = if REDACTED_HEADERS.contains(&name.as_str()) {
            lever_plugin::MASK.to_string()
        } else {
            masker.mask(&String::from_utf8_lossy(value))
        };
        map.entry(name)
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value)
            })
            .or_insert(value);
    }
    map
}

/// Where an invocation's exchanges are written as they happen (bodies bounded, secret values
/// masked by the call's log masker). Cheap to clone; clones share the list.
#[derive(Debug, Clone)]
pub struct HttpRecording {
    exchanges: Arc<Mutex<Vec<HttpExchange>>>,
    /// Bytes of each body kept.
    pub body_limit: usize,
    /// Exchanges kept; later ones are counted, not kept.
    pub max_exchanges: usize,
}

impl HttpRecording {
    /// An empty recording keeping `body_limit` bytes of each body and at most `max_exchanges`.
    pub fn new(body_limit: usize, max_exchanges: usize) -> Self {
        Self {
            exchanges: Arc::default(),
            body_limit,
            max_exchanges,
        }
    }

    pub(crate) fn push(&self, exchange: HttpExchange) {
        let mut list = self.exchanges.lock().expect("recording lock");
        if list.len() < self.max_exchanges {
            list.push(exchange);
        }
    }

    /// What has been recorded so far.
    pub fn exchanges(&self) -> Vec<HttpExchange> {
        self.exchanges.lock().expect("recording lock").clone()
    }
}

/// Recorded answers a guest's requests are served from, each used once, in order: the first
/// unused exchange with the same method and URL (and body, when the recording has one).
#[derive(Debug, Default)]
pub struct HttpAnswers {
    answers: Mutex<Vec<(HttpExchange, bool)>>,
}

impl HttpAnswers {
    /// Answers from these exchanges; those without a response answer nothing.
    pub fn new(exchanges: Vec<HttpExchange>) -> Self {
        Self {
            answers: Mutex::new(exchanges.into_iter().map(|e| (e, false)).collect()),
        }
    }

    /// The answer to `request`, marking it used; `None` when nothing recorded answers it.
    pub fn answer(&self, request: &RecordedRequest) -> Option<RecordedResponse> {
        let mut answers = self.answers.lock().expect("answers lock");
        let found = answers.iter_mut().find(|(recorded, used)| {
            !used
                && recorded.response.is_some()
                && recorded
                    .request
                    .method
                    .eq_ignore_ascii_case(&request.method)
                && recorded.request.url == request.url
                && recorded
                    .request
                    .body
                    .as_ref()
                    .is_none_or(|body| Some(body) == request.body.as_ref())
        })?;
        found.1 = true;
        found.0.response.clone()
    }

    /// Recorded exchanges nobody asked for.
    pub fn unused(&self) -> Vec<RecordedRequest> {
        let answers = self.answers.lock().expect("answers lock");
        answers
            .iter()
            .filter(|(_, used)| !used)
            .map(|(e, _)| e.request.clone())
            .collect()
    }
}

/// What an invocation does with outbound HTTP besides checking grants: record the exchanges,
/// answer from recorded ones, both, or neither (the default: sent, not recorded).
#[derive(Debug, Clone, Default)]
pub struct HttpPolicy {
    /// Where to record each exchange.
    pub record: Option<HttpRecording>,
    /// Answer from these instead of the network; a request none answers fails, named in
    /// [`crate::InvokeError::UnrecordedRequest`].
    pub answers: Option<Arc<HttpAnswers>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, body: Option<Value>) -> RecordedRequest {
        RecordedRequest {
            method: method.into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body,
        }
    }

    fn exchange(req: RecordedRequest, status: u16) -> HttpExchange {
        HttpExchange {
            request: req,
            response: Some(RecordedResponse {
                status,
                headers: BTreeMap::new(),
                body: None,
            }),
        }
    }

    #[test]
    fn answers_are_used_once_in_order_and_a_recorded_body_must_match() {
        let answers = HttpAnswers::new(vec![
            exchange(request("GET", "http://a/x", None), 500),
            exchange(request("get", "http://a/x", None), 200),
            exchange(
                request("POST", "http://a/y", Some(serde_json::json!({"n": 1}))),
                201,
            ),
        ]);
        let get = request("GET", "http://a/x", None);
        assert_eq!(answers.answer(&get).map(|r| r.status), Some(500));
        assert_eq!(answers.answer(&get).map(|r| r.status), Some(200));
        assert_eq!(answers.answer(&get), None);
        let wrong = request("POST", "http://a/y", Some(serde_json::json!({"n": 2})));
        assert_eq!(answers.answer(&wrong), None);
        assert_eq!(answers.unused().len(), 1);
        let right = request("POST", "http://a/y", Some(serde_json::json!({"n": 1})));
        assert_eq!(answers.answer(&right).map(|r| r.status), Some(201));
        assert!(answers.unused().is_empty());
    }

    #[test]
    fn recorded_headers_hide_credentials_and_bodies_are_bounded() {
        let masker = Masker::new();
        masker.register("hunter2-token");
        let headers = header_map(
            [
                ("Authorization", b"Bearer abc".as_slice()),
                ("X-Token", b"hunter2-token".as_slice()),
                ("Accept", b"application/json".as_slice()),
            ]
            .into_iter(),
            &masker,
        );
        assert_eq!(headers["authorization"], lever_plugin::MASK);
        assert!(!headers["x-token"].contains("hunter2"));
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(
            body_value(br#"{"a":1}"#, 100),
            Some(serde_json::json!({"a": 1}))
        );
        let cut = body_value(&[b'x'; 50], 10).unwrap();
        assert!(cut.as_str().unwrap().starts_with("xxxxxxxxxx…"), "{cut}");
        assert_eq!(body_value(b"", 10), None);
    }
}
