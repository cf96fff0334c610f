//! A local OpenID provider for the web UI's sign-in: discovery, JWKS, an authorization
//! endpoint that signs one configured user straight in (no login form) and a token endpoint
//! that checks the PKCE verifier against the S256 challenge (RFC 7636) before it issues an ID
//! token (ES256) carrying the login's nonce.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const EC_KEY: &[u8] = include_bytes!("../../../runtime/identity/tests/keys/ec-p256.pem");

/// Who the provider signs in, and with which claims.
#[derive(Debug, Clone)]
pub struct OidcUser {
    /// `sub`.
    pub sub: String,
    /// `name`.
    pub name: String,
    /// `groups`.
    pub groups: Vec<String>,
    /// `team`.
    pub team: Option<String>,
}

struct Pending {
    challenge: String,
    nonce: String,
    client_id: String,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    user: OidcUser,
    codes: Arc<Mutex<HashMap<String, Pending>>>,
    refused: Arc<Mutex<Vec<String>>>,
}

/// A running provider.
pub struct FakeOidc {
    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
    refused: Arc<Mutex<Vec<String>>>,
}

impl FakeOidc {
    /// Starts the provider; it signs `user` in.
    pub async fn start(user: OidcUser) -> FakeOidc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let refused = Arc::new(Mutex::new(Vec::new()));
        let state = Idp {
            issuer: issuer.clone(),
            user,
            codes: Arc::default(),
            refused: refused.clone(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(keys))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeOidc { issuer, refused }
    }

    /// Why the token endpoint refused exchanges, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

async fn discovery(State(s): State<Idp>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/keys", s.issuer),
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn keys() -> Json<Value> {
    let key = EncodingKey::from_ec_pem(EC_KEY).unwrap();
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("ec-1".into());
    Json(serde_json::to_value(JwkSet { keys: vec![jwk] }).unwrap())
}

async fn authorize(State(s): State<Idp>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" || get("code_challenge_method") != "S256" {
        return (
            StatusCode::BAD_REQUEST,
            "response_type=code and code_challenge_method=S256 are required",
        )
            .into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4());
    s.codes.lock().unwrap().insert(
        code.clone(),
        Pending {
            challenge: get("code_challenge"),
            nonce: get("nonce"),
            client_id: get("client_id"),
        },
    );
    let back = format!(
        "{}?{}",
        get("redirect_uri"),
        serde_urlencoded::to_string([("code", code.as_str()), ("state", &get("state"))]).unwrap()
    );
    Redirect::to(&back).into_response()
}

async fn token(State(s): State<Idp>, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let refuse = |why: &str| {
        s.refused.lock().unwrap().push(why.to_string());
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    let Some(pending) = s.codes.lock().unwrap().remove(&get("code")) else {
        return refuse("unknown or used code");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if challenge != pending.challenge {
        return refuse("the code_verifier does not match the code_challenge");
    }
    let claims = json!({
        "iss": s.issuer,
        "aud": pending.client_id,
        "sub": s.user.sub,
        "name": s.user.name,
        "groups": s.user.groups,
        "team": s.user.team,
        "nonce": pending.nonce,
        "iat": get_current_timestamp(),
        "exp": get_current_timestamp() + 300,
    });
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let id_token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(EC_KEY).unwrap()).unwrap();
    Json(json!({"access_token": "unused", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}
