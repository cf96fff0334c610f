//! Log lines and progress, streamed to the run page.

use crate::bindings::lever::host::progress::{self, Level};

/// Logs a line at debug level.
pub fn debug(message: &str) {
    progress::log(Level::Debug, message);
}

/// Logs a line at info level.
pub fn info(message: &str) {
    progress::log(Level::Info, message);
}

/// Logs a line at warn level.
pub fn warn(message: &str) {
    progress::log(Level::Warn, message);
}

/// Logs a line at error level.
pub fn error(message: &str) {
    progress::log(Level::Error, message);
}

/// Reports the step's progress: `percent` from 0 to 100 and a short message.
pub fn progress(percent: u8, message: &str) {
    progress::report(percent.min(100), message);
}
