//! `job_folder` from a request, resolved to a directory inside the job root, or refused with
//! the exact reason.
//!
//! A client names the folder relative to the job root, or absolute (Cortex and the service mount
//! the job volume at the same path). Whatever it names must end up inside the root once every
//! symlink is resolved: `..`, absolute paths elsewhere and symlinks leading out are refused
//! before anything is opened, so a client cannot make the service run (or write a report into)
//! a folder outside the volume it serves.

use std::path::{Component, Path, PathBuf};

use super::ApiError;

/// A job folder inside the job root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical absolute path.
    pub path: PathBuf,
    /// The path relative to the canonical job root, `/`-separated: the job's identity.
    pub rel: String,
}

/// Resolves `given` against `root` (canonical), accepting absolute paths spelled from `root` or
/// from `configured` (the root as configured, before symlinks were resolved).
pub fn resolve(root: &Path, configured: &Path, given: &str) -> Result<Resolved, ApiError> {
    let refuse = |detail: String| ApiError::bad_request("bad job_folder", detail);
    if given.is_empty() {
        return Err(refuse(
            "job_folder is empty; expected a folder relative to the job root".into(),
        ));
    }
    if given.contains('\0') {
        return Err(refuse(format!("job_folder {given:?} contains a NUL byte")));
    }
    let path = Path::new(given);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(refuse(format!(
            "job_folder {given:?} contains `..`; expected a folder inside the job root without it"
        )));
    }
    let joined = if path.is_absolute() {
        if !(path.starts_with(root) || path.starts_with(configured)) {
            return Err(refuse(format!(
                "job_folder {given:?} is outside the job root {}",
                configured.display()
            )));
        }
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(canonical) => canonical,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(format!(
                "job_folder {given:?}: no such directory in the job root"
            )));
        }
        Err(e) => return Err(refuse(format!("job_folder {given:?}: {e}"))),
    };
    let Ok(rel) = canonical.strip_prefix(root) else {
        return Err(refuse(format!(
            "job_folder {given:?} leaves the job root through a symlink (it resolves to {})",
            canonical.display()
        )));
    };
    if rel.as_os_str().is_empty() {
        return Err(refuse(format!(
            "job_folder {given:?} is the job root itself; expected a job folder inside it"
        )));
    }
    if !canonical.is_dir() {
        return Err(refuse(format!("job_folder {given:?} is not a directory")));
    }
    let Some(rel) = rel.to_str().map(str::to_string) else {
        return Err(refuse(format!(
            "job_folder {given:?} is not valid UTF-8 once resolved"
        )));
    };
    Ok(Resolved {
        path: canonical,
        rel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(root: &Path, given: &str) -> String {
        resolve(root, root, given).unwrap_err().detail
    }

    #[test]
    fn folders_resolve_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        let root = dir.path().join("jobs").canonicalize().unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("file"), "").unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("in")).unwrap();

        let ok = resolve(&root, &root, "a/b").unwrap();
        assert_eq!((ok.path, ok.rel.as_str()), (root.join("a/b"), "a/b"));
        let abs = root.join("a/b").display().to_string();
        assert_eq!(resolve(&root, &root, &abs).unwrap().rel, "a/b");
        assert_eq!(resolve(&root, &root, "in").unwrap().rel, "a");

        assert_eq!(
            detail(&root, "../x"),
            "job_folder \"../x\" contains `..`; expected a folder inside the job root without it"
        );
        assert_eq!(
            detail(&root, "/etc"),
            format!(
                "job_folder \"/etc\" is outside the job root {}",
                root.display()
            )
        );
        assert_eq!(
            detail(&root, "out"),
            format!(
                "job_folder \"out\" leaves the job root through a symlink (it resolves to {})",
                dir.path().canonicalize().unwrap().display()
            )
        );
        assert_eq!(
            detail(&root, "file"),
            "job_folder \"file\" is not a directory"
        );
        assert_eq!(
            detail(&root, "nope"),
            "job_folder \"nope\": no such directory in the job root"
        );
        assert_eq!(
            detail(&root, "."),
            "job_folder \".\" is the job root itself; expected a job folder inside it"
        );
        assert_eq!(
            detail(&root, ""),
            "job_folder is empty; expected a folder relative to the job root"
        );
    }
}
