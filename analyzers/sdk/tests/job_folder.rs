//! The SDK on real job folders: parameters, file observables, artifacts, and the failure
//! reports for inputs cortexutils cannot read.

use std::path::Path;
use std::process::ExitCode;

use cortex_sdk::serde_json::{Map, Value, json};
use cortex_sdk::{Analyzer, Error, Result, WorkerOptions};

/// A job folder with `input.json` (and optionally an attachment) and an empty `output/`.
fn job(input: &Value, attachment: Option<(&str, &[u8])>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("input")).unwrap();
    std::fs::create_dir(dir.path().join("output")).unwrap();
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
    if let Some((name, bytes)) = attachment {
        std::fs::write(dir.path().join("input").join(name), bytes).unwrap();
    }
    dir
}

fn options(dir: &Path) -> WorkerOptions {
    WorkerOptions {
        job_directory: Some(dir.to_path_buf()),
        secret_phrases: None,
    }
}

fn output(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("output/output.json")).unwrap();
    cortex_sdk::serde_json::from_str(&text).unwrap()
}

#[test]
fn get_param_follows_dotted_paths_with_defaults_and_messages() {
    let dir = job(
        &json!({"dataType": "domain", "data": "x.org", "config": {"service": {"url": "https://s", "retries": 0,
                          "enabled": false, "none": null}}, "parameters": {"a.b": 1}}),
        None,
    );
    let a = Analyzer::open(options(dir.path())).unwrap();
    assert_eq!(a.get_param("config.service.url"), Some(&json!("https://s")));
    assert_eq!(a.get_param_str("config.service.url"), Some("https://s"));
    assert_eq!(a.get_param("config.service.retries"), Some(&json!(0)));
    assert_eq!(a.get_param("config.service.enabled"), Some(&json!(false)));
    assert_eq!(a.get_param("config.service.none"), None);
    assert_eq!(a.get_param_or("config.service.none", 5), json!(5));
    assert_eq!(a.get_param_or("config.service.retries", 5), json!(0));
    assert_eq!(a.get_param_or("config.missing.deeper", "d"), json!("d"));
    // A dot always separates segments, so a key containing a dot cannot be reached.
    assert_eq!(a.get_param("parameters.a.b"), None);
    let err = a
        .require_param("config.key", "Missing API key")
        .unwrap_err();
    assert_eq!(err.to_string(), "Missing API key");
    assert_eq!(a.get_data_str().unwrap(), "x.org");
    assert_eq!(a.data_type(), "domain");
    assert_eq!(a.tlp(), &json!(2));
    assert_eq!(a.pap(), &json!(2));
    assert!(a.auto_extract());
}

#[test]
fn file_observable_data_is_the_file_name_and_file_is_the_path() {
    let input = json!({"dataType": "file", "file": "attachment9", "filename": "invoice.pdf", "contentType": "application/pdf"});
    let dir = job(&input, Some(("attachment9", b"%PDF")));
    let a = Analyzer::open(options(dir.path())).unwrap();
    let path = dir.path().join("input/attachment9");
    assert_eq!(a.get_data().unwrap(), &json!("invoice.pdf"));
    assert_eq!(a.get_param("file"), Some(&json!(path.to_str().unwrap())));
    assert_eq!(a.file_path(), Some(path));
    assert_eq!(a.get_param("filename"), Some(&json!("invoice.pdf")));

    // Without the attachment on disk, cortexutils' get_param("file") gives None.
    let missing = job(&input, None);
    let a = Analyzer::open(options(missing.path())).unwrap();
    assert_eq!(a.get_param("file"), None);
    assert_eq!(a.file_path(), None);
    assert_eq!(
        a.require_param("file", "File is missing")
            .unwrap_err()
            .to_string(),
        "File is missing"
    );
}

#[test]
fn build_artifact_copies_files_into_output_and_shapes_data_artifacts() {
    let dir = job(&json!({"dataType": "domain", "data": "x.org"}), None);
    let source = dir.path().join("extracted.bin");
    std::fs::write(&source, b"MZ\x90\x00payload").unwrap();
    let a = Analyzer::open(options(dir.path())).unwrap();
    let mut kwargs = Map::new();
    kwargs.insert("tags".into(), json!(["attachment"]));
    let artifact = a
        .build_artifact_with("file", source.to_str().unwrap(), kwargs)
        .unwrap();
    let name = artifact["file"].as_str().unwrap();
    assert_eq!(
        artifact,
        json!({"tags": ["attachment"], "dataType": "file", "file": name, "filename": "extracted.bin"})
    );
    assert!(name.starts_with("tmp") && name.len() == 11, "{name}");
    let copy = dir.path().join("output").join(name);
    assert_eq!(std::fs::read(&copy).unwrap(), b"MZ\x90\x00payload");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
    assert_eq!(
        a.build_artifact("file", "/does/not/exist").unwrap(),
        Value::Null
    );
    assert_eq!(
        a.build_artifact("ip", "10.0.0.1").unwrap(),
        json!({"dataType": "ip", "data": "10.0.0.1"})
    );
}

#[test]
fn taxonomy_levels_outside_the_four_become_info() {
    for level in ["info", "safe", "suspicious", "malicious"] {
        assert_eq!(
            Analyzer::build_taxonomy(level, "N", "P", 1)["level"],
            json!(level)
        );
    }
    for level in ["Malicious", "critical", "", " info"] {
        assert_eq!(
            Analyzer::build_taxonomy(level, "N", "P", "v"),
            json!({"level": "info", "namespace": "N", "predicate": "P", "value": "v"})
        );
    }
}

#[test]
fn an_error_redacts_secret_config_keys_and_exits_1() {
    let dir = job(
        &json!({"dataType": "ip", "data": "1.2.3.4", "config": {"api_key": "k", "PassWord": "p",
                          "client_secret": "s", "url": "https://x"}}),
        None,
    );
    let code = cortex_sdk::run_analyzer_with(options(dir.path()), Fails);
    assert_eq!(code, ExitCode::from(1));
    assert_eq!(
        output(dir.path()),
        json!({"success": false, "input": {"dataType": "ip", "data": "1.2.3.4", "config": {"api_key": "REMOVED",
               "PassWord": "REMOVED", "client_secret": "REMOVED", "url": "https://x"}}, "errorMessage": "quota exceeded"})
    );
}

struct Fails;
impl cortex_sdk::Hooks for Fails {}
impl cortex_sdk::Analyze for Fails {
    fn run(&self, _a: &Analyzer) -> Result<Value> {
        Err(Error::msg("quota exceeded"))
    }
}

#[test]
fn unreadable_input_json_gives_a_failure_report_with_an_empty_input() {
    for (text, reason) in [
        ("{not json", "key must be a string at line 1 column 2"),
        ("[1, 2]", "not a JSON object"),
        ("", "EOF while parsing a value at line 1 column 0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/input.json"), text).unwrap();
        let code = cortex_sdk::run_analyzer_fn_with(options(dir.path()), |_| Ok(json!({})));
        assert_eq!(code, ExitCode::from(1));
        let path = dir.path().join("input/input.json");
        assert_eq!(
            output(dir.path()),
            json!({"success": false, "input": {}, "errorMessage": format!("invalid {}: {reason}", path.display())})
        );
    }
}

#[test]
fn a_successful_run_writes_the_report_in_python_json_format() {
    let dir = job(&json!({"dataType": "domain", "data": "x.org"}), None);
    let code = cortex_sdk::run_analyzer_fn_with(options(dir.path()), |a| {
        Ok(json!({"seen": ["8.8.8.8", a.get_data_str()?], "n": 1.5}))
    });
    assert_eq!(code, ExitCode::SUCCESS);
    let text = std::fs::read_to_string(dir.path().join("output/output.json")).unwrap();
    assert_eq!(
        text,
        r#"{"success": true, "summary": {}, "artifacts": [{"dataType": "ip", "data": "8.8.8.8"}], "operations": [], "full": {"seen": ["8.8.8.8", "x.org"], "n": 1.5}}"#
    );
}

#[test]
fn proxies_are_handed_out_as_cortexutils_exports_them() {
    let dir = job(
        &json!({"dataType": "ip", "data": "1.2.3.4", "config": {"proxy": {"http": "http://p:3128", "https": "http://p:3129"}}}),
        None,
    );
    let a = Analyzer::open(options(dir.path())).unwrap();
    assert_eq!(a.http_proxy(), Some("http://p:3128"));
    assert_eq!(a.https_proxy(), Some("http://p:3129"));
    assert_eq!(
        a.proxy_env(),
        vec![
            ("http_proxy", "http://p:3128"),
            ("https_proxy", "http://p:3129")
        ]
    );
}
