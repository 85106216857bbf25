//! A guest that opens files until it cannot does not take the process's descriptors from its
//! neighbour: the per-guest cap stops it first, with `EMFILE`.
//!
//! Its own test binary, because it lowers the process's descriptor limit to what the running
//! guests need plus a margin, so that a guest without a cap would exhaust the process.

mod common;

use std::time::Duration;

use common::*;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use serde_json::json;
use test_programs_artifacts as programs;
use wasm_host::Outcome;

/// Descriptors open in this process now.
fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_descriptor_hog_leaves_its_neighbour_enough() {
    // Room for one capped hog (256 files and its 2 preopens) and a neighbour, not for a hog
    // without a cap. Both modules are loaded first: loading opens the module files.
    let hog = load(programs::FD_HOG);
    let honest = load(programs::HONEST);
    let hard = getrlimit(Resource::Nofile).maximum;
    let limit = open_descriptors() + 256 + 64;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: hard,
        },
    )
    .unwrap();

    let hog_job = Job::new();
    let spec = hog_job.spec();
    let hogging = tokio::spawn(async move { SANDBOX.run(&hog, spec).await });
    // The hog reaches its cap within milliseconds and then holds its files for a second.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = Job::new();
    let record = SANDBOX.run(&honest, job.spec()).await;
    let hog_record = hogging.await.unwrap();

    let record = record.expect("the neighbour's run starts");
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(job.report()["success"], json!(true));
    let hog_record = hog_record.unwrap();
    assert_eq!(hog_record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(
        hog_job.report()["full"],
        json!({"opened": 256, "errno": 33})
    );
    assert_eq!(hog_record.warnings.len(), 1);
}
