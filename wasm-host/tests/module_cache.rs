//! The on-disk cache of precompiled modules: a directory others can write is refused, a missing
//! one is created private, stale entries are pruned and the size bound is kept.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use test_programs_artifacts as programs;
use wasm_host::{CacheStats, Error, Sandbox, SandboxConfig};

fn config(dir: &Path) -> SandboxConfig {
    SandboxConfig {
        cache_dir: Some(dir.to_owned()),
        pooling: false,
        ..SandboxConfig::default()
    }
}

fn private_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn refusal(dir: &Path, reason: &str) -> String {
    format!(
        "refusing the precompiled-module cache directory {}: {reason}; its files are loaded as \
         native code, so it must belong to the user running the sandbox and be writable by no \
         one else",
        dir.display()
    )
}

#[test]
fn a_cache_dir_others_can_write_is_refused() {
    let root = tempfile::tempdir().unwrap();
    for (mode, who) in [
        (0o777, "every user"),
        (0o1777, "every user"),
        (0o770, "its group"),
    ] {
        let dir = root.path().join(format!("cache-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let Err(err) = Sandbox::new(config(&dir)) else {
            panic!("mode {mode:o} accepted");
        };
        assert!(matches!(err, Error::UnsafeCacheDir { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            refusal(
                &dir,
                &format!("its mode {mode:04o} lets {who} write into it (chmod 700 it)")
            )
        );
        assert_eq!(names(&dir), Vec::<String>::new(), "nothing written");
    }
}

#[test]
fn a_cache_dir_of_another_user_is_refused() {
    let me = rustix::process::geteuid().as_raw();
    let root = tempfile::tempdir().unwrap();
    // As root, a directory given to `nobody`; otherwise `/`, which is root's.
    let (dir, owner) = if me == 0 {
        let dir = private_dir(root.path(), "theirs");
        rustix::fs::chown(
            &dir,
            Some(rustix::fs::Uid::from_raw(65534)),
            Some(rustix::fs::Gid::from_raw(65534)),
        )
        .unwrap();
        (dir, 65534)
    } else {
        (PathBuf::from("/"), 0)
    };
    let Err(err) = Sandbox::new(config(&dir)) else {
        panic!("{} accepted", dir.display());
    };
    assert_eq!(
        err.to_string(),
        refusal(
            &dir,
            &format!("it is owned by uid {owner}, not by the user running the sandbox (uid {me})")
        )
    );
}

#[test]
fn a_missing_cache_dir_is_created_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a/b/modules");
    Sandbox::new(config(&dir)).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700);
}

#[test]
fn stale_entries_are_pruned() {
    let root = tempfile::tempdir().unwrap();
    let dir = private_dir(root.path(), "cache");
    // Learn this engine's key from the entry it writes.
    let sandbox = Sandbox::new(config(&dir)).unwrap();
    let module = sandbox.load(Path::new(programs::EXIT_3)).unwrap();
    let entry = names(&dir).pop().unwrap();
    let key = entry
        .strip_prefix(&format!("{}-", module.sha256()))
        .and_then(|rest| rest.strip_suffix(".cwasm"))
        .unwrap()
        .to_owned();
    assert_eq!(key.len(), 32);
    drop(sandbox);

    let sha = "ab".repeat(32);
    let other_engine = format!("{sha}-{}.cwasm", "0".repeat(32));
    let old_temp = format!("{sha}-{key}.tmp-1-0");
    let new_temp = format!("{sha}-{key}.tmp-2-0");
    for name in [&other_engine, &old_temp, &new_temp, "notes.txt"] {
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    set_age(&dir.join(&old_temp), Duration::from_secs(2 * 3600));
    let sandbox = Sandbox::new(config(&dir)).unwrap();
    let mut expected = vec![entry.clone(), new_temp, "notes.txt".to_owned()];
    expected.sort();
    assert_eq!(names(&dir), expected);
    // This engine's entry is still a hit.
    sandbox.load(Path::new(programs::EXIT_3)).unwrap();
    assert_eq!(
        sandbox.cache_stats(),
        CacheStats {
            compiled: 0,
            loaded_precompiled: 1,
            memory_hits: 0
        }
    );
}

#[test]
fn the_least_recently_used_entries_go_beyond_the_size_bound() {
    let root = tempfile::tempdir().unwrap();
    let dir = private_dir(root.path(), "cache");
    let sandbox = Sandbox::new(config(&dir)).unwrap();
    let honest = sandbox.load(Path::new(programs::HONEST)).unwrap();
    let honest_entry = names(&dir).pop().unwrap();
    let honest_len = std::fs::metadata(dir.join(&honest_entry)).unwrap().len();
    set_age(&dir.join(&honest_entry), Duration::from_secs(3600));
    drop(sandbox);

    // Room for the larger entry alone: storing a second evicts the older one.
    let bounded = SandboxConfig {
        cache_max_bytes: honest_len,
        ..config(&dir)
    };
    let sandbox = Sandbox::new(bounded.clone()).unwrap();
    let exit_3 = sandbox.load(Path::new(programs::EXIT_3)).unwrap();
    let exit_3_entry = names(&dir)
        .into_iter()
        .find(|n| n.starts_with(exit_3.sha256()));
    assert_eq!(names(&dir), vec![exit_3_entry.unwrap()]);
    drop(sandbox);

    // The evicted module is compiled again; the kept one is a hit.
    let sandbox = Sandbox::new(bounded).unwrap();
    sandbox.load(Path::new(programs::EXIT_3)).unwrap();
    let again = sandbox.load(Path::new(programs::HONEST)).unwrap();
    assert_eq!(again.sha256(), honest.sha256());
    assert_eq!(
        sandbox.cache_stats(),
        CacheStats {
            compiled: 1,
            loaded_precompiled: 1,
            memory_hits: 0
        }
    );
}
