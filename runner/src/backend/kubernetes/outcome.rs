//! How a Job is doing, read from the Job and its pods as the shared watches last saw them.
//!
//! [`Assessor::assess`] is a pure function of the objects, the time and the graces, so every
//! fail-fast cause is tested without a server. It answers "still going, look again at T",
//! "look up the pod's events" (a mount failure shows only there), or how the job ended.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::spec::CONTAINER;

/// Waiting reasons that never resolve by themselves: the job fails at once.
const HOPELESS: [&str; 3] = [
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];
/// Waiting reasons of an image that cannot be pulled (yet): the job fails after the pull grace.
const PULLING: [&str; 2] = ["ErrImagePull", "ImagePullBackOff"];
/// How long a Job's end may wait for the pod watch to show the pod's own end (exit code,
/// termination message, log), which the two watches may deliver in either order.
pub const POD_CATCH_UP: Duration = Duration::from_secs(2);

/// How a job ended, as far as the cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The worker container ran and exited with this code (in `pod`).
    Exited {
        /// The container's exit code.
        code: i32,
        /// The pod it ran in.
        pod: String,
        /// The container's termination message, if any.
        message: Option<String>,
    },
    /// The job cannot or did not finish: `cause` is the report's sentence.
    Failed {
        /// What happened, for the report.
        cause: String,
        /// The pod concerned, when there is one (its log is read for the report).
        pod: Option<String>,
        /// The container's termination message, if any.
        message: Option<String>,
    },
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep waiting for a change; look again at `recheck` if nothing changes by then.
    Pending {
        /// When a grace ends.
        recheck: Option<Instant>,
    },
    /// The pod has been creating its container for longer than the start grace: look at its
    /// events for a `FailedMount`, then assess again.
    CheckEvents {
        /// The pod.
        pod: String,
    },
    /// The job ended.
    Done(End),
}

/// The graces of the fail-fast causes that may resolve by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graces {
    /// `ErrImagePull` / `ImagePullBackOff`.
    pub image_pull: Duration,
    /// `FailedScheduling` and `FailedMount`.
    pub start: Duration,
}

/// Tracks, for one job, since when each slow cause has been seen.
#[derive(Debug, Clone)]
pub struct Assessor {
    graces: Graces,
    pulling_since: Option<Instant>,
    unschedulable_since: Option<Instant>,
    creating_since: Option<Instant>,
    /// When the pod's events were last looked up (at most once per start grace).
    events_checked: Option<Instant>,
    /// When the Job's own end was first seen without its pod's.
    job_ended_at: Option<Instant>,
}

impl Assessor {
    /// An assessor with these graces and no history.
    pub fn new(graces: Graces) -> Self {
        Self {
            graces,
            pulling_since: None,
            unschedulable_since: None,
            creating_since: None,
            events_checked: None,
            job_ended_at: None,
        }
    }

    /// Records that the pod's events were looked up at `now` and held no `FailedMount`.
    pub fn events_checked(&mut self, now: Instant) {
        self.events_checked = Some(now);
    }

    /// A mount failure found in the pod's events: the job fails with its message.
    pub fn mount_failed(&self, pod: &str, message: &str) -> End {
        End::Failed {
            cause: format!(
                "the pod {pod} could not mount its volumes for {} s (FailedMount: {message})",
                self.graces.start.as_secs()
            ),
            pod: None,
            message: None,
        }
    }

    /// Assesses `job` (`None` when the watch has not seen it yet; `deleted` when it saw it go)
    /// and its `pods` at `now`.
    pub fn assess(
        &mut self,
        name: &str,
        job: Option<&Job>,
        deleted: bool,
        pods: &[&Pod],
        now: Instant,
    ) -> Verdict {
        // A pod that ended decides first: it is seen before the Job's condition, which the
        // controller writes after it.
        for pod in pods {
            if let Some(end) = pod_end(pod) {
                return Verdict::Done(end);
            }
        }
        if let Some(end) = job.and_then(job_end) {
            // The pod's end says more (its exit code and log): give the pod watch a moment to
            // deliver it (the two watches deliver in either order).
            let since = *self.job_ended_at.get_or_insert(now);
            if now < since + POD_CATCH_UP {
                return Verdict::Pending {
                    recheck: Some(since + POD_CATCH_UP),
                };
            }
            let end = match end {
                // A Job failed for its own reason (deadline, backoff) while a pod still shows
                // the container's last state: keep the Job's cause, with the pod for its log.
                End::Failed { cause, .. } => {
                    let pod = pods.first().map(|p| name_of(p));
                    End::Failed {
                        cause,
                        pod,
                        message: None,
                    }
                }
                exited => exited,
            };
            return Verdict::Done(end);
        }
        if deleted {
            return Verdict::Done(End::Failed {
                cause: format!("the Job {name} was deleted before it ended"),
                pod: pods.first().map(|p| name_of(p)),
                message: None,
            });
        }
        let mut recheck: Option<Instant> = None;
        let mut later = |at: Instant| recheck = Some(recheck.map_or(at, |r| r.min(at)));
        let (mut pulling, mut unschedulable, mut creating) = (None, None, None);
        for pod in pods {
            let pod_name = name_of(pod);
            if let Some((reason, message)) = waiting(pod) {
                if HOPELESS.contains(&reason.as_str()) {
                    return Verdict::Done(End::Failed {
                        cause: format!("the container cannot start: {reason}: {message}"),
                        pod: None,
                        message: None,
                    });
                }
                if PULLING.contains(&reason.as_str()) {
                    pulling = Some((reason, message, image_of(pod)));
                } else if reason == "ContainerCreating" {
                    creating = Some(pod_name.clone());
                }
            }
            if let Some(message) = unschedulable_message(pod) {
                unschedulable = Some(message);
            }
        }
        let pulled = pulling.map(|(reason, message, image)| {
            move |s: u64| {
                format!("the image {image} could not be pulled for {s} s ({reason}: {message})")
            }
        });
        let grace = self.graces.image_pull;
        if let Some(end) = past_grace(&mut self.pulling_since, grace, pulled, now, &mut later) {
            return Verdict::Done(end);
        }
        let scheduled = unschedulable.map(|message| {
            move |s: u64| {
                format!("the pod could not be scheduled for {s} s (FailedScheduling: {message})")
            }
        });
        let grace = self.graces.start;
        if let Some(end) = past_grace(
            &mut self.unschedulable_since,
            grace,
            scheduled,
            now,
            &mut later,
        ) {
            return Verdict::Done(end);
        }
        match creating {
            Some(pod) => {
                let since = *self.creating_since.get_or_insert(now);
                let due = match self.events_checked {
                    Some(checked) => checked.max(since) + self.graces.start,
                    None => since + self.graces.start,
                };
                if now >= due {
                    return Verdict::CheckEvents { pod };
                }
                later(due);
            }
            None => {
                self.creating_since = None;
                self.events_checked = None;
            }
        }
        Verdict::Pending { recheck }
    }
}

/// A slow cause seen since `since` (`cause` writes its sentence from the grace in seconds; `None`
/// when the cause is gone): the job's failure once the grace has passed, else `None`, with the
/// grace's end handed to `later`.
fn past_grace(
    since: &mut Option<Instant>,
    grace: Duration,
    cause: Option<impl FnOnce(u64) -> String>,
    now: Instant,
    later: &mut impl FnMut(Instant),
) -> Option<End> {
    let Some(cause) = cause else {
        *since = None;
        return None;
    };
    let until = *since.get_or_insert(now) + grace;
    if now < until {
        later(until);
        return None;
    }
    Some(End::Failed {
        cause: cause(grace.as_secs()),
        pod: None,
        message: None,
    })
}

/// The name of an object.
fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The worker container's status (the one named [`CONTAINER`], else the first).
fn container(pod: &Pod) -> Option<&ContainerStatus> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses
        .iter()
        .find(|s| s.name == CONTAINER)
        .or_else(|| statuses.first())
}

/// The image the pod's worker container asks for.
fn image_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .or_else(|| container(pod).map(|s| s.image.clone()))
        .unwrap_or_default()
}

/// The waiting reason and message of the worker container.
fn waiting(pod: &Pod) -> Option<(String, String)> {
    let waiting = container(pod)?.state.as_ref()?.waiting.as_ref()?;
    Some((
        waiting.reason.clone().unwrap_or_default(),
        waiting.message.clone().unwrap_or_default(),
    ))
}

/// The scheduler's message when the pod is unschedulable.
fn unschedulable_message(pod: &Pod) -> Option<String> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

/// How a pod ended, if it did.
fn pod_end(pod: &Pod) -> Option<End> {
    let status = pod.status.as_ref()?;
    let name = name_of(pod);
    let phase = status.phase.as_deref().unwrap_or_default();
    if phase == "Failed" && status.reason.as_deref() == Some("Evicted") {
        return Some(End::Failed {
            cause: format!(
                "the pod {name} was evicted: {}",
                status.message.as_deref().unwrap_or_default()
            ),
            pod: Some(name),
            message: None,
        });
    }
    if phase != "Succeeded" && phase != "Failed" {
        return None;
    }
    let terminated = container(pod)
        .and_then(|s| s.state.as_ref())
        .and_then(|s| s.terminated.as_ref());
    let Some(terminated) = terminated else {
        return Some(End::Failed {
            cause: format!(
                "the pod {name} ended ({phase}) without a terminated worker container{}",
                status
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            pod: Some(name),
            message: None,
        });
    };
    let message = terminated.message.clone().filter(|m| !m.is_empty());
    if terminated.reason.as_deref() == Some("OOMKilled") {
        let limit = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.resources.as_ref())
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get("memory"))
            .map(|q| format!(" (memory limit {})", q.0))
            .unwrap_or_default();
        return Some(End::Failed {
            cause: format!(
                "the container was OOM-killed{limit}, exit code {}",
                terminated.exit_code
            ),
            pod: Some(name),
            message,
        });
    }
    Some(End::Exited {
        code: terminated.exit_code,
        pod: name,
        message,
    })
}

/// How a Job ended by its own conditions, if it did. A `Complete` Job without a pod in sight
/// (deleted by its TTL while the runner was down, say) counts as exit code 0: the report on the
/// volume decides.
fn job_end(job: &Job) -> Option<End> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    let active = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if active("Complete").is_some() {
        return Some(End::Exited {
            code: 0,
            pod: String::new(),
            message: None,
        });
    }
    let failed = active("Failed")?;
    let reason = failed.reason.as_deref().unwrap_or("Failed");
    let message = failed.message.as_deref().unwrap_or_default();
    let cause = match reason {
        "DeadlineExceeded" => {
            let deadline = job
                .spec
                .as_ref()
                .and_then(|s| s.active_deadline_seconds)
                .map(|s| format!(" of {s} s"))
                .unwrap_or_default();
            format!("the Job ran past its deadline{deadline} (DeadlineExceeded: {message})")
        }
        _ => format!("the Job failed ({reason}: {message})"),
    };
    Some(End::Failed {
        cause,
        pod: None,
        message: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p-1"},
            "spec": {"containers": [{"name": "neuron", "image": "reg/x:1",
                "resources": {"limits": {"memory": "256Mi"}}}]},
            "status": status,
        }))
        .unwrap()
    }

    fn waiting_pod(reason: &str, message: &str) -> Pod {
        pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "neuron", "image": "reg/x:1",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}}}]}),
        )
    }

    fn graces() -> Graces {
        Graces {
            image_pull: Duration::from_secs(30),
            start: Duration::from_secs(120),
        }
    }

    fn job(conditions: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "j"},
            "spec": {"activeDeadlineSeconds": 60, "template": {}},
            "status": {"conditions": conditions}}))
        .unwrap()
    }

    #[test]
    fn image_pull_fails_after_its_grace_and_not_before() {
        let mut a = Assessor::new(graces());
        let t0 = Instant::now();
        let p = waiting_pod("ErrImagePull", "pull access denied");
        assert_eq!(
            a.assess("j", None, false, &[&p], t0),
            Verdict::Pending {
                recheck: Some(t0 + Duration::from_secs(30))
            }
        );
        let p = waiting_pod("ImagePullBackOff", "Back-off pulling image \"reg/x:1\"");
        assert!(matches!(
            a.assess("j", None, false, &[&p], t0 + Duration::from_secs(29)),
            Verdict::Pending { .. }
        ));
        assert_eq!(
            a.assess("j", None, false, &[&p], t0 + Duration::from_secs(30)),
            Verdict::Done(End::Failed {
                cause: "the image reg/x:1 could not be pulled for 30 s (ImagePullBackOff: Back-off pulling image \"reg/x:1\")".into(),
                pod: None,
                message: None,
            })
        );
    }

    #[test]
    fn hopeless_waiting_reasons_fail_at_once() {
        for reason in HOPELESS {
            let mut a = Assessor::new(graces());
            let p = waiting_pod(reason, "why");
            assert_eq!(
                a.assess("j", None, false, &[&p], Instant::now()),
                Verdict::Done(End::Failed {
                    cause: format!("the container cannot start: {reason}: why"),
                    pod: None,
                    message: None
                })
            );
        }
    }

    #[test]
    fn unschedulable_fails_after_the_start_grace() {
        let mut a = Assessor::new(graces());
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
            "status": "False", "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient cpu."}]}),
        );
        let t0 = Instant::now();
        assert!(matches!(
            a.assess("j", None, false, &[&p], t0),
            Verdict::Pending { .. }
        ));
        assert_eq!(
            a.assess("j", None, false, &[&p], t0 + Duration::from_secs(120)),
            Verdict::Done(End::Failed {
                cause: "the pod could not be scheduled for 120 s (FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu.)".into(),
                pod: None,
                message: None
            })
        );
    }

    #[test]
    fn a_pod_creating_past_the_grace_asks_for_its_events_once_per_grace() {
        let mut a = Assessor::new(graces());
        let p = waiting_pod("ContainerCreating", "");
        let t0 = Instant::now();
        assert!(matches!(
            a.assess("j", None, false, &[&p], t0),
            Verdict::Pending { .. }
        ));
        let t1 = t0 + Duration::from_secs(120);
        assert_eq!(
            a.assess("j", None, false, &[&p], t1),
            Verdict::CheckEvents { pod: "p-1".into() }
        );
        a.events_checked(t1);
        assert_eq!(
            a.assess("j", None, false, &[&p], t1 + Duration::from_secs(1)),
            Verdict::Pending {
                recheck: Some(t1 + Duration::from_secs(120))
            }
        );
    }

    #[test]
    fn ends_exit_codes_oom_eviction_deadline_and_deletion() {
        let mut a = Assessor::new(graces());
        let now = Instant::now();
        let done = pod(
            json!({"phase": "Failed", "containerStatuses": [{"name": "neuron",
            "image": "reg/x:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 3, "reason": "Error", "message": "bad key"}}}]}),
        );
        assert_eq!(
            a.assess("j", None, false, &[&done], now),
            Verdict::Done(End::Exited {
                code: 3,
                pod: "p-1".into(),
                message: Some("bad key".into())
            })
        );
        let oom = pod(
            json!({"phase": "Failed", "containerStatuses": [{"name": "neuron",
            "image": "reg/x:1", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
        );
        assert_eq!(
            a.assess("j", None, false, &[&oom], now),
            Verdict::Done(End::Failed {
                cause: "the container was OOM-killed (memory limit 256Mi), exit code 137".into(),
                pod: Some("p-1".into()),
                message: None
            })
        );
        let evicted = pod(json!({"phase": "Failed", "reason": "Evicted",
            "message": "The node was low on resource: memory."}));
        assert_eq!(
            a.assess("j", None, false, &[&evicted], now),
            Verdict::Done(End::Failed {
                cause: "the pod p-1 was evicted: The node was low on resource: memory.".into(),
                pod: Some("p-1".into()),
                message: None
            })
        );
        let late = job(
            json!([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline"}]),
        );
        // The Job's own end waits for the pod watch to catch up, then stands alone.
        assert_eq!(
            a.assess("j", Some(&late), false, &[], now),
            Verdict::Pending {
                recheck: Some(now + POD_CATCH_UP)
            }
        );
        assert_eq!(
            a.assess("j", Some(&late), false, &[], now + POD_CATCH_UP),
            Verdict::Done(End::Failed {
                cause: "the Job ran past its deadline of 60 s (DeadlineExceeded: Job was active longer than specified deadline)".into(),
                pod: None,
                message: None
            })
        );
        assert_eq!(
            a.assess("j", None, true, &[], now),
            Verdict::Done(End::Failed {
                cause: "the Job j was deleted before it ended".into(),
                pod: None,
                message: None
            })
        );
        let complete = job(json!([{"type": "Complete", "status": "True"}]));
        let mut a = Assessor::new(graces());
        assert!(matches!(
            a.assess("j", Some(&complete), false, &[], now),
            Verdict::Pending { .. }
        ));
        assert_eq!(
            a.assess("j", Some(&complete), false, &[], now + POD_CATCH_UP),
            Verdict::Done(End::Exited {
                code: 0,
                pod: String::new(),
                message: None
            })
        );
    }
}
