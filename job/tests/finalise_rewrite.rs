//! When finalisation rewrites `output.json` and when it leaves the worker's file in place: only a
//! report that is already byte for byte the final one, readable by everyone and not linked
//! elsewhere, stays; everything else is replaced atomically by a fresh file of the runner's.

mod common;

use common::fixture;
use serde_json::json;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn inode(path: &std::path::Path) -> u64 {
    fs::symlink_metadata(path).unwrap().ino()
}

const CANONICAL: &str =
    r#"{"success":true,"full":{"a":1},"summary":{"taxonomies":[]},"artifacts":[],"operations":[]}"#;

#[test]
fn a_report_already_in_its_final_form_is_left_in_place() {
    let f = fixture();
    fs::write(f.out("output.json"), CANONICAL).unwrap();
    let before = inode(&f.out("output.json"));

    let done = f.finalise_exited(0);

    assert!(done.success);
    assert_eq!(inode(&f.out("output.json")), before, "the same file");
    assert_eq!(fs::read_to_string(f.out("output.json")).unwrap(), CANONICAL);
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn a_report_in_another_layout_is_replaced_by_the_compact_form() {
    let f = fixture();
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(CANONICAL).unwrap(),
    )
    .unwrap();
    fs::write(f.out("output.json"), &pretty).unwrap();
    let before = inode(&f.out("output.json"));

    f.finalise_exited(0);

    assert_ne!(inode(&f.out("output.json")), before, "a new file");
    assert_eq!(fs::read_to_string(f.out("output.json")).unwrap(), CANONICAL);
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn a_final_form_report_that_is_also_linked_elsewhere_is_rewritten_and_the_other_link_untouched() {
    let f = fixture();
    let elsewhere = f.outside.join("linked.json");
    fs::write(&elsewhere, CANONICAL).unwrap();
    fs::hard_link(&elsewhere, f.out("output.json")).unwrap();

    f.finalise_exited(0);

    assert_ne!(inode(&f.out("output.json")), inode(&elsewhere));
    assert_eq!(fs::metadata(f.out("output.json")).unwrap().nlink(), 1);
    assert_eq!(fs::metadata(&elsewhere).unwrap().nlink(), 1);
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), CANONICAL);
    assert_eq!(fs::read_to_string(f.out("output.json")).unwrap(), CANONICAL);
}

#[test]
fn a_final_form_report_others_cannot_read_is_rewritten_readable() {
    let f = fixture();
    fs::write(f.out("output.json"), CANONICAL).unwrap();
    fs::set_permissions(f.out("output.json"), fs::Permissions::from_mode(0o600)).unwrap();
    let before = inode(&f.out("output.json"));

    f.finalise_exited(0);

    assert_ne!(inode(&f.out("output.json")), before);
    let mode = fs::metadata(f.out("output.json")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert_eq!(fs::read_to_string(f.out("output.json")).unwrap(), CANONICAL);
}

#[test]
fn a_repaired_report_is_rewritten_even_when_it_was_compact() {
    let f = fixture();
    // Compact, but missing keys the runner adds: the final form differs.
    fs::write(f.out("output.json"), r#"{"success":true,"full":{"a":1}}"#).unwrap();
    let before = inode(&f.out("output.json"));

    f.finalise_exited(0);

    assert_ne!(inode(&f.out("output.json")), before);
    let written: serde_json::Value =
        serde_json::from_slice(&fs::read(f.out("output.json")).unwrap()).unwrap();
    assert_eq!(
        written,
        json!({"success": true, "full": {"a": 1}, "summary": {}, "artifacts": [], "operations": []})
    );
}
