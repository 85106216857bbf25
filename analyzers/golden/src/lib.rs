//! The golden-corpus harness every analyzer's tests share: each case of an analyzer crate's
//! `tests/corpus/` is run through a worker (the native binary, or the wasm module in the sandbox)
//! and its report is compared with `expected.json`, the Python original's report for the same job.
//!
//! [`Corpus`] lists the cases ([`Case`]) and the documented differences of `relaxed.json`;
//! [`Corpus::check`] copies each case into a fresh [`JobFolder`], runs the worker, applies the
//! agreed normalisations ([`normalise`]) and compares ([`compare`]), collecting every mismatch
//! ([`Failure`]) in a [`Report`] whose [`Report::assert_passed`] fails the test with a readable
//! difference. `make_golden.py` beside this crate's manifest writes the goldens of the analyzers
//! whose corpus has no extra normalisation (ValidateObservable, the SafeLinks decoder).
//!
//! Setup problems (an unreadable corpus, a malformed `relaxed.json`, a generator that fails)
//! panic with the path and the fix, as a test should; a case that does not match is a value.

mod check;
pub mod compare;
mod corpus;
mod job;
pub mod normalise;

pub use check::{Failure, Report, assert_passed};
pub use compare::KeyOrder;
pub use corpus::{Case, Corpus, MIN_CASES, NOT_INPUT};
pub use job::{Ended, JobFolder, run_binary};
