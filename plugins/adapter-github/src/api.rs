//! The GitHub REST client: base URL, the headers GitHub documents for every call, how to read
//! its error bodies, and the `owner/name` and pagination helpers every module shares.

use lever_adapter_sdk::rest::{Answer, Api, encode};
use lever_adapter_sdk::serde_json::Value;
use lever_adapter_sdk::{Error, settings};

use crate::auth;

/// github.com's API root; GitHub Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_BASE: &str = "https://api.github.com";

/// The API version every call pins, so GitHub's answers keep the shapes this adapter reads.
const API_VERSION: &str = "2022-11-28";

/// A client for `base` that authenticates with `authorization` (`Bearer …`).
pub fn client(base: &str, authorization: String) -> Api {
    Api {
        provider: "GitHub",
        base: base.to_string(),
        headers: vec![
            ("accept".into(), "application/vnd.github+json".into()),
            ("authorization".into(), authorization),
            ("x-github-api-version".into(), API_VERSION.into()),
        ],
        message,
    }
}

/// The client for a binding's settings: its `base_url` and a token (revealed, or exchanged for
/// a GitHub App installation token).
pub fn connect(settings: &Value) -> Result<Api, Error> {
    let base = settings::string(settings, "base_url", DEFAULT_BASE);
    let token = auth::token(settings, &base)?;
    Ok(client(&base, format!("Bearer {token}")))
}

/// GitHub's error body is `{"message", "documentation_url", "errors": [...]}`; the `errors`
/// say what was wrong (`name already exists on this account`), so they join the message.
pub fn message(body: &Value) -> Option<String> {
    let mut said = body.get("message")?.as_str()?.to_string();
    let details: Vec<String> = body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    let field = o.get("field").and_then(Value::as_str).unwrap_or("?");
                    let code = o.get("code").and_then(Value::as_str).unwrap_or("invalid");
                    Some(format!("{field} is {code}"))
                }),
            _ => None,
        })
        .collect();
    if !details.is_empty() {
        said = format!("{said}: {}", details.join("; "));
    }
    Some(said)
}

/// Splits `owner/name`, refusing anything else with a message naming the field.
pub fn split<'a>(field: &str, full_name: &'a str) -> Result<(&'a str, &'a str), Error> {
    match full_name.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((owner, name))
        }
        _ => Err(Error::InvalidInput(format!(
            "`{field}` must be `owner/name`, not `{full_name}`"
        ))),
    }
}

/// `/repos/{owner}/{name}` for an `owner/name`.
pub fn repo_path(field: &str, full_name: &str) -> Result<String, Error> {
    let (owner, name) = split(field, full_name)?;
    Ok(format!("/repos/{}/{}", encode(owner), encode(name)))
}

/// Encodes each segment of a slash-separated path (a file path, a branch like `feature/x`),
/// keeping the slashes GitHub expects there.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The next page of a listing, from `Link: <url>; rel="next"`, as a path under the client's
/// base. A next page elsewhere is refused rather than followed: the token goes with it.
pub fn next_page(api: &Api, answer: &Answer) -> Result<Option<String>, Error> {
    let Some(link) = answer.header("link") else {
        return Ok(None);
    };
    let next = link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == r#"rel="next""#)
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    });
    match next {
        None => Ok(None),
        Some(url) => match url.strip_prefix(&api.base) {
            Some(path) => Ok(Some(path.to_string())),
            None => Err(Error::Fatal(format!(
                "GitHub's next page `{url}` is not under `{}`",
                api.base
            ))),
        },
    }
}
