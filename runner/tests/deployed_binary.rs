//! A deployed runner is one file: copied alone to another directory (another machine, an image),
//! with only its configuration and policies beside it, it runs the built-in analyzers, which are
//! compiled into it rather than looked up in the build's target directory.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Runs `binary` from the empty `cwd` with nothing of the build's environment: no configuration
/// variable, a fresh home, and the system `PATH` only.
fn run(binary: &Path, cwd: &Path, home: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .output()
        .unwrap()
}

#[test]
fn a_copied_binary_runs_the_built_in_eml_parser_from_its_embedded_module() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, etc, cwd, home) = (
        dir.path().join("bin"),
        dir.path().join("etc"),
        dir.path().join("cwd"),
        dir.path().join("home"),
    );
    for d in [&bin, &etc.join("policies"), &cwd, &home] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The binary alone.
    let binary = bin.join("cortex-runner");
    std::fs::copy(env!("CARGO_BIN_EXE_cortex-runner"), &binary).unwrap();
    // Its deployment: the shipped policies and a configuration naming them, no module directory.
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, etc.join("policies").join(path.file_name().unwrap())).unwrap();
        }
    }
    let config = etc.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs]\nroot = {:?}\n[policies]\ndir = {:?}\n",
            dir.path().join("jobs").display().to_string(),
            etc.join("policies").display().to_string(),
        ),
    )
    .unwrap();
    let mail = dir.path().join("mail.eml");
    std::fs::copy(repo().join("examples/phishing.eml"), &mail).unwrap();
    let (config, mail) = (config.to_str().unwrap(), mail.to_str().unwrap());

    // The decision names the embedded module and its digest, not a path into target/.
    let sha256 = hex::encode(Sha256::digest(
        analyzer_artifacts::module_bytes("EmlParser").unwrap(),
    ));
    let out = run(
        &binary,
        &cwd,
        &home,
        &["explain", "EmlParser", "--file", mail, "--config", config],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy = etc.join("policies/EmlParser.toml");
    assert!(
        stdout.contains(&format!(
            "reason:   {} sets backend = \"wasm\"; module EmlParser.wasm built into the runner (sha256 {}…, not pinned)\n",
            policy.display(),
            &sha256[..12]
        )),
        "{stdout}"
    );

    let out = run(
        &binary,
        &cwd,
        &home,
        &[
            "run",
            "--analyzer",
            "EmlParser",
            "--file",
            mail,
            "--json",
            "--config",
            config,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["success"], true, "{report}");
    assert_eq!(
        report["summary"]["taxonomies"],
        serde_json::json!([
            {"level": "info", "namespace": "EmlParser", "predicate": "Attachments", "value": 1},
            {"level": "info", "namespace": "EmlParser", "predicate": "Urls", "value": 3},
        ]),
        "{report}"
    );
}
