//! `GET /_standin/exits` and `Handle::exits`: each container's end timed to the microsecond,
//! for benchmarks that time what a client does after it.

mod common;

use common::{eventually, raw, sh_job, start};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use kube_standin::exits::now_unix_us;
use kube_standin::{Config, Exit};

#[tokio::test]
async fn each_container_exit_is_timed_to_the_microsecond() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let before = now_unix_us();
    jobs.create(
        &PostParams::default(),
        &sh_job("timed", "sleep 0.2; exit 3"),
    )
    .await
    .unwrap();
    let handle = &env.handle;
    let exits = eventually("the container's exit", || async move {
        let exits = handle.exits();
        (!exits.is_empty()).then_some(exits)
    })
    .await;
    let after = now_unix_us();
    assert_eq!(exits.len(), 1, "{exits:?}");
    let exit = &exits[0];
    let pod = exit.pod.clone();
    assert!(pod.starts_with("timed-"), "{exit:?}");
    assert_eq!(
        (exit.namespace.as_str(), exit.job.as_deref(), exit.exit_code),
        ("default", Some("timed"), 3)
    );
    // The process slept 0.2 s after the create; its end is stored after it happened.
    assert!(
        exit.exited_unix_us >= before + 200_000,
        "{exit:?}, before {before}"
    );
    assert!(exit.exited_unix_us <= exit.status_unix_us, "{exit:?}");
    assert!(exit.status_unix_us <= after, "{exit:?}, after {after}");

    // The control endpoint gives the same records, in the same JSON field names.
    let (code, _, body) = raw(&env.handle, "GET", "/_standin/exits", None).await;
    assert_eq!(code, 200, "{body}");
    let listed: Vec<Exit> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed, exits);
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        value[0],
        serde_json::json!({
            "namespace": "default",
            "pod": pod,
            "job": "timed",
            "exit_code": 3,
            "exited_unix_us": exit.exited_unix_us,
            "status_unix_us": exit.status_unix_us,
        })
    );
}
