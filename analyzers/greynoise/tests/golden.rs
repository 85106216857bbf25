//! Runs the native `GreyNoise` on every case of `tests/corpus/` against the local API stand-in
//! (`api-standin`, reached through `config.proxy.https` and trusted through `config.cacerts`,
//! as Cortex configures the original) and compares its report with `expected.json`, the Python
//! original's report for the same job through the same stand-in, key order included.

use analyzer_golden::{Corpus, KeyOrder};
use api_standin::{ApiStandin, Options, placeholders};

#[test]
fn every_corpus_case_matches_the_original() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let standin = runtime
        .block_on(ApiStandin::start(Options::default()))
        .unwrap();
    Corpus::of_crate(env!("CARGO_MANIFEST_DIR"))
        .with_key_order(KeyOrder::Compared)
        .check_binary_filled(
            env!("CARGO_BIN_EXE_GreyNoise"),
            |input| placeholders::fill(input, &standin),
            |report| placeholders::restore(report, &standin),
        )
        .assert_passed();
}
