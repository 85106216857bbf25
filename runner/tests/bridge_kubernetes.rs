//! The Cortex bridge to a worker that runs as a Kubernetes Job: `serve` configured for
//! kube-standin (the local API server whose kubelet runs containers as local processes), the
//! exported wrapper run as Cortex's process runner runs it, and the report compared byte for
//! byte with the same analyzer run in the sandbox through another `serve`.

mod bridge_common;
mod common;
mod k8s_common;
mod service_common;

use std::path::{Path, PathBuf};

use bridge_common::{cortex_process_runner, runner, stderr};
use k8s_common::{VALIDATE_IMAGE, cluster, folder, jobs_in, no_jobs_left};
use service_common::Server;

/// Exports the workers of the service at `server` into `dir`; the analyzers directory.
fn export(server: &Server, dir: &Path) -> PathBuf {
    let url = format!("http://{}", server.addr);
    let output = runner(&["catalog", "export", dir.to_str().unwrap(), "--server", &url]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    dir.canonicalize().unwrap().join("analyzers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_routed_to_kubernetes_runs_as_a_job_through_the_bridge() {
    let c = cluster().await;
    let wasm = c.config("wasm", &[("ValidateObservable", "", "")], "");
    let kube = c.config("kube", &[("ValidateObservable", VALIDATE_IMAGE, "")], "");
    let jobs = c.jobs();
    let scratch = c.dir.path().to_path_buf();
    // The service processes and Cortex's process runner block; the stand-in runs on this
    // runtime meanwhile.
    tokio::task::spawn_blocking(move || {
        let wasm_server = Server::start(&wasm, &[]);
        let kube_server = Server::start(&kube, &[]);
        let in_sandbox = export(&wasm_server, &scratch.join("export-wasm"));
        let as_job = export(&kube_server, &scratch.join("export-kube"));
        for data in ["8.8.8.8", "999.1.1.1"] {
            let a = folder(&jobs, "bridgewasm", data);
            let b = folder(&jobs, "bridgekube", data);
            let ran = cortex_process_runner(&in_sandbox, "ValidateObservable", a.path());
            assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
            let ran = cortex_process_runner(&as_job, "ValidateObservable", b.path());
            assert_eq!(
                ran.status.code(),
                Some(0),
                "{}\n{}",
                stderr(&ran),
                kube_server.log()
            );
            assert_eq!(
                std::fs::read(a.output_dir().join("output.json")).unwrap(),
                std::fs::read(b.output_dir().join("output.json")).unwrap(),
                "output.json differs for {data}"
            );
        }
    })
    .await
    .unwrap();
    // The kubernetes service's two jobs ran as Jobs: one create each (the sandbox's none).
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), Some(&2), "{stats:?}");
    no_jobs_left(&c.standin).await;
    assert!(jobs_in(&c.standin).is_empty());
}
