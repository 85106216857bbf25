//! The two shared watches: one over the runner's Jobs and one over their Pods (label selector
//! [`SELECTOR`]), kept by two tasks for the whole life of the backend and read by every waiting
//! job. A waiting job subscribes to its Job's name and is woken on every change of the Job or
//! of its pods; it never opens a watch or polls of its own.
//!
//! kube-runtime's `watcher` relists after a dropped stream or a `410 Gone` (an `Init` …
//! `InitDone` sequence); objects missing from a relist are taken as deleted, so no waiting job
//! misses its end while the stream was down.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use tokio::sync::watch;

use super::spec::SELECTOR;

/// The label the runner puts on its pod templates naming their Job (`cortex-runner/job`), with
/// the Job controller's own `job-name` as a fallback.
const JOB_LABELS: [&str; 2] = ["cortex-runner/job", "job-name"];

/// What the watches know of one Job.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The Job as last seen; `None` before the watch saw it.
    pub job: Option<Job>,
    /// Whether the watch saw the Job go.
    pub deleted: bool,
    /// Its pods, by name.
    pub pods: BTreeMap<String, Pod>,
}

#[derive(Debug)]
struct Slot {
    seen: Seen,
    changed: watch::Sender<u64>,
}

impl Slot {
    fn new() -> Self {
        Self {
            seen: Seen::default(),
            changed: watch::Sender::new(0),
        }
    }

    fn touch(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Counts of the watches, for the benchmark and the metrics.
#[derive(Debug, Default)]
pub struct WatchCounters {
    /// Watch streams that ended in an error and were restarted (dropped streams, `410 Gone`).
    pub restarts: AtomicU64,
}

/// The state both watches maintain, shared by every waiting job.
#[derive(Debug)]
pub struct Watches {
    slots: Mutex<HashMap<String, Slot>>,
    /// Whether the Job watch has listed every Job once (its first `InitDone`).
    jobs_listed: watch::Sender<bool>,
    /// The last error of either watch, for a report that must say why the cluster is silent.
    last_error: Mutex<Option<String>>,
    /// The two watch tasks, to stop them before the runtime goes (see [`Watches::stop`]).
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Restarts and errors.
    pub counters: WatchCounters,
}

impl Default for Watches {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            jobs_listed: watch::Sender::new(false),
            last_error: Mutex::default(),
            tasks: Mutex::default(),
            counters: WatchCounters::default(),
        }
    }
}

impl Watches {
    /// Starts the two watch tasks on the current runtime. They run until the runtime stops.
    pub fn start(jobs: Api<Job>, pods: Api<Pod>) -> Arc<Self> {
        let this = Arc::new(Self::default());
        let config = watcher::Config::default().labels(SELECTOR);
        let state = this.clone();
        let job_stream = watcher::watcher(jobs, config.clone()).default_backoff();
        let job_task = tokio::spawn(async move {
            state.follow(job_stream, Kind::Job).await;
        });
        let state = this.clone();
        let pod_stream = watcher::watcher(pods, config).default_backoff();
        let pod_task = tokio::spawn(async move {
            state.follow(pod_stream, Kind::Pod).await;
        });
        *this.tasks.lock().unwrap_or_else(|p| p.into_inner()) =
            vec![job_task.abort_handle(), pod_task.abort_handle()];
        this
    }

    /// Stops both watches. A command that ends calls it before its runtime shuts down: otherwise
    /// a watch may see its connection closed by the shutdown and log a spurious interruption.
    pub fn stop(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Subscribes to changes of the Job `name`: the receiver is marked changed whenever the Job
    /// or one of its pods changes. Call [`Watches::release`] when done.
    pub fn subscribe(&self, name: &str) -> watch::Receiver<u64> {
        let mut slots = self.slots();
        let slot = slots.entry(name.to_string()).or_insert_with(Slot::new);
        // A Job of the same name that was deleted (an earlier run of the same folder) says
        // nothing about the one about to be created.
        if slot.seen.deleted {
            slot.seen = Seen::default();
        }
        slot.changed.subscribe()
    }

    /// Waits until the Job watch has listed the existing Jobs once, so that "not seen" means
    /// "not there" (a restarted runner must adopt, not create again).
    pub async fn listed(&self) {
        let mut listed = self.jobs_listed.subscribe();
        // The sender lives as long as `self`: `wait_for` cannot fail while we hold it.
        let _ = listed.wait_for(|listed| *listed).await;
    }

    /// The last error either watch met, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What is known of the Job `name` now.
    pub fn seen(&self, name: &str) -> Seen {
        self.slots()
            .get(name)
            .map(|s| s.seen.clone())
            .unwrap_or_default()
    }

    /// Ends a subscription to the Job `name`, and forgets the Job once nobody waits for it
    /// and it is gone (or was never seen).
    pub fn release(&self, name: &str, subscription: watch::Receiver<u64>) {
        drop(subscription);
        let mut slots = self.slots();
        if let Some(slot) = slots.get(name)
            && slot.changed.receiver_count() == 0
            && (slot.seen.deleted || slot.seen.job.is_none())
        {
            slots.remove(name);
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Consumes one watch stream for the life of the runtime.
    async fn follow<K, S>(&self, stream: S, kind: Kind)
    where
        K: Into<Object>,
        S: futures::Stream<Item = Result<Event<K>, watcher::Error>>,
    {
        let mut stream = std::pin::pin!(stream);
        // Names seen since the last `Init`, to find what a relist no longer has.
        let mut relisted: Option<HashSet<String>> = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Init) => relisted = Some(HashSet::new()),
                Ok(Event::InitApply(object)) => {
                    let object = object.into();
                    if let Some(names) = &mut relisted {
                        names.insert(object.key());
                    }
                    self.apply(object);
                }
                Ok(Event::InitDone) => {
                    if let Some(names) = relisted.take() {
                        self.forget_except(kind, &names);
                    }
                    if matches!(kind, Kind::Job) {
                        self.jobs_listed.send_replace(true);
                    }
                }
                Ok(Event::Apply(object)) => self.apply(object.into()),
                Ok(Event::Delete(object)) => self.delete(object.into()),
                Err(error) => {
                    self.counters.restarts.fetch_add(1, Ordering::Relaxed);
                    *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(error.to_string());
                    tracing::warn!(kind = ?kind, "Kubernetes watch interrupted, relisting: {error}");
                }
            }
        }
    }

    fn apply(&self, object: Object) {
        let mut slots = self.slots();
        match object {
            Object::Job(job) => {
                let Some(name) = job.metadata.name.clone() else {
                    return;
                };
                let slot = slots.entry(name).or_insert_with(Slot::new);
                slot.seen.job = Some(*job);
                slot.seen.deleted = false;
                slot.touch();
            }
            Object::Pod(pod) => {
                let (Some(job), Some(name)) = (job_of(&pod), pod.metadata.name.clone()) else {
                    return;
                };
                let slot = slots.entry(job).or_insert_with(Slot::new);
                slot.seen.pods.insert(name, *pod);
                slot.touch();
            }
        }
    }

    fn delete(&self, object: Object) {
        let mut slots = self.slots();
        match object {
            Object::Job(job) => {
                let Some(name) = job.metadata.name.as_ref() else {
                    return;
                };
                if let Some(slot) = slots.get_mut(name) {
                    slot.seen.deleted = true;
                    slot.touch();
                    // Nobody waits for it: forget it, so that the map holds live Jobs only.
                    if slot.changed.receiver_count() == 0 {
                        slots.remove(name);
                    }
                }
            }
            Object::Pod(pod) => {
                if let (Some(job), Some(name)) = (job_of(&pod), pod.metadata.name.as_ref())
                    && let Some(slot) = slots.get_mut(&job)
                {
                    slot.seen.pods.remove(name);
                    slot.touch();
                    let gone = slot.seen.job.is_none() || slot.seen.deleted;
                    if gone && slot.seen.pods.is_empty() && slot.changed.receiver_count() == 0 {
                        slots.remove(&job);
                    }
                }
            }
        }
    }

    /// After a relist: Jobs (or pods) that are not in `names` were deleted meanwhile.
    fn forget_except(&self, kind: Kind, names: &HashSet<String>) {
        let mut slots = self.slots();
        for (job_name, slot) in slots.iter_mut() {
            match kind {
                Kind::Job => {
                    if slot.seen.job.is_some() && !names.contains(job_name) && !slot.seen.deleted {
                        slot.seen.deleted = true;
                        slot.touch();
                    }
                }
                Kind::Pod => {
                    let before = slot.seen.pods.len();
                    slot.seen.pods.retain(|pod, _| names.contains(pod));
                    if slot.seen.pods.len() != before {
                        slot.touch();
                    }
                }
            }
        }
    }
}

/// Which watch.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Job,
    Pod,
}

/// An object of either watch.
enum Object {
    Job(Box<Job>),
    Pod(Box<Pod>),
}

impl Object {
    /// The name a relist records: the Job's, or the pod's.
    fn key(&self) -> String {
        match self {
            Object::Job(job) => job.meta().name.clone().unwrap_or_default(),
            Object::Pod(pod) => pod.meta().name.clone().unwrap_or_default(),
        }
    }
}

impl From<Job> for Object {
    fn from(job: Job) -> Self {
        Object::Job(Box::new(job))
    }
}

impl From<Pod> for Object {
    fn from(pod: Pod) -> Self {
        Object::Pod(Box::new(pod))
    }
}

/// The Job a pod belongs to.
fn job_of(pod: &Pod) -> Option<String> {
    let labels = pod.metadata.labels.as_ref()?;
    JOB_LABELS.iter().find_map(|key| labels.get(*key).cloned())
}
