//! Runs the native `EmlParser` binary on every case of `tests/corpus/` and compares its
//! `output/output.json` with `expected.json`, the report of the original Python analyzer (made by
//! `tests/make_golden.py`), after the same normalisation: the random name of each file artifact
//! becomes `sha256:<hex of the file>`, and strings longer than 1 Mi characters become a marker
//! with their length and sha256 (only the 20 MiB case has such strings). Running, normalising and
//! comparing (without key order) are the shared harness's (`analyzer-golden`).

use analyzer_golden::Corpus;

#[test]
fn every_case_matches_the_original() {
    Corpus::of_crate(env!("CARGO_MANIFEST_DIR"))
        .check_binary(env!("CARGO_BIN_EXE_EmlParser"))
        .assert_passed();
}
