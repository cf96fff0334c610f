//! Outbound HTTP: `wasi:http/outgoing-handler` filtered by the plugin's granted hosts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use crate::grants::Grants;
use crate::log::LogBook;

/// The hooks of one invocation: check every request against the grants and log it.
pub(crate) struct OutboundHttp {
    pub(crate) grants: Grants,
    pub(crate) log: LogBook,
    /// The first host refused, so a failure can be reported as [`crate::InvokeError::HostNotGranted`].
    pub(crate) denied: Arc<Mutex<Option<String>>>,
    /// Outbound I/O counts against the step's deadline.
    pub(crate) deadline: Instant,
}

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
