//! Golden tests for policy files: `tests/ui/<case>.toml` beside `<case>.err` (the exact error) or
//! `<case>.parsed` (the resolved policy as JSON).
//!
//! A case's worker is its file stem unless its first line is `# worker: <Name>`. Policies are
//! resolved against the real Cortex catalogs and the module directory `tests/ui/modules`, with
//! the built-in analyzers switched off. Run with `BLESS=1` to rewrite the expected files after a
//! deliberate change, then review the diff.

use std::path::{Path, PathBuf};

use cortex_runner::catalog::Catalog;
use cortex_runner::config::{KubernetesConfig, WasmConfig};
use cortex_runner::policy::{PolicyContext, load_str};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn catalog() -> Catalog {
    let fixtures = manifest_dir().join("tests/fixtures/cortex-catalog");
    Catalog::load(
        &[fixtures.join("analyzers.json")],
        &[fixtures.join("responders.json")],
    )
    .unwrap()
}

/// The outcome of one case: `Ok(parsed JSON)` or `Err(error text)`.
fn run_case(case: &Path, ctx: &PolicyContext<'_>) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest_dir().join(case)).unwrap();
    let stem = case.file_stem().unwrap().to_string_lossy().into_owned();
    let worker = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# worker: "))
        .map_or(stem, |w| w.trim().to_string());
    match load_str(&worker, case, &text, ctx) {
        Ok(policy) => Ok(serde_json::to_string_pretty(&policy).unwrap() + "\n"),
        Err(e) => Err(e.to_string() + "\n"),
    }
}

#[test]
fn policy_files_parse_or_fail_exactly_as_recorded() {
    // Paths stay relative to the crate (the test's working directory), so the expected files
    // do not depend on where the repository is checked out.
    std::env::set_current_dir(manifest_dir()).unwrap();
    let catalog = catalog();
    let wasm = WasmConfig {
        module_dirs: vec![PathBuf::from("tests/ui/modules")],
        builtin_modules: false,
        ..Default::default()
    };
    let kubernetes = KubernetesConfig::default();
    let ctx = PolicyContext {
        catalog: &catalog,
        wasm: &wasm,
        kubernetes: &kubernetes,
        builtin_modules: &[],
    };
    let bless = std::env::var_os("BLESS").is_some();

    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/ui")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the ui cases, found {}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let (actual, ext, other) = match run_case(case, &ctx) {
            Ok(parsed) => (parsed, "parsed", "err"),
            Err(error) => (error, "err", "parsed"),
        };
        let expected_path = case.with_extension(ext);
        let other_path = case.with_extension(other);
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            let _ = std::fs::remove_file(&other_path);
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}: expected ({}):\n{expected}\nactual:\n{actual}",
                case.display(),
                expected_path.display()
            )),
            Err(_) => failures.push(format!(
                "{}: no {} (found {}? {}); actual:\n{actual}",
                case.display(),
                expected_path.display(),
                other_path.display(),
                other_path.exists()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ui cases differ (BLESS=1 rewrites them):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
