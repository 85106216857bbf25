//! Secrets in failure reports: every text of a failure report that may quote the worker (the
//! stderr and stdout tails, its own `errorMessage`, the names of what it left in `output/`) is
//! scrubbed of the job's secret `config` values, in every form, whole or cut.

mod common;

use common::{fixture, redacted_input};
use cortex_job::{FinaliseOptions, JobFolder, JobInput, WorkerEnd, finalise};
use serde_json::{Value, json};

/// A job folder whose config holds secrets of every shape.
fn folder_with(config: Value) -> (tempfile::TempDir, JobFolder) {
    let tmp = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("ip", "1.2.3.4");
    input.config = config.as_object().unwrap().clone();
    let folder = JobFolder::create(tmp.path(), "job1", &input, None).unwrap();
    (tmp, folder)
}

fn message(folder: &JobFolder, end: &WorkerEnd, opts: &FinaliseOptions) -> String {
    let done = finalise(folder, end, opts).unwrap();
    assert!(!done.success);
    done.report["errorMessage"].as_str().unwrap().to_owned()
}

#[test]
fn a_secret_straddling_the_tail_cut_leaves_no_half_behind() {
    let f = fixture();
    // The last 20 bytes of stderr begin inside the secret ("23456789 and the end"): cut first,
    // half of it would survive; scrubbed whole first, none does.
    let stderr = format!("{}key sk-live-0123456789 and the end\n", "x".repeat(100));
    let opts = FinaliseOptions {
        max_tail_bytes: 20,
        ..FinaliseOptions::default()
    };
    let message = message(&f.folder, &WorkerEnd::exited(3).with_stderr(stderr), &opts);
    assert_eq!(
        message,
        "exited with status 3 without writing output.json\n\
         --- stderr (tail) ---\n[135 bytes in all; last 20 shown]\n REMOVED and the end"
    );
}

#[test]
fn a_partial_secret_at_the_start_of_a_cut_capture_is_dropped() {
    let f = fixture();
    // The capture dropped the first 1000 bytes of stderr, cutting the secret in half.
    let end = WorkerEnd::exited(3)
        .with_stderr("456789 was the key\n")
        .with_stderr_dropped(1000);
    assert_eq!(
        message(&f.folder, &end, &FinaliseOptions::default()),
        "exited with status 3 without writing output.json\n\
         --- stderr (tail) ---\n[1019 bytes in all; last 12 shown]\n was the key"
    );
}

#[test]
fn json_escaped_numeric_and_nested_secrets_are_scrubbed_from_the_tails() {
    let (_tmp, folder) = folder_with(json!({
        "api_key": "p@ss\"wörd\\1",
        "pin_secret": 4242424242u64,
        "oauth": {"client_secret": "nested-client-secret"},
        "keys": ["first-key-111", {"second": "second-key-222"}],
        "user": "alice"
    }));
    let stdout = concat!(
        r#"config: {"api_key": "p@ss\"w\u00f6rd\\1", "pin_secret": 4242424242}"#,
        "\n",
        r#"serde: "p@ss\"wörd\\1" raw: p@ss"wörd\1"#,
        "\n",
        "oauth nested-client-secret, keys first-key-111 second-key-222 for alice\n"
    );
    let end = WorkerEnd::exited(1).with_stdout(stdout);
    assert_eq!(
        message(&folder, &end, &FinaliseOptions::default()),
        concat!(
            "exited with status 1 without writing output.json\n--- stdout (tail) ---\n",
            r#"config: {"api_key": "REMOVED", "pin_secret": REMOVED}"#,
            "\n",
            r#"serde: "REMOVED" raw: REMOVED"#,
            "\n",
            "oauth REMOVED, keys REMOVED REMOVED for alice"
        )
    );
}

#[test]
fn the_workers_own_error_message_is_scrubbed() {
    let f = fixture();
    f.write_report(&json!({"success": false,
                           "errorMessage": "401 Unauthorized for key sk-live-0123456789 (hunter22)"}));
    let done = finalise(
        &f.folder,
        &WorkerEnd::exited(1),
        &FinaliseOptions::default(),
    )
    .unwrap();
    assert_eq!(
        done.report,
        json!({"success": false, "errorMessage": "401 Unauthorized for key REMOVED (REMOVED)",
               "input": redacted_input()})
    );
}

#[test]
fn names_the_worker_chose_are_scrubbed_from_a_failure_reports_warnings() {
    let f = fixture();
    std::os::unix::fs::symlink("hunter22", f.out("sk-live-0123456789")).unwrap();
    let done = finalise(
        &f.folder,
        &WorkerEnd::exited(2),
        &FinaliseOptions::default(),
    )
    .unwrap();
    let warning = "removed output/REMOVED: a symlink to \"REMOVED\"";
    assert_eq!(done.warnings, [warning]);
    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": format!("exited with status 2 without writing output.json\n--- runner warnings ---\n{warning}"),
               "input": redacted_input(),
               "runnerWarnings": [warning]})
    );
}

#[test]
fn a_cut_moves_past_a_single_character_that_could_end_a_secret() {
    let f = fixture();
    // "sk-live-0123456789" ends in "9": the cut lands on "9 end", so that "9" goes.
    let opts = FinaliseOptions {
        max_tail_bytes: 5,
        ..FinaliseOptions::default()
    };
    let end = WorkerEnd::exited(3).with_stderr("xxxx 9 end");
    assert_eq!(
        message(&f.folder, &end, &opts),
        "exited with status 3 without writing output.json\n\
         --- stderr (tail) ---\n[10 bytes in all; last 4 shown]\n end"
    );
}

#[test]
fn url_encoded_secrets_are_scrubbed_from_tails_and_the_error_message() {
    let (_tmp, folder) = folder_with(json!({
        "api_key": "sk+live/0123==",
        "password": "pass word&more",
        "user": "alice"
    }));
    let stderr = concat!(
        "GET https://api.example/v1?key=sk%2Blive%2F0123%3D%3D&user=alice 401\n",
        "retry https://api.example/v1?key=sk%2blive%2f0123%3d%3d&pw=pass+word%26more\n",
        "python quote: /login/sk%2Blive/0123%3D%3D/pass%20word%26more\n",
    );
    let end = WorkerEnd::exited(1).with_stderr(stderr);
    assert_eq!(
        message(&folder, &end, &FinaliseOptions::default()),
        concat!(
            "exited with status 1 without writing output.json\n--- stderr (tail) ---\n",
            "GET https://api.example/v1?key=REMOVED&user=alice 401\n",
            "retry https://api.example/v1?key=REMOVED&pw=REMOVED\n",
            "python quote: /login/REMOVED/REMOVED"
        )
    );

    std::fs::write(
        folder.output_dir().join("output.json"),
        json!({"success": false, "errorMessage": "401 for https://api.example/?k=sk%2Blive%2F0123%3D%3D"})
            .to_string(),
    )
    .unwrap();
    let done = finalise(&folder, &WorkerEnd::exited(1), &FinaliseOptions::default()).unwrap();
    assert_eq!(
        done.report["errorMessage"],
        json!("401 for https://api.example/?k=REMOVED")
    );
}

#[test]
fn a_url_encoded_secret_cut_by_the_tail_leaves_no_part_behind() {
    let (_tmp, folder) = folder_with(json!({"api_key": "sk+live/0123=="}));
    // The last 11 bytes begin inside the encoded secret ("%3D%3D end" and one more): cut
    // first, its end would survive; scrubbed whole first, none of it does.
    let opts = FinaliseOptions {
        max_tail_bytes: 11,
        ..FinaliseOptions::default()
    };
    let end = WorkerEnd::exited(3).with_stderr("?key=sk%2Blive%2F0123%3D%3D end\n");
    assert_eq!(
        message(&folder, &end, &opts),
        "exited with status 3 without writing output.json\n\
         --- stderr (tail) ---\n[32 bytes in all; last 11 shown]\nREMOVED end"
    );
    // A capture that began inside it: the encoded rest of the secret is dropped.
    let (_tmp, folder) = folder_with(json!({"api_key": "sk+live/0123=="}));
    let end = WorkerEnd::exited(3)
        .with_stderr("%2F0123%3d%3d was the key\n")
        .with_stderr_dropped(1000);
    assert_eq!(
        message(&folder, &end, &FinaliseOptions::default()),
        "exited with status 3 without writing output.json\n\
         --- stderr (tail) ---\n[1026 bytes in all; last 12 shown]\n was the key"
    );
}
