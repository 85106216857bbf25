//! Compiled modules: compiled once per process per content hash, linked once (`InstancePre`), and
//! optionally kept as precompiled native code in a directory that survives restarts.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, ExternType, InstancePre, Linker};

use crate::sandbox::State;
use crate::{Error, Result};

/// A module ready to run: compiled, linked against WASI preview 1, and cheap to clone.
#[derive(Clone)]
pub struct Module {
    name: Arc<str>,
    linked: Arc<Linked>,
}

/// The part shared by every [`Module`] with the same bytes.
struct Linked {
    sha256: String,
    pre: InstancePre<State>,
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

    pub(crate) fn pre(&self) -> &InstancePre<State> {
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
    disk: Option<PathBuf>,
    /// Distinguishes precompiled files of differently configured engines (fuel, wasmtime
    /// version, CPU features): a file compiled for another configuration is never loaded.
    engine_key: String,
}

impl ModuleCache {
    pub(crate) fn new(engine: &Engine, disk: Option<PathBuf>) -> Result<Self> {
        if let Some(dir) = &disk {
            std::fs::create_dir_all(dir).map_err(|e| Error::OpenDir {
                path: dir.clone(),
                message: format!("cannot create the precompiled-module cache: {e}"),
            })?;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            stats: Mutex::new(CacheStats::default()),
            linked: Mutex::new(HashMap::new()),
            disk,
            engine_key: format!("{:016x}", hasher.finish()),
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
        linker: &Linker<State>,
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
                let module = self.compile(engine, name, &sha256, bytes)?;
                check_start(&module, name)?;
                let pre = linker.instantiate_pre(&module).map_err(|e| Error::Link {
                    name: name.into(),
                    message: format!("{e:#}"),
                })?;
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

    fn compile(
        &self,
        engine: &Engine,
        name: &str,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<wasmtime::Module> {
        let cached_path = self
            .disk
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.engine_key)));
        if let Some(path) = &cached_path
            && let Some(module) = load_precompiled(engine, path)
        {
            self.count(|s| s.loaded_precompiled += 1);
            return Ok(module);
        }
        let module = wasmtime::Module::new(engine, bytes).map_err(|e| Error::InvalidModule {
            name: name.into(),
            message: format!("{e:#}"),
        })?;
        self.count(|s| s.compiled += 1);
        if let Some(path) = &cached_path {
            store_precompiled(&module, path);
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

/// Loads a precompiled module; any failure (missing, stale, corrupt) means "compile again".
fn load_precompiled(engine: &Engine, path: &Path) -> Option<wasmtime::Module> {
    let bytes = std::fs::read(path).ok()?;
    // SAFETY: `Module::deserialize` runs the bytes as native code, so they must come from
    // `Module::serialize` of a compatible engine. They do: only `store_precompiled` writes into
    // the cache directory (atomically, via rename), the file name carries the engine's
    // compatibility hash, and the documented contract of `SandboxConfig::cache_dir` is that only
    // the runner can write there. Reading the file into memory first (instead of
    // `deserialize_file`, which maps it) keeps a concurrent writer from changing mapped code.
    #[allow(unsafe_code)]
    let module = unsafe { wasmtime::Module::deserialize(engine, &bytes) };
    match module {
        Ok(module) => Some(module),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring unusable precompiled module");
            None
        }
    }
}

/// Writes the precompiled module next to its final name and renames it into place; a failure
/// only costs a recompilation next time.
fn store_precompiled(module: &wasmtime::Module, path: &Path) {
    let result = module
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|bytes| {
            // Unique per process and per write, so concurrent loads never share a temp file.
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, path)
        });
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "could not store precompiled module");
    }
}
