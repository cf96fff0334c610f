//! Local servers that speak the documented subset of each provider's REST API, for the adapter
//! tests: each records every request (to assert shapes against the provider's documentation)
//! and can be told to fail the next matching requests (rate limits, 5xx, provider errors).

pub mod backstage_catalog;
pub mod chat;
pub mod datadog;
pub mod github;
pub mod gitlab;
pub mod greetings;
pub mod oidc;
pub mod slack;
pub mod terraform_cloud;
pub mod vault;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// The raw query string (empty when none).
    pub query: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`null` when empty or not JSON).
    pub json: Value,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned failure for the next `times` requests whose `METHOD path` contains `matches`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Substring of `METHOD /path` (`POST /user/repos`).
    pub matches: String,
    /// How many requests fail.
    pub times: u32,
    /// Status to answer.
    pub status: u16,
    /// Body to answer (JSON, as the provider documents its errors).
    pub body: Value,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
}

/// What every fake shares: the request log and the fault list.
#[derive(Clone, Default)]
pub struct Recorder {
    requests: Arc<Mutex<Vec<Recorded>>>,
    faults: Arc<Mutex<Vec<Fault>>>,
}

impl Recorder {
    /// Records a request; answers the first matching fault instead, if one is armed.
    pub fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Option<Response> {
        let recorded = Recorded {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            json: serde_json::from_slice(body).unwrap_or(Value::Null),
            body: body.to_vec(),
            at: Instant::now(),
        };
        let line = format!("{} {}", recorded.method, recorded.path);
        self.requests.lock().unwrap().push(recorded);
        let mut faults = self.faults.lock().unwrap();
        let i = faults
            .iter()
            .position(|f| f.times > 0 && line.contains(&f.matches))?;
        faults[i].times -= 1;
        let fault = faults[i].clone();
        let mut response = (
            StatusCode::from_u16(fault.status).unwrap(),
            axum::Json(fault.body),
        )
            .into_response();
        if let Some(s) = fault.retry_after {
            response
                .headers_mut()
                .insert("retry-after", s.to_string().parse().unwrap());
        }
        Some(response)
    }

    /// Arms a fault.
    pub fn fail(&self, fault: Fault) {
        self.faults.lock().unwrap().push(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose `METHOD path` contains `matches`.
    pub fn matching(&self, matches: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| format!("{} {}", r.method, r.path).contains(matches))
            .collect()
    }
}

/// Serves `app` on an ephemeral localhost port; returns its address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake provider");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("fake provider serves")
    });
    addr
}
