//! The agreed normalisations, which the goldens' `make_golden.py` scripts apply to the original's
//! reports and the harness applies to the port's, and the documented relaxations.

use std::fs;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::check::Failure;

/// Strings longer than this many characters are kept in goldens as a marker (see
/// [`long_strings`]), so that a 20 MiB attachment's base64 is not committed.
pub const LONG_STRING: usize = 1 << 20;

/// Replaces the random name of each file artifact (`"dataType": "file"`) by
/// `sha256:<hex of the file's bytes>`, reading the file from `output`.
///
/// # Errors
///
/// [`Failure::ArtifactUnreadable`] when a named file cannot be read.
pub fn file_artifacts(report: &mut Value, output: &Path) -> Result<(), Failure> {
    let Some(artifacts) = report.get_mut("artifacts").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for artifact in artifacts {
        if artifact.get("dataType").and_then(Value::as_str) != Some("file") {
            continue;
        }
        let Some(name) = artifact.get("file").and_then(Value::as_str) else {
            continue;
        };
        let bytes = fs::read(output.join(name)).map_err(|source| Failure::ArtifactUnreadable {
            name: name.to_owned(),
            source,
        })?;
        artifact["file"] = Value::String(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))));
    }
    Ok(())
}

/// Replaces every string longer than [`LONG_STRING`] characters by
/// `<long string: N chars, sha256:HEX>`, the marker the goldens' `make_golden.py` writes. Applied
/// to both sides: some goldens keep their long strings, some the marker.
pub fn long_strings(value: Value) -> Value {
    match value {
        // A string of at most LONG_STRING bytes cannot have more characters; skip the count.
        Value::String(s) if s.len() > LONG_STRING && s.chars().count() > LONG_STRING => {
            Value::String(format!(
                "<long string: {} chars, sha256:{}>",
                s.chars().count(),
                hex::encode(Sha256::digest(s.as_bytes()))
            ))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(long_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, long_strings(value)))
                .collect(),
        ),
        other => other,
    }
}

/// Removes the value at each JSON pointer, in the listed order: an object member is deleted
/// (keeping the other members' order), an array item is removed. `relaxed.json` lists array items
/// from the highest index down, so that one removal leaves the next pointer valid. A pointer that
/// finds nothing changes nothing: the port's report lacks what the original's has.
///
/// # Panics
///
/// When a pointer does not start with `/`.
pub fn relax(report: &mut Value, pointers: &[String]) {
    for pointer in pointers {
        let (parent, key) = pointer
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("relaxed pointer {pointer:?} does not start with /"));
        let key = key.replace("~1", "/").replace("~0", "~");
        match report.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.shift_remove(&key);
            }
            Some(Value::Array(items)) => {
                if let Ok(i) = key.parse::<usize>()
                    && i < items.len()
                {
                    items.remove(i);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relax_removes_members_and_items_and_keeps_member_order() {
        let mut report = json!({"a": 1, "b/c": 2, "d": [0, 1, 2, 3], "e": 4});
        relax(
            &mut report,
            &["/b~1c".into(), "/d/3".into(), "/d/1".into(), "/x/y".into()],
        );
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"a":1,"d":[0,2],"e":4}"#
        );
    }

    #[test]
    fn long_strings_become_a_marker_with_length_and_digest() {
        let long = "é".repeat(LONG_STRING + 1);
        let reduced = long_strings(json!({"short": "é", "long": [long.clone()]}));
        assert_eq!(reduced["short"], "é");
        assert_eq!(
            reduced["long"][0],
            format!(
                "<long string: {} chars, sha256:{}>",
                LONG_STRING + 1,
                hex::encode(Sha256::digest(long.as_bytes()))
            )
        );
        // Exactly LONG_STRING characters, in more bytes than that, is kept.
        let kept = "é".repeat(LONG_STRING);
        assert_eq!(long_strings(json!(kept.clone())), json!(kept));
    }

    #[test]
    fn file_artifacts_are_named_by_their_digest() {
        let output = tempfile::tempdir().unwrap();
        fs::write(output.path().join("random"), b"abc").unwrap();
        let mut report = json!({"artifacts": [
            {"dataType": "file", "file": "random"},
            {"dataType": "url", "data": "https://example.com"},
        ]});
        file_artifacts(&mut report, output.path()).unwrap();
        assert_eq!(
            report["artifacts"][0]["file"],
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut missing = json!({"artifacts": [{"dataType": "file", "file": "gone"}]});
        assert!(matches!(
            file_artifacts(&mut missing, output.path()),
            Err(Failure::ArtifactUnreadable { name, .. }) if name == "gone"
        ));
    }
}
