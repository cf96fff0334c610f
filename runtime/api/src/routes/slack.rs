//! `POST /slack/interactions`: Slack's interactivity request URL. When the `notifier`
//! capability is bound to Slack, approval requests carry approve/reject buttons whose value is
//! the approver's own one-click link; a press arrives here. The request is verified as Slack
//! documents (HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's signing secret, from the
//! binding's `signing_secret` setting, timestamps within five minutes), the Slack member is
//! mapped to a Lever user by `users[].slack`, and the link decides — so the link's own checks
//! (signature, expiry, single use, bound to that approver) apply as they do on the web page.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::AppState;

/// How far a request's timestamp may be from now (Slack's documented replay window).
const MAX_SKEW_SECONDS: i64 = 300;

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": "slack-request-refused", "message": message.into()}})),
    )
        .into_response()
}

/// Whether `signature` (`v0=<hex>`) signs `v0:{timestamp}:{body}` with `secret`.
pub(crate) fn signature_valid(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("v0=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Handles one button press.
pub(crate) async fn interactions(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let capabilities = state.catalog.capabilities();
    let Some(binding) = capabilities
        .bindings()
        .get("notifier")
        .filter(|b| !b.is_builtin())
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            "the notifier capability is not bound to Slack here",
        );
    };
    let Some(secret_name) = binding
        .settings
        .get("signing_secret")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("secret://"))
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            "set `bindings.notifier.settings.signing_secret` (a secret:// reference) to accept Slack interactions",
        );
    };
    let secret = match state.secrets.get(secret_name).await {
        Ok(Some(secret)) => secret,
        _ => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the Slack signing secret `{secret_name}` is not stored"),
            );
        }
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (timestamp, signature) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    );
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or malformed X-Slack-Request-Timestamp",
        );
    };
    let now = state.approvals.now() / 1000;
    if (now - sent_at).abs() > MAX_SKEW_SECONDS {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the request's timestamp is more than five minutes away: replayed or a skewed clock",
        );
    }
    if !signature_valid(&secret, &timestamp, &body, &signature) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "X-Slack-Signature does not match the request: not from Slack, or the signing secret differs",
        );
    }
    #[derive(serde::Deserialize)]
    struct Form {
        payload: String,
    }
    let payload: Value = match serde_urlencoded::from_bytes::<Form>(&body)
        .ok()
        .and_then(|f| serde_json::from_str(&f.payload).ok())
    {
        Some(p) => p,
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the body must be `payload=<JSON>`, as Slack sends block actions",
            );
        }
    };
    let member = payload["user"]["id"].as_str().unwrap_or_default();
    let action = &payload["actions"][0];
    let link = action["value"]
        .as_str()
        .or_else(|| action["url"].as_str())
        .unwrap_or_default();
    let Some(token) = link
        .rsplit_once("/approve/")
        .map(|(_, t)| t.trim_end_matches('/'))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the button carries no Lever approval link",
        );
    };
    let config = state.approvals.config();
    let Some(user) = config
        .users
        .iter()
        .find(|u| u.slack.as_deref() == Some(member))
    else {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Slack member `{member}` is not a Lever user: set `slack: {member}` on their entry in lever.yaml"
            ),
        );
    };
    let Some(principal) = config.principal(&user.id) else {
        return refuse(
            StatusCode::FORBIDDEN,
            format!("`{}` has no principal", user.id),
        );
    };
    match lever_service::approvals::decide_by_link(
        &state,
        token,
        Some(&principal),
        "decided in Slack",
    )
    .await
    {
        Ok((link, outcome)) => {
            let verb = if action["action_id"] == "lever-reject" {
                "rejected"
            } else {
                "approved"
            };
            let text = format!(
                "{} {verb} stage {} of run {} ({outcome:?}).",
                principal.id, link.stage.name, link.stage.run_id
            );
            Json(json!({"replace_original": true, "text": text})).into_response()
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                Json(json!({"replace_original": false, "text": e.to_string()})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example: signing secret, timestamp, body and the signature it gives.
    #[test]
    fn slacks_documented_example_verifies() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert!(signature_valid(secret, "1531420618", body, signature));
        assert!(!signature_valid(secret, "1531420619", body, signature));
        assert!(!signature_valid(
            "another-secret",
            "1531420618",
            body,
            signature
        ));
    }
}
