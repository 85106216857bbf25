//! The simulated job controller and garbage collector: one Pod per Job attempt (with the
//! controller labels and an owner reference), Job status and conditions, `backoffLimit`,
//! `activeDeadlineSeconds`, and deletion with `propagationPolicy`.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, ListMeta, ObjectMeta, OwnerReference, Status, StatusDetails,
};
use tokio::sync::watch;

use crate::events::{Involved, record};
use crate::kubelet::{self, PodOutcome};
use crate::routes::json_body;
use crate::status::ApiError;
use crate::store::{Res, now};
use crate::{Shared, admission};

fn job_involved<'a>(ns: &'a str, name: &'a str, uid: &'a str) -> Involved<'a> {
    Involved {
        kind: "Job",
        api_version: "batch/v1",
        namespace: ns,
        name,
        uid,
        field_path: None,
    }
}

/// Starts the controller loop of a Job just created.
pub fn job_created(shared: &Arc<Shared>, job: &Job) {
    let (tx, rx) = watch::channel(false);
    let uid = job.metadata.uid.clone().unwrap_or_default();
    shared.cancels().insert(uid.clone(), tx);
    tokio::spawn(run_job(
        shared.clone(),
        job.metadata.namespace.clone().unwrap_or_default(),
        job.metadata.name.clone().unwrap_or_default(),
        uid,
        rx,
    ));
}

fn condition(ty: &str, reason: &str, message: &str) -> JobCondition {
    let t = now();
    JobCondition {
        last_probe_time: Some(t.clone()),
        last_transition_time: Some(t),
        message: Some(message.to_owned()),
        reason: Some(reason.to_owned()),
        status: "True".to_owned(),
        type_: ty.to_owned(),
    }
}

fn set_status(shared: &Shared, ns: &str, name: &str, f: impl FnOnce(&mut JobStatus)) -> bool {
    shared
        .store
        .update::<Job>(ns, name, |j| {
            f(j.status.get_or_insert_with(JobStatus::default));
            Ok(())
        })
        .is_ok()
}

fn new_pod(job: &Job) -> Pod {
    let template = job.spec.clone().unwrap_or_default().template;
    let tmeta = template.metadata.unwrap_or_default();
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    admission::default_pod_spec(&mut spec);
    spec.enable_service_links.get_or_insert(true);
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("{job_name}-{}", admission::random_suffix())),
            generate_name: Some(format!("{job_name}-")),
            namespace: job.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".to_owned(),
                block_owner_deletion: Some(true),
                controller: Some(true),
                kind: "Job".to_owned(),
                name: job_name,
                uid: job.metadata.uid.clone().unwrap_or_default(),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: Some(PodStatus {
            phase: Some("Pending".to_owned()),
            qos_class: Some("BestEffort".to_owned()),
            ..PodStatus::default()
        }),
    }
}

async fn run_job(
    shared: Arc<Shared>,
    ns: String,
    name: String,
    uid: String,
    mut cancel: watch::Receiver<bool>,
) {
    let Ok(job) = shared.store.get::<Job>(&ns, &name) else {
        return;
    };
    let spec = job.spec.clone().unwrap_or_default();
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let deadline = spec
        .active_deadline_seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s.max(0) as u64));
    let about = job_involved(&ns, &name, &uid);
    set_status(&shared, &ns, &name, |s| {
        s.start_time = Some(now());
        s.ready = Some(0);
        s.terminating = Some(0);
        s.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
    });
    let mut failed = 0;
    loop {
        let pod = match shared.store.create(new_pod(&job)) {
            Ok(p) => p,
            Err(_) => return,
        };
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        record(
            &shared.store,
            &about,
            false,
            "SuccessfulCreate",
            format!("Created pod: {pod_name}"),
            "job-controller",
        );
        if !set_status(&shared, &ns, &name, |s| s.active = Some(1)) {
            return;
        }
        let (kill_tx, kill_rx) = watch::channel(false);
        shared
            .kills()
            .insert(pod.metadata.uid.clone().unwrap_or_default(), kill_tx);
        let mut pod_task = tokio::spawn(kubelet::run_pod(shared.clone(), pod, kill_rx));
        let sleep_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => futures::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            o = &mut pod_task => o.unwrap_or(PodOutcome::Killed),
            _ = sleep_deadline => {
                delete_pod(&shared, &ns, &pod_name).await;
                record(&shared.store, &about, false, "SuccessfulDelete", format!("Deleted pod: {pod_name}"), "job-controller");
                let msg = "Job was active longer than specified deadline";
                set_status(&shared, &ns, &name, |s| {
                    s.active = None;
                    s.ready = Some(0);
                    s.failed = Some(failed + 1);
                    s.conditions = Some(vec![
                        condition("FailureTarget", "DeadlineExceeded", msg),
                        condition("Failed", "DeadlineExceeded", msg),
                    ]);
                });
                record(&shared.store, &about, true, "DeadlineExceeded", msg.to_owned(), "job-controller");
                return;
            }
            _ = cancel.changed() => return,
        };
        match outcome {
            PodOutcome::Killed => return,
            PodOutcome::Succeeded => {
                let msg = "Reached expected number of succeeded pods";
                set_status(&shared, &ns, &name, |s| {
                    s.active = None;
                    s.succeeded = Some(1);
                    s.completion_time = Some(now());
                    s.conditions = Some(vec![
                        condition("SuccessCriteriaMet", "CompletionsReached", msg),
                        condition("Complete", "CompletionsReached", msg),
                    ]);
                });
                record(
                    &shared.store,
                    &about,
                    false,
                    "Completed",
                    "Job completed".to_owned(),
                    "job-controller",
                );
                return;
            }
            PodOutcome::Failed => {
                failed += 1;
                if failed > backoff_limit {
                    let msg = "Job has reached the specified backoff limit";
                    set_status(&shared, &ns, &name, |s| {
                        s.active = None;
                        s.failed = Some(failed);
                        s.conditions = Some(vec![
                            condition("FailureTarget", "BackoffLimitExceeded", msg),
                            condition("Failed", "BackoffLimitExceeded", msg),
                        ]);
                    });
                    record(
                        &shared.store,
                        &about,
                        true,
                        "BackoffLimitExceeded",
                        msg.to_owned(),
                        "job-controller",
                    );
                    return;
                }
                if !set_status(&shared, &ns, &name, |s| {
                    s.active = None;
                    s.failed = Some(failed);
                }) {
                    return;
                }
            }
        }
    }
}

/// Deletes a pod as the kubelet does after a delete request: `deletionTimestamp` set
/// (`MODIFIED`), the process killed, then the object removed (`DELETED`).
pub async fn delete_pod(shared: &Shared, ns: &str, name: &str) {
    let Ok(pod) = shared.store.update::<Pod>(ns, name, |p| {
        p.metadata.deletion_timestamp = Some(now());
        p.metadata.deletion_grace_period_seconds = Some(30);
        Ok(())
    }) else {
        return;
    };
    if let Some(tx) = shared.kills().remove(&pod.metadata.uid.unwrap_or_default()) {
        let _ = tx.send(true);
    }
    // Let the kubelet task see the kill before the object goes.
    tokio::task::yield_now().await;
    let _ = shared.store.remove::<Pod>(ns, name, |_| Ok(()));
}

/// The pods owned by the Job `uid` (cloning only those: a delete among thousands of pods).
fn pods_of(shared: &Shared, ns: &str, uid: &str) -> Vec<Pod> {
    shared.store.list_where::<Pod>(ns, |p| {
        p.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.uid == uid)
    })
}

fn preconditions(opts: &DeleteOptions, name: &str, job: &Job) -> Result<(), ApiError> {
    let Some(pre) = &opts.preconditions else {
        return Ok(());
    };
    let meta = &job.metadata;
    if let Some(want) = &pre.uid
        && Some(want) != meta.uid.as_ref()
    {
        return Err(ApiError::conflict(
            Res::Jobs,
            name,
            &format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                meta.uid.as_deref().unwrap_or("")
            ),
        ));
    }
    if let Some(want) = &pre.resource_version
        && Some(want) != meta.resource_version.as_ref()
    {
        return Err(ApiError::conflict(
            Res::Jobs,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                meta.resource_version.as_deref().unwrap_or("")
            ),
        ));
    }
    Ok(())
}

/// `DELETE jobs/{name}`. Without a `propagationPolicy`, batch/v1 Jobs orphan their pods (the
/// API server's default for this group and version).
pub fn delete_job(
    shared: &Arc<Shared>,
    ns: &str,
    name: &str,
    opts: DeleteOptions,
) -> Result<Response, ApiError> {
    let policy = opts
        .propagation_policy
        .clone()
        .unwrap_or_else(|| "Orphan".to_owned());
    if !["Background", "Foreground", "Orphan"].contains(&policy.as_str()) {
        return Err(ApiError::bad_request(format!(
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {policy:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        )));
    }
    if policy == "Background" {
        let job = shared
            .store
            .remove::<Job>(ns, name, |j| preconditions(&opts, name, j))?;
        let uid = job.metadata.uid.clone().unwrap_or_default();
        if let Some(tx) = shared.cancels().remove(&uid) {
            let _ = tx.send(true);
        }
        let (s, ns2) = (shared.clone(), ns.to_owned());
        let uid2 = uid.clone();
        tokio::spawn(async move {
            for p in pods_of(&s, &ns2, &uid2) {
                delete_pod(&s, &ns2, p.metadata.name.as_deref().unwrap_or("")).await;
            }
        });
        let status = Status {
            code: None,
            details: Some(StatusDetails {
                name: Some(name.to_owned()),
                group: Some("batch".to_owned()),
                kind: Some("jobs".to_owned()),
                uid: Some(uid),
                ..StatusDetails::default()
            }),
            message: None,
            metadata: ListMeta::default(),
            reason: None,
            status: Some("Success".to_owned()),
        };
        return Ok(json_body(&status));
    }
    let finalizer = if policy == "Foreground" {
        "foregroundDeletion"
    } else {
        "orphan"
    };
    let job = shared.store.update::<Job>(ns, name, |j| {
        preconditions(&opts, name, j)?;
        if j.metadata.deletion_timestamp.is_none() {
            j.metadata.deletion_timestamp = Some(now());
            j.metadata.deletion_grace_period_seconds = Some(0);
        }
        let f = j.metadata.finalizers.get_or_insert_with(Vec::new);
        if !f.iter().any(|x| x == finalizer) {
            f.push(finalizer.to_owned());
        }
        Ok(())
    })?;
    let uid = job.metadata.uid.clone().unwrap_or_default();
    if let Some(tx) = shared.cancels().remove(&uid) {
        let _ = tx.send(true);
    }
    let (s, ns2, name2, foreground) = (
        shared.clone(),
        ns.to_owned(),
        name.to_owned(),
        policy == "Foreground",
    );
    tokio::spawn(async move {
        for p in pods_of(&s, &ns2, &uid) {
            let pname = p.metadata.name.clone().unwrap_or_default();
            if foreground {
                delete_pod(&s, &ns2, &pname).await;
            } else {
                let _ = s.store.update::<Pod>(&ns2, &pname, |p| {
                    if let Some(refs) = &mut p.metadata.owner_references {
                        refs.retain(|o| o.uid != uid);
                        if refs.is_empty() {
                            p.metadata.owner_references = None;
                        }
                    }
                    Ok(())
                });
            }
        }
        let _ = s.store.update::<Job>(&ns2, &name2, |j| {
            j.metadata.finalizers = None;
            Ok(())
        });
        let _ = s.store.remove::<Job>(&ns2, &name2, |_| Ok(()));
    });
    Ok(json_body(&job))
}
