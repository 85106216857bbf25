//! Configuration errors, each naming the source (file, variable or flag), the key and what was expected.

use std::path::PathBuf;

use figment::error::{Actual, Kind};
use figment::{Figment, Metadata, Profile};

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` or `CORTEX_RUNNER_CONFIG` names a file that does not exist.
    #[error("config file {} (given by {given_by}) does not exist", path.display())]
    MissingFile {
        /// The path given.
        path: PathBuf,
        /// `--config` or the environment variable.
        given_by: &'static str,
    },
    /// The configuration file cannot be read.
    #[error("config {}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("config {}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the error, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown, has the wrong type or an invalid value.
    #[error("config {origin}: {problem}")]
    Key {
        /// Where the value came from: a file path, an environment variable, a flag or "default".
        origin: String,
        /// The key as `section.key`.
        key: String,
        /// What is wrong, with what was expected.
        problem: String,
    },
}

/// The result of configuration operations.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

impl ConfigError {
    /// A value of the right type that is out of range; the source is filled in by the loader.
    pub(crate) fn invalid(key: &str, expected: &str, found: &str) -> Self {
        Self::Key {
            origin: String::new(),
            key: key.to_string(),
            problem: format!("`{key}` must be {expected}, found {found}"),
        }
    }

    /// Names the layer a semantically invalid value came from.
    pub(crate) fn with_source(self, figment: &Figment) -> Self {
        match self {
            Self::Key {
                origin,
                key,
                problem,
            } if origin.is_empty() => {
                let origin = figment
                    .find_metadata(&key)
                    .map(|md| describe_source(md, &key))
                    .unwrap_or_else(|| "default".to_string());
                Self::Key {
                    origin,
                    key,
                    problem,
                }
            }
            other => other,
        }
    }

    /// Turns figment's extraction error into a message naming the source and the key.
    pub(crate) fn from_figment(error: figment::Error) -> Self {
        let mut path = error.path.clone();
        let problem = match &error.kind {
            Kind::UnknownField(field, expected) => {
                // figment's path usually ends with the unknown key already.
                if path.last() != Some(field) {
                    path.push(field.clone());
                }
                format!(
                    "unknown key `{}` (expected one of: {})",
                    path.join("."),
                    expected.join(", ")
                )
            }
            // An integer that does not fit the key's type is out of the key's range: say so.
            Kind::InvalidType(actual @ (Actual::Signed(_) | Actual::Unsigned(_)), _)
            | Kind::InvalidValue(actual @ (Actual::Signed(_) | Actual::Unsigned(_)), _)
                if super::limits::config_range(&path.join(".")).is_some() =>
            {
                let key = path.join(".");
                let found = match actual {
                    Actual::Signed(v) => v.to_string(),
                    Actual::Unsigned(v) => v.to_string(),
                    _ => unreachable!("matched above"),
                };
                format!(
                    "`{key}` must be {}, found {found}",
                    super::limits::config_range(&key).unwrap_or_default()
                )
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!(
                    "`{}` must be {}, found {}",
                    path.join("."),
                    plain_expected(expected),
                    plain_actual(actual)
                )
            }
            Kind::UnknownVariant(found, expected) => format!(
                "`{}` must be one of: {}, found {found:?}",
                path.join("."),
                expected.join(", ")
            ),
            other => format!("`{}`: {other}", path.join(".")),
        };
        let key = path.join(".");
        let origin = error
            .metadata
            .as_ref()
            .map(|md| describe_source(md, &key))
            .unwrap_or_else(|| "default".to_string());
        Self::Key {
            origin,
            key,
            problem,
        }
    }
}

/// "config.toml", "CORTEX_RUNNER_WASM__MEMORY_MIB", "--policies" or "default".
pub(crate) fn describe_source(md: &Metadata, key: &str) -> String {
    if let Some(path) = md.source.as_ref().and_then(|s| s.file_path()) {
        return path.display().to_string();
    }
    if md.name == "default" {
        return "default".to_string();
    }
    let keys: Vec<&str> = key.split('.').collect();
    let name = md.interpolate(&Profile::Default, &keys);
    if md.name == "environment" {
        format!("environment {name}")
    } else {
        name
    }
}

/// Serde's type names as a reader of `config.toml` says them.
pub(crate) fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "an array".to_string(),
        "a map" => "a table".to_string(),
        "path string" => "a path string".to_string(),
        other => other.to_string(),
    }
}

fn plain_actual(actual: &Actual) -> String {
    match actual {
        Actual::Str(s) => format!("string {s:?}"),
        Actual::Map => "a table".to_string(),
        Actual::Seq => "an array".to_string(),
        other => other.to_string(),
    }
}
