//! Two `cortex-runner serve` processes on one job root, as replicas behind one Kubernetes
//! Service sharing the job volume: a folder submitted to both runs once; the second answers
//! 409 with the job's id and its `/wait` returns the folder's final report.

use std::sync::{Arc, Barrier};

use cortex_runner::backend::kubernetes::spec::job_name;
use serde_json::{Value, json};

mod common;
mod service_common;

use service_common::{Server, Setup, TOKEN, report};

const VALIDATE: &str = "ValidateObservable";

fn replica(setup: &Setup) -> Server {
    let token = setup.token_file();
    Server::start(&setup.config, &["--token-file", token.to_str().unwrap()])
}

/// The number of ValidateObservable jobs a replica ran, from its metrics.
fn jobs_run(server: &Server) -> u64 {
    let metrics = server.get("/metrics", None).body;
    metrics
        .lines()
        .find(|l| {
            l.starts_with("cortex_runner_jobs_total{worker=\"ValidateObservable\",backend=\"wasm\",outcome=\"success\"}")
        })
        .map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

#[test]
fn a_folder_submitted_to_two_replicas_at_once_runs_once() {
    let setup = Setup::new("");
    let (a, b) = (Arc::new(replica(&setup)), Arc::new(replica(&setup)));
    for round in 0..5 {
        let (folder, rel) = setup.folder(&format!("both{round}"));
        let id = job_name(&rel);
        let barrier = Arc::new(Barrier::new(2));
        let posts: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|server| {
                let (barrier, rel) = (barrier.clone(), rel.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    server.submit(VALIDATE, &rel)
                })
            })
            .collect();
        let answers: Vec<_> = posts.into_iter().map(|t| t.join().unwrap()).collect();
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        statuses.sort();
        assert_eq!(statuses, [202, 409], "{answers:?}");
        let taken = answers.iter().find(|a| a.status == 409).unwrap().json();
        assert_eq!(taken["error"], "job folder taken");
        assert_eq!(taken["id"], id.as_str());
        assert!(
            taken["detail"]
                .as_str()
                .unwrap()
                .starts_with("the job folder is claimed by replica "),
            "{taken}"
        );
        // Either replica's wait returns the folder's final report.
        for server in [&a, &b] {
            let job = server
                .get(&format!("/v1/jobs/{id}/wait?timeout=30s"), Some(TOKEN))
                .json();
            assert_eq!(job["state"], "done", "{job}");
            assert_eq!(job["success"], true);
            assert_eq!(job["summary"], report(folder.path())["summary"]);
        }
    }
    // Five folders, five runs in all.
    assert_eq!(jobs_run(&a) + jobs_run(&b), 5);
}

#[test]
fn the_second_replica_answers_409_and_its_wait_waits_for_the_report() {
    let setup = Setup::new("");
    let (a, b) = (replica(&setup), replica(&setup));
    // A slow job on the first replica: the second's wait must wait for its end.
    let (folder, rel) = setup.folder("slow");
    let id = job_name(&rel);
    assert_eq!(a.submit("Sleep", &rel).status, 202);
    let taken = b.submit("Sleep", &rel);
    assert_eq!(taken.status, 409);
    assert_eq!(taken.json()["id"], id.as_str());
    // Known on the second replica now; asked again, the same answer.
    assert_eq!(b.submit(VALIDATE, &rel).status, 200);
    let early = b
        .get(&format!("/v1/jobs/{id}/wait?timeout=300ms"), Some(TOKEN))
        .json();
    assert_eq!(early["state"], "running");
    assert_eq!(early["success"], Value::Null);
    let deleted = b.request("DELETE", &format!("/v1/jobs/{id}"), Some(TOKEN), None);
    assert_eq!(deleted.status, 409);
    // Cancelled where it runs; the second replica's wait sees the final report.
    let waiting = std::thread::spawn({
        let path = format!("/v1/jobs/{id}/wait?timeout=30s");
        move || b.get(&path, Some(TOKEN)).json()
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        a.request("DELETE", &format!("/v1/jobs/{id}"), Some(TOKEN), None)
            .status,
        202
    );
    let job = waiting.join().unwrap();
    assert_eq!(job["state"], "done");
    assert_eq!(job["success"], false);
    assert_eq!(job["error_message"], "cancelled: deleted through the API");
    assert_eq!(job["error_message"], report(folder.path())["errorMessage"]);
    assert_eq!(job["job_folder"], json!(rel));
}
