//! Per-plugin resource limits (the sandbox enforces them).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one invocation of a plugin may consume. Every field has a safe default and can be
/// set per plugin at publish time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Limits {
    /// Fuel units (roughly one per wasm instruction) one invocation may burn.
    pub fuel: u64,
    /// Linear memory, in bytes, across all of the component's memories.
    pub memory_bytes: u64,
    /// Wall-clock deadline for one invocation, in milliseconds (host calls included).
    pub timeout_ms: u64,
    /// Largest output, in bytes.
    pub max_output_bytes: u64,
    /// Largest total of log lines, stdout and stderr kept per invocation, in bytes.
    pub max_log_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 10_000_000_000,
            memory_bytes: 128 * 1024 * 1024,
            timeout_ms: 30_000,
            max_output_bytes: 1024 * 1024,
            max_log_bytes: 256 * 1024,
        }
    }
}

impl Limits {
    /// The wall-clock deadline as a [`Duration`].
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}
