//! Credentials: a token revealed from a secret, or a GitHub App installation token obtained by
//! signing an RS256 JWT with the App's private key and exchanging it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lever_adapter_sdk::rest::encode;
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{Error, settings};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

use crate::api;

const APP_KEYS: [&str; 3] = ["app_id", "installation_id", "private_key"];

/// The token to send for this binding: `token`, or an installation token for the GitHub App
/// settings. Exactly one of the two must be configured.
pub fn token(settings: &Value, base: &str) -> Result<String, Error> {
    let app = APP_KEYS.iter().any(|k| settings.get(k).is_some());
    match (settings.get("token").is_some(), app) {
        (true, false) => settings::secret(settings, "token"),
        (false, true) => installation_token(settings, base),
        (true, true) => Err(Error::InvalidInput(
            "the GitHub binding sets both `token` and GitHub App settings; keep one way to authenticate".into(),
        )),
        (false, false) => Err(Error::InvalidInput(
            "the GitHub binding needs `token` (secret://name) or `app_id`, `installation_id` and `private_key` (secret://name)".into(),
        )),
    }
}

/// An id setting given as a number or a string.
fn id(settings: &Value, key: &str) -> Result<String, Error> {
    match settings.get(key) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(Error::InvalidInput(format!(
            "the GitHub App setting `{key}` must be a number or a non-empty string"
        ))),
    }
}

/// Signs a JWT for the App and exchanges it for an installation token. A new token per call:
/// each call runs in a fresh sandbox, and keeping the token in plugin state would store a
/// credential outside the secret store.
fn installation_token(settings: &Value, base: &str) -> Result<String, Error> {
    let app_id = id(settings, "app_id")?;
    let installation = id(settings, "installation_id")?;
    if !installation.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidInput(format!(
            "the GitHub App setting `installation_id` must be numeric, not `{installation}`"
        )));
    }
    let pem = settings::secret(settings, "private_key")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::Other("the clock is before 1970".into()))?
        .as_secs();
    let jwt = app_jwt(&app_id, &pem, now)?;
    let app = api::client(base, format!("Bearer {jwt}"));
    let answer = app.call(
        "POST",
        &format!("/app/installations/{}/access_tokens", encode(&installation)),
        None,
    )?;
    answer
        .body
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Fatal("GitHub answered the installation token exchange without a `token`".into())
        })
}

/// The App's JWT: RS256 over `{iat, exp, iss}`. `iat` is backdated 60 s against clock drift
/// and `exp` kept under GitHub's 10-minute maximum, as GitHub documents.
fn app_jwt(app_id: &str, pem: &str, now: u64) -> Result<String, Error> {
    // The parse errors are not passed on: they would only ever describe the key.
    let key = RsaPrivateKey::from_pkcs1_pem(pem).or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem)).map_err(|_| {
        Error::InvalidInput(
            "the GitHub App `private_key` secret is not a PEM RSA private key (`BEGIN RSA PRIVATE KEY` or `BEGIN PRIVATE KEY`)".into(),
        )
    })?;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    let claims = URL_SAFE_NO_PAD
        .encode(json!({"iat": now - 60, "exp": now + 9 * 60, "iss": app_id}).to_string());
    let signing_input = format!("{header}.{claims}");
    let signature = SigningKey::<Sha256>::new(key).sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}
