//! The on-disk directory of precompiled modules: native code, so only a directory of the current
//! user's that no one else can write is used; entries are keyed by the module's SHA-256 and the
//! engine's compatibility hash, and pruned.
//!
//! An entry is `<sha256 of the wasm>-<engine key>.cwasm`, where the engine key is the first 128
//! bits of a SHA-256 over [`Engine::precompile_compatibility_hash`] (wasmtime's version, the
//! engine's settings and the host's CPU features): stable across Rust releases, unlike
//! `DefaultHasher`. Pruning, when a sandbox opens the directory and after each new entry:
//!
//! - entries of another engine key (another wasmtime version or configuration) are removed: this
//!   engine can never load them;
//! - temporary files of interrupted writes older than an hour are removed;
//! - while the entries of this engine key take more than
//!   [`SandboxConfig::cache_max_bytes`](crate::SandboxConfig::cache_max_bytes), the least
//!   recently used one (oldest modification time; a load refreshes it) is removed.
//!
//! Files not named like an entry are left alone.

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;

use crate::module_cache::Compiled;
use crate::{Error, Result};

/// How old a temporary file must be before it is taken for the leftover of an interrupted write.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The per-user default cache directory: `$XDG_CACHE_HOME/cortex-runner/modules`, else
/// `$HOME/.cache/cortex-runner/modules`; `None` when neither variable holds an absolute path.
pub fn default_cache_dir() -> Option<PathBuf> {
    cache_dir_from(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

/// [`default_cache_dir`] for these values of `XDG_CACHE_HOME` and `HOME`. Relative values are
/// ignored, as the XDG base-directory specification says.
fn cache_dir_from(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = absolute(xdg_cache_home).or_else(|| absolute(home).map(|h| h.join(".cache")))?;
    Some(base.join("cortex-runner").join("modules"))
}

/// A checked cache directory for one engine.
#[derive(Debug)]
pub(crate) struct DiskCache {
    dir: PathBuf,
    engine_key: String,
    max_bytes: u64,
}

impl DiskCache {
    /// Creates `dir` (mode 0700) if missing, refuses it unless it is a directory of the current
    /// user's that no other user can write, and prunes it.
    pub(crate) fn open(engine: &Engine, dir: PathBuf, max_bytes: u64) -> Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::OpenDir {
                path: dir.clone(),
                message: format!("cannot create the precompiled-module cache: {e}"),
            })?;
        check_private(&dir)?;
        let cache = Self {
            dir,
            engine_key: engine_key(engine),
            max_bytes,
        };
        cache.prune();
        Ok(cache)
    }

    /// Where the entry of the module with this SHA-256 is.
    pub(crate) fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// Loads the precompiled module with this SHA-256; any failure (missing, corrupt) means
    /// "compile again". A hit refreshes the entry's modification time, which pruning reads as
    /// its last use.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Compiled> {
        let path = self.path(sha256);
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: `Module::deserialize` runs the bytes as native code, so they must come from
        // `Module::serialize` of a compatible engine. They do: only `store` writes entries
        // (atomically, via rename), the name carries this engine's compatibility key, and
        // `open` refused the directory unless it belongs to the current user and no other user
        // can write it. Reading the file into memory first (instead of `deserialize_file`,
        // which maps it) keeps a concurrent writer from changing mapped code.
        // The entry says whether it is a core module or a component (`detect_precompiled`), and
        // is deserialised as that.
        #[allow(unsafe_code)]
        let module = match Engine::detect_precompiled(&bytes) {
            Some(wasmtime::Precompiled::Component) => {
                unsafe { wasmtime::component::Component::deserialize(engine, &bytes) }
                    .map(Compiled::Component)
            }
            _ => unsafe { wasmtime::Module::deserialize(engine, &bytes) }.map(Compiled::Core),
        };
        match module {
            Ok(module) => {
                let touched = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                if let Err(e) = touched {
                    tracing::debug!(path = %path.display(), error = %e, "could not refresh a cache entry's time");
                }
                Some(module)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable precompiled module");
                None
            }
        }
    }

    /// Writes the precompiled module next to its final name, renames it into place and prunes;
    /// a failure only costs a recompilation next time.
    pub(crate) fn store(&self, module: &Compiled, sha256: &str) {
        let path = self.path(sha256);
        let serialized = match module {
            Compiled::Core(module) => module.serialize(),
            Compiled::Component(component) => component.serialize(),
        };
        let result = serialized
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|bytes| {
                // Unique per process and per write, so concurrent loads never share a temp file.
                static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "could not store precompiled module");
        }
        self.prune();
    }

    /// Removes other engines' entries, old temporary files, and this engine's least recently
    /// used entries beyond the size bound (see the module doc). Best effort: a file that cannot
    /// be read or removed is skipped.
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let suffix = format!("-{}.cwasm", self.engine_key);
        let mut current = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            let Some(kind) = entry_kind(&name) else {
                continue;
            };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let remove = match kind {
                Kind::Entry if name.ends_with(&suffix) => {
                    current.push((modified, name.clone(), meta.len()));
                    false
                }
                Kind::Entry => true,
                Kind::Temp => now.duration_since(modified).unwrap_or_default() > STALE_TEMP,
            };
            if remove {
                remove_entry(&self.dir.join(&name));
            }
        }
        // Newest first; the oldest go while the total is over the bound.
        current.sort_by(|a, b| b.cmp(a));
        let mut total: u64 = 0;
        for (_, name, len) in current {
            total = total.saturating_add(len);
            if total > self.max_bytes {
                remove_entry(&self.dir.join(&name));
            }
        }
    }
}

/// What a file in the cache directory is.
enum Kind {
    /// `<64 hex>-<hex>.cwasm`.
    Entry,
    /// `<64 hex>-<hex>.tmp-<pid>-<n>`, an entry being written.
    Temp,
}

fn entry_kind(name: &str) -> Option<Kind> {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (sha, rest) = name.split_once('-')?;
    if sha.len() != 64 || !hex(sha) {
        return None;
    }
    let (key, ext) = rest.split_once('.')?;
    if !hex(key) {
        return None;
    }
    if ext == "cwasm" {
        Some(Kind::Entry)
    } else if ext.starts_with("tmp-") {
        Some(Kind::Temp)
    } else {
        None
    }
}

fn remove_entry(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "pruned a precompiled module"),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not prune a precompiled module")
        }
    }
}

/// Refuses `dir` unless it is a directory owned by the current user that neither its group nor
/// others can write: its files are loaded as native code.
fn check_private(dir: &Path) -> Result<()> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::OpenDir {
        path: dir.to_owned(),
        message: format!("cannot read the precompiled-module cache: {e}"),
    })?;
    let refuse = |reason: String| {
        Err(Error::UnsafeCacheDir {
            path: dir.to_owned(),
            reason,
        })
    };
    if !meta.is_dir() {
        return refuse("it is not a directory".to_owned());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "it is owned by uid {}, not by the user running the sandbox (uid {me})",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 != 0 {
            "every user"
        } else {
            "its group"
        };
        return refuse(format!(
            "its mode {mode:04o} lets {who} write into it (chmod 700 it)"
        ));
    }
    Ok(())
}

/// The first 128 bits, in hex, of a SHA-256 over the engine's compatibility hash.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

/// Feeds what a `Hash` impl writes into a SHA-256 (as wasmtime's own cache does), so that the
/// key depends only on those bytes, not on the standard library's hasher.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_directory_is_per_user() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            cache_dir_from(xdg.map(OsString::from), home.map(OsString::from))
        };
        assert_eq!(
            dir(Some("/x/cache"), Some("/home/a")),
            Some(PathBuf::from("/x/cache/cortex-runner/modules"))
        );
        assert_eq!(
            dir(None, Some("/home/a")),
            Some(PathBuf::from("/home/a/.cache/cortex-runner/modules"))
        );
        // Relative values are ignored.
        assert_eq!(
            dir(Some("cache"), Some("/home/a")),
            Some(PathBuf::from("/home/a/.cache/cortex-runner/modules"))
        );
        assert_eq!(dir(Some("cache"), Some("home")), None);
        assert_eq!(dir(None, None), None);
    }

    #[test]
    fn the_engine_key_is_stable_and_tells_configurations_apart() {
        let plain = Engine::default();
        let key = engine_key(&plain);
        assert_eq!(key.len(), 32);
        assert_eq!(engine_key(&Engine::default()), key);
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        assert_ne!(engine_key(&Engine::new(&config).unwrap()), key);
    }

    #[test]
    fn only_entry_names_are_entries() {
        let sha = "a".repeat(64);
        assert!(matches!(
            entry_kind(&format!("{sha}-0123abcd.cwasm")),
            Some(Kind::Entry)
        ));
        assert!(matches!(
            entry_kind(&format!("{sha}-0123abcd.tmp-12-0")),
            Some(Kind::Temp)
        ));
        for name in ["notes.txt", "x-1.cwasm", &format!("{sha}-zz.cwasm")] {
            assert!(entry_kind(name).is_none(), "{name}");
        }
    }
}
