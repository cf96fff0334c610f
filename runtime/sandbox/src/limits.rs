//! The memory limiter that enforces a plugin's `memory_bytes` limit.

/// Raised inside the guest's `memory.grow` when it would pass the cap; becomes
/// [`crate::InvokeError::MemoryLimit`].
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes reached (the guest asked for {requested} bytes)")]
pub(crate) struct MemoryLimitHit {
    pub(crate) limit: u64,
    pub(crate) requested: u64,
}

/// Raised by the epoch callback once the wall-clock deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("deadline passed")]
pub(crate) struct DeadlineHit;

/// Enforces the memory cap; tables get a fixed generous cap.
pub(crate) struct MemoryLimiter {
    pub(crate) limit: u64,
}

const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitHit {
                limit: self.limit,
                requested: desired as u64,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
