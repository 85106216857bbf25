//! Finalisation outcomes: how each way a worker can end becomes the report Cortex reads.

mod common;

use common::{fixture, redacted_input};
use cortex_job::{FinaliseOptions, WorkerEnd, finalise};
use serde_json::{Value, json};
use std::fs;

fn run(f: &common::Fixture, end: WorkerEnd) -> cortex_job::Finalised {
    let done = finalise(&f.folder, &end, &FinaliseOptions::default()).unwrap();
    assert_eq!(
        f.final_report(),
        done.report,
        "the returned report is the one on disk"
    );
    assert_eq!(done.success, done.report["success"] == json!(true));
    done
}

fn failure(message: &str) -> Value {
    json!({"success": false, "errorMessage": message, "input": redacted_input()})
}

#[test]
fn a_valid_success_report_is_kept_as_written() {
    let f = fixture();
    let report = json!({
        "success": true,
        "summary": {"taxonomies": [
            {"level": "malicious", "namespace": "VT", "predicate": "Score", "value": "42/70"},
            {"level": "info", "namespace": "VT", "predicate": "Seen", "value": 3},
            {"level": "safe", "namespace": "VT", "predicate": "Signed", "value": true}]},
        "artifacts": [{"dataType": "ip", "data": "5.6.7.8", "tags": ["c2"], "message": "callback"},
                      {"dataType": "file", "file": "tmpa1b2", "filename": "dropper.exe",
                       "contentType": "application/x-dosexec"}],
        "operations": [{"type": "AddTagToArtifact", "tag": "vt:malicious"}],
        "full": {"positives": 42, "nested": {"list": [1, [2, [3]]]}}
    });
    fs::write(f.out("tmpa1b2"), b"MZ...").unwrap();
    f.write_report(&report);
    let before = f.snapshot_outside_output();

    let done = run(&f, WorkerEnd::exited(0).with_stderr("some log line"));

    assert_eq!(done.report, report);
    assert!(done.success);
    assert!(done.warnings.is_empty());
    assert_eq!(f.output_names(), ["output.json", "tmpa1b2"]);
    assert_eq!(fs::read(f.out("tmpa1b2")).unwrap(), b"MZ...");
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn missing_optional_keys_get_cortexs_defaults() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {"a": 1}}));
    let done = run(&f, WorkerEnd::exited(0));
    assert_eq!(
        done.report,
        json!({"success": true, "full": {"a": 1}, "summary": {}, "artifacts": [], "operations": []})
    );
}

#[test]
fn each_backend_failure_cause_becomes_the_error_message_with_the_stderr_tail() {
    let causes = [
        "timed out after 30 s",
        "memory limit 256 MiB exceeded",
        "fuel limit 1000000 exhausted",
        "trapped: wasm `unreachable` instruction executed",
        "pod failed: ImagePullBackOff",
    ];
    for cause in causes {
        let f = fixture();
        // Half a report, then the worker was stopped: never trusted.
        fs::write(f.out("output.json"), r#"{"success": true, "full": {"#).unwrap();
        let end =
            WorkerEnd::failed(cause).with_stderr("(truncated, 5000 bytes in all)\nlast line\n");
        let done = run(&f, end);
        assert_eq!(
            done.report,
            failure(&format!(
                "{cause}\n--- stderr (tail) ---\n(truncated, 5000 bytes in all)\nlast line"
            ))
        );
    }
}

#[test]
fn a_stopped_worker_fails_even_after_a_complete_success_report() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": {}}));
    let done = run(
        &f,
        WorkerEnd::failed("timed out after 30 s").with_stdout("partial"),
    );
    assert_eq!(
        done.report,
        failure("timed out after 30 s\n--- stdout (tail) ---\npartial")
    );
}

#[test]
fn a_non_zero_exit_without_output_names_the_status_and_scrubs_secrets_from_the_tails() {
    let f = fixture();
    let end = WorkerEnd::exited(3)
        .with_stderr(
            "Traceback (most recent call last):\nHTTPError: 401 for ?apikey=sk-live-0123456789\n",
        )
        .with_stdout("login as hunter22\n");
    let done = run(&f, end);
    assert_eq!(
        done.report,
        failure(
            "exited with status 3 without writing output.json\n\
             --- stderr (tail) ---\nTraceback (most recent call last):\nHTTPError: 401 for ?apikey=REMOVED\n\
             --- stdout (tail) ---\nlogin as REMOVED"
        )
    );
}

#[test]
fn an_empty_report_is_a_failure() {
    let f = fixture();
    fs::write(f.out("output.json"), " \n").unwrap();
    assert_eq!(
        run(&f, WorkerEnd::exited(0)).report,
        failure("exited with status 0 and an empty output.json")
    );
}

#[test]
fn invalid_json_is_named_with_the_parsers_position() {
    let f = fixture();
    fs::write(f.out("output.json"), "{\"success\": true,\n \"full\": {}").unwrap();
    assert_eq!(
        run(&f, WorkerEnd::exited(1)).report,
        failure(
            "output.json is not valid JSON: EOF while parsing an object at line 2 column 11 (the worker exited with status 1)"
        )
    );
}

#[test]
fn reports_of_the_wrong_shape_are_named() {
    let cases = [
        (
            json!([1, 2]),
            "output.json holds an array, not a JSON object",
        ),
        (json!({"full": {}}), "output.json has no boolean `success`"),
        (
            json!({"success": "true", "full": {}}),
            "output.json has a `success` that is a string, not a boolean",
        ),
        (
            json!({"success": true, "full": "text"}),
            "output.json reports success but has a `full` that is a string, not an object (Cortex would fail the job with \"Report creation failure\")",
        ),
        (
            json!({"success": true, "summary": {}}),
            "output.json reports success but has no `full`, not an object (Cortex would fail the job with \"Report creation failure\")",
        ),
        (
            json!({"success": false}),
            "the worker reported failure without a string errorMessage",
        ),
    ];
    for (report, message) in cases {
        let f = fixture();
        f.write_report(&report);
        assert_eq!(
            run(&f, WorkerEnd::exited(0)).report,
            failure(message),
            "for {report}"
        );
    }
}

#[test]
fn a_workers_own_failure_report_keeps_its_message_but_never_its_input() {
    let f = fixture();
    // cortexutils' error() with a worker that leaks (or forges) its input.
    f.write_report(&json!({
        "success": false,
        "input": {"dataType": "ip", "config": {"api_key": "sk-live-0123456789", "Password": "hunter22"}},
        "errorMessage": "Invalid API key"
    }));
    let done = run(&f, WorkerEnd::exited(1).with_stderr("ignored"));
    assert_eq!(done.report, failure("Invalid API key"));
}

#[test]
fn a_success_report_with_a_non_zero_exit_is_kept_with_a_warning() {
    let f = fixture();
    f.write_report(
        &json!({"success": true, "summary": {}, "artifacts": [], "operations": [], "full": {}}),
    );
    let done = run(&f, WorkerEnd::exited(2));
    assert_eq!(
        done.report,
        json!({"success": true, "summary": {}, "artifacts": [], "operations": [],
               "full": {"runnerWarnings": ["the worker exited with status 2 after writing a success report"]}})
    );
}

#[test]
fn invalid_taxonomies_are_dropped_one_by_one() {
    let f = fixture();
    let good = json!({"level": "suspicious", "namespace": "N", "predicate": "P", "value": "v"});
    f.write_report(&json!({
        "success": true, "full": {},
        "summary": {"taxonomies": [
            {"level": "critical", "namespace": "N", "predicate": "P", "value": "v"},
            good,
            {"level": "Malicious", "namespace": "N", "predicate": "P", "value": "v"},
            {"namespace": "N", "predicate": "P", "value": "v"},
            {"level": "info", "namespace": 1, "predicate": "P", "value": "v"},
            {"level": "info", "namespace": "N", "predicate": "P", "value": {"x": 1}},
            {"level": "info", "namespace": "N", "predicate": "P"},
            "info"
        ], "other": "kept"}
    }));
    let done = run(&f, WorkerEnd::exited(0));
    let warnings = [
        "dropped summary.taxonomies[0]: level \"critical\" is not one of info, safe, suspicious, malicious",
        "dropped summary.taxonomies[2]: level \"Malicious\" is not one of info, safe, suspicious, malicious",
        "dropped summary.taxonomies[3]: no string `level`",
        "dropped summary.taxonomies[4]: no string `namespace`",
        "dropped summary.taxonomies[5]: `value` is an object, not a string, number or boolean",
        "dropped summary.taxonomies[6]: no `value`",
        "dropped summary.taxonomies[7]: a string, not an object",
    ];
    assert_eq!(done.warnings, warnings);
    assert_eq!(
        done.report["summary"],
        json!({"taxonomies": [good], "other": "kept"})
    );
    assert_eq!(done.report["full"], json!({"runnerWarnings": warnings}));
    assert!(done.success);
}

#[test]
fn artifacts_outside_in_subfolders_or_missing_are_dropped_and_valid_ones_kept() {
    let f = fixture();
    fs::write(f.out("good.bin"), "bytes").unwrap();
    fs::write(f.out("nameless.bin"), "bytes").unwrap();
    let file = |name: &str| json!({"dataType": "file", "file": name, "filename": "x.bin"});
    let valid_file =
        json!({"dataType": "file", "file": "good.bin", "filename": "evil.exe", "tags": ["t"]});
    let valid_data = json!({"dataType": "domain", "data": "evil.example"});
    f.write_report(&json!({
        "success": true, "full": {},
        "artifacts": [
            file("../outside/secret.txt"), file("/etc/passwd"), file("sub/x"), file("a\\b"),
            file("missing.bin"), file(".."), file("."), file(""), file("output.json"),
            valid_file,
            {"dataType": "file", "file": "nameless.bin"},
            {"dataType": "file"},
            {"dataType": "ip"},
            {"dataType": "ip", "data": 1234},
            {"data": "1.2.3.4"},
            valid_data,
            ["not", "an", "object"]
        ]
    }));
    let before = f.snapshot_outside_output();
    let done = run(&f, WorkerEnd::exited(0));
    assert_eq!(
        done.warnings,
        [
            "dropped artifacts[0]: file \"../outside/secret.txt\" is not a plain file name directly in output/",
            "dropped artifacts[1]: file \"/etc/passwd\" is not a plain file name directly in output/",
            "dropped artifacts[2]: file \"sub/x\" is not a plain file name directly in output/",
            "dropped artifacts[3]: file \"a\\\\b\" is not a plain file name directly in output/",
            "dropped artifacts[4]: file \"missing.bin\" does not exist in output/",
            "dropped artifacts[5]: file \"..\" is not a plain file name directly in output/",
            "dropped artifacts[6]: file \".\" is not a plain file name directly in output/",
            "dropped artifacts[7]: file \"\" is not a plain file name directly in output/",
            "dropped artifacts[8]: file \"output.json\" is the report itself",
            "dropped artifacts[10]: file \"nameless.bin\" has no string `filename` (Cortex ignores such an artifact)",
            "dropped artifacts[11]: file artifact with no string `file`",
            "dropped artifacts[12]: no `data`",
            "dropped artifacts[13]: `data` is a number, not a string",
            "dropped artifacts[14]: no string `dataType`",
            "dropped artifacts[16]: an array, not an object",
        ]
    );
    assert_eq!(done.report["artifacts"], json!([valid_file, valid_data]));
    assert!(done.success);
    assert_eq!(f.snapshot_outside_output(), before);
}

#[test]
fn misshapen_lists_are_replaced_and_bad_operations_dropped() {
    let f = fixture();
    f.write_report(&json!({
        "success": true, "full": {}, "summary": ["x"], "artifacts": {"a": 1},
        "operations": [{"type": "AddTagToCase", "tag": "t"}, {"tag": "no type"}, 7]
    }));
    let done = run(&f, WorkerEnd::exited(0));
    assert_eq!(
        done.warnings,
        [
            "replaced `summary`, an array, by {} (Cortex ignores a summary that is not an object)",
            "replaced `artifacts`, an object, by [] (Cortex ignores artifacts that are not an array)",
            "dropped operations[1]: no string `type`",
            "dropped operations[2]: a number, not an object",
        ]
    );
    assert_eq!(done.report["summary"], json!({}));
    assert_eq!(done.report["artifacts"], json!([]));
    assert_eq!(
        done.report["operations"],
        json!([{"type": "AddTagToCase", "tag": "t"}])
    );
}

#[test]
fn warnings_reach_a_failure_report_at_the_top_level() {
    let f = fixture();
    std::os::unix::fs::symlink("/etc/shadow", f.out("x")).unwrap();
    let done = run(&f, WorkerEnd::exited(4));
    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": "exited with status 4 without writing output.json\n\
                                --- runner warnings ---\n\
                                removed output/x: a symlink to \"/etc/shadow\"",
               "input": redacted_input(),
               "runnerWarnings": ["removed output/x: a symlink to \"/etc/shadow\""]})
    );
}

#[test]
fn a_worker_cannot_forge_runner_warnings() {
    let f = fixture();
    f.write_report(
        &json!({"success": true, "summary": {}, "artifacts": [], "operations": [],
                           "full": {"runnerWarnings": ["all clear"], "x": 1}}),
    );
    let done = run(&f, WorkerEnd::exited(0));
    let warnings =
        ["removed the worker's own `full.runnerWarnings`: the key is reserved for the runner"];
    assert_eq!(done.warnings, warnings);
    assert_eq!(
        done.report["full"],
        json!({"x": 1, "runnerWarnings": warnings})
    );
}

#[test]
fn a_rejected_success_report_after_a_non_zero_exit_says_the_status_once() {
    let f = fixture();
    f.write_report(&json!({"success": true, "full": []}));
    let done = run(&f, WorkerEnd::exited(2));
    assert_eq!(
        done.report,
        failure(
            "output.json reports success but has a `full` that is an array, not an object (Cortex would fail the job with \"Report creation failure\") (the worker exited with status 2)"
        )
    );
}

#[test]
fn a_workers_own_failure_message_comes_first_then_the_runner_warnings() {
    let f = fixture();
    fs::create_dir(f.out("junk")).unwrap();
    f.write_report(&json!({"success": false, "errorMessage": "TLP is higher than allowed."}));
    let done = run(&f, WorkerEnd::exited(1));
    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": "TLP is higher than allowed.\n--- runner warnings ---\nremoved output/junk: a directory",
               "input": redacted_input(),
               "runnerWarnings": ["removed output/junk: a directory"]})
    );
}

#[test]
fn a_worker_cannot_forge_top_level_runner_warnings_in_a_success_report() {
    let f = fixture();
    f.write_report(
        &json!({"success": true, "summary": {}, "artifacts": [], "operations": [],
                           "full": {"x": 1}, "runnerWarnings": ["all clear"]}),
    );
    let done = run(&f, WorkerEnd::exited(0));
    let warnings =
        ["removed the worker's own `runnerWarnings`: the key is reserved for the runner"];
    assert_eq!(done.warnings, warnings);
    assert_eq!(
        done.report,
        json!({"success": true, "summary": {}, "artifacts": [], "operations": [],
               "full": {"x": 1, "runnerWarnings": warnings}})
    );
}

#[test]
fn a_worker_cannot_hide_runner_warnings_anywhere_in_its_report() {
    let f = fixture();
    f.write_report(&json!({"success": true,
                           "summary": {"taxonomies": [], "runnerWarnings": "s"},
                           "full": {"a": [{"runnerWarnings": 1}, {"b": {"runnerWarnings": []}}],
                                    "runnerWarnings": ["all clear"]},
                           "runnerWarnings": ["top"]}));
    let done = run(&f, WorkerEnd::exited(0));
    let warnings = [
        "removed the worker's own `summary.runnerWarnings`: the key is reserved for the runner",
        "removed the worker's own `full.a[0].runnerWarnings`: the key is reserved for the runner",
        "removed the worker's own `full.a[1].b.runnerWarnings`: the key is reserved for the runner",
        "removed the worker's own `full.runnerWarnings`: the key is reserved for the runner",
        "removed the worker's own `runnerWarnings`: the key is reserved for the runner",
    ];
    assert_eq!(done.warnings, warnings);
    assert_eq!(
        done.report,
        json!({"success": true, "summary": {"taxonomies": []},
               "full": {"a": [{}, {"b": {}}], "runnerWarnings": warnings},
               "artifacts": [], "operations": []})
    );
}

#[test]
fn a_workers_failure_report_cannot_carry_runner_warnings() {
    let f = fixture();
    f.write_report(&json!({"success": false, "errorMessage": "boom",
                           "runnerWarnings": ["the runner says all is fine"]}));
    let done = run(&f, WorkerEnd::exited(1));
    let warning = "removed the worker's own `runnerWarnings`: the key is reserved for the runner";
    assert_eq!(
        done.report,
        json!({"success": false,
               "errorMessage": format!("boom\n--- runner warnings ---\n{warning}"),
               "input": redacted_input(),
               "runnerWarnings": [warning]})
    );
}

#[test]
fn the_backends_warnings_are_runner_warnings() {
    let warning = "the worker hit the sandbox's cap of 256 open files: 1 open was refused with \
                   EMFILE (too many open files)";
    let f = fixture();
    f.write_report(
        &json!({"success": true, "full": {}, "summary": {"taxonomies": []},
                           "artifacts": [], "operations": []}),
    );
    let end = WorkerEnd::exited(0).with_warnings(vec![warning.to_owned()]);
    let done = run(&f, end);
    assert_eq!(done.report["full"]["runnerWarnings"], json!([warning]));
    assert_eq!(done.warnings, vec![warning.to_owned()]);

    let f = fixture();
    let end = WorkerEnd::failed("timed out after 1 s").with_warnings(vec![warning.to_owned()]);
    let done = run(&f, end);
    assert_eq!(done.report["runnerWarnings"], json!([warning]));
}
