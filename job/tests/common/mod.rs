//! Shared fixtures: a job folder inside a scratch directory that also holds an `outside/` folder
//! (the target of hostile symlinks), and a snapshot of everything but `output/`.

#![allow(dead_code)]

use cortex_job::{FinaliseOptions, Finalised, JobFolder, JobInput, WorkerEnd, finalise};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A job folder for an IP observable whose config holds two secrets.
pub struct Fixture {
    /// The scratch directory; dropped last.
    pub tmp: TempDir,
    /// `tmp/jobs/cortex-job-job1-<random>`.
    pub folder: JobFolder,
    /// `tmp/outside`, holding `secret.txt` and `dir/inner.txt`.
    pub outside: PathBuf,
}

/// The job input every fixture uses.
pub fn input() -> JobInput {
    let mut input = JobInput::new("ip", "1.2.3.4");
    input
        .config
        .insert("api_key".into(), json!("sk-live-0123456789"));
    input.config.insert("Password".into(), json!("hunter22"));
    input
        .config
        .insert("url".into(), json!("https://vt.example"));
    input
}

/// That input as a failure report's `input` must show it.
pub fn redacted_input() -> Value {
    json!({"data": "1.2.3.4", "dataType": "ip", "tlp": 2, "pap": 2, "message": "", "parameters": {},
           "config": {"api_key": "REMOVED", "Password": "REMOVED", "url": "https://vt.example"}})
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(outside.join("dir")).unwrap();
    fs::write(outside.join("secret.txt"), "outside secret").unwrap();
    fs::write(outside.join("dir/inner.txt"), "inner").unwrap();
    let jobs = tmp.path().join("jobs");
    fs::create_dir(&jobs).unwrap();
    let folder = JobFolder::create(&jobs, "job1", &input(), None).unwrap();
    Fixture {
        tmp,
        folder,
        outside,
    }
}

impl Fixture {
    /// `output/<name>`.
    pub fn out(&self, name: &str) -> PathBuf {
        self.folder.output_dir().join(name)
    }

    /// Finalises the folder after a worker that exited with `code`, with the default options.
    pub fn finalise_exited(&self, code: i32) -> Finalised {
        finalise(
            &self.folder,
            &WorkerEnd::exited(code),
            &FinaliseOptions::default(),
        )
        .unwrap()
    }

    /// Writes `output/output.json` as a worker would.
    pub fn write_report(&self, report: &Value) {
        fs::write(self.out("output.json"), serde_json::to_vec(report).unwrap()).unwrap();
    }

    /// Everything in the scratch directory except `output/`: path → type, mode, size, mtime,
    /// content or link target.
    pub fn snapshot_outside_output(&self) -> BTreeMap<PathBuf, String> {
        let mut snapshot = BTreeMap::new();
        walk(self.tmp.path(), &self.folder.output_dir(), &mut snapshot);
        snapshot
    }

    /// The names left in `output/`, sorted.
    pub fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.folder.output_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `output/output.json` as now on disk, parsed.
    pub fn final_report(&self) -> Value {
        let path = self.out("output.json");
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }
}

fn walk(dir: &Path, skip: &Path, snapshot: &mut BTreeMap<PathBuf, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        let what = if meta.file_type().is_symlink() {
            format!("link {:?}", fs::read_link(&path).unwrap())
        } else if meta.is_dir() {
            walk(&path, skip, snapshot);
            "dir".to_owned()
        } else {
            format!("file {:?}", fs::read(&path).unwrap())
        };
        let stamp = format!(
            "{what} mode={:o} mtime={}.{}",
            meta.mode(),
            meta.mtime(),
            meta.mtime_nsec()
        );
        snapshot.insert(path, stamp);
    }
}
