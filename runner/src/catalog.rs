//! Cortex worker catalogs: JSON catalog files and directories of definition files, as Cortex's
//! `analyzer.urls` / `responder.urls` take them.
//!
//! A catalog file is a JSON array of definitions (with `dockerImage` instead of `command`); a
//! directory holds definition files (`<Flavour>.json`), directly or one level down as in the
//! Cortex-Analyzers repository (`analyzers/<Name>/<Flavour>.json`). Keys this runner does not use
//! (`screenshots`, `service_logo`, ...) are kept out of the way, as Cortex ignores them too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whether a worker is an analyzer or a responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// Analyzes an observable and reports.
    Analyzer,
    /// Acts on a TheHive object and reports operations.
    Responder,
}

impl std::fmt::Display for WorkerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Analyzer => "analyzer",
            Self::Responder => "responder",
        })
    }
}

/// One worker definition, with the keys the runner uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    /// The worker name (no whitespace, `/` or `..`).
    pub name: String,
    /// The version, e.g. "8.0".
    pub version: String,
    /// What the worker does.
    #[serde(default)]
    pub description: String,
    /// The author.
    #[serde(default)]
    pub author: String,
    /// The licence.
    #[serde(default)]
    pub license: String,
    /// The worker's home page (Cortex shows it).
    #[serde(default)]
    pub url: String,
    /// The data types the worker accepts.
    pub data_type_list: Vec<String>,
    /// The Docker image (catalog files).
    #[serde(default)]
    pub docker_image: Option<String>,
    /// The command (definition directories), made absolute against the definition's folder.
    #[serde(default)]
    pub command: Option<String>,
    /// The configuration group shared by flavours.
    #[serde(default, rename = "baseConfig")]
    pub base_config: Option<String>,
    /// The fixed configuration of this flavour, merged into `input.json`'s `config`.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// The configuration items an organisation fills in.
    #[serde(default)]
    pub configuration_items: Vec<Value>,
}

impl Definition {
    /// Cortex's worker id: `<name>_<version with dots as underscores>`, e.g. `FileInfo_8_0`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.name, self.version.replace('.', "_"))
    }

    /// The `config` Cortex would pass with no organisation configuration: the definition's
    /// `config` plus the default value of every configuration item that has one.
    pub fn default_config(&self) -> Map<String, Value> {
        let mut config = Map::new();
        for item in &self.configuration_items {
            let name = item.get("name").and_then(Value::as_str);
            let default = item.get("defaultValue").or_else(|| item.get("default"));
            if let (Some(name), Some(default)) = (name, default) {
                config.insert(name.to_string(), default.clone());
            }
        }
        for (k, v) in &self.config {
            config.insert(k.clone(), v.clone());
        }
        config
    }
}

/// A definition and where it was read from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEntry {
    /// Analyzer or responder.
    pub kind: WorkerKind,
    /// The definition.
    pub definition: Definition,
    /// The file it came from.
    pub source: PathBuf,
}

/// Every worker of the loaded catalogs, by name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: BTreeMap<String, CatalogEntry>,
    /// Notes that do not stop loading, e.g. a name defined twice (the later one wins).
    pub warnings: Vec<String>,
}

/// A catalog that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A path that cannot be read.
    #[error("catalog {}: cannot read: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file that is not JSON, or not an array or object.
    #[error("catalog {}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line when known.
        message: String,
    },
    /// A definition with a missing key, a wrong type or an invalid name.
    #[error("catalog {}: worker #{index} ({name}): {message}", path.display())]
    Definition {
        /// The file.
        path: PathBuf,
        /// The position in the file (1-based; 1 for a definition file).
        index: usize,
        /// The worker name when readable, else "?".
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// The result of catalog operations.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl Catalog {
    /// Loads analyzer catalogs, then responder catalogs, in order; a later definition of a name
    /// replaces an earlier one (with a warning).
    pub fn load(analyzers: &[PathBuf], responders: &[PathBuf]) -> Result<Self> {
        let mut catalog = Self::default();
        for (kind, paths) in [
            (WorkerKind::Analyzer, analyzers),
            (WorkerKind::Responder, responders),
        ] {
            for path in paths {
                for entry in read_path(path, kind)? {
                    catalog.insert(entry);
                }
            }
        }
        Ok(catalog)
    }

    /// Adds one entry; a name already present is replaced and the replacement noted.
    pub fn insert(&mut self, entry: CatalogEntry) {
        let name = entry.definition.name.clone();
        if let Some(old) = self.entries.insert(name.clone(), entry) {
            self.warnings.push(format!(
                "worker {name} from {} is replaced by the one from {}",
                old.source.display(),
                self.entries[&name].source.display()
            ));
        }
    }

    /// The worker called `name`, or whose Cortex id (`FileInfo_8_0`) is `name`.
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries
            .get(name)
            .or_else(|| self.entries.values().find(|e| e.definition.id() == name))
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.entries.values()
    }

    /// How many workers of `kind` are loaded.
    pub fn count(&self, kind: WorkerKind) -> usize {
        self.entries.values().filter(|e| e.kind == kind).count()
    }
}

fn read_path(path: &Path, kind: WorkerKind) -> Result<Vec<CatalogEntry>> {
    let meta = std::fs::metadata(path).map_err(|source| CatalogError::Read {
        path: path.into(),
        source,
    })?;
    if !meta.is_dir() {
        return read_file(path, kind);
    }
    let mut files = Vec::new();
    for entry in read_dir_sorted(path)? {
        if entry.is_dir() {
            files.extend(read_dir_sorted(&entry)?.into_iter().filter(|p| is_json(p)));
        } else if is_json(&entry) {
            files.push(entry);
        }
    }
    let mut out = Vec::new();
    for file in files {
        out.extend(read_file(&file, kind)?);
    }
    Ok(out)
}

fn is_json(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "json")
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let read_err = |source| CatalogError::Read {
        path: dir.into(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        paths.push(entry.map_err(read_err)?.path());
    }
    // Sorted so that which of two same-named definitions wins does not depend on the file system.
    paths.sort();
    Ok(paths)
}

fn read_file(path: &Path, kind: WorkerKind) -> Result<Vec<CatalogEntry>> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.into(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| CatalogError::Json {
        path: path.into(),
        message: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    let (items, from_catalog) = match value {
        Value::Array(items) => (items, true),
        object @ Value::Object(_) => (vec![object], false),
        _ => {
            return Err(CatalogError::Json {
                path: path.into(),
                message: "expected an array of worker definitions or one definition object".into(),
            });
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let fail = |message: String| CatalogError::Definition {
                path: path.into(),
                index: i + 1,
                name: name.clone(),
                message,
            };
            let mut definition: Definition =
                serde_json::from_value(item).map_err(|e| fail(e.to_string()))?;
            check_name(&definition.name).map_err(|m| fail(m.to_string()))?;
            if definition.docker_image.is_none() && definition.command.is_none() {
                let what = if from_catalog {
                    "`dockerImage`"
                } else {
                    "`command` or `dockerImage`"
                };
                return Err(fail(format!("missing key {what}")));
            }
            if let Some(command) = &definition.command {
                definition.command = Some(base.join(command).display().to_string());
            }
            Ok(CatalogEntry {
                kind,
                definition,
                source: path.into(),
            })
        })
        .collect()
}

/// Cortex's rule for worker names: no whitespace, no `/`, no `..`, not empty.
pub fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        Err("the name is empty")
    } else if name.chars().any(char::is_whitespace) {
        Err("the name contains whitespace")
    } else if name.contains('/') || name.contains("..") {
        Err("the name contains `/` or `..`")
    } else {
        Ok(())
    }
}
