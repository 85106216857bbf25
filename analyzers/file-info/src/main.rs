//! `FileInfo`: the wasm port of Cortex-Analyzers' FileInfo analyzer (version 8.0). For a file
//! observable it reports hashes (md5, sha1, sha256, ssdeep), size, libmagic's MIME type and
//! charset, ExifTool's file type, and for Windows executables pefile's PE information, in the
//! original's report shape: `{"results": [<one entry per submodule>]}`.
//!
//! The original's other submodules (oletools, PDFiD, IOC parser, Outlook, RTF, Manalyze,
//! FLOSS) are not ported; `README.md` lists them and every other difference.

mod encoding;
mod exif_tags;
mod exiftool;
mod hashes;
mod log;
mod magic;
mod metadata;
mod pe;
mod pe_version;
mod pehash;
mod report;

use std::process::ExitCode;

use cortex_sdk::serde_json::{Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, truthy};

use crate::metadata::{FileFacts, basic_properties};
use crate::report::submodule;

/// The FileInfo analyzer: its hooks (summary, artifacts) and its run.
struct FileInfo;

impl Hooks for FileInfo {
    /// The taxonomies of every submodule, in order. A failed submodule has a `null` summary,
    /// which makes the original's summary raise, and cortexutils then reports `{}`.
    fn summary(&self, _: &Analyzer, full: &Value) -> Result<Value> {
        let mut taxonomies = Vec::new();
        for entry in full["results"].as_array().into_iter().flatten() {
            let list = entry["summary"]["taxonomies"]
                .as_array()
                .ok_or_else(|| Error::msg("submodule without summary"))?;
            taxonomies.extend(list.iter().cloned());
        }
        Ok(json!({"taxonomies": taxonomies}))
    }

    /// The original overrides auto-extraction: its only artifacts are files that the Outlook
    /// submodule extracts, which is not ported, so there are none.
    fn artifacts(&self, _: &Analyzer, _: &Value) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

impl Analyze for FileInfo {
    fn run(&self, job: &Analyzer) -> Result<Value> {
        let path = job.require_param("file", "File parameter is missing.")?;
        let path = path
            .as_str()
            .ok_or_else(|| Error::msg("File parameter is missing."))?
            .to_owned();
        job.require_param("filename", "Filename is missing.")?;
        let data = std::fs::read(&path).map_err(|e| Error::msg(format!("{path}: {e}")))?;
        let facts = FileFacts::examine(&data);
        check_optional_submodules(job)?;

        let mut results = vec![basic_properties(&data, &facts)];
        // Of the original's submodules only PE runs here; it takes the two executable
        // file types ExifTool reports (DLLs are not analysed, as in the original).
        if matches!(
            facts.exif.file_type.as_deref(),
            Some("Win32 EXE" | "Win64 EXE")
        ) {
            results.push(match pe::analyze(&data) {
                Ok(sections) => submodule(
                    "PE Information",
                    sections,
                    json!({"taxonomies": [], "pefile": pe::PEFILE_VERSION}),
                ),
                Err(message) => submodule("PE Information", json!(message), Value::Null),
            });
        }
        Ok(json!({"results": results}))
    }
}

/// The original's configuration checks for the Manalyze and FLOSS submodules, with its
/// messages. Neither tool can run in the sandbox: a Manalyze binary path is never visible
/// there, so enabling it by binary fails exactly as the original does when the path is wrong;
/// Manalyze through Docker and FLOSS are skipped (see the README).
fn check_optional_submodules(job: &Analyzer) -> Result<()> {
    let enabled = job.require_param(
        "config.manalyze_enable",
        "Parameter manalyze_enable not given.Please enable or disable manalyze submodule explicitly.",
    )?;
    if truthy(enabled) {
        let docker = job
            .get_param("config.manalyze_enable_docker")
            .is_some_and(truthy);
        if !docker {
            return Err(Error::msg(
                "Manalyze submodule is enabled, but either there is no method allowed (docker or binary)or the path to binary is not correct.",
            ));
        }
    }
    if job.get_param("config.floss_enable").is_some_and(truthy) {
        job.require_param("config.floss_binary_path", "Floss binary path not given.")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    cortex_sdk::run_analyzer(FileInfo)
}
