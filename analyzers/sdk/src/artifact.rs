//! cortexutils' `build_artifact`: file artifacts copied into `output/` under a random name, and
//! data artifacts.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use rand::RngExt;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The characters Python's `tempfile` draws names from.
const NAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";

/// How many names to try before giving up (Python's `tempfile.TMP_MAX`).
const MAX_TRIES: usize = 10_000;

/// Python's `os.path.basename` on POSIX: everything after the last `/` (empty if the path
/// ends with `/`).
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A name like the ones `tempfile.NamedTemporaryFile` makes: `tmp` and eight random characters.
fn random_name() -> String {
    let mut rng = rand::rng();
    let mut name = String::from("tmp");
    for _ in 0..8 {
        name.push(char::from(
            NAME_CHARS[rng.random_range(0..NAME_CHARS.len())],
        ));
    }
    name
}

/// Creates a new file with a random name in `dir`, never reusing an existing name.
fn create_unique(dir: &Path) -> Result<(PathBuf, File)> {
    let mut last_error = None;
    for _ in 0..MAX_TRIES {
        let path = dir.join(random_name());
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(source) => return Err(Error::WriteOutput { path, source }),
        }
    }
    let source = last_error.unwrap_or_else(|| io::Error::other("no free name"));
    Err(Error::WriteOutput {
        path: dir.to_path_buf(),
        source,
    })
}

/// Makes the copy read-only: mode 0444 where there are Unix modes, as cortexutils'
/// `os.chmod(dst, 0o444)`. WASI preview 1 has no permission bits, so in the wasm sandbox the
/// copy keeps the mode the host gives new files.
fn make_read_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).map_err(|source| {
            Error::WriteOutput {
                path: path.to_path_buf(),
                source,
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Copies `source` into `output_dir` under a fresh random name, read-only, and returns the
/// artifact: `extra` first, then `dataType`, `file` (the new name) and `filename` (the source's
/// base name), in cortexutils' key order. Returns `Ok(None)` when `source` is not a regular
/// file, where cortexutils returns `None`.
pub fn copy_file_artifact(
    output_dir: &Path,
    source: &str,
    mut extra: Map<String, Value>,
) -> Result<Option<Value>> {
    if !Path::new(source).is_file() {
        return Ok(None);
    }
    let (dest, mut file) = create_unique(output_dir)?;
    let mut input = File::open(source).map_err(|e| Error::ReadInput {
        path: PathBuf::from(source),
        source: e,
    })?;
    io::copy(&mut input, &mut file).map_err(|e| Error::WriteOutput {
        path: dest.clone(),
        source: e,
    })?;
    drop(file);
    make_read_only(&dest)?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    extra.insert("dataType".to_owned(), Value::String("file".to_owned()));
    extra.insert("file".to_owned(), Value::String(name));
    extra.insert(
        "filename".to_owned(),
        Value::String(basename(source).to_owned()),
    );
    Ok(Some(Value::Object(extra)))
}

/// A data artifact: `extra` first, then `dataType` and `data`, as cortexutils'
/// `kwargs.update({"dataType": data_type, "data": data})` orders them.
pub fn data_artifact(data_type: &str, data: Value, mut extra: Map<String, Value>) -> Value {
    extra.insert("dataType".to_owned(), Value::String(data_type.to_owned()));
    extra.insert("data".to_owned(), data);
    Value::Object(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn basename_is_posix_basename() {
        assert_eq!(basename("/job/input/attachment123"), "attachment123");
        assert_eq!(basename("report.pdf"), "report.pdf");
        assert_eq!(basename("/tmp/dir/"), "");
    }

    #[test]
    fn random_names_look_like_python_tempfile_names() {
        let name = random_name();
        assert_eq!(name.len(), 11);
        assert!(name.starts_with("tmp"));
        assert!(name[3..].bytes().all(|b| NAME_CHARS.contains(&b)), "{name}");
        let names: std::collections::HashSet<String> = (0..50).map(|_| random_name()).collect();
        assert_eq!(
            names.len(),
            50,
            "fifty draws of 37^8 names should not collide"
        );
    }

    #[test]
    fn file_artifact_copies_bytes_read_only_under_a_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("evil.exe");
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        std::fs::write(&source, &bytes).unwrap();
        let out = dir.path().join("output");
        std::fs::create_dir(&out).unwrap();
        let mut extra = Map::new();
        extra.insert("tags".to_owned(), json!(["attachment"]));
        let artifact = copy_file_artifact(&out, source.to_str().unwrap(), extra)
            .unwrap()
            .unwrap();
        let name = artifact["file"].as_str().unwrap().to_owned();
        assert_eq!(
            artifact,
            json!({"tags": ["attachment"], "dataType": "file", "file": name, "filename": "evil.exe"})
        );
        let keys: Vec<&String> = artifact.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["tags", "dataType", "file", "filename"]);
        let copy = out.join(&name);
        assert_eq!(std::fs::read(&copy).unwrap(), bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
                0o444
            );
        }
        let second = copy_file_artifact(&out, source.to_str().unwrap(), Map::new())
            .unwrap()
            .unwrap();
        assert_ne!(second["file"], artifact["file"]);
    }

    #[test]
    fn file_artifact_of_a_missing_or_non_file_path_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            copy_file_artifact(dir.path(), "/no/such/file", Map::new()).unwrap(),
            None
        );
        assert_eq!(
            copy_file_artifact(dir.path(), dir.path().to_str().unwrap(), Map::new()).unwrap(),
            None
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn data_artifact_puts_extra_keys_first() {
        let mut extra = Map::new();
        extra.insert("tags".to_owned(), json!(["a"]));
        extra.insert("message".to_owned(), json!("m"));
        let artifact = data_artifact("ip", json!("1.2.3.4"), extra);
        assert_eq!(
            crate::pyjson::to_python_json(&artifact),
            r#"{"tags": ["a"], "message": "m", "dataType": "ip", "data": "1.2.3.4"}"#
        );
        let mut overriding = Map::new();
        overriding.insert("data".to_owned(), json!("old"));
        overriding.insert("tlp".to_owned(), json!(3));
        assert_eq!(
            crate::pyjson::to_python_json(&data_artifact("domain", json!("x.org"), overriding)),
            r#"{"data": "x.org", "tlp": 3, "dataType": "domain"}"#
        );
    }
}
