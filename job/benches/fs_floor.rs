//! The file-system floor of one job: every step `cortex-runner bench` times, with the worker's
//! own file work (read `input/input.json`, write `output/output.json`) done natively in-process,
//! so that no sandbox, process or wasm is involved. What `cortex-runner bench` measures above
//! these figures is the worker; what it measures at them is the file system, which no runner
//! can skip: Cortex hands over and takes back a job as files.
//!
//! A second row, `kernel_minimum`, does the same file work with the fewest system calls that
//! can do it (each directory made and opened once, every name relative to it, no listing, no
//! check of what the worker left): what any runner would pay on this file system, even one that
//! trusted its workers. The difference between the two rows is what the runner's own care
//! (hostile-output handling, validation, careful removal) costs.
//!
//! `cargo bench -p cortex-job --bench fs_floor [-- JOBS [ROOT]]`; ROOT defaults to `/dev/shm`
//! (tmpfs). Prints one JSON object per row: per-step and per-job medians in microseconds.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, JobFolder, JobInput, WorkerEnd, finalise};
use rustix::fs::{AtFlags, Mode, OFlags};

/// The report the honest analyzer writes for `8.8.8.8` (compact, as serde_json writes it).
const REPORT: &str = r#"{"success":true,"full":{"dataType":"ip","sha256":"838c4c2573848f58e74332341a7ca6bc5cd86a8aec7d644137d53b4d597f10f5"},"summary":{"taxonomies":[{"level":"info","namespace":"Honest","predicate":"sha256","value":"838c4c25"}]},"artifacts":[],"operations":[]}"#;

fn median(mut samples: Vec<Duration>) -> u128 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_micros()
}

/// Per-step durations of one job: create, worker file I/O, finalise, read back, remove.
type Steps = [Duration; 5];

/// One job through the runner's own code: `JobFolder::create`, `finalise`, `JobFolder::remove`.
fn runner_job(root: &Path, i: usize, input: &JobInput) -> Steps {
    let t = Instant::now();
    let folder = JobFolder::create(root, &format!("floor{i}"), input, None).unwrap();
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
    [created, worked, finalised, read_back, t.elapsed()]
}

fn open_dir(parent: &OwnedFd, name: &str) -> OwnedFd {
    rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

/// Reads the small file `name` in `dir` with one `read`.
fn read_small(dir: &OwnedFd, name: &str, buf: &mut [u8]) -> usize {
    let file =
        rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).unwrap();
    rustix::io::read(&file, buf).unwrap()
}

fn write_new(dir: &OwnedFd, name: &str, bytes: &[u8]) {
    let file = rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .unwrap();
    assert_eq!(rustix::io::write(&file, bytes).unwrap(), bytes.len());
}

/// The same job with the fewest system calls: what the file system costs whoever runs the job.
fn minimal_job(root: &OwnedFd, i: usize, input: &[u8]) -> Steps {
    let mut buf = [0u8; 4096];
    let name = format!(
        "cortex-job-floor{i}-{}",
        12_345_678_901_234_567_890u64 - i as u64
    );

    let t = Instant::now();
    rustix::fs::mkdirat(root, &name, Mode::from_raw_mode(0o700)).unwrap();
    let job = open_dir(root, &name);
    rustix::fs::mkdirat(&job, "input", Mode::from_raw_mode(0o700)).unwrap();
    rustix::fs::mkdirat(&job, "output", Mode::from_raw_mode(0o700)).unwrap();
    let input_dir = open_dir(&job, "input");
    write_new(&input_dir, "input.json", input);
    let created = t.elapsed();

    let t = Instant::now();
    let output_dir = open_dir(&job, "output");
    assert_eq!(read_small(&input_dir, "input.json", &mut buf), input.len());
    write_new(&output_dir, "output.json", REPORT.as_bytes());
    let worked = t.elapsed();

    // Finalisation at its least: read the report once, relative to `output/`.
    let t = Instant::now();
    let n = read_small(&output_dir, "output.json", &mut buf);
    let report: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(report["success"], true);
    let finalised = t.elapsed();

    let t = Instant::now();
    let n = read_small(&output_dir, "output.json", &mut buf);
    let report: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(report["success"], true);
    let read_back = t.elapsed();

    let t = Instant::now();
    rustix::fs::unlinkat(&input_dir, "input.json", AtFlags::empty()).unwrap();
    rustix::fs::unlinkat(&output_dir, "output.json", AtFlags::empty()).unwrap();
    drop((input_dir, output_dir));
    rustix::fs::unlinkat(&job, "input", AtFlags::REMOVEDIR).unwrap();
    rustix::fs::unlinkat(&job, "output", AtFlags::REMOVEDIR).unwrap();
    drop(job);
    rustix::fs::unlinkat(root, &name, AtFlags::REMOVEDIR).unwrap();
    [created, worked, finalised, read_back, t.elapsed()]
}

fn print_row(row: &str, jobs: usize, root: &Path, steps: Vec<Steps>) {
    let mut columns: [Vec<Duration>; 6] = Default::default();
    for [created, worked, finalised, read_back, removed] in steps {
        let job = created + worked + finalised + read_back;
        for (column, value) in columns
            .iter_mut()
            .zip([created, worked, finalised, read_back, removed, job])
        {
            column.push(value);
        }
    }
    let [create, worker_io, finalise, read_back, remove, job] = columns.map(median);
    println!(
        "{{\"row\":\"{row}\",\"jobs\":{jobs},\"job_root\":{root:?},\"p50_us\":{{\"create\":{create},\"worker_file_io\":{worker_io},\"finalise\":{finalise},\"read_back\":{read_back},\"remove\":{remove},\"job\":{job}}}}}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let jobs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let parent = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/dev/shm"));
    let root = parent.join(format!("cortex-fs-floor-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("creating the job root");
    let input = JobInput::new("ip", "8.8.8.8");
    let input_bytes = serde_json::to_vec(&input).unwrap();
    let root_fd = rustix::fs::open(
        &root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    // The two rows alternate job by job, so that both see the same machine.
    let (mut runner, mut minimal) = (Vec::with_capacity(jobs), Vec::with_capacity(jobs));
    for i in 0..jobs {
        runner.push(runner_job(&root, i, &input));
        minimal.push(minimal_job(&root_fd, i, &input_bytes));
    }
    drop(root_fd);
    let _ = std::fs::remove_dir(&root);
    print_row("runner", jobs, &parent, runner);
    print_row("kernel_minimum", jobs, &parent, minimal);
}
