//! The per-run resource limiter: caps linear memory and tables, remembers the peak and whether
//! the memory limit is what stopped the guest.

use wasmtime::ResourceLimiter;

/// Tables hold function references; a Rust guest needs a few hundred entries, so this only stops
/// a module that tries to exhaust host memory through tables.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Why a growth was refused; carried inside the trap so the run can name the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit_bytes} bytes exceeded: the guest asked for {requested_bytes}")]
pub(crate) struct MemoryLimitHit {
    pub(crate) limit_bytes: u64,
    pub(crate) requested_bytes: u64,
}

/// Limits one store's memories and tables.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_limit: u64,
    peak: u64,
    hit: Option<u64>,
}

impl Limiter {
    pub(crate) fn new(memory_limit: u64) -> Self {
        Self {
            memory_limit,
            peak: 0,
            hit: None,
        }
    }

    /// The largest memory size granted.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// The size the guest asked for when it hit the limit, if it did.
    pub(crate) fn hit(&self) -> Option<u64> {
        self.hit
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.memory_limit {
            self.hit = Some(desired);
            // An error (not `Ok(false)`) traps at once: a guest that handled the failed growth
            // would otherwise go on and fail later with a less precise cause.
            return Err(wasmtime::Error::new(MemoryLimitHit {
                limit_bytes: self.memory_limit,
                requested_bytes: desired,
            }));
        }
        self.peak = self.peak.max(desired);
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

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }
}
