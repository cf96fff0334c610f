//! Bounded capture of a guest's stdout and stderr: past the cap bytes are discarded, never a trap.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A stdout/stderr sink that keeps the first `cap` bytes.
#[derive(Clone)]
pub(crate) struct BoundedPipe {
    buffer: Arc<Mutex<Vec<u8>>>,
    cap: usize,
}

impl BoundedPipe {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(Vec::new())),
            cap,
        }
    }

    /// Everything captured so far, as text.
    pub(crate) fn take_text(&self) -> String {
        let bytes = std::mem::take(&mut *self.buffer.lock().expect("pipe lock"));
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl AsyncWrite for BoundedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut buffer = self.buffer.lock().expect("pipe lock");
        let room = self.cap.saturating_sub(buffer.len());
        buffer.extend_from_slice(&buf[..buf.len().min(room)]);
        // Report everything as written: a chatty guest is cut, not failed.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
