//! The accepted range of every numeric limit, in one place: configuration keys, policy keys and
//! command-line flags check against these, and `config.toml` and `policies/README.md` list them.
//!
//! The ranges keep every later computation far from overflow (a MiB count times 2^20, a timeout
//! added to an `Instant`) and refuse values that cannot mean what they say: wasm32 linear memory
//! ends at 4 GiB, and Cortex accepts TLP and PAP levels 0..=3 only.

use std::ops::RangeInclusive;

/// One MiB in bytes.
pub const MIB: u64 = 1 << 20;
/// One KiB in bytes.
pub const KIB: u64 = 1 << 10;

/// `wasm.memory_mib` (config and policy), `exec --memory-mib`: a wasm32 guest addresses 4 GiB.
pub const MEMORY_MIB: RangeInclusive<u64> = 1..=4096;
/// `wasm.timeout_s` (config and policy), `exec --timeout-s`, `bench --timeout-s`: up to a day.
pub const WASM_TIMEOUT_S: RangeInclusive<u64> = 1..=86_400;
/// `wasm.fuel` (config and policy), `exec --fuel`: 10^15 instructions (hours of compute).
pub const FUEL: RangeInclusive<u64> = 1..=1_000_000_000_000_000;
/// `wasm.max_input_mib` (config and policy): 1 MiB to 1 TiB.
pub const MAX_INPUT_MIB: RangeInclusive<u64> = 1..=1_048_576;
/// `wasm.stdout_kib`, `wasm.stderr_kib`: captured per job in memory, so at most 64 MiB.
pub const CAPTURE_KIB: RangeInclusive<u64> = 1..=65_536;
/// `wasm.concurrency`, `kubernetes.concurrency` (config and policy), `bench --concurrency`.
pub const CONCURRENCY: RangeInclusive<u64> = 1..=1024;
/// `scheduler.max_running`: jobs in flight in one runner.
pub const MAX_RUNNING: RangeInclusive<u64> = 1..=4096;
/// `jobs.max_output_mib`: `output.json` is read into memory, so at most 1 GiB.
pub const MAX_OUTPUT_MIB: RangeInclusive<u64> = 1..=1024;
/// `exec --max-output-bytes`: the same bound in bytes.
pub const MAX_OUTPUT_BYTES: RangeInclusive<u64> = 1..=1024 * MIB;
/// `kubernetes.timeout_s` (config and policy): up to a week.
pub const KUBERNETES_TIMEOUT_S: RangeInclusive<u64> = 1..=604_800;
/// `kubernetes.ttl_s`: 0 (delete at once) to a week.
pub const TTL_S: RangeInclusive<u64> = 0..=604_800;
/// `kubernetes.image_pull_grace_s`, `kubernetes.start_grace_s`: up to a day.
pub const GRACE_S: RangeInclusive<u64> = 0..=86_400;
/// `kubernetes.api_qps`: requests per second to the API server.
pub const API_QPS: RangeInclusive<u64> = 1..=1000;
/// `kubernetes.log_tail_kib`: the log tail is kept in memory and in the report, so at most 1 MiB.
pub const LOG_TAIL_KIB: RangeInclusive<u64> = 1..=1024;
/// `jobs.max_artifacts`: entries in `output/`.
pub const MAX_ARTIFACTS: RangeInclusive<u64> = 1..=1_000_000;
/// `jobs.max_artifact_mib`, `jobs.max_artifact_total_mib`: 1 MiB to 1 TiB.
pub const MAX_ARTIFACT_MIB: RangeInclusive<u64> = 1..=1_048_576;
/// `kubernetes.run_as_user`, `run_as_group`, `fs_group`: the ids Kubernetes accepts.
pub const POSIX_ID: RangeInclusive<i64> = 0..=2_147_483_647;
/// `service.max_body_kib`: a request body is read into memory, so at most 1 MiB.
pub const MAX_BODY_KIB: RangeInclusive<u64> = 1..=1024;
/// `service.request_timeout_s`: every route but `/wait`, up to 10 minutes.
pub const REQUEST_TIMEOUT_S: RangeInclusive<u64> = 1..=600;
/// `service.shutdown_grace_s`: up to an hour.
pub const SHUTDOWN_GRACE_S: RangeInclusive<u64> = 0..=3600;
/// `service.finished_jobs`: finished jobs the service keeps in memory.
pub const FINISHED_JOBS: RangeInclusive<u64> = 1..=1_000_000;
/// `bench --jobs`.
pub const BENCH_JOBS: RangeInclusive<u64> = 1..=10_000_000;
/// `max_tlp` (policy), `run`/`explain --tlp`: the TLP levels Cortex itself accepts.
/// `wasm.network.max_requests` of a policy.
pub const NETWORK_REQUESTS: RangeInclusive<u64> = 1..=100_000;
/// `wasm.network.max_response_kib` of a policy.
pub const NETWORK_RESPONSE_KIB: RangeInclusive<u64> = 1..=1_048_576;
/// `wasm.network.request_timeout_s` of a policy.
pub const NETWORK_TIMEOUT_S: RangeInclusive<u64> = 1..=3600;
/// Entries of `wasm.network.allow` and `allow_addresses` of a policy.
pub const NETWORK_ENTRIES: usize = 256;
/// The TLP levels a job may have.
pub const TLP: RangeInclusive<i64> = cortex_job::TLP_RANGE;
/// `max_pap` (policy), `run`/`explain --pap`: the PAP levels Cortex itself accepts.
pub const PAP: RangeInclusive<i64> = cortex_job::PAP_RANGE;

/// The range of a configuration key (`section.key`), in the words of [`describe`]; `None` for a
/// key without one. Used when an integer does not even fit the key's type (5000000000 for a
/// `u32` key, -1 for an unsigned one), so that the error still gives the range.
pub fn config_range(key: &str) -> Option<String> {
    let range = match key {
        "jobs.max_output_mib" => MAX_OUTPUT_MIB,
        "scheduler.max_running" => MAX_RUNNING,
        "wasm.memory_mib" => MEMORY_MIB,
        "wasm.timeout_s" => WASM_TIMEOUT_S,
        "wasm.fuel" => FUEL,
        "wasm.max_input_mib" => MAX_INPUT_MIB,
        "wasm.stdout_kib" | "wasm.stderr_kib" => CAPTURE_KIB,
        "wasm.concurrency" | "kubernetes.concurrency" => CONCURRENCY,
        "kubernetes.timeout_s" => KUBERNETES_TIMEOUT_S,
        "kubernetes.ttl_s" => TTL_S,
        "kubernetes.image_pull_grace_s" | "kubernetes.start_grace_s" => GRACE_S,
        "kubernetes.api_qps" => API_QPS,
        "kubernetes.log_tail_kib" => LOG_TAIL_KIB,
        "jobs.max_artifacts" => MAX_ARTIFACTS,
        "jobs.max_artifact_mib" | "jobs.max_artifact_total_mib" => MAX_ARTIFACT_MIB,
        "service.max_body_kib" => MAX_BODY_KIB,
        "service.request_timeout_s" => REQUEST_TIMEOUT_S,
        "service.shutdown_grace_s" => SHUTDOWN_GRACE_S,
        "service.finished_jobs" => FINISHED_JOBS,
        "kubernetes.run_as_user" | "kubernetes.run_as_group" | "kubernetes.fs_group" => {
            return Some(describe(&POSIX_ID));
        }
        _ => return None,
    };
    Some(describe(&range))
}

/// "an integer from 1 to 4096", the words every range error uses.
pub fn describe<T: std::fmt::Display>(range: &RangeInclusive<T>) -> String {
    format!("an integer from {} to {}", range.start(), range.end())
}

/// `value` MiB in bytes; `None` when it does not fit in a `u64` (the ranges above keep every
/// configured value far below that).
pub fn mib_to_bytes(mib: u64) -> Option<u64> {
    mib.checked_mul(MIB)
}

/// `value` KiB in bytes as a `usize`; `None` when it does not fit.
pub fn kib_to_usize(kib: u64) -> Option<usize> {
    kib.checked_mul(KIB)
        .and_then(|bytes| usize::try_from(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_refuse_to_wrap() {
        assert_eq!(mib_to_bytes(4096), Some(4 << 30));
        // The value of issue 9 that wrapped to 1 MiB.
        assert_eq!(mib_to_bytes(17_592_186_044_417), None);
        assert_eq!(kib_to_usize(1024), Some(1 << 20));
        assert_eq!(kib_to_usize(u64::MAX / 512), None);
    }

    #[test]
    fn every_range_fits_its_conversion() {
        for range in [MEMORY_MIB, MAX_INPUT_MIB, MAX_OUTPUT_MIB] {
            assert!(mib_to_bytes(*range.end()).is_some());
        }
        assert!(kib_to_usize(*CAPTURE_KIB.end()).is_some());
        assert_eq!(describe(&MEMORY_MIB), "an integer from 1 to 4096");
    }
}
