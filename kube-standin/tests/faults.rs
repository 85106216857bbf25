//! Fault injection through the control API, and the request counters.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, next_event, raw, sh_job, start, watch};
use futures::TryStreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube_standin::{Config, Faults};
use serde_json::Value;

#[tokio::test]
async fn errors_500_then_429_with_retry_after_then_normal() {
    let env = start(Config::default()).await;
    let (code, _, body) = raw(
        &env.handle,
        "POST",
        "/_standin/faults",
        Some(r#"{"errors_500": 1, "throttle_429": 1, "retry_after_seconds": 7}"#),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let path = "/apis/batch/v1/namespaces/default/jobs";
    let (code, _, body) = raw(&env.handle, "GET", path, None).await;
    assert_eq!(code, 500);
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_u64()),
        (Some("Status"), Some("InternalError"), Some(500))
    );
    let (code, headers, body) = raw(&env.handle, "GET", path, None).await;
    assert_eq!(code, 429);
    assert_eq!(headers.get("retry-after").map(String::as_str), Some("7"));
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["reason"], "TooManyRequests");
    assert_eq!(s["details"]["retryAfterSeconds"], 7);
    let (code, _, _) = raw(&env.handle, "GET", path, None).await;
    assert_eq!(code, 200);
    let stats = env.handle.stats();
    assert_eq!(stats.requests["list jobs"], 3);
    assert_eq!(stats.injected["500"], 1);
    assert_eq!(stats.injected["429"], 1);
    let (code, _, body) = raw(
        &env.handle,
        "POST",
        "/_standin/faults",
        Some(r#"{"errors_501": 1}"#),
    )
    .await;
    assert_eq!(code, 400);
    assert!(body.contains("unknown field `errors_501`"), "{body}");
}

#[tokio::test]
async fn delay_per_request() {
    let env = start(Config {
        faults: Faults {
            delay_ms: 300,
            ..Faults::default()
        },
        ..Config::default()
    })
    .await;
    let t = Instant::now();
    let (code, _, _) = raw(&env.handle, "GET", "/version", None).await;
    assert_eq!(code, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn dropped_watches_and_forced_410() {
    let env = start(Config::default()).await;
    let path = "/apis/batch/v1/namespaces/default/jobs?watch=1";
    let mut w = watch(&env.handle, path).await;
    // Wait until the server counts the stream as open.
    let handle = &env.handle;
    eventually("the watch counted as open", || async move {
        (handle.stats().watches_open == 1).then_some(())
    })
    .await;
    env.handle.set_faults(Faults {
        drop_watches: true,
        expire_next_watches: 1,
        ..Faults::default()
    });
    assert!(
        next_event(&mut w).await.is_none(),
        "the open watch was dropped"
    );
    let mut w = watch(&env.handle, &format!("{path}&resourceVersion=1")).await;
    let ev = next_event(&mut w).await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(
        (
            ev["object"]["code"].as_u64(),
            ev["object"]["reason"].as_str()
        ),
        (Some(410), Some("Expired"))
    );
    let stats = env.handle.stats();
    assert_eq!(stats.watches_total, 2);
    assert_eq!(stats.requests["watch jobs"], 2);
}

#[tokio::test]
async fn kube_watcher_recovers_from_a_dropped_watch_and_a_410() {
    let env = start(Config {
        bookmark_interval_ms: 50,
        ..Config::default()
    })
    .await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let stream = watcher(
        jobs.clone(),
        watcher::Config::default().labels("worker=rec"),
    )
    .applied_objects();
    let mut stream = std::pin::pin!(stream);
    jobs.create(&PostParams::default(), &sh_job("rec", "sleep 1"))
        .await
        .unwrap();
    // The first event: the job as listed or added.
    let first = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.unwrap().metadata.name.as_deref(), Some("rec"));
    env.handle.set_faults(Faults {
        drop_watches: true,
        expire_next_watches: 1,
        ..Faults::default()
    });
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.try_next().await {
                Ok(Some(j)) => {
                    let conds = j.status.and_then(|s| s.conditions).unwrap_or_default();
                    if conds.iter().any(|c| c.type_ == "Complete") {
                        return;
                    }
                }
                // The watcher reports the 410 and relists on the next poll.
                Err(_) => continue,
                Ok(None) => panic!("watcher ended"),
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the watcher saw the completion after the faults"
    );
    let stats = env.handle.stats();
    assert!(stats.watches_total >= 2, "{stats:?}");
    assert_eq!(
        stats.requests["list jobs"], 2,
        "the initial list and the relist after the 410: {stats:?}"
    );
    assert_eq!(stats.injected["expired watch"], 1);
    assert_eq!(stats.write_requests, 1, "one create");
}

#[tokio::test]
async fn kube_watcher_with_streaming_lists_needs_no_list_request() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &sh_job("stream", "true"))
        .await
        .unwrap();
    let cfg = watcher::Config::default()
        .labels("worker=stream")
        .streaming_lists();
    let stream = watcher(jobs, cfg).applied_objects();
    let mut stream = std::pin::pin!(stream);
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(j) = stream.try_next().await.unwrap() {
            let conds = j.status.and_then(|s| s.conditions).unwrap_or_default();
            if conds.iter().any(|c| c.type_ == "Complete") {
                return;
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the streaming-list watcher saw the completion"
    );
    let stats = env.handle.stats();
    assert_eq!(stats.requests.get("list jobs"), None, "{stats:?}");
    assert!(stats.requests["watch jobs"] >= 1);
}
