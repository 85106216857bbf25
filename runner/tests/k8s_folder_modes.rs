//! The job-folder rule against kube-standin: a Job from `build_job`, its pod running as uid 1000
//! with primary group 1000 and `fsGroup` 3000, reads the attachment and input.json of a folder
//! Cortex's way (`0700` folder, `0600` attachment) and writes its report once `prepare_folder`
//! has run, and is refused both without it.
//!
//! The pod's only way into the folder is the group `fs_group`: uid 1000 and group 1000 own
//! nothing in it. kube-standin runs the container through `setpriv` (it must run as root, as
//! these machines do) and mounts the volume's subpaths as a kubelet does.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use cortex_job::{Attachment, AttachmentSource, JobFolder, JobInput};
use cortex_runner::backend::kubernetes::folder::prepare_folder;
use cortex_runner::backend::kubernetes::spec::{
    CONTAINER, JobParams, build_job, job_name, relative_folder,
};
use cortex_runner::catalog::WorkerKind;
use cortex_runner::config::KubernetesConfig;
use cortex_runner::workers::Worker;
use futures::TryStreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_standin::{Config, Image, Isolation, Standin};
use serde_json::json;

const ATTACHMENT: &[u8] = b"the observable's bytes\n";

/// The "image": a Cortex-style worker reading `argv[1]/input` and writing `argv[1]/output`
/// (the Job's `args: ["/job"]`, which kube-standin maps to the container's root; `sh -c` makes
/// it `$0`). It reads the attachment first, so a folder it may not read fails there.
const SCRIPT: &str = r#"set -e
data=$(cat "$0"/input/attachment*)
printf '%s\n' "$data" > "$0/output/attachment-copy"
cat "$0/input/input.json" > "$0/output/output.json"
"#;

struct Env {
    _handle: kube_standin::Handle,
    client: kube::Client,
    pvc: tempfile::TempDir,
    _dir: tempfile::TempDir,
}

async fn start(isolation: Isolation) -> Env {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        std::fs::metadata(dir.path()).unwrap().uid(),
        0,
        "kube-standin runs pods as another uid through setpriv, which needs root"
    );
    let pvc = tempfile::tempdir().unwrap();
    // The volume's root is open to all, as a provisioned volume's is: the job folder's own
    // modes are what this test is about.
    std::fs::set_permissions(
        pvc.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let handle = Standin::start(Config {
        kubeconfig_out: Some(kubeconfig.clone()),
        pvc_dir: Some(pvc.path().to_path_buf()),
        images: [(
            "reader:1".to_string(),
            Image {
                command: vec!["sh".into(), "-c".into(), SCRIPT.into()],
                ..Image::default()
            },
        )]
        .into(),
        isolation,
        ..Config::default()
    })
    .await
    .unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    Env {
        _handle: handle,
        client: kube::Client::try_from(cfg).unwrap(),
        pvc,
        _dir: dir,
    }
}

fn config() -> KubernetesConfig {
    KubernetesConfig {
        enabled: true,
        namespace: "cortex".into(),
        pvc: "cortex-jobs".into(),
        run_as_user: Some(1000),
        run_as_group: Some(1000),
        fs_group: Some(3000),
        ..KubernetesConfig::default()
    }
}

fn worker() -> Worker {
    Worker {
        name: "Reader".into(),
        kind: WorkerKind::Analyzer,
        version: "1.0".into(),
        description: String::new(),
        data_types: vec!["file".into()],
        config: serde_json::Map::new(),
        definition: None,
        policy: None,
        image: Some("reader:1".into()),
    }
}

/// A file job as Cortex makes it: folder `0700`, attachment `0600`, both root's.
fn folder(root: &Path) -> JobFolder {
    let input: JobInput = serde_json::from_value(json!({
        "dataType": "file", "tlp": 2, "pap": 2, "message": "", "parameters": {}, "config": {}
    }))
    .unwrap();
    let attachment = Attachment {
        source: AttachmentSource::Bytes(ATTACHMENT),
        filename: "sample.bin",
        content_type: "application/octet-stream",
    };
    JobFolder::create(root, "modes", &input, Some(attachment)).unwrap()
}

/// Creates the Job for `folder` and waits for its `Complete` or `Failed` condition; returns the
/// condition type and the pod's log.
async fn run(env: &Env, folder: &JobFolder) -> (String, String) {
    let config = config();
    let worker = worker();
    let rel = relative_folder(env.pvc.path(), folder.path()).unwrap();
    let job = build_job(&JobParams {
        worker: &worker,
        config: &config,
        folder_rel: &rel,
        active_deadline: Duration::from_secs(60),
        has_cacerts: false,
    })
    .unwrap();
    let name = job_name(&rel);
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "cortex");
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let watch = watcher(
        jobs,
        watcher::Config::default().labels(&format!("cortex-runner/job={name}")),
    )
    .applied_objects();
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        let mut watch = std::pin::pin!(watch);
        while let Some(job) = watch.try_next().await.unwrap() {
            let conditions = job.status.and_then(|s| s.conditions).unwrap_or_default();
            if let Some(c) = conditions
                .iter()
                .find(|c| c.type_ == "Complete" || c.type_ == "Failed")
            {
                return c.type_.clone();
            }
        }
        panic!("the watch ended before Job {name} did");
    })
    .await
    .expect("the Job ends within 30 s");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "cortex");
    let pod = pods
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await
        .unwrap()
        .items
        .remove(0);
    let log = pods
        .logs(
            pod.metadata.name.as_deref().unwrap(),
            &LogParams {
                container: Some(CONTAINER.into()),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    (ended, log)
}

/// Both ways kube-standin gives a container its mounts: bind mounts in a private mount
/// namespace (as a kubelet does, so the folder's own mode is bypassed and the files' modes
/// decide) and symlinks (so the path through the folder is checked too).
const ISOLATIONS: [Isolation; 2] = [Isolation::Namespace, Isolation::Symlink];

#[tokio::test]
async fn after_prepare_folder_a_pod_of_another_uid_reads_its_input_and_writes_its_report() {
    for isolation in ISOLATIONS {
        let env = start(isolation).await;
        let folder = folder(env.pvc.path());
        prepare_folder(&folder, &config()).unwrap();
        let (ended, log) = run(&env, &folder).await;
        assert_eq!(
            (ended.as_str(), log.as_str()),
            ("Complete", ""),
            "{isolation:?}"
        );

        let output = folder.output_dir().join("output.json");
        assert_eq!(
            std::fs::read(&output).unwrap(),
            std::fs::read(folder.input_dir().join("input.json")).unwrap(),
            "the pod copied input.json to output/output.json"
        );
        let copy = folder.output_dir().join("attachment-copy");
        assert_eq!(std::fs::read(&copy).unwrap(), ATTACHMENT);
        for file in [&output, &copy] {
            let meta = std::fs::metadata(file).unwrap();
            // Written by uid 1000; in group 3000 (not the pod's primary 1000) through output/'s
            // setgid bit, so the runner's group reads it whatever the pod's umask leaves.
            assert_eq!((meta.uid(), meta.gid()), (1000, 3000), "{}", file.display());
        }
        // The input stayed as it was: the mount is read-only and the group may not write there.
        assert_eq!(
            std::fs::read(folder.attachment_path().unwrap()).unwrap(),
            ATTACHMENT
        );
    }
}

#[tokio::test]
async fn without_prepare_folder_the_same_pod_cannot_read_its_input() {
    for isolation in ISOLATIONS {
        let env = start(isolation).await;
        let folder = folder(env.pvc.path());
        let (ended, log) = run(&env, &folder).await;
        assert_eq!(ended, "Failed", "{isolation:?}: {log}");
        let attachment = folder
            .input()
            .file
            .clone()
            .expect("a file job names its attachment");
        // Through a bind mount the attachment's 0600 stops the pod; through the path, the
        // folder's 0700 already hides input/'s listing, so the glob stays unexpanded (and cat
        // quotes the name it was given).
        let denied = match isolation {
            Isolation::Symlink => "attachment*'".to_string(),
            _ => attachment,
        };
        let line = log.lines().next().unwrap_or_default().to_string();
        assert!(
            line.starts_with("cat: ")
                && line.ends_with(&format!("/job/input/{denied}: Permission denied")),
            "{isolation:?}: the pod's first error is reading its attachment: {log}"
        );
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(!folder.output_dir().join("output.json").exists());
    }
}
