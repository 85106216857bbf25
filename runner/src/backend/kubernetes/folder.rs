//! Makes a job folder usable by a pod that runs as another user: the job folder rule.
//!
//! Cortex makes job folders `0700` and attachments `0600`, readable by their owner only. When
//! `kubernetes.fs_group` is set, [`prepare_folder`] gives the folder, `input/` (and each file in
//! it) and `output/` to that group, keeping their owner, with these modes:
//!
//! | path | mode | why |
//! | --- | --- | --- |
//! | the job folder | `0750` | the group may enter it |
//! | `input/` | `0750` | the group may list and read the input, never change it |
//! | each file in `input/` | `0640` | `input.json`, the attachment, `cacerts` |
//! | `output/` | `2770` | the group writes there; setgid keeps new files in the group |
//!
//! The pod runs with `fsGroup` = `fs_group` (a supplementary group of its user, whatever its
//! uid), so it reads its input and writes its report. Nothing else changes: other users get no
//! access. When `fs_group` is unset nothing is changed: the folder must already be readable by
//! the pod's user (the runner and the pods share a uid, or the pods run as root).
//!
//! The folder is untrusted (Cortex, an earlier attempt or another process may have left links
//! in it): every step opens relative to its parent with `O_NOFOLLOW` and changes the opened file
//! through its descriptor (`fchown`, `fchmod`), so a symlink is refused, never followed, and a
//! file swapped after its check is the one checked or nothing. `output/`'s contents are left as
//! they are (they are the worker's, read only by `finalise`).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cortex_job::JobFolder;
use rustix::fs::{AtFlags, CWD, FileType, Gid, Mode, OFlags};
use rustix::io::Errno;

use crate::config::KubernetesConfig;

/// The job folder's mode under the rule.
pub const FOLDER_MODE: u32 = 0o750;
/// `input/`'s mode under the rule.
pub const INPUT_MODE: u32 = 0o750;
/// The mode of each file in `input/` under the rule.
pub const INPUT_FILE_MODE: u32 = 0o640;
/// `output/`'s mode under the rule (setgid, so new files stay in the group).
pub const OUTPUT_MODE: u32 = 0o2770;
/// The most entries `input/` may hold (Cortex writes at most three: input.json, an attachment,
/// cacerts); a folder holding more is not a Cortex job folder.
pub const MAX_INPUT_ENTRIES: usize = 64;

/// Why a job folder cannot be given to the pods' group.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Opening, changing or listing a path failed.
    #[error(
        "cannot give {} to group {gid} (kubernetes.fs_group) with mode {mode:04o} for the pod: {source}",
        path.display()
    )]
    Change {
        /// The path.
        path: PathBuf,
        /// The group.
        gid: u32,
        /// The mode it should get.
        mode: u32,
        /// Why (`EPERM`: the runner is neither root nor the owner in that group).
        source: std::io::Error,
    },
    /// A path of the rule is a symlink.
    #[error(
        "{} is a symlink: the runner follows no symlink in a job folder, so it cannot give it to the pod",
        .0.display()
    )]
    Symlink(PathBuf),
    /// Something in `input/` is not a regular file.
    #[error(
        "{} is {what}, not a regular file: input/ of a job folder holds only files (input.json, the attachment, cacerts)",
        path.display()
    )]
    NotAFile {
        /// The entry.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// `input/` holds too many entries.
    #[error("{} holds more than {MAX_INPUT_ENTRIES} entries: this is not a Cortex job folder", .0.display())]
    TooManyEntries(PathBuf),
}

/// The result type of this module.
pub type Result<T, E = PrepareError> = std::result::Result<T, E>;

/// Makes the job folder usable by a pod running as another uid, by the rule in the module doc.
/// Called by the backend before the Job is created. Idempotent; does nothing when
/// `config.fs_group` is unset.
pub fn prepare_folder(folder: &JobFolder, config: &KubernetesConfig) -> Result<()> {
    let Some(gid) = config.fs_group else {
        return Ok(());
    };
    // Config validation keeps ids within 0..=2147483647.
    let gid = u32::try_from(gid).unwrap_or(u32::MAX - 1);
    let root = folder.path();
    let ctx = Ctx { gid };
    let job = ctx.open_dir(CWD, root.as_os_str(), root, FOLDER_MODE)?;
    ctx.change(&job, root, FOLDER_MODE)?;

    let input_path = root.join("input");
    let input = ctx.open_dir(&job, OsStr::new("input"), &input_path, INPUT_MODE)?;
    ctx.change(&input, &input_path, INPUT_MODE)?;
    ctx.input_files(&input, &input_path)?;

    let output_path = root.join("output");
    let output = ctx.open_dir(&job, OsStr::new("output"), &output_path, OUTPUT_MODE)?;
    ctx.change(&output, &output_path, OUTPUT_MODE)?;
    Ok(())
}

/// The group being given, for the error messages.
struct Ctx {
    gid: u32,
}

impl Ctx {
    fn error(&self, path: &Path, mode: u32, source: Errno) -> PrepareError {
        PrepareError::Change {
            path: path.to_path_buf(),
            gid: self.gid,
            mode,
            source: source.into(),
        }
    }

    /// Opens the directory `name` of `dir` without following a symlink.
    fn open_dir(&self, dir: impl AsFd, name: &OsStr, path: &Path, mode: u32) -> Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(|e| {
            if e == Errno::LOOP || is_symlink(&dir, name) {
                PrepareError::Symlink(path.to_path_buf())
            } else {
                self.error(path, mode, e)
            }
        })
    }

    /// Gives the open file to the group (keeping its owner), then sets its mode: in this order,
    /// because a change of group clears the setgid bit.
    fn change(&self, fd: &OwnedFd, path: &Path, mode: u32) -> Result<()> {
        rustix::fs::fchown(fd, None, Some(Gid::from_raw(self.gid)))
            .and_then(|()| rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)))
            .map_err(|e| self.error(path, mode, e))
    }

    /// Gives every file of `input/` to the group, refusing anything but regular files.
    fn input_files(&self, input: &OwnedFd, input_path: &Path) -> Result<()> {
        let list_error = |e| self.error(input_path, INPUT_MODE, e);
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(input).map_err(list_error)? {
            let entry = entry.map_err(list_error)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if names.len() == MAX_INPUT_ENTRIES {
                return Err(PrepareError::TooManyEntries(input_path.to_path_buf()));
            }
            names.push(OsStr::from_bytes(name).to_os_string());
        }
        for name in names {
            let path = input_path.join(&name);
            let stat = rustix::fs::statat(input, &name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| self.error(&path, INPUT_FILE_MODE, e))?;
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => {}
                FileType::Symlink => return Err(PrepareError::Symlink(path)),
                other => {
                    return Err(PrepareError::NotAFile {
                        path,
                        what: describe(other),
                    });
                }
            }
            // O_NONBLOCK: should the entry become a fifo after the check, the open does not wait
            // for a writer; the type is checked again on the descriptor.
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(input, &name, flags, Mode::empty()).map_err(|e| {
                if e == Errno::LOOP {
                    PrepareError::Symlink(path.clone())
                } else {
                    self.error(&path, INPUT_FILE_MODE, e)
                }
            })?;
            let opened =
                rustix::fs::fstat(&fd).map_err(|e| self.error(&path, INPUT_FILE_MODE, e))?;
            if FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile {
                return Err(PrepareError::NotAFile {
                    path,
                    what: describe(FileType::from_raw_mode(opened.st_mode)),
                });
            }
            self.change(&fd, &path, INPUT_FILE_MODE)?;
        }
        Ok(())
    }
}

/// Whether `name` in `dir` is a symlink (an `O_DIRECTORY | O_NOFOLLOW` open of a link to a file
/// fails with `ENOTDIR`, not `ELOOP`).
fn is_symlink(dir: impl AsFd, name: &OsStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Symlink)
}

/// "a directory", "a fifo", ... for an error message.
fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "a directory",
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Symlink => "a symlink",
        FileType::RegularFile => "a regular file",
        FileType::Unknown => "of an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn folder(root: &Path) -> JobFolder {
        let input: cortex_job::JobInput = serde_json::from_value(serde_json::json!({
            "data": "8.8.8.8", "dataType": "ip", "tlp": 2, "pap": 2, "message": "",
            "parameters": {}, "config": {"cacerts": "PEM"}
        }))
        .unwrap();
        let attachment = cortex_job::Attachment {
            source: cortex_job::AttachmentSource::Bytes(b"bytes"),
            filename: "a.bin",
            content_type: "application/octet-stream",
        };
        JobFolder::create(root, "t", &input, Some(attachment)).unwrap()
    }

    fn mode(path: &Path) -> (u32, u32) {
        let m = std::fs::symlink_metadata(path).unwrap();
        (m.permissions().mode() & 0o7777, m.gid())
    }

    #[test]
    fn the_rule_sets_group_and_modes_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let job = folder(dir.path());
        let config = KubernetesConfig {
            fs_group: Some(4242),
            ..KubernetesConfig::default()
        };
        for _ in 0..2 {
            prepare_folder(&job, &config).unwrap();
            assert_eq!(mode(job.path()), (0o750, 4242));
            assert_eq!(mode(&job.input_dir()), (0o750, 4242));
            assert_eq!(mode(&job.output_dir()), (0o2770, 4242));
            for file in ["input.json", "cacerts"] {
                assert_eq!(mode(&job.input_dir().join(file)), (0o640, 4242), "{file}");
            }
            assert_eq!(mode(&job.attachment_path().unwrap()), (0o640, 4242));
        }
    }

    #[test]
    fn without_fs_group_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let job = folder(dir.path());
        let before = mode(&job.attachment_path().unwrap());
        prepare_folder(&job, &KubernetesConfig::default()).unwrap();
        assert_eq!(mode(&job.attachment_path().unwrap()), before);
        assert_eq!(mode(job.path()).0, 0o700);
    }

    #[test]
    fn symlinks_are_refused_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let job = folder(dir.path());
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "secret").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = job.input_dir().join("planted");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let config = KubernetesConfig {
            fs_group: Some(4242),
            ..KubernetesConfig::default()
        };
        let err = prepare_folder(&job, &config).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a symlink: the runner follows no symlink in a job folder, so it cannot give it to the pod",
                link.display()
            )
        );
        assert_eq!(mode(&outside).0, 0o600, "the link's target is untouched");
        std::fs::remove_file(&link).unwrap();

        // `output` replaced by a link to a directory outside.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::remove_dir(job.output_dir()).unwrap();
        std::os::unix::fs::symlink(&elsewhere, job.output_dir()).unwrap();
        let err = prepare_folder(&job, &config).unwrap_err();
        assert!(
            matches!(&err, PrepareError::Symlink(p) if *p == job.output_dir()),
            "{err}"
        );
        assert_eq!(mode(&elsewhere).0, 0o700);
    }

    #[test]
    fn a_directory_in_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let job = folder(dir.path());
        std::fs::create_dir(job.input_dir().join("sub")).unwrap();
        let config = KubernetesConfig {
            fs_group: Some(4242),
            ..KubernetesConfig::default()
        };
        assert_eq!(
            prepare_folder(&job, &config).unwrap_err().to_string(),
            format!(
                "{} is a directory, not a regular file: input/ of a job folder holds only files (input.json, the attachment, cacerts)",
                job.input_dir().join("sub").display()
            )
        );
    }
}
