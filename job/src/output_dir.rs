//! The job's `output/` folder seen as hostile: cleaning it, reading the report, writing it back.
//!
//! Everything here goes through a cap-std [`Dir`] opened on `output/`, so no path a worker planted
//! (absolute symlinks, `../` chains) can make the runner touch anything outside `output/`.
//! Entries are examined with `symlink_metadata` and files are opened with `O_NOFOLLOW`, so a
//! symlink is never followed even inside `output/`, and with `O_NONBLOCK`, so a fifo cannot hang
//! the runner.

use crate::bytes::format_bytes;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The report's name in `output/`.
pub(crate) const REPORT: &str = "output.json";

/// The longest entry name or link target quoted in a warning.
const MAX_SHOWN_CHARS: usize = 120;

/// How many entries of a directory are read before they are removed, when a directory is
/// emptied: whatever a worker left, the runner holds at most this many names at once.
const REMOVE_BATCH: usize = 1024;

/// The caps on what a worker may leave in `output/` (see [`crate::FinaliseOptions`]).
pub(crate) struct Caps {
    /// The most entries directly in `output/`.
    pub(crate) max_entries: u64,
    /// The largest file other than `output.json`: the larger of apparent and allocated size.
    pub(crate) max_file_bytes: u64,
    /// The most bytes of all files other than `output.json` together.
    pub(crate) max_total_bytes: u64,
}

/// `output/`, opened without following a symlink in its place.
pub(crate) struct OutputDir {
    dir: Dir,
    /// What [`OutputDir::sanitise`] removed: entry name → what it was ("a symlink", ...).
    removed: HashMap<String, &'static str>,
    /// Whether [`OutputDir::sanitise`] saw `output.json` as a regular file (`None`: not listed
    /// yet).
    report_listed: Option<bool>,
}

/// What reading `output.json` found.
pub(crate) enum ReportFile {
    /// No `output.json` (or one that is not a regular file and could not be removed).
    Missing,
    /// Its bytes, at most the limit, and whether the file may stay as it is when the final
    /// report is the same bytes (see [`ReportBytes::reusable`]).
    Bytes(ReportBytes),
    /// Bigger than the limit: its size, or `None` when it grew past the limit while being read.
    TooLarge(Option<u64>),
    /// It exists but cannot be opened or read.
    Unreadable(io::Error),
}

/// The bytes of `output.json` as the worker left it.
pub(crate) struct ReportBytes {
    /// The file's content.
    pub(crate) bytes: Vec<u8>,
    /// The file is a single link readable by everyone, so when the final report is exactly
    /// these bytes, rewriting it would change nothing a reader can see.
    pub(crate) reusable: bool,
}

impl OutputDir {
    /// Opens `<job>/output`: one `open` with `O_NOFOLLOW | O_DIRECTORY` when it is the plain
    /// directory the runner made (the usual case), else [`OutputDir::open_repairing`].
    pub(crate) fn open(job: &Path, warnings: &mut Vec<String>) -> io::Result<OutputDir> {
        let fast = rustix::fs::open(
            job.join("output"),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        if let Ok(fd) = fast
            && rustix::fs::fstat(&fd).is_ok_and(|stat| stat.st_mode & 0o700 == 0o700)
        {
            return Ok(OutputDir {
                dir: Dir::from_std_file(std::fs::File::from(fd)),
                removed: HashMap::new(),
                report_listed: None,
            });
        }
        Self::open_repairing(job, warnings)
    }

    /// Opens `<job>/output`. If `output` is not a real directory (a worker replaced it by a
    /// symlink or a file), it is removed and an empty directory is made in its place, with a
    /// warning: the runner must still be able to write a report there.
    fn open_repairing(job: &Path, warnings: &mut Vec<String>) -> io::Result<OutputDir> {
        let root = Dir::open_ambient_dir(job, ambient_authority())?;
        match rustix::fs::statat(&root, "output", AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
                // A worker that owns `output/` (a Kubernetes pod running as the runner's user)
                // may have taken away the write access the final report needs.
                let mode = stat.st_mode & 0o7777;
                if mode & 0o700 != 0o700 {
                    root.set_permissions("output", Permissions::from_mode(mode | 0o700))?;
                    warnings.push(format!(
                        "output/ had mode {mode:04o}: gave the runner read, write and search access back"
                    ));
                }
            }
            Ok(stat) => {
                let kind = kind_of(FileType::from_raw_mode(stat.st_mode));
                root.remove_file("output")?;
                root.create_dir("output")?;
                warnings.push(format!(
                    "output/ was {kind}, not a directory: replaced it by an empty directory"
                ));
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                root.create_dir("output")?;
                warnings.push("output/ was missing: created it".to_owned());
            }
            Err(error) => return Err(error.into()),
        }
        // Opened for reading (cap-std's own `open_dir` gives an `O_PATH` descriptor, which
        // `sanitise` could not list).
        let output = rustix::fs::openat(
            &root,
            "output",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(OutputDir {
            dir: Dir::from_std_file(std::fs::File::from(output)),
            removed: HashMap::new(),
            report_listed: None,
        })
    }

    /// Removes every entry that is not a regular file, recording a warning for each, and checks
    /// `caps`. The listing stops at the first cap exceeded: then everything in `output/` is
    /// removed, with a warning, and the returned message names the cap, its value and its
    /// configuration key.
    pub(crate) fn sanitise(
        &mut self,
        caps: &Caps,
        warnings: &mut Vec<String>,
    ) -> io::Result<Option<String>> {
        // The listing is taken whole before anything is removed: removing a directory moves its
        // subdirectories to the top of `output/` for a moment, and a listing still running would
        // be left unspecified by POSIX. It holds at most `caps.max_entries` names.
        // The listing reads a duplicate of the descriptor (cap-std's own listing reopens the
        // directory twice); the entry types come with the listing, and a file system that does
        // not give them is asked entry by entry, without following a link.
        let mut planted = Vec::new();
        let mut report_listed = false;
        let mut listing = rustix::fs::Dir::new(rustix::io::fcntl_dupfd_cloexec(&self.dir, 0)?)?;
        let mut entries = 0u64;
        let mut total = 0u64;
        while let Some(entry) = listing.read() {
            let entry = entry?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            entries += 1;
            if entries > caps.max_entries {
                let over = format!(
                    "the worker left more than {} entries in output/ (jobs.max_artifacts)",
                    caps.max_entries
                );
                drop(planted);
                self.clear(listing, warnings)?;
                return Ok(Some(over));
            }
            let mut file_type = entry.file_type();
            let mut stat = None;
            if file_type == FileType::Unknown {
                let found = rustix::fs::statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                file_type = FileType::from_raw_mode(found.st_mode);
                stat = Some(found);
            }
            if file_type != FileType::RegularFile {
                planted.push((OsStr::from_bytes(name.to_bytes()).to_owned(), file_type));
                continue;
            }
            if name.to_bytes() == REPORT.as_bytes() {
                // Bounded on its own, by `max_output_bytes`.
                report_listed = true;
                continue;
            }
            let stat = match stat {
                Some(stat) => stat,
                None => rustix::fs::statat(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW)?,
            };
            let apparent = u64::try_from(stat.st_size).unwrap_or(0);
            let allocated = u64::try_from(stat.st_blocks)
                .unwrap_or(0)
                .saturating_mul(512);
            let size = apparent.max(allocated);
            let over = if size > caps.max_file_bytes {
                Some(format!(
                    "output/{} holds {} ({} allocated on disk), above the limit of {} per file (jobs.max_artifact_mib)",
                    shown(OsStr::from_bytes(name.to_bytes())),
                    format_bytes(apparent),
                    format_bytes(allocated),
                    format_bytes(caps.max_file_bytes)
                ))
            } else {
                total = total.saturating_add(size);
                (total > caps.max_total_bytes).then(|| {
                    format!(
                        "the files the worker left in output/ hold more than {} together (jobs.max_artifact_total_mib)",
                        format_bytes(caps.max_total_bytes)
                    )
                })
            };
            if let Some(over) = over {
                drop(planted);
                self.clear(listing, warnings)?;
                return Ok(Some(over));
            }
        }
        self.report_listed = Some(report_listed);
        for (name, file_type) in planted {
            let kind = kind_of(file_type);
            let described = if file_type == FileType::Symlink {
                match self.dir.read_link_contents(&name) {
                    Ok(target) => format!("{kind} to \"{}\"", shown(target.as_os_str())),
                    Err(_) => kind.to_owned(),
                }
            } else {
                kind.to_owned()
            };
            let result = if file_type == FileType::Directory {
                remove_tree(&self.dir, &name)
            } else {
                self.dir.remove_file(&name)
            };
            let shown_name = shown(&name);
            match result {
                Ok(()) => warnings.push(format!("removed output/{shown_name}: {described}")),
                Err(error) => warnings.push(format!(
                    "could not remove output/{shown_name} ({described}): {error}"
                )),
            }
            self.removed
                .insert(name.to_string_lossy().into_owned(), kind);
        }
        Ok(None)
    }

    /// Removes everything in `output/`, [`REMOVE_BATCH`] entries at a time read through
    /// `listing` (a listing of `output/`), with one warning saying how many entries went and
    /// one for the first that could not be removed.
    fn clear(
        &mut self,
        mut listing: rustix::fs::Dir,
        warnings: &mut Vec<String>,
    ) -> io::Result<()> {
        self.report_listed = Some(false);
        let mut removed = 0u64;
        let mut failed = None;
        loop {
            // Each batch is read from the start again: POSIX leaves unspecified what a listing
            // returns for entries removed while it runs.
            listing.rewind();
            let batch = list_some(&mut listing, REMOVE_BATCH)?;
            if batch.is_empty() {
                break;
            }
            let mut progress = false;
            for (name, file_type) in batch {
                let name = OsStr::from_bytes(name.to_bytes());
                let result = if file_type == FileType::Directory {
                    remove_tree(&self.dir, name)
                } else {
                    self.dir.remove_file(name)
                };
                match result {
                    Ok(()) => {
                        removed += 1;
                        progress = true;
                    }
                    Err(error) => {
                        failed.get_or_insert_with(|| (shown(name), error));
                    }
                }
            }
            if !progress {
                break;
            }
        }
        let entries = if removed == 1 { "entry" } else { "entries" };
        warnings.push(format!(
            "removed everything the worker left in output/ ({removed} {entries})"
        ));
        if let Some((name, error)) = failed {
            warnings.push(format!("could not remove output/{name}: {error}"));
        }
        Ok(())
    }

    /// What [`OutputDir::sanitise`] removed under `name`, if it removed something.
    pub(crate) fn removed(&self, name: &str) -> Option<&'static str> {
        self.removed.get(name).copied()
    }

    /// Whether `name` is a regular file directly in `output/` (not following a symlink).
    pub(crate) fn is_regular_file(&self, name: &str) -> bool {
        self.dir.symlink_metadata(name).is_ok_and(|m| m.is_file())
    }

    /// Reads `output.json`, never more than `limit` bytes: the size is checked first, and the
    /// read itself stops one byte past the limit because the file may still grow.
    pub(crate) fn read_report(&self, limit: u64) -> ReportFile {
        // The listing of `sanitise` already said whether it is there and a regular file.
        if self.report_listed == Some(false) {
            return ReportFile::Missing;
        }
        let flags = (OFlags::NOFOLLOW | OFlags::NONBLOCK).bits();
        let file = match self.dir.open_with(
            REPORT,
            OpenOptions::new().read(true).custom_flags(flags as i32),
        ) {
            Ok(file) => file,
            Err(error) => return ReportFile::Unreadable(error),
        };
        let (size, reusable) = match rustix::fs::fstat(&file) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => (
                u64::try_from(stat.st_size).unwrap_or(0),
                stat.st_nlink == 1 && stat.st_mode & 0o444 == 0o444,
            ),
            Ok(_) => return ReportFile::Missing,
            Err(error) => return ReportFile::Unreadable(error.into()),
        };
        if size > limit {
            return ReportFile::TooLarge(Some(size));
        }
        match read_capped(file, limit, size) {
            Ok(Some(bytes)) => ReportFile::Bytes(ReportBytes { bytes, reusable }),
            Ok(None) => ReportFile::TooLarge(None),
            Err(error) => ReportFile::Unreadable(error),
        }
    }

    /// Replaces `output.json` atomically: the bytes go to a fresh temporary file in `output/`,
    /// which is then renamed over `output.json`, so a reader sees the old report or the new one,
    /// never a mix. (Atomic for readers; not fsynced, since Cortex reads it right away.)
    pub(crate) fn write_report(&self, bytes: &[u8]) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true).mode(0o644);
        let (name, mut file) = loop {
            let name = format!(".output.json.{}.tmp", rand::random::<u64>());
            match self.dir.open_with(&name, &options) {
                Ok(file) => break (name, file),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        };
        let written = file.write_all(bytes).and_then(|()| {
            drop(file);
            self.dir.rename(&name, &self.dir, REPORT)
        });
        if written.is_err() {
            let _ = self.dir.remove_file(&name);
        }
        written
    }
}

/// Every entry of the directory `listing` reads (not `.` and `..`), with its type: as the listing
/// gives it, or, on a file system that does not, from `stat` without following a link. The
/// entries are read whole first: POSIX leaves a listing that runs while entries are removed
/// unspecified.
pub(crate) fn list(listing: &mut rustix::fs::Dir) -> io::Result<Vec<(CString, FileType)>> {
    list_some(listing, usize::MAX)
}

/// The next `max` entries `listing` reads (not `.` and `..`), as [`list`] gives them.
fn list_some(listing: &mut rustix::fs::Dir, max: usize) -> io::Result<Vec<(CString, FileType)>> {
    let mut entries = Vec::new();
    while entries.len() < max
        && let Some(entry) = listing.read()
    {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            entries.push((name.to_owned(), entry.file_type()));
        }
    }
    let dir = listing.fd()?;
    for (name, file_type) in &mut entries {
        if *file_type == FileType::Unknown {
            let stat = rustix::fs::statat(dir, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            *file_type = FileType::from_raw_mode(stat.st_mode);
        }
    }
    Ok(entries)
}

/// Removes the directory `name` in `top` and everything below it without recursion and without
/// following a link: each subdirectory is first renamed to the top level of `top` and queued, so
/// that any depth of nesting costs neither stack nor more than two open descriptors. (The
/// recursive removers of std and cap-std overflow a small stack on a few thousand levels, which
/// a worker can make without any path ever being long.)
pub(crate) fn remove_tree(top: &Dir, name: &OsStr) -> io::Result<()> {
    let mut queue = vec![name.to_owned()];
    while let Some(current) = queue.pop() {
        // A worker may have left a directory without write or search permission for us.
        let _ = top.set_permissions(&current, Permissions::from_mode(0o700));
        let sub = top.open_dir(&current)?;
        loop {
            // The names are collected first: POSIX leaves unspecified what `readdir` returns
            // for entries removed while it runs. At most `REMOVE_BATCH` at a time: each
            // `entries()` is a new listing from the start.
            let children: Vec<_> = sub
                .entries()?
                .take(REMOVE_BATCH)
                .collect::<io::Result<_>>()?;
            if children.is_empty() {
                break;
            }
            for child in children {
                if child.file_type()?.is_dir() {
                    let moved = format!(".runner-removing-{}", rand::random::<u64>());
                    sub.rename(child.file_name(), top, &moved)?;
                    queue.push(moved.into());
                } else {
                    sub.remove_file(child.file_name())?;
                }
            }
        }
        drop(sub);
        top.remove_dir(&current)?;
    }
    Ok(())
}

/// Reads at most `limit` bytes; `None` if there were more.
///
/// `size_hint` is the size the file had when opened: when one read returns exactly that many
/// bytes, short of the one more byte asked for, the file ended there and no further read is
/// made (a regular file only returns a short read at its end). Anything else (a file that grew,
/// a reader that returns less) is read on until its end or one byte past the limit.
pub(crate) fn read_capped(
    mut reader: impl Read,
    limit: u64,
    size_hint: u64,
) -> io::Result<Option<Vec<u8>>> {
    let expected = usize::try_from(size_hint.min(limit)).unwrap_or(0);
    let mut bytes = vec![0; expected + 1];
    let first = loop {
        match reader.read(&mut bytes) {
            Ok(n) => break n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    };
    bytes.truncate(first);
    if first != expected || first == 0 {
        let taken = u64::try_from(first).unwrap_or(u64::MAX);
        reader
            .take(limit.saturating_add(1).saturating_sub(taken))
            .read_to_end(&mut bytes)?;
    }
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// What a file type is, as a warning says it.
fn kind_of(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Symlink => "a symlink",
        FileType::Directory => "a directory",
        FileType::Fifo => "a fifo",
        FileType::Socket => "a socket",
        FileType::BlockDevice | FileType::CharacterDevice => "a device",
        FileType::RegularFile => "a regular file",
        FileType::Unknown => "an unknown kind of entry",
    }
}

/// A worker-chosen name or text, made safe to quote in a one-line warning: control characters
/// escaped, cut at 120 characters.
pub(crate) fn shown(text: impl AsRef<OsStr>) -> String {
    let text = text.as_ref().to_string_lossy();
    let mut escaped: String = text.escape_debug().collect();
    if escaped.chars().count() > MAX_SHOWN_CHARS {
        escaped = escaped.chars().take(MAX_SHOWN_CHARS).collect::<String>() + "…";
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_read_of_an_endless_stream_stops_one_byte_past_the_limit() {
        assert_eq!(read_capped(io::repeat(b'x'), 1024, 0).unwrap(), None);
        assert_eq!(
            read_capped(&b"12345"[..], 5, 5).unwrap(),
            Some(b"12345".to_vec())
        );
        assert_eq!(read_capped(&b"123456"[..], 5, 3).unwrap(), None);
    }

    /// A reader that hands out one byte per call, as no regular file does.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_short_read_is_the_end_only_at_the_size_the_file_had() {
        // Short of the size hint: read on to the end.
        assert_eq!(
            read_capped(Trickle(b"12345"), 10, 5).unwrap(),
            Some(b"12345".to_vec())
        );
        // A file that grew past its size hint and past the limit is still caught.
        assert_eq!(read_capped(Trickle(b"123456789"), 5, 3).unwrap(), None);
        assert_eq!(read_capped(&b"123456789"[..], 5, 5).unwrap(), None);
        // Grown, but within the limit: all of it.
        assert_eq!(
            read_capped(&b"1234567"[..], 10, 5).unwrap(),
            Some(b"1234567".to_vec())
        );
        assert_eq!(read_capped(&b""[..], 10, 0).unwrap(), Some(Vec::new()));
    }

    #[test]
    fn shown_names_are_escaped_and_cut() {
        assert_eq!(shown("a\nb\"c"), "a\\nb\\\"c");
        let long = "x".repeat(500);
        assert_eq!(shown(&long), format!("{}…", "x".repeat(120)));
    }
}
