//! The per-job decision: which backend runs the job, or why nothing does, always with a reason.

use cortex_job::{FolderError, JobFolder};

use crate::backend::{BackendKind, Decision};
use crate::policy::{BackendChoice, ModuleStatus, Overflow};
use crate::workers::Worker;

/// cortexutils' message for a job above the TLP ceiling.
pub const TLP_MESSAGE: &str = "TLP is higher than allowed.";
/// cortexutils' message for a job above the PAP ceiling.
pub const PAP_MESSAGE: &str = "PAP is higher than allowed.";

/// What the decision needs to know about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFacts {
    /// `dataType` of input.json.
    pub data_type: String,
    /// Size of the input: the attachment for files, else the `data` value.
    pub input_bytes: u64,
    /// `tlp` of input.json.
    pub tlp: i64,
    /// `pap` of input.json.
    pub pap: i64,
}

impl JobFacts {
    /// The facts of the job in `folder`: its data type, TLP, PAP and input size (the
    /// attachment's size for files, else the length of `data` as JSON text). Reads the
    /// attachment's size with [`JobFolder::attachment_size`], which follows no symlink: an
    /// attachment (or `input/`) swapped for one since the folder was opened is an error, not a
    /// size taken from whatever it points at. File I/O: call it off the async threads.
    pub fn from_folder(folder: &JobFolder) -> Result<Self, FolderError> {
        let input = folder.input();
        let input_bytes = match folder.attachment_size()? {
            Some(size) => size,
            None => input.data.as_ref().map_or(0, |d| match d {
                serde_json::Value::String(s) => s.len() as u64,
                other => other.to_string().len() as u64,
            }),
        };
        Ok(Self {
            data_type: input.data_type.clone(),
            input_bytes,
            tlp: input.tlp,
            pap: input.pap,
        })
    }
}

/// How busy the worker's wasm lane is when the job is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Wasm jobs of this worker running now.
    pub wasm_running: u32,
    /// Whether a backend is available to take overflow (jobs sent to Kubernetes instead).
    pub overflow_available: bool,
}

const MIB: u64 = 1024 * 1024;

/// Decides where a job of `worker` goes. Pure: the same worker, facts and load give the same
/// decision.
pub fn decide(worker: &Worker, facts: &JobFacts, load: Load) -> Decision {
    let name = &worker.name;
    if !facts.data_type.is_empty()
        && !worker.data_types.is_empty()
        && !worker.data_types.contains(&facts.data_type)
    {
        let message = format!(
            "data type `{}` is not accepted by {name} (it accepts: {})",
            facts.data_type,
            worker.data_types.join(", ")
        );
        return Decision::refuse(message.clone(), message);
    }
    let Some(policy) = &worker.policy else {
        return match &worker.image {
            Some(image) => Decision::run(
                BackendKind::Kubernetes,
                format!(
                    "no policy for {name}; its catalog Docker image {image} runs on Kubernetes"
                ),
            ),
            None => {
                let message = format!(
                    "no policy for {name} and no Docker image in its catalog entry: nothing can run it (add policies/{name}.toml)"
                );
                Decision::refuse(message.clone(), message)
            }
        };
    };
    let file = policy.path.display();
    for (what, level, ceiling, message) in [
        ("TLP", facts.tlp, policy.max_tlp, TLP_MESSAGE),
        ("PAP", facts.pap, policy.max_pap, PAP_MESSAGE),
    ] {
        if let Some(max) = ceiling.filter(|&max| level > i64::from(max)) {
            let key = what.to_ascii_lowercase();
            return Decision::refuse(
                message,
                format!("job {what} {level} is above max_{key} = {max} of {file}"),
            );
        }
    }
    if let Some(refusal) = policy
        .wasm
        .network
        .as_ref()
        .and_then(|network| network.refusal(facts.tlp, facts.pap))
    {
        return Decision::refuse(refusal.clone(), format!("{refusal}, set in {file}"));
    }
    if policy.backend == BackendChoice::Kubernetes {
        return Decision::run(
            BackendKind::Kubernetes,
            format!("{file} sets backend = \"kubernetes\""),
        );
    }
    let (module, sha256, pinned) = match &policy.wasm.module {
        ModuleStatus::Verified {
            path,
            sha256,
            pinned,
        } => (path, sha256, *pinned),
        ModuleStatus::NotFound {
            file: wanted,
            looked_in,
        } => {
            return Decision::run(
                BackendKind::Kubernetes,
                format!(
                    "{file} sets backend = \"auto\" and no module {wanted} was found (looked in: {})",
                    looked_in.join(", ")
                ),
            );
        }
        // Resolution gives a module status to every wasm or auto policy; this arm is a policy
        // built by hand without one.
        ModuleStatus::NotNeeded => {
            return Decision::run(
                BackendKind::Kubernetes,
                format!("{file} names no wasm module"),
            );
        }
    };
    let limit = policy.wasm.max_input_mib.saturating_mul(MIB);
    if facts.input_bytes > limit {
        return Decision::run(
            BackendKind::Kubernetes,
            format!(
                "input is {}, above the wasm limit of {} MiB (wasm.max_input_mib of {file})",
                format_size(facts.input_bytes),
                policy.wasm.max_input_mib
            ),
        );
    }
    let saturated = load.wasm_running >= policy.wasm.concurrency;
    if saturated && policy.overflow == Overflow::Kubernetes && load.overflow_available {
        return Decision::run(
            BackendKind::Kubernetes,
            format!(
                "wasm is saturated for {name} ({} of {} running) and {file} sets overflow = \"kubernetes\"",
                load.wasm_running, policy.wasm.concurrency
            ),
        );
    }
    let pin = if pinned { "pinned" } else { "not pinned" };
    let short = &sha256[..12.min(sha256.len())];
    let mut reason = match policy.backend {
        BackendChoice::Auto => format!(
            "{file} sets backend = \"auto\" and module {} is verified (sha256 {short}…, {pin})",
            module.display()
        ),
        _ => format!(
            "{file} sets backend = \"wasm\"; module {} (sha256 {short}…, {pin})",
            module.display()
        ),
    };
    if saturated {
        reason.push_str(&format!(
            "; wasm is saturated ({} of {} running), so the job waits for a slot",
            load.wasm_running, policy.wasm.concurrency
        ));
    }
    Decision::run(BackendKind::Wasm, reason)
}

/// Byte counts in routing reasons read as everywhere else: [`cortex_job::format_bytes`].
pub use cortex_job::format_bytes as format_size;
