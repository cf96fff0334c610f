//! The GitLab REST v4 client: base URL, the token header, how to read GitLab's several error
//! body forms, and the project-id helper every module shares.

use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::Value;
use lever_adapter_sdk::{Error, settings};

/// gitlab.com's API root; self-managed instances use `https://HOST/api/v4`.
pub const DEFAULT_BASE: &str = "https://gitlab.com/api/v4";

/// The client for a binding's settings: its `base_url` and the revealed `token`.
pub fn connect(settings: &Value) -> Result<Api, Error> {
    let base = settings::string(settings, "base_url", DEFAULT_BASE);
    let token = settings::secret(settings, "token")?;
    Ok(Api {
        provider: "GitLab",
        base,
        headers: vec![("private-token".into(), token)],
        message,
    })
}

/// GitLab answers errors as `{"message": "..."}`, `{"message": ["..."]}`, `{"message":
/// {"name": ["has already been taken"]}}` (validation, per field) or `{"error": "..."}`
/// (parameter checks, OAuth); each becomes one readable line.
pub fn message(body: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    };
    match body.get("message") {
        Some(Value::Object(fields)) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(field, said)| {
                    format!("{field} {}", text(said).unwrap_or_else(|| said.to_string()))
                })
                .collect();
            Some(parts.join("; "))
        }
        Some(other) => text(other),
        None => {
            let error = text(body.get("error")?)?;
            match body.get("error_description").and_then(Value::as_str) {
                Some(description) => Some(format!("{error}: {description}")),
                None => Some(error),
            }
        }
    }
}

/// `/projects/{group%2Fproject}` for a `group/project` path (subgroups allowed).
pub fn project_path(field: &str, full_name: &str) -> Result<String, Error> {
    let parts: Vec<&str> = full_name.split('/').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::InvalidInput(format!(
            "`{field}` must be `group/project`, not `{full_name}`"
        )));
    }
    Ok(format!("/projects/{}", encode(full_name)))
}
