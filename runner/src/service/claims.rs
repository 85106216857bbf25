//! Claims on the shared job volume: replicas sharing one job root run each job folder once.
//!
//! The replica a folder is first submitted to creates `<folder>/.cortex-runner-claim` holding
//! `{"replica": <its id>, "state": "claimed"}`, atomically and with its content: written to a
//! temporary file, then hard-linked to its name, which fails if the name exists (the
//! `O_CREAT | O_EXCL` of lock files that must work on NFS too; a symlink planted under that name
//! makes it fail, never followed). Once the
//! folder's `output/output.json` is final it replaces the file, atomically by rename, with
//! `"state": "done"`. Another replica given the same folder finds the file, answers that the
//! folder is taken, and waits for `"done"` before it reads the report: the worker may write an
//! `output.json` of its own before finalisation replaces it, so the report file alone does not
//! say the job is over. Cortex reads only `input/` and `output/`; the claim is invisible to it.

use std::io::{Read as _, Write as _};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use serde::{Deserialize, Serialize};

/// The claim's file name, directly in the job folder.
pub const CLAIM_FILE: &str = ".cortex-runner-claim";

/// The largest claim file read: a replica id and a state.
const MAX_CLAIM_BYTES: u64 = 4096;

/// Where a claimed job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimState {
    /// Claimed; the report is not final yet.
    Claimed,
    /// `output/output.json` is final.
    Done,
}

/// The content of a claim file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The replica that claimed the folder.
    pub replica: String,
    /// Where the job is.
    pub state: ClaimState,
}

/// The outcome of [`claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This replica now owns the folder.
    Ours,
    /// Another replica (or an earlier run of one) claimed it; its claim, `None` if unreadable.
    Taken(Option<Claim>),
}

/// Claims `folder` for `replica` (see the module doc).
pub fn claim(folder: &Path, replica: &str) -> std::io::Result<Claimed> {
    let claim = Claim {
        replica: replica.to_string(),
        state: ClaimState::Claimed,
    };
    let temp = write_temp(folder, &claim)?;
    // link(2) creates the name atomically, already holding the whole claim, or fails if the
    // name exists (a symlink planted there included), on local file systems and NFS alike:
    // no replica ever reads a claim half written.
    let linked = std::fs::hard_link(&temp, folder.join(CLAIM_FILE));
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(Claimed::Ours),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(Claimed::Taken(read(folder)?))
        }
        Err(e) => Err(e),
    }
}

/// Writes `claim` into a new temporary file in `folder`; its path.
fn write_temp(folder: &Path, claim: &Claim) -> std::io::Result<std::path::PathBuf> {
    let suffix: u64 = rand::random();
    let temp = folder.join(format!("{CLAIM_FILE}.{suffix:016x}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    if let Err(e) = file.write_all(&serde_json::to_vec(claim).map_err(std::io::Error::other)?) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(temp)
}

/// Rewrites the claim of `folder` as `claim`, atomically: a new file beside it, renamed over it
/// (a symlink planted under the claim's name is replaced, never followed).
pub fn write(folder: &Path, claim: &Claim) -> std::io::Result<()> {
    let temp = write_temp(folder, claim)?;
    let renamed = std::fs::rename(&temp, folder.join(CLAIM_FILE));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// The claim of `folder`: `None` when there is none, or it is not a claim.
/// The file is opened without following a symlink and read up to a few KiB.
pub fn read(folder: &Path) -> std::io::Result<Option<Claim>> {
    let fd = match rustix::fs::open(
        folder.join(CLAIM_FILE),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut text = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_CLAIM_BYTES)
        .read_to_end(&mut text)?;
    Ok(serde_json::from_slice(&text).ok())
}

/// The final report of a folder whose claim says done: `output/output.json`, opened without
/// following a symlink at either step and read up to `max_bytes`. `None` while the claim is
/// not done (or the report cannot be read as JSON).
pub fn final_report(folder: &Path, max_bytes: u64) -> std::io::Result<Option<serde_json::Value>> {
    if !matches!(
        read(folder)?,
        Some(Claim {
            state: ClaimState::Done,
            ..
        })
    ) {
        return Ok(None);
    }
    let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = rustix::fs::open(
        folder.join("output"),
        flags | OFlags::DIRECTORY | OFlags::RDONLY,
        Mode::empty(),
    )?;
    let file = rustix::fs::openat(
        &dir,
        "output.json",
        flags | OFlags::RDONLY | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    let mut text = Vec::new();
    std::fs::File::from(file)
        .take(max_bytes)
        .read_to_end(&mut text)?;
    Ok(serde_json::from_slice(&text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_claim_wins_and_done_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path();
        assert_eq!(claim(folder, "a").unwrap(), Claimed::Ours);
        let a = Claim {
            replica: "a".into(),
            state: ClaimState::Claimed,
        };
        assert_eq!(claim(folder, "b").unwrap(), Claimed::Taken(Some(a)));
        assert_eq!(final_report(folder, 1024).unwrap(), None);
        std::fs::create_dir(folder.join("output")).unwrap();
        std::fs::write(folder.join("output/output.json"), r#"{"success":true}"#).unwrap();
        let done = Claim {
            replica: "a".into(),
            state: ClaimState::Done,
        };
        write(folder, &done).unwrap();
        assert_eq!(read(folder).unwrap(), Some(done));
        assert_eq!(
            final_report(folder, 1024).unwrap(),
            Some(serde_json::json!({"success": true}))
        );
        // Only the claim is left: the temporary file was renamed over it.
        let names: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_planted_symlink_is_not_a_claim_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, r#"{"replica":"x","state":"done"}"#).unwrap();
        let folder = dir.path().join("job");
        std::fs::create_dir(&folder).unwrap();
        std::os::unix::fs::symlink(&target, folder.join(CLAIM_FILE)).unwrap();
        assert_eq!(read(&folder).unwrap_err().raw_os_error(), Some(40)); // ELOOP
        assert!(matches!(claim(&folder, "a"), Err(e) if e.raw_os_error() == Some(40)));
        // The temporary file is gone.
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
    }
}
