//! The simulated kubelet: runs a pod's container as a local process from the image → command
//! map, with its mounts (see [`crate::mounts`]), and reports phases, waiting reasons, exit codes,
//! termination messages, logs and events as the real kubelet does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodStatus,
};
use tokio::sync::watch;

use crate::Shared;
use crate::events::{Involved, NODE, record};
use crate::exits::{Exit, now_unix_us};
use crate::mounts::{self, Plan, PlanError};
use crate::store::now;
use crate::{identity, process, scheduler};

/// How a pod ended, for the job controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodOutcome {
    /// Phase `Succeeded`.
    Succeeded,
    /// Phase `Failed`.
    Failed,
    /// Killed or deleted before it ended.
    Killed,
}

/// The termination message limit of the real kubelet (4096 bytes per container).
const MESSAGE_LIMIT: usize = 4096;

struct PodCtx {
    shared: Arc<Shared>,
    ns: String,
    name: String,
    uid: String,
    /// The controlling Job's name.
    owner: Option<String>,
    container: Container,
    image: String,
    /// When the container's process ended, in microseconds since the Unix epoch (0: not yet).
    exited_us: AtomicU64,
}

impl PodCtx {
    fn involved(&self, container: bool) -> Involved<'_> {
        Involved {
            kind: "Pod",
            api_version: "v1",
            namespace: &self.ns,
            name: &self.name,
            uid: &self.uid,
            field_path: container.then(|| format!("spec.containers{{{}}}", self.container.name)),
        }
    }

    fn event(&self, warning: bool, reason: &str, message: String) {
        record(
            &self.shared.store,
            &self.involved(true),
            warning,
            reason,
            message,
            "kubelet",
        );
    }

    /// A kubelet warning about the pod as a whole (no container field path), such as
    /// `FailedMount`.
    fn pod_warning(&self, reason: &str, message: String) {
        record(
            &self.shared.store,
            &self.involved(false),
            true,
            reason,
            message,
            "kubelet",
        );
    }

    fn base_status(&self, state: ContainerState, ready: bool) -> ContainerStatus {
        ContainerStatus {
            name: self.container.name.clone(),
            image: self.image.clone(),
            image_id: String::new(),
            ready,
            restart_count: 0,
            started: Some(state.running.is_some()),
            state: Some(state),
            ..ContainerStatus::default()
        }
    }

    /// The status of the container once it has ended: `terminated` with the exit code, reason
    /// and message, not ready, not started, with its container id.
    fn terminated(
        &self,
        container_id: &str,
        exit_code: i32,
        reason: &str,
        message: Option<String>,
        started_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    ) -> ContainerStatus {
        let mut cs = self.base_status(
            ContainerState {
                terminated: Some(ContainerStateTerminated {
                    container_id: Some(container_id.to_owned()),
                    exit_code,
                    finished_at: Some(now()),
                    message,
                    reason: Some(reason.to_owned()),
                    signal: None,
                    started_at: Some(started_at),
                }),
                ..ContainerState::default()
            },
            false,
        );
        cs.started = Some(false);
        cs.container_id = Some(container_id.to_owned());
        cs
    }

    /// Writes the pod status; `false` when the pod is gone.
    fn set(&self, phase: &str, cs: ContainerStatus, ready: bool, reason: Option<&str>) -> bool {
        self.set_with(phase, cs, ready, reason, |_| {})
    }

    /// As [`PodCtx::set`], then `more` on the same status, in the same update (one watch
    /// event), as the kubelet writes a pod's status.
    fn set_with(
        &self,
        phase: &str,
        cs: ContainerStatus,
        ready: bool,
        reason: Option<&str>,
        more: impl FnOnce(&mut PodStatus),
    ) -> bool {
        let running_or_done = phase != "Pending";
        self.shared
            .store
            .update::<Pod>(&self.ns, &self.name, |pod| {
                let st = pod.status.get_or_insert_with(PodStatus::default);
                st.phase = Some(phase.to_owned());
                st.host_ip = Some("127.0.0.1".to_owned());
                st.pod_ip = Some("127.0.0.1".to_owned());
                st.start_time.get_or_insert_with(now);
                st.qos_class.get_or_insert_with(|| "BestEffort".to_owned());
                let t = now();
                let cond = |ty: &str, ok: bool, reason: Option<&str>| PodCondition {
                    type_: ty.to_owned(),
                    status: if ok { "True" } else { "False" }.to_owned(),
                    last_transition_time: Some(t.clone()),
                    reason: reason.map(str::to_owned),
                    ..PodCondition::default()
                };
                let not_ready = if ready {
                    None
                } else {
                    reason.or(Some("ContainersNotReady"))
                };
                st.conditions = Some(vec![
                    cond("PodReadyToStartContainers", running_or_done, None),
                    cond("Initialized", true, None),
                    cond("Ready", ready, not_ready),
                    cond("ContainersReady", ready, not_ready),
                    cond("PodScheduled", true, None),
                ]);
                st.container_statuses = Some(vec![cs]);
                more(st);
                Ok(())
            })
            .is_ok()
    }

    /// Sets `status.ready` of the owning Job (the job controller counts ready pods).
    fn job_ready(&self, ready: i32) {
        if let Some(job) = &self.owner {
            let _ = self
                .shared
                .store
                .update::<k8s_openapi::api::batch::v1::Job>(&self.ns, job, |j| {
                    j.status.get_or_insert_with(Default::default).ready = Some(ready);
                    Ok(())
                });
        }
    }

    fn waiting(&self, reason: &str, message: Option<String>) -> bool {
        let cs = self.base_status(
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.to_owned()),
                    message,
                }),
                ..ContainerState::default()
            },
            false,
        );
        self.set("Pending", cs, false, None)
    }
}

/// Waits until the pod is killed.
async fn until_killed(kill: &mut watch::Receiver<bool>) -> PodOutcome {
    while !*kill.borrow() {
        if kill.changed().await.is_err() {
            break;
        }
    }
    PodOutcome::Killed
}

/// Schedules and runs a pod until it ends or `kill` turns true.
pub async fn run_pod(shared: Arc<Shared>, pod: Pod, mut kill: watch::Receiver<bool>) -> PodOutcome {
    let spec = pod.spec.clone().unwrap_or_default();
    let Some(container) = spec.containers.first().cloned() else {
        return PodOutcome::Failed;
    };
    let ctx = PodCtx {
        ns: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        owner: pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true) && o.kind == "Job")
            .map(|o| o.name.clone()),
        image: container.image.clone().unwrap_or_default(),
        container,
        shared,
        exited_us: AtomicU64::new(0),
    };
    // The scheduler.
    if let Some(why) = scheduler::unschedulable(&ctx.shared.config, &spec) {
        let _ = ctx.shared.store.update::<Pod>(&ctx.ns, &ctx.name, |p| {
            let st = p.status.get_or_insert_with(PodStatus::default);
            st.conditions = Some(vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                reason: Some("Unschedulable".to_owned()),
                message: Some(why.clone()),
                last_transition_time: Some(now()),
                ..PodCondition::default()
            }]);
            Ok(())
        });
        record(
            &ctx.shared.store,
            &ctx.involved(false),
            true,
            "FailedScheduling",
            why,
            "default-scheduler",
        );
        return until_killed(&mut kill).await;
    }
    if ctx
        .shared
        .store
        .update::<Pod>(&ctx.ns, &ctx.name, |p| {
            p.spec.get_or_insert_with(Default::default).node_name = Some(NODE.to_owned());
            Ok(())
        })
        .is_err()
    {
        return PodOutcome::Killed;
    }
    record(
        &ctx.shared.store,
        &ctx.involved(false),
        false,
        "Scheduled",
        format!("Successfully assigned {}/{} to {NODE}", ctx.ns, ctx.name),
        "default-scheduler",
    );
    if !ctx.waiting("ContainerCreating", None) {
        return PodOutcome::Killed;
    }

    // Environment: the image's, then the container's, each value expanded against the ones
    // before it.
    let image_cfg = ctx.shared.config.images.get(&ctx.image).cloned();
    let mut env: BTreeMap<String, String> = image_cfg
        .as_ref()
        .map(|i| i.env.clone())
        .unwrap_or_default();
    env.insert("HOSTNAME".to_owned(), ctx.name.clone());
    for e in ctx.container.env.iter().flatten() {
        if e.value_from.is_some() {
            let msg = format!(
                "env {:?}: valueFrom is not supported by kube-standin",
                e.name
            );
            ctx.waiting("CreateContainerConfigError", Some(msg.clone()));
            ctx.event(true, "Failed", format!("Error: {msg}"));
            return until_killed(&mut kill).await;
        }
        let v = mounts::expand(e.value.as_deref().unwrap_or(""), &env);
        env.insert(e.name.clone(), v);
    }
    let pod_dir = ctx.shared.work_dir.join("pods").join(&ctx.uid);
    let unmountable = spec.volumes.iter().flatten().find(|v| {
        v.persistent_volume_claim
            .as_ref()
            .is_some_and(|c| ctx.shared.config.unmountable_claims.contains(&c.claim_name))
    });
    if let Some(volume) = unmountable {
        // The kubelet's words when an NFS server does not answer; it retries, so does the event.
        let msg = format!(
            "MountVolume.SetUp failed for volume {:?} : mount failed: exit status 32\nmount.nfs: Connection timed out",
            volume.name
        );
        ctx.pod_warning("FailedMount", msg);
        return until_killed(&mut kill).await;
    }
    let plan = match mounts::plan(&pod_dir, &ctx.shared.pvc_dir, &spec, &ctx.container, &env) {
        Ok(p) => p,
        Err(PlanError::Volume(msg)) => {
            ctx.pod_warning("FailedMount", msg);
            return until_killed(&mut kill).await;
        }
        Err(PlanError::Config(msg)) => {
            ctx.waiting("CreateContainerConfigError", Some(msg.clone()));
            ctx.event(true, "Failed", format!("Error: {msg}"));
            return until_killed(&mut kill).await;
        }
    };

    // The image.
    if let Some(why) = scheduler::invalid_image(&ctx.image) {
        ctx.waiting("InvalidImageName", Some(why.clone()));
        ctx.event(true, "InspectFailed", why);
        ctx.event(true, "Failed", "Error: InvalidImageName".to_owned());
        return until_killed(&mut kill).await;
    }
    ctx.event(false, "Pulling", format!("Pulling image {:?}", ctx.image));
    let image_cfg = match image_cfg {
        Some(i) if !i.missing => i,
        _ => return pull_fails(&ctx, &mut kill).await,
    };
    ctx.event(
        false,
        "Pulled",
        format!("Container image {:?} already present on machine", ctx.image),
    );

    let log_path = pod_dir
        .join("logs")
        .join(format!("{}.log", ctx.container.name));
    let identity = match identity::resolve(
        &format!("{}/{}", ctx.ns, ctx.name),
        &spec,
        &ctx.container,
        image_cfg.user,
    ) {
        Ok(i) => i,
        Err(msg) => {
            ctx.waiting("CreateContainerConfigError", Some(msg.clone()));
            ctx.event(true, "Failed", format!("Error: {msg}"));
            return until_killed(&mut kill).await;
        }
    };
    let prepared = process::command(
        ctx.shared.namespace_isolation,
        &ctx.container,
        &identity,
        &plan,
        &image_cfg.command,
        &env,
        &log_path,
    );
    let mut cmd = match prepared {
        Ok(c) => c,
        Err(msg) => {
            ctx.waiting("CreateContainerError", Some(msg.clone()));
            ctx.event(true, "Failed", format!("Error: {msg}"));
            return until_killed(&mut kill).await;
        }
    };
    ctx.event(
        false,
        "Created",
        format!("Created container: {}", ctx.container.name),
    );
    let ro_before: Vec<_> = if ctx.shared.namespace_isolation {
        Vec::new()
    } else {
        plan.mounts
            .iter()
            .filter(|m| m.read_only)
            .map(|m| (m.clone(), mounts::fingerprint(&m.host, 100_000)))
            .collect()
    };
    let started_at = now();
    let container_id = format!("containerd://{}", ctx.uid.replace('-', ""));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("failed to start {:?}: {e}", cmd.as_std().get_program());
            ctx.event(true, "Failed", format!("Error: {msg}"));
            return finish(
                &ctx,
                &plan,
                128,
                "StartError",
                Some(msg),
                started_at,
                &container_id,
                &log_path,
            );
        }
    };
    ctx.event(
        false,
        "Started",
        format!("Started container {}", ctx.container.name),
    );
    let running = ctx.base_status(
        ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(started_at.clone()),
            }),
            ..ContainerState::default()
        },
        true,
    );
    let mut running = running;
    running.container_id = Some(container_id.clone());
    ctx.set("Running", running, true, None);
    ctx.job_ready(1);

    if image_cfg.evicted {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return evict(&ctx, &container_id, started_at);
    }
    if image_cfg.oom {
        let _ = child.start_kill();
        let _ = child.wait().await;
        ctx.exited_us.store(now_unix_us(), Ordering::Relaxed);
        return finish(
            &ctx,
            &plan,
            137,
            "OOMKilled",
            None,
            started_at,
            &container_id,
            &log_path,
        );
    }
    let status = tokio::select! {
        s = child.wait() => s,
        _ = until_killed(&mut kill) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return PodOutcome::Killed;
        }
    };
    ctx.exited_us.store(now_unix_us(), Ordering::Relaxed);
    let code = match status {
        Ok(s) => s.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + s.signal().unwrap_or(9)
        }),
        Err(_) => 128,
    };
    for (m, before) in &ro_before {
        let after = mounts::fingerprint(&m.host, 100_000);
        if &after != before {
            let msg = format!(
                "the container wrote to its read-only mount {} ({})",
                m.mount_path,
                m.host.display()
            );
            ctx.event(true, "ReadOnlyMountViolation", msg.clone());
            return finish(
                &ctx,
                &plan,
                code.max(1),
                "ReadOnlyMountViolation",
                Some(msg),
                started_at,
                &container_id,
                &log_path,
            );
        }
    }
    let reason = if code == 0 { "Completed" } else { "Error" };
    finish(
        &ctx,
        &plan,
        code,
        reason,
        None,
        started_at,
        &container_id,
        &log_path,
    )
}

/// `ErrImagePull`, then `ImagePullBackOff`, until killed.
async fn pull_fails(ctx: &PodCtx, kill: &mut watch::Receiver<bool>) -> PodOutcome {
    let why = if ctx.shared.config.images.contains_key(&ctx.image) {
        "the image is marked missing in the kube-standin configuration"
    } else {
        "the image is not in the kube-standin image map"
    };
    let msg = format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image {:?}: {why}",
        ctx.image
    );
    ctx.waiting("ErrImagePull", Some(msg.clone()));
    ctx.event(
        true,
        "Failed",
        format!("Failed to pull image {:?}: {msg}", ctx.image),
    );
    ctx.event(true, "Failed", "Error: ErrImagePull".to_owned());
    let backoff = Duration::from_millis(ctx.shared.config.image_pull_backoff_ms);
    tokio::select! {
        _ = tokio::time::sleep(backoff) => {}
        o = until_killed(kill) => return o,
    }
    let back = format!("Back-off pulling image {:?}", ctx.image);
    ctx.waiting("ImagePullBackOff", Some(back.clone()));
    ctx.event(false, "BackOff", back);
    ctx.event(true, "Failed", "Error: ImagePullBackOff".to_owned());
    until_killed(kill).await
}

/// Records the terminated state and the pod's final phase.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &PodCtx,
    plan: &Plan,
    exit_code: i32,
    reason: &str,
    message: Option<String>,
    started_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    container_id: &str,
    log_path: &std::path::Path,
) -> PodOutcome {
    let mut message = message.or_else(|| {
        let text = std::fs::read(plan.host_path(&plan.termination_path)).unwrap_or_default();
        let text = &text[..text.len().min(MESSAGE_LIMIT)];
        (!text.is_empty()).then(|| String::from_utf8_lossy(text).into_owned())
    });
    if message.is_none()
        && exit_code != 0
        && ctx.container.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
    {
        // The kubelet's fallback: the last 80 lines of the log, at most 2048 bytes.
        let log = std::fs::read(log_path).unwrap_or_default();
        let text = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        let start = tail.len().saturating_sub(2048);
        let start = (start..=tail.len())
            .find(|i| tail.is_char_boundary(*i))
            .unwrap_or(tail.len());
        message = (!tail.is_empty()).then(|| tail[start..].to_owned());
    }
    let cs = ctx.terminated(container_id, exit_code, reason, message, started_at);
    let (phase, outcome, cond_reason) = if exit_code == 0 {
        ("Succeeded", PodOutcome::Succeeded, "PodCompleted")
    } else {
        ("Failed", PodOutcome::Failed, "PodFailed")
    };
    let exited_us = match ctx.exited_us.load(Ordering::Relaxed) {
        0 => now_unix_us(),
        at => at,
    };
    if !ctx.set(phase, cs, false, Some(cond_reason)) {
        return PodOutcome::Killed;
    }
    ctx.shared.exits.record(Exit {
        namespace: ctx.ns.clone(),
        pod: ctx.name.clone(),
        job: ctx.owner.clone(),
        exit_code,
        exited_unix_us: exited_us,
        status_unix_us: now_unix_us(),
    });
    ctx.job_ready(0);
    outcome
}

/// The message the kubelet's eviction manager writes.
pub const EVICTION_MESSAGE: &str =
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. ";

/// Evicts the pod: phase `Failed`, reason `Evicted`, a `DisruptionTarget` condition, the
/// container terminated with 137, and an `Evicted` event.
fn evict(
    ctx: &PodCtx,
    container_id: &str,
    started_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> PodOutcome {
    ctx.event(true, "Evicted", EVICTION_MESSAGE.to_owned());
    let cs = ctx.terminated(
        container_id,
        137,
        "ContainerStatusUnknown",
        Some("The container could not be located when the pod was terminated".to_owned()),
        started_at,
    );
    // One status update, as the kubelet makes it: phase, reason and condition together.
    let evicted = |st: &mut PodStatus| {
        st.reason = Some("Evicted".to_owned());
        st.message = Some(EVICTION_MESSAGE.to_owned());
        st.conditions
            .get_or_insert_with(Vec::new)
            .push(PodCondition {
                type_: "DisruptionTarget".to_owned(),
                status: "True".to_owned(),
                reason: Some("TerminationByKubelet".to_owned()),
                message: Some(EVICTION_MESSAGE.to_owned()),
                last_transition_time: Some(now()),
                ..PodCondition::default()
            });
    };
    if !ctx.set_with("Failed", cs, false, Some("PodFailed"), evicted) {
        return PodOutcome::Killed;
    }
    ctx.job_ready(0);
    PodOutcome::Failed
}
