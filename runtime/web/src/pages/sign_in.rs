//! Signing in (an API token, or a demo user on a loopback demo server) and out.

use axum::body::Bytes as Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use lever_service::ServiceError;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{field, form_pairs, safe_next};
use crate::session::{self, COOKIE, SIGN_IN_COOKIE, Viewer, cookie, same_secret};
use crate::{WebError, WebState, render};

/// Query of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
}

fn sign_in_page(
    state: &WebState,
    next: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    // The sign-in form's CSRF token lives in its own cookie until a session exists.
    let token = session::random_token();
    let demo_users: Vec<serde_json::Value> = if state.demo_sign_in {
        state
            .app
            .identity
            .config()
            .users
            .iter()
            .map(|u| json!({"id": u.id, "name": u.name.as_deref().unwrap_or(&u.id), "team": u.team, "groups": u.groups}))
            .collect()
    } else {
        Vec::new()
    };
    let html = render::page(
        state,
        None,
        "sign_in.html",
        context! {
            narrow => true,
            next,
            error,
            sign_in_csrf => token.clone(),
            demo_users,
            oidc => state.app.identity.oidc().is_some(),
            next_query => serde_urlencoded::to_string([("next", next)]).unwrap_or_default(),
        },
    )?;
    Ok((
        status,
        [(
            header::SET_COOKIE,
            session::set_cookie(state, SIGN_IN_COOKIE, &token, 3600),
        )],
        html,
    )
        .into_response())
}

/// `GET /sign-in`.
pub(crate) async fn page(
    State(state): State<WebState>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, WebError> {
    sign_in_page(
        &state,
        &safe_next(query.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

fn check_sign_in_csrf(headers: &HeaderMap, sent: Option<&str>) -> Result<(), WebError> {
    match (cookie(headers, SIGN_IN_COOKIE), sent) {
        (Some(expected), Some(sent)) if same_secret(&expected, sent) => Ok(()),
        _ => Err(WebError::Forbidden(
            "the sign-in form's CSRF token is missing or wrong: reload the sign-in page and try again".into(),
        )),
    }
}

fn signed_in(state: &WebState, value: &str, next: &str) -> Response {
    let max_age = state.session_ms / 1000;
    let mut response = Redirect::to(next).into_response();
    let headers = response.headers_mut();
    for cookie in [
        session::set_cookie(state, COOKIE, value, max_age),
        session::set_cookie(state, SIGN_IN_COOKIE, "", 0),
    ] {
        if let Ok(v) = cookie.parse() {
            headers.append(header::SET_COOKIE, v);
        }
    }
    response
}

/// `POST /sign-in` with `token`: a session for the token's user.
pub(crate) async fn with_token(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    let pairs = form_pairs(&body)?;
    check_sign_in_csrf(&headers, field(&pairs, "csrf"))?;
    let next = safe_next(field(&pairs, "next"));
    let token = field(&pairs, "token").unwrap_or("").trim().to_string();
    if !token.starts_with(lever_identity::tokens::PREFIX) {
        return sign_in_page(
            &state,
            &next,
            Some("paste a Lever API token: it starts with lvr_".into()),
            StatusCode::BAD_REQUEST,
        );
    }
    let principal = match state
        .app
        .identity
        .authenticate(Some(&format!("Bearer {token}")))
        .await
    {
        Ok(p) => p,
        Err(e) => {
            return sign_in_page(&state, &next, Some(e.to_string()), StatusCode::UNAUTHORIZED);
        }
    };
    let value = session::start(&state, &principal.id, "token", None).await?;
    tracing::info!(user = %principal.id, "web sign-in with an API token");
    Ok(signed_in(&state, &value, &next))
}

/// `POST /sign-in/demo` with `user`: only on a demo server (config and loopback).
pub(crate) async fn as_demo_user(
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    if !state.demo_sign_in {
        return Err(WebError::Forbidden(
            "signing in without a credential is only for the embedded demo: it needs `demo_sign_in: true` in lever.yaml and a server listening on loopback".into(),
        ));
    }
    let pairs = form_pairs(&body)?;
    check_sign_in_csrf(&headers, field(&pairs, "csrf"))?;
    let next = safe_next(field(&pairs, "next"));
    let user = field(&pairs, "user").unwrap_or("");
    if state.app.identity.config().user(user).is_none() {
        return Err(WebError::BadRequest(format!(
            "`{user}` is not a user of lever.yaml: pick one from the list"
        )));
    }
    let value = session::start(&state, user, "demo", None).await?;
    tracing::info!(user, "web demo sign-in");
    Ok(signed_in(&state, &value, &next))
}

/// `POST /sign-out`: revokes the session.
pub(crate) async fn sign_out(
    State(state): State<WebState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    super::checked_form(&viewer, &headers, &body)?;
    state
        .app
        .store
        .revoke_session(&viewer.session_hash)
        .await
        .map_err(ServiceError::from)?;
    let mut response = Redirect::to("/sign-in").into_response();
    if let Ok(v) = session::set_cookie(&state, COOKIE, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Query of the OIDC sign-in's start.
#[derive(Debug, Deserialize)]
pub(crate) struct OidcStartQuery {
    next: Option<String>,
}

fn redirect_uri(state: &WebState) -> String {
    format!("{}/sign-in/oidc/callback", state.base_url)
}

/// `GET /sign-in/oidc`: sends the browser to the identity provider (authorization code with
/// PKCE); the verifier and nonce stay in the database until the callback takes them.
pub(crate) async fn oidc_start(
    State(state): State<WebState>,
    Query(query): Query<OidcStartQuery>,
) -> Result<Response, WebError> {
    let Some(oidc) = state.app.identity.oidc() else {
        return Err(WebError::BadRequest(
            "this server has no OIDC provider: configure `oidc:` in lever.yaml, or sign in with an API token".into(),
        ));
    };
    let login = oidc
        .start_login(&redirect_uri(&state))
        .await
        .map_err(ServiceError::from)?;
    let record = lever_store::OidcLoginRecord {
        verifier: login.verifier,
        nonce: login.nonce,
        next: safe_next(query.next.as_deref()),
    };
    state
        .app
        .store
        .insert_oidc_login(
            &session::hash(&login.state),
            &record,
            lever_store::now_ms() + 10 * 60_000,
        )
        .await
        .map_err(ServiceError::from)?;
    // The state is also bound to this browser, so a callback link made for someone else's
    // login cannot sign this browser in (login CSRF). Lax: the provider's redirect back is a
    // cross-site navigation, on which Strict cookies are not sent.
    let mut response = Redirect::to(&login.url).into_response();
    let cookie = format!(
        "{OIDC_COOKIE}={}; Path=/sign-in/oidc; HttpOnly; SameSite=Lax; Max-Age=600{}",
        login.state,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    if let Ok(v) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The cookie binding an OIDC sign-in's `state` to the browser that started it.
const OIDC_COOKIE: &str = "lever_oidc_state";

/// Query of the provider's callback.
#[derive(Debug, Deserialize)]
pub(crate) struct OidcCallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sign-in/oidc/callback`: exchanges the code (with the verifier), verifies the ID token
/// and its nonce, and starts a session for the verified identity.
pub(crate) async fn oidc_callback(
    State(state): State<WebState>,
    headers: HeaderMap,
    Query(query): Query<OidcCallbackQuery>,
) -> Result<Response, WebError> {
    let Some(oidc) = state.app.identity.oidc() else {
        return Err(WebError::BadRequest(
            "this server has no OIDC provider".into(),
        ));
    };
    if let Some(error) = query.error {
        return sign_in_page(
            &state,
            "/",
            Some(format!(
                "the identity provider refused the sign-in: {}",
                query.error_description.unwrap_or(error)
            )),
            StatusCode::UNAUTHORIZED,
        );
    }
    let (Some(code), Some(login_state)) = (query.code, query.state) else {
        return Err(WebError::BadRequest(
            "the identity provider's answer has no `code` and `state`: start the sign-in again"
                .into(),
        ));
    };
    if !cookie(&headers, OIDC_COOKIE).is_some_and(|c| same_secret(&c, &login_state)) {
        return Err(WebError::BadRequest(
            "this sign-in was not started in this browser: start the sign-in again".into(),
        ));
    }
    let Some(login) = state
        .app
        .store
        .take_oidc_login(&session::hash(&login_state))
        .await
        .map_err(ServiceError::from)?
    else {
        return Err(WebError::BadRequest(
            "this sign-in is unknown, used or expired (10 minutes): start the sign-in again".into(),
        ));
    };
    let identity = match oidc
        .finish_login(&code, &login.verifier, &login.nonce, &redirect_uri(&state))
        .await
    {
        Ok(identity) => identity,
        Err(e) => {
            return sign_in_page(
                &state,
                &login.next,
                Some(e.to_string()),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    let stored = serde_json::to_string(&lever_identity::OidcIdentity {
        claims: serde_json::Map::new(),
        ..identity.clone()
    })
    .map_err(|e| WebError::BadRequest(e.to_string()))?;
    let value = session::start(&state, &identity.user_id, "oidc", Some(&stored)).await?;
    tracing::info!(user = %identity.user_id, "web sign-in through OIDC");
    Ok(signed_in(&state, &value, &login.next))
}
