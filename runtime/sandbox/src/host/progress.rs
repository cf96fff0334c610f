//! `lever:host/progress`.

use super::HostState;
use crate::bindings::progress::{Host, Level};

impl Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.log.push("plugin", level, &message);
        Ok(())
    }

    async fn report(&mut self, percent: u8, message: String) -> wasmtime::Result<()> {
        self.log.push(
            "plugin",
            "progress",
            &format!("{}% {message}", percent.min(100)),
        );
        Ok(())
    }
}
