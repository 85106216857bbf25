//! Restart adoption: the Kubernetes Jobs an earlier runner started are still in the cluster when
//! a runner starts; each is handed to the scheduler again ([`Scheduler::adopt`]), which waits for
//! the Job (still running, or already ended while no runner was there) and finalises its folder
//! from the volume, exactly as if the runner had never stopped.
//!
//! A Job whose folder is gone (Cortex deleted it) or unreadable is deleted, with a warning: there
//! is no report to write. Several replicas on one volume must not adopt each other's running
//! jobs; until folders are claimed on the volume, run adoption from one runner only.

use std::sync::Arc;

use cortex_job::JobFolder;

use crate::backend::BackendKind;
use crate::backend::kubernetes::{KubernetesBackend, Orphan};
use crate::scheduler::{JobHandle, Scheduler};

/// What became of one Job found at start-up.
#[derive(Debug)]
pub enum Adopted {
    /// The job is waited for and will be finalised; await the handle for its record.
    Waiting {
        /// The Job found.
        orphan: Orphan,
        /// The adopted job.
        handle: JobHandle,
    },
    /// The job folder cannot be opened: the Job was deleted.
    Dropped {
        /// The Job found.
        orphan: Orphan,
        /// Why its folder cannot be used.
        reason: String,
    },
}

/// Finds the Jobs an earlier runner left and adopts each one (see the module doc).
pub async fn adopt_orphans(
    scheduler: &Arc<Scheduler>,
    backend: &Arc<KubernetesBackend>,
) -> Result<Vec<Adopted>, String> {
    let mut adopted = Vec::new();
    for orphan in backend.orphans().await? {
        let path = orphan.folder.clone();
        let opened = tokio::task::spawn_blocking(move || JobFolder::open(&path))
            .await
            .map_err(|e| format!("opening a job folder failed: {e}"))?;
        match opened {
            Ok(folder) => {
                tracing::info!(kubernetes_job = %orphan.job, job = %orphan.folder.display(), worker = %orphan.worker, "adopting");
                let handle =
                    scheduler.adopt(&orphan.worker, Arc::new(folder), BackendKind::Kubernetes);
                adopted.push(Adopted::Waiting { orphan, handle });
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(kubernetes_job = %orphan.job, "the Job's folder cannot be used ({reason}); deleting the Job");
                backend.delete_orphan(&orphan.job).await;
                adopted.push(Adopted::Dropped { orphan, reason });
            }
        }
    }
    Ok(adopted)
}
