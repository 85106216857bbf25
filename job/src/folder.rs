//! Creating a Cortex job folder the way Cortex does, and opening an existing one.
//!
//! Cortex 4.1's `JobRunnerSrv.prepareJobFolder` makes the folder with Java's
//! `Files.createTempDirectory(jobDirectory, "cortex-job-<id>-")`: the prefix followed by an
//! unsigned random 64-bit number in decimal, mode `0700`. Inside it come `input/` and an empty
//! `output/`, the attachment (if any) as `Files.createTempFile(input, "attachment", "")` (mode
//! `0600`), `input/cacerts` when the worker config has a non-blank `cacerts` string, and
//! `input/input.json` last, so that a worker never sees a half-made folder's input.

use crate::input::JobInput;
use crate::output_dir::{list, remove_tree};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use std::ffi::OsStr;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How many random names to try before giving up on a name collision (Java's loop is unbounded;
/// a 64-bit random number colliding a hundred times means something else is wrong).
const NAME_ATTEMPTS: usize = 100;

/// The longest job id accepted in a folder name.
const MAX_JOB_ID_LEN: usize = 128;

/// Errors of creating, opening and removing job folders.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The job id would not make a single, plain folder name.
    #[error(
        "job id {0:?} cannot name a job folder: use 1 to 128 letters, digits, `-` and `_` (Cortex ids look like `AZQx-1b_k`)"
    )]
    InvalidJobId(String),
    /// Creating or writing something in a new job folder failed.
    #[error("cannot create {path}: {source}")]
    Create {
        /// What could not be created.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The attachment given as a file path could not be read.
    #[error("cannot read the attachment {path}: {source}")]
    ReadAttachment {
        /// The attachment's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The job folder to open does not exist or cannot be looked at.
    #[error(
        "job folder {path} cannot be opened: {source} (pass the folder Cortex created, cortex-job-<id>-<random>)"
    )]
    Open {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The job folder to open is not a directory.
    #[error(
        "job folder {0} is not a directory (pass the folder Cortex created, cortex-job-<id>-<random>)"
    )]
    NotADirectory(PathBuf),
    /// The job folder has no `input/input.json` regular file.
    #[error("{0} is missing or not a regular file: this is not a Cortex job folder")]
    MissingInput(PathBuf),
    /// `input/input.json` cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        /// The input file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `input/input.json` is not a valid Cortex input.
    #[error(
        "{path} is not a valid Cortex input ({source}); Cortex writes a JSON object with at least `dataType`"
    )]
    InvalidInput {
        /// The input file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        source: serde_json::Error,
    },
    /// `input`, `input/input.json`, the attachment or `output` is a symlink: a job folder is
    /// never followed out of itself.
    #[error(
        "{0} is a symlink: the runner follows no symlink in a job folder (it would read whatever the link points at, and show it to the worker); pass the folder Cortex created"
    )]
    Symlink(PathBuf),
    /// `tlp` or `pap` in `input/input.json` is outside the levels Cortex accepts.
    #[error("{path}: {source}")]
    LevelOutOfRange {
        /// The input file.
        path: PathBuf,
        /// Which level, and its value.
        source: crate::input::LevelError,
    },
    /// input.json's `file` is not a plain file name.
    #[error(
        "{path} names the attachment {name:?} in `file`, which is not a plain file name in input/"
    )]
    InvalidAttachmentName {
        /// The input file.
        path: PathBuf,
        /// The name in `file`.
        name: String,
    },
    /// The attachment input.json names is missing or not a regular file.
    #[error("{path} (the attachment named by `file` in input.json) is {what}, not a regular file")]
    AttachmentNotAFile {
        /// The attachment's path.
        path: PathBuf,
        /// What it is instead: "missing", "a directory", ...
        what: &'static str,
    },
    /// `output` exists but is not a directory.
    #[error("{0} exists but is not a directory: the worker writes its report there, so remove it")]
    OutputNotADirectory(PathBuf),
    /// Removing the folder failed.
    #[error("cannot remove job folder {path}: {source}")]
    Remove {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The result type of this module.
pub type Result<T, E = FolderError> = std::result::Result<T, E>;

/// Where an attachment's bytes come from.
#[derive(Debug, Clone, Copy)]
pub enum AttachmentSource<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file to copy.
    Path(&'a Path),
    /// A file already open, copied from where it stands: the caller checked what it opened
    /// (a regular file, not a device or a fifo), and no path is looked up again in between.
    File(&'a fs::File),
}

/// The observable file of a `dataType: "file"` job.
#[derive(Debug, Clone, Copy)]
pub struct Attachment<'a> {
    /// Its content.
    pub source: AttachmentSource<'a>,
    /// Its original name (`filename` in input.json).
    pub filename: &'a str,
    /// Its MIME type (`contentType` in input.json).
    pub content_type: &'a str,
}

/// A Cortex job folder: `<path>/input/input.json`, `<path>/output/`.
#[derive(Debug, Clone)]
pub struct JobFolder {
    path: PathBuf,
    input: JobInput,
}

impl JobFolder {
    /// Creates `root/cortex-job-<job_id>-<random digits>/` as Cortex does (see the module doc).
    ///
    /// With an attachment, input.json gets `file` (the random `attachment<digits>` name),
    /// `filename` and `contentType` instead of `data`. On any error the half-made folder is
    /// removed again, as Cortex does.
    pub fn create(
        root: &Path,
        job_id: &str,
        input: &JobInput,
        attachment: Option<Attachment<'_>>,
    ) -> Result<JobFolder> {
        if job_id.is_empty()
            || job_id.len() > MAX_JOB_ID_LEN
            || !job_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(FolderError::InvalidJobId(job_id.to_owned()));
        }
        let path = create_unique(root, &format!("cortex-job-{job_id}-"), |path| {
            DirBuilder::new().mode(0o700).create(path)
        })?;
        let folder = JobFolder {
            path,
            input: input.clone(),
        };
        match folder.fill(attachment) {
            Ok(input) => Ok(JobFolder { input, ..folder }),
            Err(error) => {
                // The error that matters is the first one; a failed clean-up leaves a folder
                // Cortex would also have left behind.
                let _ = fs::remove_dir_all(&folder.path);
                Err(error)
            }
        }
    }

    /// Writes everything inside a freshly made folder and returns the input as written.
    fn fill(&self, attachment: Option<Attachment<'_>>) -> Result<JobInput> {
        let input_dir = self.input_dir();
        for dir in [&input_dir, &self.output_dir()] {
            fs::create_dir(dir).map_err(|source| create_error(dir, source))?;
        }
        let mut input = self.input.clone();
        if let Some(attachment) = attachment {
            let mut file = None;
            let path = create_unique(&input_dir, "attachment", |path| {
                file = Some(
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(path)?,
                );
                Ok(())
            })?;
            let mut file =
                file.ok_or_else(|| create_error(&path, io::ErrorKind::NotFound.into()))?;
            match attachment.source {
                AttachmentSource::Bytes(bytes) => {
                    file.write_all(bytes).map_err(|e| create_error(&path, e))?
                }
                AttachmentSource::Path(source) => {
                    let mut reader =
                        fs::File::open(source).map_err(|e| FolderError::ReadAttachment {
                            path: source.to_owned(),
                            source: e,
                        })?;
                    io::copy(&mut reader, &mut file).map_err(|e| create_error(&path, e))?;
                }
                AttachmentSource::File(mut reader) => {
                    io::copy(&mut reader, &mut file).map_err(|e| create_error(&path, e))?;
                }
            }
            input.data = None;
            input.file = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned());
            input.filename = Some(attachment.filename.to_owned());
            input.content_type = Some(attachment.content_type.to_owned());
        }
        if let Some(cacerts) = cacerts(&input) {
            let path = input_dir.join("cacerts");
            fs::write(&path, cacerts).map_err(|e| create_error(&path, e))?;
        }
        let path = input_dir.join("input.json");
        let bytes = serde_json::to_vec(&input).map_err(|e| create_error(&path, e.into()))?;
        fs::write(&path, bytes).map_err(|e| create_error(&path, e))?;
        Ok(input)
    }

    /// Opens an existing job folder: it must be a directory holding a valid `input/input.json`.
    /// A missing `output/` is created (Cortex always creates it, and cortexutils creates it before
    /// writing a report); an `output` that is not a directory is an error. An `output/` that
    /// already holds files is accepted: finalising a job whose worker ran before is legitimate.
    ///
    /// Nothing inside the folder is followed: `input/`, `input/input.json`, the attachment and
    /// `output/` must not be symlinks ([`FolderError::Symlink`]), and `input.json` and the
    /// attachment are opened with `O_NOFOLLOW` relative to `input/`, itself opened with
    /// `O_NOFOLLOW`. `tlp` and `pap` must be within [`crate::TLP_RANGE`] and [`crate::PAP_RANGE`];
    /// the attachment (`file` in input.json) must be a regular file directly in `input/`.
    pub fn open(path: &Path) -> Result<JobFolder> {
        let metadata = fs::metadata(path).map_err(|source| FolderError::Open {
            path: path.to_owned(),
            source,
        })?;
        if !metadata.is_dir() {
            return Err(FolderError::NotADirectory(path.to_owned()));
        }
        let open_error = |path: &Path| {
            let path = path.to_owned();
            move |error: rustix::io::Errno| FolderError::Open {
                path,
                source: error.into(),
            }
        };
        let job = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(open_error(path))?;
        let input_dir = path.join("input");
        let input_path = input_dir.join("input.json");
        let input_fd = match rustix::fs::openat(&job, "input", NOFOLLOW_DIR, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Err(FolderError::Symlink(input_dir)),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => {
                // `input` may still be a symlink to something that is not a directory.
                return Err(if is_symlink(&job, "input") {
                    FolderError::Symlink(input_dir)
                } else {
                    FolderError::MissingInput(input_path)
                });
            }
            Err(error) => return Err(open_error(&input_dir)(error)),
        };
        let (file, _) = match open_regular(&input_fd, "input.json") {
            Ok(Some(opened)) => opened,
            Ok(None) => return Err(FolderError::MissingInput(input_path)),
            Err(rustix::io::Errno::LOOP) => return Err(FolderError::Symlink(input_path)),
            Err(rustix::io::Errno::NOENT) => return Err(FolderError::MissingInput(input_path)),
            Err(error) => {
                return Err(FolderError::ReadInput {
                    path: input_path,
                    source: error.into(),
                });
            }
        };
        let mut bytes = Vec::new();
        fs::File::from(file)
            .read_to_end(&mut bytes)
            .map_err(|source| FolderError::ReadInput {
                path: input_path.clone(),
                source,
            })?;
        let input: JobInput =
            serde_json::from_slice(&bytes).map_err(|source| FolderError::InvalidInput {
                path: input_path.clone(),
                source,
            })?;
        input
            .check_levels()
            .map_err(|source| FolderError::LevelOutOfRange {
                path: input_path.clone(),
                source,
            })?;
        if let Some(name) = &input.file {
            check_attachment(&input_fd, &input_dir, name)?;
        }
        let output = path.join("output");
        match rustix::fs::statat(&job, "output", AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => match FileType::from_raw_mode(stat.st_mode) {
                FileType::Directory => {}
                FileType::Symlink => return Err(FolderError::Symlink(output)),
                _ => return Err(FolderError::OutputNotADirectory(output)),
            },
            Err(rustix::io::Errno::NOENT) => {
                rustix::fs::mkdirat(&job, "output", Mode::from_raw_mode(0o777))
                    .map_err(|source| create_error(&output, source.into()))?;
            }
            Err(source) => {
                return Err(FolderError::Open {
                    path: output,
                    source: source.into(),
                });
            }
        }
        Ok(JobFolder {
            path: path.to_owned(),
            input,
        })
    }

    /// The job folder itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<folder>/input`.
    pub fn input_dir(&self) -> PathBuf {
        self.path.join("input")
    }

    /// `<folder>/output`.
    pub fn output_dir(&self) -> PathBuf {
        self.path.join("output")
    }

    /// The parsed `input/input.json` (as written by [`JobFolder::create`] or read by
    /// [`JobFolder::open`]; input/ is read-only to workers, so it is not read again).
    pub fn input(&self) -> &JobInput {
        &self.input
    }

    /// The attachment's path, for a job with one.
    pub fn attachment_path(&self) -> Option<PathBuf> {
        self.input
            .file
            .as_ref()
            .map(|name| self.input_dir().join(name))
    }

    /// The size of the attachment, for a job with one, read as [`JobFolder::open`] checks it:
    /// `input/` and the attachment are opened with `O_NOFOLLOW`, so a symlink put in either's
    /// place since the folder was opened is refused ([`FolderError::Symlink`]), never followed
    /// to whatever it points at; so is anything that is no longer a regular file.
    pub fn attachment_size(&self) -> Result<Option<u64>> {
        let Some(name) = &self.input.file else {
            return Ok(None);
        };
        let input_dir = self.input_dir();
        let input = match rustix::fs::openat(CWD, &input_dir, NOFOLLOW_DIR, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
                if is_symlink(CWD, &input_dir) =>
            {
                return Err(FolderError::Symlink(input_dir));
            }
            Err(error) => {
                return Err(FolderError::Open {
                    path: input_dir,
                    source: error.into(),
                });
            }
        };
        check_attachment(&input, &input_dir, name).map(Some)
    }

    /// Removes the whole folder, never following a symlink inside it and without recursion, so
    /// that whatever a worker left in `output/` (even before [`crate::finalise`] ran) cannot
    /// make the runner touch anything else or overflow its stack.
    pub fn remove(self) -> Result<()> {
        let remove = || -> io::Result<()> {
            // The usual folder (what `create` wrote, and a report) goes by name, without a
            // listing. A folder holding more (artifacts) goes with one listing per directory;
            // anything else (deeper trees, directories without permission) is left to the
            // careful removal below. Each takes over from wherever the previous one stopped.
            if self.remove_known().is_ok() || remove_shallow(CWD, self.path.as_os_str(), 0).is_ok()
            {
                return Ok(());
            }
            let dir = Dir::open_ambient_dir(&self.path, ambient_authority())?;
            for entry in dir.entries()?.collect::<io::Result<Vec<_>>>()? {
                if entry.file_type()?.is_dir() {
                    remove_tree(&dir, &entry.file_name())?;
                } else {
                    dir.remove_file(entry.file_name())?;
                }
            }
            drop(dir);
            fs::remove_dir(&self.path)
        };
        remove().map_err(|source| FolderError::Remove {
            path: self.path.clone(),
            source,
        })
    }

    /// Removes the folder when it holds only the files [`JobFolder::create`] writes and
    /// `output/output.json`: each is unlinked by name, with no listing. Fails, having removed
    /// what it could, when a directory holds anything else (`ENOTEMPTY`) or is not a plain
    /// directory (a symlink is refused, never followed).
    fn remove_known(&self) -> io::Result<()> {
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let job = rustix::fs::openat(CWD, &self.path, dir_flags, Mode::empty())?;
        let mut input_files = vec!["input.json"];
        input_files.extend(self.input.file.as_deref());
        if cacerts(&self.input).is_some() {
            input_files.push("cacerts");
        }
        for (sub, files) in [("input", input_files), ("output", vec!["output.json"])] {
            let dir = rustix::fs::openat(&job, sub, dir_flags, Mode::empty())?;
            for file in files {
                match rustix::fs::unlinkat(&dir, file, AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            drop(dir);
            rustix::fs::unlinkat(&job, sub, AtFlags::REMOVEDIR)?;
        }
        drop(job);
        rustix::fs::unlinkat(CWD, &self.path, AtFlags::REMOVEDIR)?;
        Ok(())
    }
}

/// What Cortex writes to `input/cacerts` for `input`: its config's `cacerts` string, unless
/// it is blank (then there is no such file).
fn cacerts(input: &JobInput) -> Option<&str> {
    input
        .config
        .get("cacerts")
        .and_then(|v| v.as_str())
        .filter(|cacerts| !cacerts.trim().is_empty())
}

/// Flags of a directory inside a job folder opened for reading, never through a symlink.
const NOFOLLOW_DIR: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Whether `name` in `dir` is a symlink (false when it cannot be looked at).
fn is_symlink(dir: impl AsFd, name: impl rustix::path::Arg) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink)
}

/// Opens `name` in `dir` for reading with `O_NOFOLLOW` (`ELOOP` for a symlink) and `O_NONBLOCK`
/// (a fifo cannot hang the runner): the file and what it is, or `None` when it is not a regular
/// file.
fn open_regular(dir: impl AsFd, name: &str) -> rustix::io::Result<Option<(OwnedFd, u64)>> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    Ok(Some((fd, u64::try_from(stat.st_size).unwrap_or(0))))
}

/// Checks that the attachment `name` (input.json's `file`) is a plain name of a regular file in
/// `input/`, opened without following a symlink, and returns its size.
fn check_attachment(input: &OwnedFd, input_dir: &Path, name: &str) -> Result<u64> {
    let path = input_dir.join(name);
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(FolderError::InvalidAttachmentName {
            path: input_dir.join("input.json"),
            name: name.to_owned(),
        });
    }
    let not_a_file = |what: &'static str| FolderError::AttachmentNotAFile {
        path: path.clone(),
        what,
    };
    match open_regular(input, name) {
        Ok(Some((_, size))) => Ok(size),
        Ok(None) => Err(
            match rustix::fs::statat(input, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                    not_a_file("a directory")
                }
                _ => not_a_file("a special file (device, fifo or socket)"),
            },
        ),
        Err(rustix::io::Errno::LOOP) => Err(FolderError::Symlink(path)),
        Err(rustix::io::Errno::NOENT) => Err(not_a_file("missing")),
        Err(error) => Err(FolderError::Open {
            path,
            source: error.into(),
        }),
    }
}

/// Creates `dir/<prefix><random u64>` with `make`, retrying on a name collision, like Java's
/// `TempFileHelper`.
fn create_unique(
    dir: &Path,
    prefix: &str,
    mut make: impl FnMut(&Path) -> io::Result<()>,
) -> Result<PathBuf> {
    let mut last_error = io::ErrorKind::AlreadyExists.into();
    for _ in 0..NAME_ATTEMPTS {
        let path = dir.join(format!("{prefix}{}", rand::random::<u64>()));
        match make(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = error,
            Err(error) => return Err(create_error(&path, error)),
        }
    }
    Err(create_error(
        &dir.join(format!("{prefix}<random>")),
        last_error,
    ))
}

fn create_error(path: &Path, source: io::Error) -> FolderError {
    FolderError::Create {
        path: path.to_owned(),
        source,
    }
}

/// How deep [`remove_shallow`] goes: the job folder, then `input/` and `output/`.
const SHALLOW_DEPTH: usize = 1;

/// Removes the directory `name` in `parent` when it holds files and at most [`SHALLOW_DEPTH`]
/// levels of subdirectories, never following a link. Fails, having removed what it could, on
/// anything deeper or on any error.
fn remove_shallow(parent: BorrowedFd<'_>, name: &OsStr, depth: usize) -> io::Result<()> {
    let fd = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut listing = rustix::fs::Dir::new(fd)?;
    let entries = list(&mut listing)?;
    let dir = listing.fd()?;
    for (child, file_type) in entries {
        if file_type == FileType::Directory {
            if depth >= SHALLOW_DEPTH {
                return Err(io::ErrorKind::DirectoryNotEmpty.into());
            }
            remove_shallow(dir, OsStr::from_bytes(child.to_bytes()), depth + 1)?;
        } else {
            rustix::fs::unlinkat(dir, &child, AtFlags::empty())?;
        }
    }
    drop(listing);
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(())
}
