//! Outbound HTTP: `wasi:http/outgoing-handler` filtered by the plugin's granted hosts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::exchanges::{
    HttpExchange, HttpPolicy, RecordedRequest, RecordedResponse, body_value, header_map,
};
use lever_plugin::{Grants, LogBook};

/// The hooks of one invocation: check every request against the grants and log it.
pub(crate) struct OutboundHttp {
    pub(crate) grants: Grants,
    pub(crate) log: LogBook,
    /// The first host refused, so a failure can be reported as [`crate::InvokeError::HostNotGranted`].
    pub(crate) denied: Arc<Mutex<Option<String>>>,
    /// Outbound I/O counts against the step's deadline.
    pub(crate) deadline: Instant,
    /// Recording and recorded answers.
    pub(crate) policy: HttpPolicy,
    /// The first request no recorded exchange answered, for [`crate::InvokeError::UnrecordedRequest`].
    pub(crate) unrecorded: Arc<Mutex<Option<String>>>,
}

type SentIo = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Sent {
        drop(fut);
        let authority = request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let target = format!("{} {}", request.method(), request.uri());
        if !self.grants.allows_host(&authority) {
            self.log.push(
                "host",
                "warn",
                &format!("refused {target}: host `{authority}` is not granted"),
            );
            self.denied
                .lock()
                .expect("denied lock")
                .get_or_insert(authority);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let remaining = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let options = RequestOptions {
            connect_timeout: Some(
                options
                    .and_then(|o| o.connect_timeout)
                    .unwrap_or(remaining)
                    .min(remaining),
            ),
            first_byte_timeout: Some(remaining),
            between_bytes_timeout: Some(remaining),
        };
        let log = self.log.clone();
        if self.policy.record.is_some() || self.policy.answers.is_some() {
            let (policy, unrecorded) = (self.policy.clone(), self.unrecorded.clone());
            return Box::new(send_recorded(
                request, options, policy, unrecorded, log, target,
            ));
        }
        Box::new(async move {
            let started = Instant::now();
            match wasmtime_wasi_http::default_send_request(request, Some(options)).await {
                Ok((response, io)) => {
                    log.push(
                        "host",
                        "info",
                        &format!(
                            "{target} → {} in {} ms",
                            response.status().as_u16(),
                            started.elapsed().as_millis()
                        ),
                    );
                    Ok((
                        response.map(BodyExt::boxed_unsync),
                        Box::new(io)
                            as Box<
                                dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send,
                            >,
                    ))
                }
                Err(e) => {
                    log.push("host", "warn", &format!("{target} failed: {e:?}"));
                    Err(e)
                }
            }
        })
    }
}

fn full(bytes: Vec<u8>) -> WasiBody {
    Full::new(Bytes::from(bytes))
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The request with its body read whole, so it can be recorded, matched against recorded
/// answers, and then sent (or answered) as it was.
async fn send_recorded(
    request: http::Request<WasiBody>,
    options: RequestOptions,
    policy: HttpPolicy,
    unrecorded: Arc<Mutex<Option<String>>>,
    log: LogBook,
    target: String,
) -> Result<(http::Response<WasiBody>, SentIo), wasmtime_wasi_http::Error> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let sent = body.collect().await?.to_bytes();
    let masker = log.masker().clone();
    let limit = policy.record.as_ref().map_or(usize::MAX, |r| r.body_limit);
    let headers = |h: &http::HeaderMap| {
        header_map(h.iter().map(|(k, v)| (k.as_str(), v.as_bytes())), &masker)
    };
    let asked = RecordedRequest {
        method: parts.method.to_string(),
        url: parts.uri.to_string(),
        headers: headers(&parts.headers),
        body: body_value(&sent, usize::MAX),
    };
    let recorded = RecordedRequest {
        body: body_value(&sent, limit).map(|b| masker.mask_json(&b)),
        url: masker.mask(&asked.url),
        ..asked.clone()
    };
    let record = |response: Option<RecordedResponse>| {
        if let Some(recording) = &policy.record {
            recording.push(HttpExchange {
                request: recorded.clone(),
                response,
            });
        }
    };
    if let Some(answers) = &policy.answers {
        let Some(answer) = answers.answer(&asked) else {
            log.push(
                "host",
                "warn",
                &format!("{target}: no recorded exchange answers this request"),
            );
            unrecorded
                .lock()
                .expect("unrecorded lock")
                .get_or_insert(masker.mask(&asked.describe()));
            record(None);
            return Err(wasmtime_wasi_http::Error::ConnectionRefused);
        };
        log.push(
            "host",
            "info",
            &format!("{target} → {} (recorded)", answer.status),
        );
        let (bytes, implied) = answer.body_bytes();
        let mut response = http::Response::builder().status(answer.status);
        for (name, value) in &answer.headers {
            response = response.header(name, value);
        }
        if let Some(kind) = implied.filter(|_| !answer.headers.contains_key("content-type")) {
            response = response.header("content-type", kind);
        }
        let response = response
            .body(full(bytes))
            .map_err(|_| wasmtime_wasi_http::Error::HttpResponseIncomplete)?;
        record(Some(answer));
        return Ok((response, Box::new(async { Ok(()) }) as SentIo));
    }
    let request = http::Request::from_parts(parts, full(sent.to_vec()));
    let outcome = async {
        let (response, io) =
            wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
        let (parts, body) = response.into_parts();
        // The body is read off the socket by the connection future (`io`): it has to be driven
        // while the body is collected, or a body that arrives after the headers (a server
        // writing them separately) is never read and the guest waits out its deadline.
        let collect = body.collect();
        let mut io = std::pin::pin!(io);
        let mut collect = std::pin::pin!(collect);
        let mut io_done = false;
        let received = loop {
            tokio::select! {
                collected = &mut collect => break collected?.to_bytes(),
                // Its end (or failure) shows in the body; keep collecting until that does.
                _ = &mut io, if !io_done => io_done = true,
            }
        };
        Ok::<_, wasmtime_wasi_http::Error>((parts, received))
    }
    .await;
    match outcome {
        Ok((parts, received)) => {
            log.push(
                "host",
                "info",
                &format!(
                    "{target} → {} in {} ms",
                    parts.status.as_u16(),
                    started.elapsed().as_millis()
                ),
            );
            record(Some(RecordedResponse {
                status: parts.status.as_u16(),
                headers: headers(&parts.headers),
                body: body_value(&received, limit).map(|b| masker.mask_json(&b)),
            }));
            let response = http::Response::from_parts(parts, full(received.to_vec()));
            Ok((response, Box::new(async { Ok(()) }) as SentIo))
        }
        Err(e) => {
            log.push("host", "warn", &format!("{target} failed: {e:?}"));
            record(None);
            Err(e)
        }
    }
}
