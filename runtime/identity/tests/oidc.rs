//! OIDC JWTs against a local identity provider (discovery + JWKS served by axum).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use lever_identity::{
    Authenticator, Config, IdentityError, OidcConfig, OidcVerifier, Role, Source,
};
use serde_json::{Value, json};

const EC_KEY: &[u8] = include_bytes!("keys/ec-p256.pem");
const EC_OTHER_KEY: &[u8] = include_bytes!("keys/ec-p256-other.pem");
const RSA_KEY: &[u8] = include_bytes!("keys/rsa-2048.pem");

struct Idp {
    issuer: String,
    jwks_fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct IdpState {
    issuer: String,
    jwks: Value,
    fetches: Arc<AtomicUsize>,
}

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

/// Serves discovery and a JWKS holding the EC key (`ec-1`) and the RSA key (`rsa-1`).
async fn start_idp() -> Idp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let jwks = JwkSet {
        keys: vec![
            public_jwk(
                &EncodingKey::from_ec_pem(EC_KEY).unwrap(),
                Algorithm::ES256,
                "ec-1",
            ),
            public_jwk(
                &EncodingKey::from_rsa_pem(RSA_KEY).unwrap(),
                Algorithm::RS256,
                "rsa-1",
            ),
        ],
    };
    let fetches = Arc::new(AtomicUsize::new(0));
    let state = IdpState {
        issuer: issuer.clone(),
        jwks: serde_json::to_value(jwks).unwrap(),
        fetches: fetches.clone(),
    };
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|State(s): State<IdpState>| async move {
                Json(json!({"issuer": s.issuer, "jwks_uri": format!("{}/keys", s.issuer)}))
            }),
        )
        .route(
            "/keys",
            get(|State(s): State<IdpState>| async move {
                s.fetches.fetch_add(1, Ordering::SeqCst);
                Json(s.jwks.clone())
            }),
        )
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Idp {
        issuer,
        jwks_fetches: fetches,
    }
}

fn claims(idp: &Idp, user: &str) -> Value {
    let now = get_current_timestamp();
    json!({
        "iss": idp.issuer,
        "aud": "lever",
        "sub": "0f3c-uuid",
        "preferred_username": user,
        "name": "From The IdP",
        "groups": ["/payments-leads", "oidc-only"],
        "iat": now,
        "nbf": now - 10,
        "exp": now + 300,
    })
}

fn sign(claims: &Value, key_pem: &[u8], alg: Algorithm, kid: &str) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(key_pem).unwrap(),
        _ => EncodingKey::from_ec_pem(key_pem).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn oidc_config(idp: &Idp) -> OidcConfig {
    OidcConfig {
        user_claim: "preferred_username".to_string(),
        ..OidcConfig::new(&idp.issuer, "lever")
    }
}

async fn authenticator(idp: &Idp, dir: &tempfile::TempDir) -> Authenticator {
    let mut config = Config::embedded_default();
    config.oidc = Some(oidc_config(idp));
    let store = lever_store::Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    Authenticator::new(config, store)
}

fn refusal(result: Result<impl std::fmt::Debug, IdentityError>) -> String {
    match result {
        Err(e @ IdentityError::Oidc(_)) => {
            assert_eq!(e.status(), 401);
            e.to_string()
        }
        other => panic!("expected an OIDC refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn accepted_tokens_map_to_principals() {
    let idp = start_idp().await;
    let dir = tempfile::tempdir().unwrap();
    let auth = authenticator(&idp, &dir).await;

    // A configured user: token groups plus config groups and team.
    let jwt = sign(&claims(&idp, "carol"), EC_KEY, Algorithm::ES256, "ec-1");
    let carol = auth
        .authenticate(Some(&format!("Bearer {jwt}")))
        .await
        .unwrap();
    assert_eq!(carol.id, "carol");
    assert_eq!(carol.source, Source::Oidc);
    assert_eq!(carol.name, "From The IdP");
    assert_eq!(carol.email.as_deref(), Some("carol@example.com"));
    assert_eq!(carol.team.as_deref(), Some("payments"));
    for group in ["payments-leads", "oidc-only", "payments"] {
        assert!(
            carol.in_group(group),
            "{group} missing from {:?}",
            carol.groups
        );
    }
    assert_eq!(carol.roles, [Role::Developer, Role::Approver]);
    assert!(carol.can_run("group:default/payments", &[]));

    // A user only the IdP knows, with a team claim; RS256.
    let mut other = claims(&idp, "oscar");
    other["team"] = json!("search");
    let jwt = sign(&other, RSA_KEY, Algorithm::RS256, "rsa-1");
    let oscar = auth
        .authenticate(Some(&format!("Bearer {jwt}")))
        .await
        .unwrap();
    assert_eq!(oscar.id, "oscar");
    assert_eq!(oscar.team.as_deref(), Some("search"));
    assert!(oscar.in_group("search") && oscar.in_group("payments-leads"));
    assert!(oscar.has_role(Role::Approver));
    assert!(oscar.can_run("group:default/search", &[]));
    assert!(!oscar.is_platform());

    // Expired 10 s ago is within the 30 s leeway.
    let mut recent = claims(&idp, "alice");
    recent["exp"] = json!(get_current_timestamp() - 10);
    let jwt = sign(&recent, EC_KEY, Algorithm::ES256, "ec-1");
    assert_eq!(
        auth.authenticate(Some(&format!("Bearer {jwt}")))
            .await
            .unwrap()
            .id,
        "alice"
    );

    // Discovery once, keys once: they are cached.
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refused_tokens_say_why() {
    let idp = start_idp().await;
    let verifier = OidcVerifier::new(oidc_config(&idp));
    let good = claims(&idp, "alice");
    assert_eq!(
        verifier
            .verify(&sign(&good, EC_KEY, Algorithm::ES256, "ec-1"))
            .await
            .unwrap()
            .user_id,
        "alice"
    );

    let forged = sign(&good, EC_OTHER_KEY, Algorithm::ES256, "ec-1");
    assert!(refusal(verifier.verify(&forged).await).contains("token signature does not verify"));

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    let e = refusal(
        verifier
            .verify(&sign(&wrong_aud, EC_KEY, Algorithm::ES256, "ec-1"))
            .await,
    );
    assert!(
        e.contains("audience \"someone-else\" is not the configured audience \"lever\""),
        "{e}"
    );

    let mut expired = good.clone();
    expired["exp"] = json!(get_current_timestamp() - 120);
    let e = refusal(
        verifier
            .verify(&sign(&expired, EC_KEY, Algorithm::ES256, "ec-1"))
            .await,
    );
    assert!(e.contains("token expired"), "{e}");

    let mut early = good.clone();
    early["nbf"] = json!(get_current_timestamp() + 600);
    let e = refusal(
        verifier
            .verify(&sign(&early, EC_KEY, Algorithm::ES256, "ec-1"))
            .await,
    );
    assert!(e.contains("not valid yet"), "{e}");

    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.example.com");
    let e = refusal(
        verifier
            .verify(&sign(&wrong_iss, EC_KEY, Algorithm::ES256, "ec-1"))
            .await,
    );
    assert!(
        e.contains("issuer \"https://evil.example.com\" is not the configured issuer"),
        "{e}"
    );

    let mut no_user = good.clone();
    no_user
        .as_object_mut()
        .unwrap()
        .remove("preferred_username");
    let e = refusal(
        verifier
            .verify(&sign(&no_user, EC_KEY, Algorithm::ES256, "ec-1"))
            .await,
    );
    assert!(e.contains("preferred_username"), "{e}");

    // An ES256 token naming the RSA key.
    let e = refusal(
        verifier
            .verify(&sign(&good, EC_KEY, Algorithm::ES256, "rsa-1"))
            .await,
    );
    assert!(e.contains("does not match key"), "{e}");

    // HMAC tokens are never accepted.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    let e = refusal(verifier.verify(&hs).await);
    assert!(e.contains("HS256"), "{e}");

    let e = refusal(verifier.verify("not.a.jwt").await);
    assert!(e.contains("malformed"), "{e}");

    // An unknown kid right after a fetch does not refetch (at most every 30 s).
    let e = refusal(
        verifier
            .verify(&sign(&good, EC_OTHER_KEY, Algorithm::ES256, "rotated"))
            .await,
    );
    assert!(e.contains("unknown key id `rotated`"), "{e}");
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unreachable_provider_is_a_provider_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let verifier = OidcVerifier::new(OidcConfig::new(&issuer, "lever"));
    let idp = Idp {
        issuer: issuer.clone(),
        jwks_fetches: Arc::default(),
    };
    let jwt = sign(&claims(&idp, "alice"), EC_KEY, Algorithm::ES256, "ec-1");
    let e = verifier.verify(&jwt).await.unwrap_err();
    assert!(matches!(e, IdentityError::OidcProvider(_)), "{e:?}");
    assert_eq!(e.status(), 502);
    assert!(
        e.to_string().contains(".well-known/openid-configuration"),
        "{e}"
    );
}
