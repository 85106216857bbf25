//! Runs the native `ValidateObservable` on every case of `tests/corpus/` as Cortex's process
//! runner would, and compares its `output/output.json` with `expected.json`, the original Python
//! analyzer's report for the same job (written by `analyzers/golden/make_golden.py`), key order
//! included. The normalisations and `tests/corpus/relaxed.json` are the shared harness's
//! (`analyzer-golden`); the README gives the reason for each relaxation.

use analyzer_golden::{Corpus, KeyOrder};

#[test]
fn every_corpus_case_matches_the_original() {
    Corpus::of_crate(env!("CARGO_MANIFEST_DIR"))
        .with_key_order(KeyOrder::Compared)
        .check_binary(env!("CARGO_BIN_EXE_ValidateObservable"))
        .assert_passed();
}
