//! Catalog loading: the real Cortex catalogs, definition directories, and exact errors.

use std::path::{Path, PathBuf};

use cortex_runner::catalog::{Catalog, WorkerKind};

fn fixture_catalog(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cortex-catalog")
        .join(name)
}

#[test]
fn the_real_catalogs_load_completely() {
    let catalog = Catalog::load(
        &[fixture_catalog("analyzers.json")],
        &[fixture_catalog("responders.json")],
    )
    .unwrap();
    assert_eq!(catalog.count(WorkerKind::Analyzer), 275);
    assert_eq!(catalog.count(WorkerKind::Responder), 156);
    assert_eq!(catalog.warnings, Vec::<String>::new());

    let file_info = catalog.get("FileInfo").unwrap();
    assert_eq!(file_info.kind, WorkerKind::Analyzer);
    assert_eq!(file_info.definition.version, "8.0");
    assert_eq!(
        file_info.definition.data_type_list,
        vec!["file".to_string()]
    );
    assert_eq!(
        file_info.definition.docker_image.as_deref(),
        Some("ghcr.io/thehive-project/fileinfo:8")
    );
    // Cortex's worker id finds the same worker.
    assert_eq!(
        catalog.get("FileInfo_8_0").unwrap().definition.name,
        "FileInfo"
    );

    // The defaults Cortex would pass: configuration item defaults (both spellings), then `config`.
    let eml = catalog
        .get("EmlParser")
        .unwrap()
        .definition
        .default_config();
    assert_eq!(eml["email_visualisation"], serde_json::json!(false));
    assert_eq!(
        eml["wkhtmltoimage_path"],
        serde_json::json!("/usr/bin/wkhtmltoimage")
    );
    assert_eq!(eml["max_tlp"], serde_json::json!(3));
    let fi = catalog.get("FileInfo").unwrap().definition.default_config();
    assert_eq!(fi["floss_minimal_string_length"], serde_json::json!(4));

    let responder = catalog.get("AMPforEndpoints_IsolationStart").unwrap();
    assert_eq!(responder.kind, WorkerKind::Responder);
    assert_eq!(
        responder.definition.data_type_list,
        vec!["thehive:case_artifact".to_string()]
    );
}

#[test]
fn a_definition_directory_loads_like_cortex_analyzers() {
    let dir = tempfile::tempdir().unwrap();
    let flavours = dir.path().join("Foo");
    std::fs::create_dir(&flavours).unwrap();
    std::fs::write(
        flavours.join("Foo_Bar.json"),
        r#"{"name": "Foo_Bar", "version": "2.1", "dataTypeList": ["ip"], "command": "Foo/foo.py", "baseConfig": "Foo"}"#,
    )
    .unwrap();
    std::fs::write(flavours.join("README.md"), "not a definition").unwrap();
    std::fs::write(
        dir.path().join("Top.json"),
        r#"{"name": "Top", "version": "1", "dataTypeList": ["domain"], "dockerImage": "x/top:1"}"#,
    )
    .unwrap();
    let catalog = Catalog::load(&[dir.path().to_path_buf()], &[]).unwrap();
    let names: Vec<&str> = catalog
        .entries()
        .map(|e| e.definition.name.as_str())
        .collect();
    assert_eq!(names, ["Foo_Bar", "Top"]);
    let foo = &catalog.get("Foo_Bar").unwrap().definition;
    assert_eq!(
        foo.command.as_deref(),
        Some(flavours.join("Foo/foo.py").to_str().unwrap())
    );
    assert_eq!(foo.id(), "Foo_Bar_2_1");
}

#[test]
fn a_later_definition_of_a_name_replaces_the_earlier_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    std::fs::write(
        &a,
        r#"[{"name": "W", "version": "1", "dataTypeList": ["ip"], "dockerImage": "w:1"}]"#,
    )
    .unwrap();
    std::fs::write(
        &b,
        r#"[{"name": "W", "version": "2", "dataTypeList": ["ip"], "dockerImage": "w:2"}]"#,
    )
    .unwrap();
    let catalog = Catalog::load(&[a.clone(), b.clone()], &[]).unwrap();
    assert_eq!(catalog.get("W").unwrap().definition.version, "2");
    assert_eq!(
        catalog.warnings,
        vec![format!(
            "worker W from {} is replaced by the one from {}",
            a.display(),
            b.display()
        )]
    );
}

fn load_err(json: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cat.json");
    std::fs::write(&path, json).unwrap();
    (
        Catalog::load(std::slice::from_ref(&path), &[])
            .unwrap_err()
            .to_string(),
        path.display().to_string(),
    )
}

#[test]
fn bad_catalogs_are_exact_errors() {
    let (err, p) = load_err(
        r#"[{"name": "A", "version": "1", "dataTypeList": ["ip"], "dockerImage": "a:1"}, {"name": "B", "version": "1"}]"#,
    );
    assert_eq!(
        err,
        format!("catalog {p}: worker #2 (B): missing field `dataTypeList`")
    );
    let (err, p) = load_err(
        r#"[{"name": "Has space", "version": "1", "dataTypeList": [], "dockerImage": "a:1"}]"#,
    );
    assert_eq!(
        err,
        format!("catalog {p}: worker #1 (Has space): the name contains whitespace")
    );
    let (err, p) =
        load_err(r#"[{"name": "../x", "version": "1", "dataTypeList": [], "dockerImage": "a:1"}]"#);
    assert_eq!(
        err,
        format!("catalog {p}: worker #1 (../x): the name contains `/` or `..`")
    );
    let (err, p) = load_err(r#"[{"name": "C", "version": "1", "dataTypeList": ["ip"]}]"#);
    assert_eq!(
        err,
        format!("catalog {p}: worker #1 (C): missing key `dockerImage`")
    );
    let (err, p) =
        load_err(r#"[{"name": "D", "version": 1, "dataTypeList": ["ip"], "dockerImage": "d:1"}]"#);
    assert_eq!(
        err,
        format!("catalog {p}: worker #1 (D): invalid type: integer `1`, expected a string")
    );
    let (err, p) = load_err("[1,");
    assert_eq!(
        err,
        format!(
            "catalog {p}: invalid JSON at line 1 column 3: EOF while parsing a value at line 1 column 3"
        )
    );
    let (err, p) = load_err("42");
    assert_eq!(
        err,
        format!("catalog {p}: expected an array of worker definitions or one definition object")
    );
    let err = Catalog::load(&["/nonexistent/cat.json".into()], &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "catalog /nonexistent/cat.json: cannot read: No such file or directory (os error 2)"
    );
}
