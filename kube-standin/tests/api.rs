//! The API surface: discovery, Status objects, resourceVersions, selectors, deletion, watches.

mod common;

use common::{eventually, next_event, pod_spec, raw, sh_job, start, watch};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube_standin::Config;
use serde_json::{Value, json};

fn api_err(e: kube::Error) -> Box<kube::core::Status> {
    match e {
        kube::Error::Api(s) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn version_and_discovery_have_the_real_shapes() {
    let env = start(Config::default()).await;
    let v = env.client.apiserver_version().await.unwrap();
    assert_eq!((v.major.as_str(), v.minor.as_str()), ("1", "33"));
    let (code, _, body) = raw(&env.handle, "GET", "/apis/batch/v1", None).await;
    assert_eq!(code, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["kind"], "APIResourceList");
    assert_eq!(list["groupVersion"], "batch/v1");
    assert_eq!(list["resources"][0]["name"], "jobs");
    assert_eq!(list["resources"][0]["namespaced"], true);
    let (_, _, body) = raw(&env.handle, "GET", "/api", None).await;
    let api: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    // kube's own discovery walks /api, /apis and each group version.
    let d = kube::Discovery::new(env.client.clone())
        .run()
        .await
        .unwrap();
    let batch = d.get("batch").expect("group batch discovered");
    assert!(
        batch
            .recommended_resources()
            .iter()
            .any(|(r, _)| r.kind == "Job")
    );
}

#[tokio::test]
async fn status_objects_match_the_api_server() {
    let env = start(Config::default()).await;
    let (code, _, body) = raw(
        &env.handle,
        "GET",
        "/apis/batch/v1/namespaces/default/jobs/nope",
        None,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "jobs.batch \"nope\" not found", "reason": "NotFound",
               "details": {"name": "nope", "group": "batch", "kind": "jobs"}, "code": 404})
    );
    let (code, _, body) = raw(
        &env.handle,
        "GET",
        "/api/v1/namespaces/default/pods/p",
        None,
    )
    .await;
    assert_eq!(code, 404);
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["message"], "pods \"p\" not found");
    assert_eq!(s["details"], json!({"name": "p", "kind": "pods"}));

    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &sh_job("dup", "true"))
        .await
        .unwrap();
    let e = api_err(
        jobs.create(&PostParams::default(), &sh_job("dup", "true"))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "jobs.batch \"dup\" already exists");

    let mut bad = sh_job("bad", "true");
    pod_spec(&mut bad).restart_policy = None;
    let e = api_err(jobs.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
    );

    // A delete precondition on a stale uid is a Conflict.
    let dp = DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("stale".into()),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    let e = api_err(jobs.delete("dup", &dp).await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.starts_with("Operation cannot be fulfilled on jobs.batch \"dup\": Precondition failed: UID in precondition: stale, UID in object meta: "),
        "{}",
        e.message
    );
    let (code, _, body) = raw(&env.handle, "GET", "/no/such/path", None).await;
    assert_eq!(code, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["message"],
        "the server could not find the requested resource"
    );
}

#[tokio::test]
async fn uids_timestamps_and_one_increasing_resource_version() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let a = jobs
        .create(&PostParams::default(), &sh_job("a", "true"))
        .await
        .unwrap();
    let b = jobs
        .create(&PostParams::default(), &sh_job("b", "true"))
        .await
        .unwrap();
    let rv = |j: &Job| {
        j.metadata
            .resource_version
            .clone()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&b) > rv(&a));
    assert_ne!(a.metadata.uid, b.metadata.uid);
    assert_eq!(a.metadata.uid.as_ref().unwrap().len(), 36);
    assert!(a.metadata.creation_timestamp.is_some());
    let list = jobs.list(&ListParams::default()).await.unwrap();
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(list_rv >= rv(&b));
    // Pods created by the controller share the counter.
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for p in pods.list(&ListParams::default()).await.unwrap() {
        assert!(p.metadata.resource_version.unwrap().parse::<u64>().unwrap() > rv(&a));
    }
}

#[tokio::test]
async fn label_selectors_equality_and_set_based() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    for n in ["x1", "x2", "x3"] {
        jobs.create(&PostParams::default(), &sh_job(n, "true"))
            .await
            .unwrap();
    }
    let names = |sel: &'static str| {
        let jobs = jobs.clone();
        async move {
            let l = jobs.list(&ListParams::default().labels(sel)).await.unwrap();
            l.items
                .into_iter()
                .map(|j| j.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("worker=x1").await, ["x1"]);
    assert_eq!(names("worker!=x1").await, ["x2", "x3"]);
    assert_eq!(names("worker in (x1,x3)").await, ["x1", "x3"]);
    assert_eq!(names("worker notin (x1,x3),app").await, ["x2"]);
    assert_eq!(names("!worker").await, Vec::<String>::new());
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let pods = &pods;
    let p = eventually("a pod of job x2", || async move {
        let p = pods
            .list(&ListParams::default().labels("job-name=x2"))
            .await
            .unwrap();
        (!p.items.is_empty()).then_some(p)
    })
    .await;
    assert_eq!(p.items.len(), 1);
    let labels = p.items[0].metadata.labels.clone().unwrap();
    assert_eq!(labels["app"], "cortex");
    assert_eq!(labels["batch.kubernetes.io/job-name"], "x2");
    let owner = &p.items[0].metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Job", "x2", Some(true))
    );
}

#[tokio::test]
async fn delete_propagation_background_foreground_orphan() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    for n in ["bg", "fg", "or"] {
        jobs.create(&PostParams::default(), &sh_job(n, "sleep 30"))
            .await
            .unwrap();
    }
    let count = |sel: &'static str| {
        let pods = pods.clone();
        async move {
            pods.list(&ListParams::default().labels(sel))
                .await
                .unwrap()
                .items
                .len()
        }
    };
    let count = &count;
    eventually("the pods of bg, fg and or", || async move {
        (count("job-name in (bg,fg,or)").await == 3).then_some(())
    })
    .await;
    // Background: the Job goes at once (a Success Status), its pod right after.
    let r = jobs
        .delete("bg", &DeleteParams::background())
        .await
        .unwrap();
    let status = r.right().expect("Background returns a Status");
    assert_eq!(status.details.unwrap().name, "bg");
    assert_eq!(api_err(jobs.get("bg").await.unwrap_err()).code, 404);
    // Foreground: the Job is returned with its finalizer, stays until its pods are gone.
    let r = jobs
        .delete("fg", &DeleteParams::foreground())
        .await
        .unwrap();
    let j = r.left().expect("Foreground returns the Job");
    assert_eq!(
        j.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    assert!(j.metadata.deletion_timestamp.is_some());
    // Orphan: the pod stays, without its owner reference.
    let r = jobs.delete("or", &DeleteParams::orphan()).await.unwrap();
    assert_eq!(
        r.left().unwrap().metadata.finalizers,
        Some(vec!["orphan".to_owned()])
    );
    let jobs_api = &jobs;
    eventually(
        "jobs gone, bg/fg pods gone, the orphan pod kept",
        || async move {
            let gone = jobs_api
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty();
            (gone && count("job-name in (bg,fg)").await == 0 && count("job-name=or").await == 1)
                .then_some(())
        },
    )
    .await;
    let orphan = &pods
        .list(&ListParams::default().labels("job-name=or"))
        .await
        .unwrap()
        .items[0];
    assert_eq!(orphan.metadata.owner_references, None);
}

#[tokio::test]
async fn watch_replays_history_sends_bookmarks_and_times_out() {
    let env = start(Config {
        bookmark_interval_ms: 50,
        ..Config::default()
    })
    .await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let a = jobs
        .create(&PostParams::default(), &sh_job("w1", "sleep 30"))
        .await
        .unwrap();
    let from = a.metadata.resource_version.clone().unwrap();
    jobs.create(&PostParams::default(), &sh_job("w2", "sleep 30"))
        .await
        .unwrap();
    let path = format!(
        "/apis/batch/v1/namespaces/default/jobs?watch=1&resourceVersion={from}&allowWatchBookmarks=true&timeoutSeconds=1&labelSelector=worker%3Dw2"
    );
    let mut r = watch(&env.handle, &path).await;
    let first = next_event(&mut r).await.unwrap();
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["metadata"]["name"], "w2");
    assert_eq!(first["object"]["kind"], "Job");
    let mut saw_modified = false;
    let mut saw_bookmark = false;
    while let Some(ev) = next_event(&mut r).await {
        assert_eq!(
            ev["object"]["metadata"]
                .get("name")
                .map_or("w2", |n| n.as_str().unwrap()),
            "w2"
        );
        match ev["type"].as_str().unwrap() {
            "MODIFIED" => saw_modified = true,
            "BOOKMARK" => {
                saw_bookmark = true;
                assert_eq!(ev["object"]["kind"], "Job");
                assert!(
                    ev["object"]["metadata"]["resourceVersion"]
                        .as_str()
                        .is_some()
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    // The stream ended by itself: timeoutSeconds=1.
    assert!(saw_modified, "the controller's status update of w2");
    assert!(saw_bookmark);
}

#[tokio::test]
async fn watch_from_a_version_older_than_the_history_gets_410_expired() {
    let env = start(Config {
        history_limit: 5,
        ..Config::default()
    })
    .await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    for i in 0..4 {
        jobs.create(&PostParams::default(), &sh_job(&format!("h{i}"), "true"))
            .await
            .unwrap();
    }
    let mut r = watch(
        &env.handle,
        "/apis/batch/v1/namespaces/default/jobs?watch=1&resourceVersion=1",
    )
    .await;
    let ev = next_event(&mut r).await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["kind"], "Status");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    let msg = ev["object"]["message"].as_str().unwrap();
    assert!(msg.starts_with("too old resource version: 1 ("), "{msg}");
    assert!(
        next_event(&mut r).await.is_none(),
        "the stream ends after the ERROR"
    );
}

#[tokio::test]
async fn pagination_with_limit_and_continue() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    for n in ["p1", "p2", "p3"] {
        jobs.create(&PostParams::default(), &sh_job(n, "true"))
            .await
            .unwrap();
    }
    let first = jobs.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.metadata.remaining_item_count, Some(1));
    let token = first.metadata.continue_.clone().unwrap();
    let second = jobs
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|j| j.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["p3"]
    );
    assert_eq!(second.metadata.continue_, None);
    let (code, _, body) = raw(
        &env.handle,
        "GET",
        "/apis/batch/v1/namespaces/default/jobs",
        None,
    )
    .await;
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["kind"], "JobList");
    assert_eq!(v["apiVersion"], "batch/v1");
    assert!(
        v["items"][0].get("kind").is_none(),
        "list items carry no kind, as from the real server"
    );
}

#[tokio::test]
async fn network_policies_are_stored_validated_listed_and_deleted() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let env = start(Config::default()).await;
    let policies: Api<NetworkPolicy> = Api::namespaced(env.client.clone(), "d");
    let policy = |name: &str, cidr: &str| -> NetworkPolicy {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"team": "soc"}},
            "spec": {
                "podSelector": {"matchLabels": {"job-name": name}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"port": 443}]}]
            }
        }))
        .unwrap()
    };
    let bad = api_err(
        policies
            .create(&PostParams::default(), &policy("p", "203.0.113.7"))
            .await
            .unwrap_err(),
    );
    assert_eq!(bad.code, 422);
    assert_eq!(
        bad.message,
        "NetworkPolicy.networking.k8s.io \"p\" is invalid: spec.egress[0].to[0].ipBlock.cidr: Invalid value: \"203.0.113.7\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
    );
    let created = policies
        .create(&PostParams::default(), &policy("p", "203.0.113.7/32"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let spec = created.spec.unwrap();
    // Defaulted as the API server does.
    assert_eq!(
        spec.egress.unwrap()[0].ports.as_ref().unwrap()[0]
            .protocol
            .as_deref(),
        Some("TCP")
    );
    let again = api_err(
        policies
            .create(&PostParams::default(), &policy("p", "203.0.113.7/32"))
            .await
            .unwrap_err(),
    );
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    let listed = policies
        .list(&ListParams::default().labels("team=soc"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        policies.get("p").await.unwrap().metadata.name.as_deref(),
        Some("p")
    );
    policies
        .delete("p", &DeleteParams::default())
        .await
        .unwrap();
    let gone = api_err(policies.get("p").await.unwrap_err());
    assert_eq!(
        (gone.code, gone.message.as_str()),
        (404, "networkpolicies.networking.k8s.io \"p\" not found")
    );
    let stats = env.handle.stats();
    assert_eq!(stats.requests.get("create networkpolicies"), Some(&3));
    assert_eq!(stats.requests.get("delete networkpolicies"), Some(&1));
    // kube's discovery finds the group.
    let d = kube::Discovery::new(env.client.clone())
        .run()
        .await
        .unwrap();
    assert!(
        d.get("networking.k8s.io")
            .expect("group networking.k8s.io discovered")
            .recommended_resources()
            .iter()
            .any(|(r, _)| r.kind == "NetworkPolicy")
    );
}
