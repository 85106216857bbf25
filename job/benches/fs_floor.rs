//! The file-system floor of one job: every step `cortex-runner bench` times, with the worker's
//! own file work (read `input/input.json`, write `output/output.json`) done natively in-process,
//! so that no sandbox, process or wasm is involved. What `cortex-runner bench` measures above
//! these figures is the worker; what it measures at them is the file system, which no runner
//! can skip: Cortex hands over and takes back a job as files.
//!
//! `cargo bench -p cortex-job --bench fs_floor [-- JOBS [ROOT]]`; ROOT defaults to `/dev/shm`
//! (tmpfs). Prints one JSON object: per-step and per-job medians in microseconds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, JobFolder, JobInput, WorkerEnd, finalise};

/// The report the honest analyzer writes for `8.8.8.8` (compact, as serde_json writes it).
const REPORT: &str = r#"{"success":true,"full":{"dataType":"ip","sha256":"838c4c2573848f58e74332341a7ca6bc5cd86a8aec7d644137d53b4d597f10f5"},"summary":{"taxonomies":[{"level":"info","namespace":"Honest","predicate":"sha256","value":"838c4c25"}]},"artifacts":[],"operations":[]}"#;

fn median(mut samples: Vec<Duration>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_micros()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let jobs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let root = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/dev/shm"));
    let root = root.join(format!("cortex-fs-floor-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("creating the job root");
    let input = JobInput::new("ip", "8.8.8.8");
    let mut steps: [Vec<Duration>; 6] = Default::default();
    for i in 0..jobs {
        let t = Instant::now();
        let folder = JobFolder::create(&root, &format!("floor{i}"), &input, None).unwrap();
        let created = t.elapsed();

        let t = Instant::now();
        let bytes = std::fs::read(folder.input_dir().join("input.json")).unwrap();
        assert!(bytes.starts_with(b"{"));
        std::fs::write(folder.output_dir().join("output.json"), REPORT).unwrap();
        let worked = t.elapsed();

        let t = Instant::now();
        let done = finalise(&folder, &WorkerEnd::exited(0), &FinaliseOptions::default()).unwrap();
        assert!(done.success);
        let finalised = t.elapsed();

        let t = Instant::now();
        let report = std::fs::read(folder.output_dir().join("output.json")).unwrap();
        let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
        assert_eq!(report["success"], true);
        let read_back = t.elapsed();

        let t = Instant::now();
        folder.remove().unwrap();
        let removed = t.elapsed();

        let job = created + worked + finalised + read_back;
        for (column, value) in steps
            .iter_mut()
            .zip([created, worked, finalised, read_back, removed, job])
        {
            column.push(value);
        }
    }
    let _ = std::fs::remove_dir(&root);
    let [create, worker_io, finalise, read_back, remove, job] = steps.map(median);
    println!(
        "{{\"jobs\":{jobs},\"job_root\":{:?},\"p50_us\":{{\"create\":{create},\"worker_file_io\":{worker_io},\"finalise\":{finalise},\"read_back\":{read_back},\"remove\":{remove},\"job\":{job}}}}}",
        root.parent().unwrap()
    );
}
