//! Finalisation of output folders a hostile worker prepared: symlinks, directories, fifos,
//! sockets, an oversized or endlessly nested report. Each test checks the exact report and that
//! nothing outside `output/` changed.

mod common;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use common::{fixture, redacted_input};
use cortex_job::{FinaliseOptions, WorkerEnd, finalise};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

fn file_artifact(file: &str) -> Value {
    json!({"dataType": "file", "file": file, "filename": "sample.bin"})
}

#[test]
fn planted_symlinks_are_removed_and_artifacts_naming_them_dropped() {
    let f = fixture();
    let before = f.snapshot_outside_output();
    let absolute = f.outside.join("secret.txt");
    symlink(&absolute, f.out("abs")).unwrap();
    symlink("../../../outside/secret.txt", f.out("dotdot")).unwrap();
    symlink("../input/input.json", f.out("input-link")).unwrap();
    fs::write(f.out("real.bin"), "artifact bytes").unwrap();
    f.write_report(&json!({
        "success": true, "summary": {}, "operations": [], "full": {"verdict": "ok"},
        "artifacts": [file_artifact("abs"), file_artifact("dotdot"), file_artifact("input-link"),
                      file_artifact("real.bin")]
    }));

    let done = f.finalise_exited(0);

    let mut warnings = vec![
        format!(
            "removed output/abs: a symlink to \"{}\"",
            absolute.display()
        ),
        "removed output/dotdot: a symlink to \"../../../outside/secret.txt\"".to_owned(),
        "removed output/input-link: a symlink to \"../input/input.json\"".to_owned(),
    ];
    // Directory order is the file system's: compare the removals as a set, the drops in order.
    let (removals, drops) = done.warnings.split_at(3);
    let mut removals = removals.to_vec();
    removals.sort();
    warnings.sort();
    assert_eq!(removals, warnings);
    assert_eq!(
        drops,
        [
            "dropped artifacts[0]: file \"abs\" was a symlink, removed from output/",
            "dropped artifacts[1]: file \"dotdot\" was a symlink, removed from output/",
            "dropped artifacts[2]: file \"input-link\" was a symlink, removed from output/",
        ]
    );
    assert!(done.success);
    assert_eq!(done.report["artifacts"], json!([file_artifact("real.bin")]));
    assert_eq!(done.report["full"]["verdict"], "ok");
    assert_eq!(done.report["full"]["runnerWarnings"], json!(done.warnings));
    assert_eq!(f.final_report(), done.report);
    assert_eq!(f.output_names(), ["output.json", "real.bin"]);
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn a_symlinked_output_json_is_never_read_nor_followed() {
    let f = fixture();
    let passwd_before =
        fs::symlink_metadata("/etc/passwd").map(|m| (m.len(), m.modified().unwrap()));
    let before = f.snapshot_outside_output();
    symlink("/etc/passwd", f.out("output.json")).unwrap();

    let done = f.finalise_exited(0);

    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": "exited with status 0 without writing output.json\n\
                                --- runner warnings ---\n\
                                removed output/output.json: a symlink to \"/etc/passwd\"",
               "input": redacted_input(),
               "runnerWarnings": ["removed output/output.json: a symlink to \"/etc/passwd\""]})
    );
    assert!(!done.success);
    assert_eq!(f.final_report(), done.report);
    assert_eq!(f.output_names(), ["output.json"]);
    assert_eq!(f.snapshot_outside_output(), before);
    let passwd_after =
        fs::symlink_metadata("/etc/passwd").map(|m| (m.len(), m.modified().unwrap()));
    assert_eq!(passwd_before.ok(), passwd_after.ok());
}

#[test]
fn directories_are_removed_without_following_links_inside_them() {
    let f = fixture();
    let out = f.folder.output_dir();
    fs::create_dir_all(out.join("sub/deeper/deepest")).unwrap();
    fs::write(out.join("sub/x"), "x").unwrap();
    fs::write(out.join("sub/deeper/deepest/y"), "y").unwrap();
    symlink(&f.outside, out.join("sub/to-outside")).unwrap();
    symlink(f.folder.input_dir(), out.join("sub/deeper/to-input")).unwrap();
    // A directory the worker made unwritable still goes.
    fs::create_dir(out.join("locked")).unwrap();
    fs::write(out.join("locked/z"), "z").unwrap();
    fs::set_permissions(out.join("locked"), fs::Permissions::from_mode(0o500)).unwrap();
    f.write_report(&json!({
        "success": true, "full": {},
        "artifacts": [file_artifact("sub/x"), file_artifact("sub"), file_artifact("locked")]
    }));
    let before = f.snapshot_outside_output();

    let done = f.finalise_exited(0);

    let mut removals = done.warnings[..2].to_vec();
    removals.sort();
    assert_eq!(
        removals,
        [
            "removed output/locked: a directory",
            "removed output/sub: a directory"
        ]
    );
    assert_eq!(
        done.warnings[2..],
        [
            "dropped artifacts[0]: file \"sub/x\" is not a plain file name directly in output/",
            "dropped artifacts[1]: file \"sub\" was a directory, removed from output/",
            "dropped artifacts[2]: file \"locked\" was a directory, removed from output/",
        ]
    );
    assert_eq!(
        done.report,
        json!({"success": true, "full": {"runnerWarnings": done.warnings}, "artifacts": [],
               "summary": {}, "operations": []})
    );
    assert_eq!(f.output_names(), ["output.json"]);
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn a_directory_nested_three_thousand_deep_is_removed_without_recursion() {
    let f = fixture();
    let mut dir = Dir::open_ambient_dir(f.folder.output_dir(), ambient_authority()).unwrap();
    for _ in 0..3_000 {
        dir.create_dir("d").unwrap();
        dir = dir.open_dir("d").unwrap();
    }
    dir.write("leaf", "bottom").unwrap();
    drop(dir);
    f.write_report(&json!({"success": true, "full": {}}));

    // A small stack shows the removal does not recurse per level: 3,000 frames of a recursive
    // remover need more than 128 KiB.
    let done = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn_scoped(scope, || {
                finalise(
                    &f.folder,
                    &WorkerEnd::exited(0),
                    &FinaliseOptions::default(),
                )
            })
            .unwrap()
            .join()
            .unwrap()
    })
    .unwrap();

    assert_eq!(done.warnings, ["removed output/d: a directory"]);
    assert!(done.success);
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn fifos_and_sockets_are_removed_and_a_fifo_output_json_does_not_hang() {
    let f = fixture();
    let cwd = rustix::fs::CWD;
    let mode = rustix::fs::Mode::from_raw_mode(0o644);
    rustix::fs::mkfifoat(cwd, f.out("pipe"), mode).unwrap();
    rustix::fs::mkfifoat(cwd, f.out("output.json"), mode).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(f.out("sock")).unwrap();
    let before = f.snapshot_outside_output();

    let done = f.finalise_exited(0);

    let mut warnings = done.warnings.clone();
    warnings.sort();
    assert_eq!(
        warnings,
        [
            "removed output/output.json: a fifo",
            "removed output/pipe: a fifo",
            "removed output/sock: a socket"
        ]
    );
    // The message lists the warnings in directory order.
    let message = done.report["errorMessage"].as_str().unwrap();
    let (cause, listed) = message.split_once("\n--- runner warnings ---\n").unwrap();
    assert_eq!(cause, "exited with status 0 without writing output.json");
    assert_eq!(listed.split('\n').collect::<Vec<_>>(), done.warnings);
    assert_eq!(done.report["runnerWarnings"], json!(done.warnings));
    assert_eq!(f.output_names(), ["output.json"]);
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn a_256_mib_sparse_report_is_refused_from_its_size_alone() {
    let f = fixture();
    let report = fs::File::create(f.out("output.json")).unwrap();
    report.set_len(256 * 1024 * 1024).unwrap();
    drop(report);
    let end = WorkerEnd::exited(0).with_stderr("writing a huge report\n");

    let done = finalise(&f.folder, &end, &FinaliseOptions::default()).unwrap();

    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": "output.json is 268435456 bytes (256 MiB), limit 16 MiB\n--- stderr (tail) ---\nwriting a huge report",
               "input": redacted_input()})
    );
    assert!(fs::metadata(f.out("output.json")).unwrap().len() < 1024);
}

#[test]
fn the_size_limit_is_configurable() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {"pad": "x".repeat(2000)}}));
    let opts = FinaliseOptions {
        max_output_bytes: 1024,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::exited(0), &opts).unwrap();

    assert_eq!(
        done.report["errorMessage"],
        "output.json is 2034 bytes (2.0 KiB), limit 1 KiB"
    );
}

#[test]
fn a_200000_deep_report_fails_cleanly() {
    let f = fixture();
    let prefix = r#"{"success":true,"full":"#;
    let deep = format!("{prefix}{}{}}}", "[".repeat(200_000), "]".repeat(200_000));
    fs::write(f.out("output.json"), deep).unwrap();

    let done = f.finalise_exited(0);

    // The top-level object is level 1, so the 127th `[` (column 23 + 127) opens level 128.
    assert_eq!(
        done.report["errorMessage"],
        "output.json nests arrays and objects deeper than 127 levels (line 1, column 150)"
    );
    assert!(!done.success);
}

#[test]
fn the_depth_limit_is_configurable() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {"a": {"b": [1]}}}));
    let opts = FinaliseOptions {
        max_depth: 3,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::exited(3), &opts).unwrap();

    assert_eq!(
        done.report["errorMessage"],
        "output.json nests arrays and objects deeper than 3 levels (line 1, column 34) (the worker exited with status 3)"
    );
}

#[test]
fn an_output_folder_replaced_by_a_symlink_is_rebuilt_without_touching_the_target() {
    let f = fixture();
    fs::remove_dir(f.folder.output_dir()).unwrap();
    symlink(&f.outside, f.folder.output_dir()).unwrap();
    fs::write(
        f.outside.join("output.json"),
        r#"{"success": true, "full": {}}"#,
    )
    .unwrap();
    let outside_before: Vec<_> = fs::read_dir(&f.outside)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();

    let done = f.finalise_exited(0);

    assert_eq!(
        done.report["runnerWarnings"],
        json!(["output/ was a symlink, not a directory: replaced it by an empty directory"])
    );
    assert_eq!(
        done.report["errorMessage"],
        "exited with status 0 without writing output.json\n\
         --- runner warnings ---\n\
         output/ was a symlink, not a directory: replaced it by an empty directory"
    );
    assert!(
        fs::symlink_metadata(f.folder.output_dir())
            .unwrap()
            .is_dir()
    );
    let outside_after: Vec<_> = fs::read_dir(&f.outside)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(outside_after, outside_before);
    assert_eq!(
        fs::read_to_string(f.outside.join("output.json")).unwrap(),
        r#"{"success": true, "full": {}}"#
    );
}

#[test]
fn a_flood_of_planted_entries_yields_a_bounded_warning_list() {
    let f = fixture();
    for i in 0..150 {
        symlink("/etc/passwd", f.out(&format!("l{i}"))).unwrap();
    }
    f.write_report(&json!({"success": true, "full": {}}));

    let done = f.finalise_exited(0);

    assert_eq!(done.warnings.len(), 101);
    assert_eq!(done.warnings[100], "... and 50 more warnings");
    assert!(
        done.warnings[..100]
            .iter()
            .all(|w| w.ends_with(": a symlink to \"/etc/passwd\""))
    );
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn an_output_folder_made_read_only_is_given_back_its_write_access() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    fs::set_permissions(f.folder.output_dir(), fs::Permissions::from_mode(0o555)).unwrap();

    let done = f.finalise_exited(0);

    let warning = "output/ had mode 0555: gave the runner read, write and search access back";
    assert_eq!(done.warnings, [warning]);
    assert_eq!(done.report["full"], json!({"runnerWarnings": [warning]}));
    assert_eq!(f.final_report(), done.report);
    let mode = fs::metadata(f.folder.output_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o755);
}
