//! One blocking HTTP call through `wasi:http/outgoing-handler`. The host only lets it reach
//! hosts granted to the plugin; anything else comes back as [`HttpError::Denied`].
//! Shared source: the adapter SDK compiles this same file against its own bindings.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// An outbound request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused: this plugin was not granted the URL's host.
    Denied(String),
    /// The URL or a header is malformed.
    Invalid(String),
    /// Connection, DNS, TLS or protocol failure.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(m) | HttpError::Invalid(m) | HttpError::Transport(m) => {
                f.write_str(m)
            }
        }
    }
}

fn code_to_error(url: &str, code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied(format!(
            "the host refused the request to {url}: this plugin was not granted that host"
        )),
        other => HttpError::Transport(format!("request to {url} failed: {other:?}")),
    }
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(HttpError::Invalid(format!(
            "`{url}` is not an absolute http:// or https:// URL"
        )));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(HttpError::Invalid(format!("`{url}` has no host")));
    }
    Ok((scheme, authority, if path.is_empty() { "/" } else { path }))
}

fn method(name: &str) -> Method {
    match name.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

/// Sends `request` and reads the whole response.
pub fn send(request: &Request) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split_url(&request.url)?;
    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| HttpError::Invalid(format!("header `{name}` is not allowed: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let invalid =
        |what: &str| HttpError::Invalid(format!("{what} of `{}` is not valid", request.url));
    outgoing
        .set_method(&method(&request.method))
        .map_err(|()| invalid("the method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("the scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("the host"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| invalid("the path"))?;
    let body = outgoing.body().map_err(|()| invalid("the body"))?;
    // The request is handed to the host before its body is written: the host streams the body
    // to the server as it comes, through a bounded buffer, so a body larger than that buffer
    // written first would wait forever for a reader.
    let future =
        outgoing_handler::handle(outgoing, None).map_err(|c| code_to_error(&request.url, c))?;
    {
        let stream = body.write().map_err(|()| invalid("the body"))?;
        for chunk in request.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Transport(format!("writing the body failed: {e:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|c| code_to_error(&request.url, c))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(code_to_error(&request.url, code)),
        Some(Err(())) | None => {
            return Err(HttpError::Transport(format!(
                "no response from {}",
                request.url
            )));
        }
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| HttpError::Transport("the response body was already read".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Transport("the response body was already read".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => {
                    return Err(HttpError::Transport(format!(
                        "reading the response failed: {e:?}"
                    )));
                }
            }
        }
    }
    let _trailers = IncomingBody::finish(incoming);
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}
