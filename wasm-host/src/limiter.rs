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

/// Core instances, memories and tables a WASI 0.2 component may create: a Rust component is its
/// program plus the few small modules `wasm-component-ld` adds (a shim, its fixups), one memory
/// and a table or two.
const COMPONENT_INSTANCES: usize = 16;
const COMPONENT_MEMORIES: usize = 4;
const COMPONENT_TABLES: usize = 8;

/// Limits one store's memories and tables. The memory limit holds for all the store's linear
/// memories together.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory_limit: u64,
    /// The bytes of all memories granted so far.
    used: u64,
    peak: u64,
    hit: Option<u64>,
    /// Instances, memories and tables allowed (1 each for a core module).
    counts: usize,
}

impl Limiter {
    /// The limiter of a core module: one instance, one memory, one table.
    pub(crate) fn new(memory_limit: u64) -> Self {
        Self {
            memory_limit,
            used: 0,
            peak: 0,
            hit: None,
            counts: 1,
        }
    }

    /// The limiter of a component (several core instances).
    pub(crate) fn for_component(memory_limit: u64) -> Self {
        Self {
            counts: COMPONENT_INSTANCES,
            ..Self::new(memory_limit)
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
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = (desired as u64).saturating_sub(current as u64);
        let desired = self.used.saturating_add(growth);
        if desired > self.memory_limit {
            self.hit = Some(desired);
            // An error (not `Ok(false)`) traps at once: a guest that handled the failed growth
            // would otherwise go on and fail later with a less precise cause.
            return Err(wasmtime::Error::new(MemoryLimitHit {
                limit_bytes: self.memory_limit,
                requested_bytes: desired,
            }));
        }
        self.used = desired;
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
        self.counts
    }

    fn memories(&self) -> usize {
        if self.counts == 1 {
            1
        } else {
            COMPONENT_MEMORIES
        }
    }

    fn tables(&self) -> usize {
        if self.counts == 1 {
            1
        } else {
            COMPONENT_TABLES
        }
    }
}
