//! An analyzer crate's golden corpus: the `tests/corpus/<case>/` folders and `relaxed.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::compare::KeyOrder;

/// Fewer cases than this means the listing went wrong (a moved folder, a filter that drops
/// cases), not that an analyzer has a small corpus: every corpus has at least this many.
pub const MIN_CASES: usize = 15;

/// The files of a case folder that are not part of the job's input: the golden, its compressed
/// copy, the generator of a large case and the `.gitignore` that keeps generated files out of git.
pub const NOT_INPUT: [&str; 4] = [
    "expected.json",
    "expected.json.gz",
    "generate.py",
    ".gitignore",
];

/// The corpus of one analyzer crate: `<crate>/tests/corpus/`, one folder per case holding
/// `input.json`, the attachment for a file job, and `expected.json` (or a `generate.py` that
/// writes the large ones); beside them, optionally, `relaxed.json`.
///
/// `relaxed.json` lists the documented differences as `{"<case>": ["<JSON pointer>", ...]}`;
/// the values at those pointers are removed from both reports before comparing (see
/// [`crate::normalise::relax`]), and the analyzer's README gives the reason for each.
#[derive(Debug, Clone)]
pub struct Corpus {
    name: String,
    dir: PathBuf,
    relaxed: BTreeMap<String, Vec<String>>,
    key_order: KeyOrder,
}

impl Corpus {
    /// The corpus of the analyzer crate in `crate_dir` (pass `env!("CARGO_MANIFEST_DIR")`),
    /// compared with [`KeyOrder::Ignored`] until [`Corpus::with_key_order`] says otherwise.
    ///
    /// # Panics
    ///
    /// When `relaxed.json` exists but is not `{"<case>": ["<JSON pointer>", ...]}`, or names a
    /// case that has no folder.
    pub fn of_crate(crate_dir: impl AsRef<Path>) -> Self {
        let crate_dir = crate_dir.as_ref();
        let name = crate_dir.file_name().map_or_else(
            || crate_dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let dir = crate_dir.join("tests").join("corpus");
        let relaxed = read_relaxed(&dir.join("relaxed.json"));
        for case in relaxed.keys() {
            assert!(
                dir.join(case).is_dir(),
                "{}: names {case}, which is not a case folder (remove it or fix the name)",
                dir.join("relaxed.json").display()
            );
        }
        Self {
            name,
            dir,
            relaxed,
            key_order: KeyOrder::Ignored,
        }
    }

    /// The same corpus, compared with `key_order`.
    pub fn with_key_order(mut self, key_order: KeyOrder) -> Self {
        self.key_order = key_order;
        self
    }

    /// The crate folder's name (`eml-parser`), which prefixes every failure.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `tests/corpus/` folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How reports are compared.
    pub fn key_order(&self) -> KeyOrder {
        self.key_order
    }

    /// Every case, sorted by name.
    ///
    /// # Panics
    ///
    /// When the folder cannot be read, a case folder has neither `input.json` nor
    /// `generate.py`, or there are fewer than [`MIN_CASES`] cases.
    pub fn cases(&self) -> Vec<Case> {
        let entries = fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("{}: cannot list the corpus: {e}", self.dir.display()));
        let mut cases: Vec<Case> = entries
            .map(|entry| {
                entry
                    .unwrap_or_else(|e| panic!("{}: {e}", self.dir.display()))
                    .path()
            })
            // The other entries are corpus-wide files such as relaxed.json.
            .filter(|path| path.is_dir())
            .map(|dir| {
                assert!(
                    dir.join("input.json").is_file() || dir.join("generate.py").is_file(),
                    "{}: a case folder needs input.json, or a generate.py that writes it",
                    dir.display()
                );
                Case::at(dir)
            })
            .collect();
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(
            cases.len() >= MIN_CASES,
            "{}: only {} cases, expected at least {MIN_CASES}",
            self.dir.display(),
            cases.len()
        );
        cases
    }

    /// The case named `name` (whether or not its folder exists).
    pub fn case(&self, name: &str) -> Case {
        Case::at(self.dir.join(name))
    }

    /// Every case's relaxed pointers, from `relaxed.json` (empty when there is none).
    pub fn relaxations(&self) -> &BTreeMap<String, Vec<String>> {
        &self.relaxed
    }

    /// The JSON pointers relaxed for the case named `case` (often none).
    pub fn relaxed(&self, case: &str) -> &[String] {
        self.relaxed.get(case).map_or(&[], Vec::as_slice)
    }
}

/// Reads `relaxed.json`, or nothing when the corpus has none.
fn read_relaxed(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    };
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (expected {{\"<case>\": [\"<JSON pointer>\", ...]}})",
            path.display()
        )
    })
}

/// One case folder: one Cortex job input and the original's report for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    name: String,
    dir: PathBuf,
}

impl Case {
    fn at(dir: PathBuf) -> Self {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self { name, dir }
    }

    /// The folder's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The case folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the case's `generate.py` (from the case folder) when one of the files it writes is
    /// missing: `input.json`, `expected.json` or the attachment `input.json` names. Large
    /// inputs and goldens are generated rather than committed.
    ///
    /// # Panics
    ///
    /// When `python3` cannot be started, the generator fails, or the files are still missing
    /// after it ran.
    pub fn generate_if_needed(&self) {
        let generator = self.dir.join("generate.py");
        if !generator.is_file() || self.is_complete() {
            return;
        }
        let status = Command::new("python3")
            .arg("generate.py")
            .current_dir(&self.dir)
            .status()
            .unwrap_or_else(|e| panic!("{}: cannot run python3: {e}", generator.display()));
        assert!(status.success(), "{}: {status}", generator.display());
        assert!(
            self.is_complete(),
            "{} ran, but input.json, expected.json or the attachment is still missing",
            generator.display()
        );
    }

    /// Whether the job input and the golden are all there.
    fn is_complete(&self) -> bool {
        let Ok(text) = fs::read(self.dir.join("input.json")) else {
            return false;
        };
        if !self.dir.join("expected.json").is_file() {
            return false;
        }
        let input: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        match input.get("file").and_then(Value::as_str) {
            Some(attachment) => self.dir.join(attachment).is_file(),
            None => true,
        }
    }

    /// The original's report, `expected.json`.
    ///
    /// # Panics
    ///
    /// When it cannot be read or is not JSON.
    pub fn expected(&self) -> Value {
        let path = self.dir.join("expected.json");
        let text = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}
