//! Compiled modules and components: compiled once per process per content hash, linked once
//! (`InstancePre`), and optionally kept as precompiled native code in a directory that survives
//! restarts. Whether a binary is a WASI preview-1 core module or a WASI 0.2 component is read
//! from its header.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, ExternType, InstancePre, Linker};
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::component::ComponentState;
use crate::disk_cache::DiskCache;
use crate::sandbox::State;
use crate::{Error, Result};

/// A module ready to run: compiled, linked (a core module against WASI preview 1, a component
/// against WASI 0.2 and `wasi:http`), and cheap to clone.
#[derive(Clone)]
pub struct Module {
    name: Arc<str>,
    linked: Arc<Linked>,
}

/// The part shared by every [`Module`] with the same bytes.
struct Linked {
    sha256: String,
    pre: Pre,
}

/// A linked core module or component.
#[derive(Clone)]
pub(crate) enum Pre {
    /// A WASI preview-1 command module.
    Core(InstancePre<State>),
    /// A WASI 0.2 command component (`wasi:cli/run`).
    Component(CommandPre<ComponentState>),
}

/// A compiled core module or component, as the disk cache stores it.
pub(crate) enum Compiled {
    /// A core module.
    Core(wasmtime::Module),
    /// A component.
    Component(Component),
}

/// What kind of WebAssembly binary a module is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// A WASI preview-1 core module (`wasm32-wasip1`): files only, no network.
    Core,
    /// A WASI 0.2 component (`wasm32-wasip2`): files, and HTTP through the network policy.
    Component,
}

impl std::fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Core => "WASI preview-1 module",
            Self::Component => "WASI 0.2 component",
        })
    }
}

/// Whether `bytes` are a component (binary header layer 1) rather than a core module; the
/// text format (`.wat`) is read as a core module.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

impl Module {
    /// The module's name: the file stem, passed to the guest as `argv[0]`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hex SHA-256 of the module's bytes.
    pub fn sha256(&self) -> &str {
        &self.linked.sha256
    }

    /// A core module or a component.
    pub fn kind(&self) -> ModuleKind {
        match self.linked.pre {
            Pre::Core(_) => ModuleKind::Core,
            Pre::Component(_) => ModuleKind::Component,
        }
    }

    pub(crate) fn pre(&self) -> &Pre {
        &self.linked.pre
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("sha256", &self.linked.sha256)
            .finish()
    }
}

/// Counters of the module cache, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules compiled from wasm by this process.
    pub compiled: u64,
    /// Modules loaded from the on-disk precompiled cache instead of being compiled.
    pub loaded_precompiled: u64,
    /// Loads answered from memory (the bytes had been loaded before).
    pub memory_hits: u64,
}

/// The in-memory cache and the optional on-disk one.
pub(crate) struct ModuleCache {
    stats: Mutex<CacheStats>,
    linked: Mutex<HashMap<String, Arc<Linked>>>,
    disk: Option<DiskCache>,
}

impl ModuleCache {
    /// An empty cache; with `disk`, backed by that directory of precompiled modules (checked,
    /// created and pruned by [`DiskCache::open`]), at most `max_bytes` of this engine's entries.
    pub(crate) fn new(engine: &Engine, disk: Option<PathBuf>, max_bytes: u64) -> Result<Self> {
        let disk = disk
            .map(|dir| DiskCache::open(engine, dir, max_bytes))
            .transpose()?;
        Ok(Self {
            stats: Mutex::new(CacheStats::default()),
            linked: Mutex::new(HashMap::new()),
            disk,
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, update: impl FnOnce(&mut CacheStats)) {
        update(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Returns the module for `bytes`, compiling and linking it only the first time these bytes
    /// are seen by this process.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        linkers: (&Linker<State>, &wasmtime::component::Linker<ComponentState>),
        name: &str,
        bytes: &[u8],
    ) -> Result<Module> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let cached = self
            .linked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&sha256)
            .cloned();
        let linked = match cached {
            Some(linked) => {
                self.count(|s| s.memory_hits += 1);
                linked
            }
            None => {
                let link_error = |e: wasmtime::Error| Error::Link {
                    name: name.into(),
                    message: format!("{e:#}"),
                };
                let pre = match self.compile(engine, name, &sha256, bytes)? {
                    Compiled::Core(module) => {
                        check_start(&module, name)?;
                        Pre::Core(linkers.0.instantiate_pre(&module).map_err(link_error)?)
                    }
                    Compiled::Component(component) => {
                        let pre = linkers.1.instantiate_pre(&component).map_err(link_error)?;
                        Pre::Component(
                            CommandPre::new(pre)
                                .map_err(|_| Error::NotACommandComponent { name: name.into() })?,
                        )
                    }
                };
                let linked = Arc::new(Linked {
                    sha256: sha256.clone(),
                    pre,
                });
                self.linked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(sha256)
                    .or_insert(linked)
                    .clone()
            }
        };
        Ok(Module {
            name: name.into(),
            linked,
        })
    }

    fn compile(&self, engine: &Engine, name: &str, sha256: &str, bytes: &[u8]) -> Result<Compiled> {
        if let Some(module) = self.disk.as_ref().and_then(|d| d.load(engine, sha256)) {
            self.count(|s| s.loaded_precompiled += 1);
            return Ok(module);
        }
        let invalid = |e: wasmtime::Error| Error::InvalidModule {
            name: name.into(),
            message: format!("{e:#}"),
        };
        let module = if is_component(bytes) {
            Compiled::Component(Component::new(engine, bytes).map_err(invalid)?)
        } else {
            Compiled::Core(wasmtime::Module::new(engine, bytes).map_err(invalid)?)
        };
        self.count(|s| s.compiled += 1);
        if let Some(disk) = &self.disk {
            disk.store(&module, sha256);
        }
        Ok(module)
    }
}

/// Checks that `module` is a WASI command: it exports `_start` as a function `() -> ()`.
fn check_start(module: &wasmtime::Module, name: &str) -> Result<()> {
    let found = match module.get_export("_start") {
        None => return Err(Error::NotACommand { name: name.into() }),
        Some(ExternType::Func(func)) if func.params().len() == 0 && func.results().len() == 0 => {
            return Ok(());
        }
        Some(ExternType::Func(func)) => {
            let list = |types: Vec<String>| types.join(", ");
            let params = list(func.params().map(|t| t.to_string()).collect());
            let results = list(func.results().map(|t| t.to_string()).collect());
            format!("a function ({params}) -> ({results})")
        }
        Some(ExternType::Global(_)) => "a global".to_owned(),
        Some(ExternType::Memory(_)) => "a memory".to_owned(),
        Some(ExternType::Table(_)) => "a table".to_owned(),
        Some(ExternType::Tag(_)) => "a tag".to_owned(),
    };
    Err(Error::BadStart {
        name: name.into(),
        found,
    })
}
