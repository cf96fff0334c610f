//! The bounded log of one invocation: plugin log lines, progress, stdout, stderr and host notes.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::mask::Masker;

/// One line of a run log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// `plugin`, `stdout`, `stderr` or `host`.
    pub source: String,
    /// `debug`, `info`, `warn`, `error` or `progress`.
    pub level: String,
    /// The text.
    pub message: String,
}

struct Inner {
    lines: Vec<LogLine>,
    bytes: u64,
    limit: u64,
    dropped: u64,
}

/// A shared, bounded log. Clones share the same lines, so what a guest wrote survives even
/// when its invocation is cancelled at the deadline. Its lines come out masked by the run's
/// [`Masker`], which the secrets import registers every revealed value with.
#[derive(Clone)]
pub struct LogBook(Arc<Mutex<Inner>>, Masker);

/// Longest single line kept; longer lines are cut.
const MAX_LINE: usize = 4096;

impl LogBook {
    /// A log that keeps at most `limit` bytes of messages, with a masker of its own.
    pub fn new(limit: u64) -> Self {
        Self::masked_by(limit, Masker::new())
    }

    /// A log that keeps at most `limit` bytes of messages, masked by `masker` (the run's).
    pub fn masked_by(limit: u64, masker: Masker) -> Self {
        Self(
            Arc::new(Mutex::new(Inner {
                lines: Vec::new(),
                bytes: 0,
                limit,
                dropped: 0,
            })),
            masker,
        )
    }

    /// The masker this log's lines go through; register revealed values with it.
    pub fn masker(&self) -> &Masker {
        &self.1
    }

    /// Appends a line; past the limit lines are counted, not kept.
    pub fn push(&self, source: &str, level: &str, message: &str) {
        // Masked before it is cut, so a cut never leaves a prefix of a secret behind.
        let mut message = self.1.mask(message);
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" …[truncated]");
        }
        let mut inner = self.0.lock().expect("log lock");
        if inner.bytes + message.len() as u64 > inner.limit {
            inner.dropped += 1;
            return;
        }
        inner.bytes += message.len() as u64;
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        inner.lines.push(LogLine {
            at_ms,
            source: source.into(),
            level: level.into(),
            message,
        });
    }

    /// Every kept line, masked (also a value split across lines), plus a note when lines were
    /// dropped.
    pub fn lines(&self) -> Vec<LogLine> {
        let inner = self.0.lock().expect("log lock");
        let mut lines = self.1.mask_lines(&inner.lines);
        if inner.dropped > 0 {
            lines.push(LogLine {
                at_ms: lines.last().map(|l| l.at_ms).unwrap_or(0),
                source: "host".into(),
                level: "warn".into(),
                message: format!(
                    "{} more log lines were dropped: the log limit of {} bytes was reached (raise the plugin's max_log_bytes)",
                    inner.dropped, inner.limit
                ),
            });
        }
        lines
    }
}
