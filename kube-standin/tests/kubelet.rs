//! The simulated job controller and kubelet, driven through `kube::Client` and
//! `kube::runtime::watcher` as the runner's backend will drive a real cluster.

mod common;

use std::time::Duration;

use common::{eventually, pod_spec, sh_job, start};
use futures::TryStreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_standin::{Config, Isolation};

/// Watches the Job with `kube::runtime::watcher` until it has a `Complete` or `Failed`
/// condition; returns (type, reason).
async fn wait_finished(client: &kube::Client, name: &str) -> (String, String) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let cfg = watcher::Config::default().labels(&format!("worker={name}"));
    let stream = watcher(jobs, cfg).applied_objects();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        let mut stream = std::pin::pin!(stream);
        while let Some(job) = stream.try_next().await.unwrap() {
            let conds = job.status.and_then(|s| s.conditions).unwrap_or_default();
            if let Some(c) = conds
                .iter()
                .find(|c| c.type_ == "Complete" || c.type_ == "Failed")
            {
                return (c.type_.clone(), c.reason.clone().unwrap_or_default());
            }
        }
        panic!("the watch ended before job {name} finished");
    })
    .await;
    found.expect("the job finished within 30 s")
}

async fn pods_of(client: &kube::Client, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .unwrap()
        .items
}

fn container(p: &Pod) -> ContainerStatus {
    p.status
        .clone()
        .unwrap()
        .container_statuses
        .unwrap()
        .remove(0)
}

/// Polls until the pod's container has a waiting reason equal to `reason`.
async fn wait_waiting(client: &kube::Client, job: &str, reason: &str) -> Pod {
    let what = format!("job {job}: a pod waiting with {reason}");
    eventually(&what, || async move {
        let p = pods_of(client, job).await.into_iter().next()?;
        p.status.as_ref()?.container_statuses.as_ref()?;
        let waiting = container(&p)
            .state
            .and_then(|s| s.waiting)
            .and_then(|w| w.reason);
        (waiting.as_deref() == Some(reason)).then_some(p)
    })
    .await
}

async fn events_for(client: &kube::Client, pod: &str) -> Vec<(String, String)> {
    let ev: Api<Event> = Api::namespaced(client.clone(), "default");
    let sel = format!("involvedObject.name={pod}");
    let mut items = ev
        .list(&ListParams::default().fields(&sel))
        .await
        .unwrap()
        .items;
    // Names sort at random; the resourceVersion gives the order they were recorded in.
    items.sort_by_key(|e| {
        e.metadata
            .resource_version
            .clone()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    });
    items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn job_runs_to_completion_then_logs_termination_message_and_delete() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let script =
        "echo first; echo second; printf done > \"$KUBE_STANDIN_ROOT/dev/termination-log\"";
    jobs.create(&PostParams::default(), &sh_job("ok", script))
        .await
        .unwrap();
    assert_eq!(
        wait_finished(&env.client, "ok").await,
        ("Complete".to_owned(), "CompletionsReached".to_owned())
    );
    let job = jobs.get("ok").await.unwrap();
    let st = job.status.unwrap();
    assert_eq!((st.succeeded, st.active, st.failed), (Some(1), None, None));
    assert!(st.completion_time.is_some() && st.start_time.is_some());
    let conds: Vec<String> = st
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(conds, ["SuccessCriteriaMet", "Complete"]);

    let pods = pods_of(&env.client, "ok").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    let t = container(pod).state.unwrap().terminated.unwrap();
    assert_eq!(
        (t.exit_code, t.reason.as_deref(), t.message.as_deref()),
        (0, Some("Completed"), Some("done"))
    );

    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let name = pod.metadata.name.clone().unwrap();
    assert_eq!(
        pod_api.logs(&name, &LogParams::default()).await.unwrap(),
        "first\nsecond\n"
    );
    let tail = LogParams {
        tail_lines: Some(1),
        ..LogParams::default()
    };
    assert_eq!(pod_api.logs(&name, &tail).await.unwrap(), "second\n");
    let limited = LogParams {
        limit_bytes: Some(3),
        container: Some("worker".into()),
        ..LogParams::default()
    };
    assert_eq!(pod_api.logs(&name, &limited).await.unwrap(), "fir");

    let reasons: Vec<String> = events_for(&env.client, &name)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        reasons,
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    );

    jobs.delete("ok", &DeleteParams::background())
        .await
        .unwrap();
    let client = &env.client;
    eventually(
        "the pod gone after a Background delete of its Job",
        || async move { pods_of(client, "ok").await.is_empty().then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn failing_container_retries_until_backoff_limit_exceeded() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let mut job = sh_job("bad", "echo oops >&2; exit 3");
    job.spec.as_mut().unwrap().backoff_limit = Some(1);
    pod_spec(&mut job).containers[0].termination_message_policy =
        Some("FallbackToLogsOnError".into());
    jobs.create(&PostParams::default(), &job).await.unwrap();
    assert_eq!(
        wait_finished(&env.client, "bad").await,
        ("Failed".to_owned(), "BackoffLimitExceeded".to_owned())
    );
    let st = jobs.get("bad").await.unwrap().status.unwrap();
    assert_eq!(st.failed, Some(2));
    let failed = st
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    let pods = pods_of(&env.client, "bad").await;
    assert_eq!(pods.len(), 2, "backoffLimit 1: two attempts");
    for p in &pods {
        assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Failed"));
        let t = container(p).state.unwrap().terminated.unwrap();
        assert_eq!(
            (t.exit_code, t.reason.as_deref(), t.message.as_deref()),
            (3, Some("Error"), Some("oops"))
        );
    }
}

#[tokio::test]
async fn active_deadline_fails_the_job_and_deletes_its_pod() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let mut job = sh_job("slow", "sleep 30");
    job.spec.as_mut().unwrap().active_deadline_seconds = Some(1);
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let jobs_api = &jobs;
    eventually("status.ready 1 while the pod runs", || async move {
        let ready = jobs_api.get("slow").await.unwrap().status?.ready;
        (ready == Some(1)).then_some(())
    })
    .await;
    assert_eq!(
        wait_finished(&env.client, "slow").await,
        ("Failed".to_owned(), "DeadlineExceeded".to_owned())
    );
    assert!(pods_of(&env.client, "slow").await.is_empty());
    let st = jobs.get("slow").await.unwrap().status.unwrap();
    assert_eq!((st.ready, st.active, st.failed), (Some(0), None, Some(1)));
}

#[tokio::test]
async fn missing_image_goes_err_image_pull_then_image_pull_back_off() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let mut job = sh_job("pull", "true");
    pod_spec(&mut job).containers[0].image = Some("gone:1".into());
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "pull", "ErrImagePull").await;
    let w = container(&p).state.unwrap().waiting.unwrap();
    assert_eq!(
        w.message.as_deref(),
        Some(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"gone:1\": the image is marked missing in the kube-standin configuration"
        )
    );
    let p = wait_waiting(&env.client, "pull", "ImagePullBackOff").await;
    assert_eq!(p.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    let name = p.metadata.name.clone().unwrap();
    let events = events_for(&env.client, &name).await;
    assert!(
        events.contains(&("Failed".into(), "Error: ErrImagePull".into())),
        "{events:?}"
    );
    assert!(
        events.contains(&("BackOff".into(), "Back-off pulling image \"gone:1\"".into())),
        "{events:?}"
    );
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    match pod_api
        .logs(&name, &LogParams::default())
        .await
        .unwrap_err()
    {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 400);
            assert_eq!(
                s.message,
                format!(
                    "container \"worker\" in pod \"{name}\" is waiting to start: trying and failing to pull image"
                )
            );
        }
        other => panic!("{other:?}"),
    }

    // An image absent from the map fails to pull too.
    let mut job = sh_job("unmapped", "true");
    pod_spec(&mut job).containers[0].image = Some("nope:2".into());
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "unmapped", "ErrImagePull").await;
    assert!(
        container(&p)
            .state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .unwrap()
            .ends_with("the image is not in the kube-standin image map")
    );
}

#[tokio::test]
async fn oom_flag_kills_with_oomkilled_and_137() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let mut job = sh_job("oom", "ignored");
    let c = &mut job
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0];
    c.image = Some("oom:1".into());
    c.args = None;
    jobs.create(&PostParams::default(), &job).await.unwrap();
    assert_eq!(wait_finished(&env.client, "oom").await.0, "Failed");
    let t = container(&pods_of(&env.client, "oom").await[0])
        .state
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (137, Some("OOMKilled")));
}

/// A Cortex-layout job: the PVC mounted twice with subPathExpr, input read-only.
fn cortex_job(name: &str) -> Job {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"worker": name}},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "jobs", "persistentVolumeClaim": {"claimName": "cortex-jobs"}}],
            "containers": [{
                "name": "worker", "image": "sh:1",
                "command": ["sh", "-c",
                    "cat \"$1/input/input.json\" > \"$1/output/output.json\"; touch \"$1/input/new\" && echo WROTE || echo REFUSED",
                    "sh"],
                "args": ["/job"],
                "env": [{"name": "CORTEX_JOB_FOLDER", "value": "jobs/abc"}],
                "volumeMounts": [
                    {"name": "jobs", "mountPath": "/job/input", "subPathExpr": "$(CORTEX_JOB_FOLDER)/input", "readOnly": true},
                    {"name": "jobs", "mountPath": "/job/output", "subPathExpr": "$(CORTEX_JOB_FOLDER)/output"}
                ]
            }]
        }}}
    }))
    .unwrap()
}

#[tokio::test]
async fn subpathexpr_mounts_and_a_read_only_input_in_a_mount_namespace() {
    let env = start(Config {
        isolation: Isolation::Namespace,
        ..Config::default()
    })
    .await;
    assert!(env.handle.namespace_isolation());
    let input = env.handle.pvc_dir().join("jobs/abc/input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("input.json"), "{\"data\":\"x\"}").unwrap();
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &cortex_job("mnt"))
        .await
        .unwrap();
    assert_eq!(wait_finished(&env.client, "mnt").await.0, "Complete");
    let out = env.handle.pvc_dir().join("jobs/abc/output/output.json");
    assert_eq!(std::fs::read_to_string(out).unwrap(), "{\"data\":\"x\"}");
    assert!(!input.join("new").exists());
    let pod = pods_of(&env.client, "mnt").await.remove(0);
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let log = pod_api
        .logs(pod.metadata.name.as_deref().unwrap(), &LogParams::default())
        .await
        .unwrap();
    assert!(log.contains("Read-only file system"), "{log}");
    assert!(log.ends_with("REFUSED\n"), "{log}");
}

#[tokio::test]
async fn without_a_mount_namespace_a_write_to_the_read_only_input_fails_the_pod() {
    let env = start(Config {
        isolation: Isolation::Symlink,
        ..Config::default()
    })
    .await;
    let input = env.handle.pvc_dir().join("jobs/abc/input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("input.json"), "{}").unwrap();
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &cortex_job("sym"))
        .await
        .unwrap();
    assert_eq!(wait_finished(&env.client, "sym").await.0, "Failed");
    let t = container(&pods_of(&env.client, "sym").await[0])
        .state
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(t.reason.as_deref(), Some("ReadOnlyMountViolation"));
    assert_eq!(
        t.message.as_deref(),
        Some(
            format!(
                "the container wrote to its read-only mount /job/input ({})",
                input.display()
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn follow_streams_the_log_until_the_container_ends() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &sh_job("fol", "echo a; sleep 1; echo b"),
    )
    .await
    .unwrap();
    let client = &env.client;
    let name = eventually("the pod of job fol running", || async move {
        let p = pods_of(client, "fol").await.into_iter().next()?;
        let running = p.status.as_ref()?.phase.as_deref() == Some("Running");
        if running { p.metadata.name } else { None }
    })
    .await;
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let lp = LogParams {
        follow: true,
        ..LogParams::default()
    };
    let mut stream = pod_api.log_stream(&name, &lp).await.unwrap();
    let mut text = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        futures::AsyncReadExt::read_to_string(&mut stream, &mut text),
    )
    .await
    .expect("the followed log ends with the container")
    .unwrap();
    assert_eq!(text, "a\nb\n");
}

fn with_container(name: &str, f: impl FnOnce(&mut k8s_openapi::api::core::v1::PodSpec)) -> Job {
    let mut job = sh_job(name, "true");
    f(pod_spec(&mut job));
    job
}

/// Polls until the job's pod has a condition `PodScheduled=False`; returns its message.
async fn wait_unschedulable(client: &kube::Client, job: &str) -> String {
    let what = format!("job {job}: a pod with PodScheduled=False");
    let condition = eventually(&what, || async move {
        let p = pods_of(client, job).await.into_iter().next()?;
        let conds = p.status?.conditions?;
        conds
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
    condition.message.unwrap()
}

#[tokio::test]
async fn unschedulable_pods_stay_pending_with_failed_scheduling() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let sel = with_container("sel", |p| {
        p.node_selector = Some([("disk".to_owned(), "ssd".to_owned())].into());
    });
    jobs.create(&PostParams::default(), &sel).await.unwrap();
    assert_eq!(
        wait_unschedulable(&env.client, "sel").await,
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );
    let big = with_container("big", |p| {
        p.containers[0].resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
            requests: Some(
                [(
                    "cpu".to_owned(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity("64".to_owned()),
                )]
                .into(),
            ),
            ..Default::default()
        });
    });
    jobs.create(&PostParams::default(), &big).await.unwrap();
    assert_eq!(
        wait_unschedulable(&env.client, "big").await,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    let pod = pods_of(&env.client, "big").await.remove(0);
    assert_eq!(pod.spec.unwrap().node_name, None);
    assert_eq!(pod.status.unwrap().phase.as_deref(), Some("Pending"));
    let events = events_for(&env.client, pod.metadata.name.as_deref().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "FailedScheduling");
}

#[tokio::test]
async fn invalid_image_name_waits_in_invalid_image_name() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let job = with_container("inv", |p| p.containers[0].image = Some("Bad Image".into()));
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "inv", "InvalidImageName").await;
    assert_eq!(
        container(&p)
            .state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .as_deref(),
        Some(
            "Failed to apply default image tag \"Bad Image\": couldn't parse image name \"Bad Image\": invalid reference format"
        )
    );
}

#[tokio::test]
async fn evicted_pod_fails_the_job_with_reason_evicted() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let job = with_container("ev", |p| {
        p.containers[0].image = Some("evict:1".into());
        p.containers[0].args = None;
    });
    jobs.create(&PostParams::default(), &job).await.unwrap();
    assert_eq!(
        wait_finished(&env.client, "ev").await,
        ("Failed".to_owned(), "BackoffLimitExceeded".to_owned())
    );
    let st = pods_of(&env.client, "ev").await.remove(0).status.unwrap();
    assert_eq!(
        (st.phase.as_deref(), st.reason.as_deref()),
        (Some("Failed"), Some("Evicted"))
    );
    let disruption = st
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .unwrap();
    assert_eq!(disruption.reason.as_deref(), Some("TerminationByKubelet"));
}

#[tokio::test]
async fn unsupported_volume_is_failed_mount_and_value_from_is_config_error() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let job: Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "fm", "labels": {"worker": "fm"}},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "volumes": [{"name": "cfg", "configMap": {"name": "x"}}],
            "containers": [{"name": "worker", "image": "sh:1", "args": ["true"],
                            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]
        }}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let client = &env.client;
    let found = eventually("a FailedMount event for the pod of job fm", || async move {
        let p = pods_of(client, "fm").await.into_iter().next()?;
        let events = events_for(client, p.metadata.name.as_deref()?).await;
        events
            .into_iter()
            .find(|e| e.0 == "FailedMount")
            .map(|e| e.1)
    })
    .await;
    assert_eq!(
        found,
        "MountVolume.SetUp failed for volume \"cfg\": kube-standin supports persistentVolumeClaim, emptyDir and hostPath volumes only"
    );
    let p = wait_waiting(&env.client, "fm", "ContainerCreating").await;
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Pending"));

    let job = with_container("vf", |p| {
        p.containers[0].env = Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "TOKEN".into(),
            value_from: Some(Default::default()),
            ..Default::default()
        }]);
    });
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "vf", "CreateContainerConfigError").await;
    assert_eq!(
        container(&p)
            .state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .as_deref(),
        Some("env \"TOKEN\": valueFrom is not supported by kube-standin")
    );
}

#[tokio::test]
async fn no_command_anywhere_is_create_container_error() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let job = with_container("nocmd", |p| {
        p.containers[0].image = Some("empty:1".into());
        p.containers[0].args = None;
    });
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "nocmd", "CreateContainerError").await;
    assert_eq!(
        container(&p)
            .state
            .unwrap()
            .waiting
            .unwrap()
            .message
            .as_deref(),
        Some("no command specified (neither the image map nor the container names one)")
    );
}

/// A Cortex-layout job for `folder`, run as uid 1234 with the given `fsGroup`.
fn job_as_user(name: &str, folder: &str, fs_group: Option<i64>) -> Job {
    let mut job = cortex_job(name);
    let spec = pod_spec(&mut job);
    spec.security_context = Some(k8s_openapi::api::core::v1::PodSecurityContext {
        run_as_user: Some(1234),
        run_as_group: Some(1234),
        run_as_non_root: Some(true),
        fs_group,
        ..Default::default()
    });
    let c = &mut spec.containers[0];
    c.command = Some(vec![
        "sh".into(),
        "-c".into(),
        "id -u; cat \"$1/input/input.json\" > \"$1/output/output.json\"".into(),
        "sh".into(),
    ]);
    c.env = Some(vec![k8s_openapi::api::core::v1::EnvVar {
        name: "CORTEX_JOB_FOLDER".into(),
        value: Some(folder.into()),
        ..Default::default()
    }]);
    job
}

/// A job folder owned by root, group `gid`, with `dir_mode` directories and a `file_mode`
/// input.json.
fn folder(root: &std::path::Path, rel: &str, gid: u32, dir_mode: u32, file_mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let f = root.join(rel);
    for d in ["input", "output"] {
        std::fs::create_dir_all(f.join(d)).unwrap();
    }
    std::fs::write(f.join("input/input.json"), "{}").unwrap();
    for (p, mode) in [
        (root.join(rel.split('/').next().unwrap()), dir_mode),
        (f.clone(), dir_mode),
        (f.join("input"), dir_mode),
        (f.join("output"), dir_mode | 0o020),
        (f.join("input/input.json"), file_mode),
    ] {
        std::os::unix::fs::chown(&p, Some(0), Some(gid)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[tokio::test]
async fn run_as_user_reads_group_readable_input_through_fs_group_only() {
    let env = start(Config::default()).await;
    let pvc = env.handle.pvc_dir().to_path_buf();
    folder(&pvc, "g/ok", 5000, 0o750, 0o640);
    folder(&pvc, "h/no", 0, 0o700, 0o600);
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job_as_user("uid-ok", "g/ok", Some(5000)),
    )
    .await
    .unwrap();
    jobs.create(&PostParams::default(), &job_as_user("uid-no", "h/no", None))
        .await
        .unwrap();
    assert_eq!(wait_finished(&env.client, "uid-ok").await.0, "Complete");
    assert_eq!(
        std::fs::read_to_string(pvc.join("g/ok/output/output.json")).unwrap(),
        "{}"
    );
    assert_eq!(wait_finished(&env.client, "uid-no").await.0, "Failed");
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let ok = pods_of(&env.client, "uid-ok").await.remove(0);
    let log = pod_api
        .logs(ok.metadata.name.as_deref().unwrap(), &LogParams::default())
        .await
        .unwrap();
    assert_eq!(log, "1234\n");
    let no = pods_of(&env.client, "uid-no").await.remove(0);
    let log = pod_api
        .logs(no.metadata.name.as_deref().unwrap(), &LogParams::default())
        .await
        .unwrap();
    assert!(
        log.starts_with("1234\n") && log.contains("Permission denied"),
        "{log}"
    );
}

#[tokio::test]
async fn run_as_non_root_with_a_root_image_is_create_container_config_error() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let job = with_container("nonroot", |p| {
        p.security_context = Some(k8s_openapi::api::core::v1::PodSecurityContext {
            run_as_non_root: Some(true),
            ..Default::default()
        });
    });
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let p = wait_waiting(&env.client, "nonroot", "CreateContainerConfigError").await;
    let msg = container(&p)
        .state
        .unwrap()
        .waiting
        .unwrap()
        .message
        .unwrap();
    assert_eq!(
        msg,
        format!(
            "container has runAsNonRoot and image will run as root (pod: \"default/{}\", container: worker)",
            p.metadata.name.unwrap()
        )
    );
}
