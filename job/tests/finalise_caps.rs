//! The caps on what a worker leaves in `output/`: entries, bytes per file (apparent and
//! allocated), bytes in all. Exceeding one fails the job with a report naming the cap, and
//! leaves `output/` holding only the report.

mod common;

use common::{fixture, redacted_input};
use cortex_job::{FinaliseOptions, WorkerEnd, finalise};
use serde_json::json;
use std::fs;

fn failure(message: &str, warnings: &[&str]) -> serde_json::Value {
    let mut full = message.to_owned();
    full.push_str("\n--- runner warnings ---");
    for warning in warnings {
        full.push('\n');
        full.push_str(warning);
    }
    json!({"success": false, "errorMessage": full, "input": redacted_input(),
           "runnerWarnings": warnings})
}

#[test]
fn the_defaults_are_documented_values() {
    let opts = FinaliseOptions::default();
    assert_eq!(opts.max_artifacts, 10_000);
    assert_eq!(opts.max_artifact_bytes, 512 << 20);
    assert_eq!(opts.max_artifact_total_bytes, 1 << 30);
    assert_eq!(opts.max_tail_bytes, 16 << 10);
}

#[test]
fn a_one_tib_sparse_file_is_refused_by_its_apparent_size() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    let sparse = fs::File::create(f.out("sparse.bin")).unwrap();
    sparse.set_len(1 << 40).unwrap();
    drop(sparse);

    let done = finalise(
        &f.folder,
        &WorkerEnd::exited(0),
        &FinaliseOptions::default(),
    )
    .unwrap();

    assert_eq!(
        done.report,
        failure(
            "output/sparse.bin holds 1 TiB (0 bytes allocated on disk), above the limit of 512 MiB per file (jobs.max_artifact_mib)",
            &["removed everything the worker left in output/ (2 entries)"]
        )
    );
    assert_eq!(f.final_report(), done.report);
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn space_allocated_beyond_a_files_length_counts_too() {
    let f = fixture();
    let file = fs::File::create(f.out("preallocated")).unwrap();
    rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::KEEP_SIZE, 0, 1 << 20).unwrap();
    drop(file);
    assert_eq!(fs::metadata(f.out("preallocated")).unwrap().len(), 0);
    let opts = FinaliseOptions {
        max_artifact_bytes: 512 << 10,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::exited(0), &opts).unwrap();

    assert_eq!(
        done.report,
        failure(
            "output/preallocated holds 0 bytes (1 MiB allocated on disk), above the limit of 512 KiB per file (jobs.max_artifact_mib)",
            &["removed everything the worker left in output/ (1 entry)"]
        )
    );
}

#[test]
fn more_entries_than_the_cap_fail_the_job_and_are_all_removed() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    for i in 0..3000 {
        fs::write(f.out(&format!("f{i}")), "x").unwrap();
    }
    fs::create_dir(f.out("dir")).unwrap();
    fs::write(f.out("dir/inner"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.out("link")).unwrap();
    let before = f.snapshot_outside_output();
    let opts = FinaliseOptions {
        max_artifacts: 100,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::exited(0), &opts).unwrap();

    assert_eq!(
        done.report,
        failure(
            "the worker left more than 100 entries in output/ (jobs.max_artifacts)",
            &["removed everything the worker left in output/ (3003 entries)"]
        )
    );
    assert_eq!(f.output_names(), ["output.json"]);
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn exactly_the_cap_is_accepted() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    for i in 0..4 {
        fs::write(f.out(&format!("f{i}")), "12345").unwrap();
    }
    let opts = FinaliseOptions {
        max_artifacts: 5,
        ..FinaliseOptions::default()
    };
    let done = finalise(&f.folder, &WorkerEnd::exited(0), &opts).unwrap();
    assert!(done.success, "{}", done.report);
    assert_eq!(f.output_names().len(), 5);
}

#[test]
fn the_total_of_all_files_is_capped() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    for name in ["a", "b", "c"] {
        fs::write(f.out(name), vec![b'x'; 4096]).unwrap();
    }
    let opts = FinaliseOptions {
        max_artifact_total_bytes: 10_000,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::exited(3), &opts).unwrap();

    assert_eq!(
        done.report,
        failure(
            "the files the worker left in output/ hold more than 9.8 KiB together (jobs.max_artifact_total_mib) (the worker exited with status 3)",
            &["removed everything the worker left in output/ (4 entries)"]
        )
    );
    assert_eq!(f.output_names(), ["output.json"]);
}

#[test]
fn a_stopped_worker_over_a_cap_keeps_its_cause_first() {
    let f = fixture();
    for i in 0..10 {
        fs::write(f.out(&format!("f{i}")), "x").unwrap();
    }
    let opts = FinaliseOptions {
        max_artifacts: 3,
        ..FinaliseOptions::default()
    };

    let done = finalise(&f.folder, &WorkerEnd::failed("timed out after 30 s"), &opts).unwrap();

    assert_eq!(
        done.report,
        failure(
            "timed out after 30 s",
            &[
                "removed everything the worker left in output/ (10 entries)",
                "the worker left more than 3 entries in output/ (jobs.max_artifacts)"
            ]
        )
    );
}
