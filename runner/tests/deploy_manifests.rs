//! `deploy/kustomize`: both overlays render with the real kustomize (`kubectl kustomize`), every
//! object passes `kubernetes-validate` for Kubernetes 1.33 and `checkov` finds nothing but the
//! exceptions `deploy/README.md` lists; and the pieces agree with each other: the Role is exactly
//! what the backend needs, the runner's config names the volume, paths, namespace and group the
//! pod really has, the sidecar's container is the standalone one, and the network policies
//! isolate the Job pods without catching the runner.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const INSTALL: &str = "python3 -m pip install -r requirements-test.txt (as .ci/run does)";

/// The label of the Job pods the runner creates (the Kubernetes backend's selector).
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cortex-runner");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a tool; one that is not installed fails the test with the install command.
fn tool(program: &str, args: &[&str]) -> Output {
    match Command::new(program).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` is not installed: run `{INSTALL}`")
        }
        Err(e) => panic!("running {program}: {e}"),
    }
}

/// An overlay rendered by kustomize: the YAML text and its objects.
struct Rendered {
    yaml: String,
    objects: Vec<Value>,
}

impl Rendered {
    /// `kubectl kustomize deploy/kustomize/overlays/<overlay>`.
    fn overlay(overlay: &str) -> Rendered {
        let dir = repo().join("deploy/kustomize/overlays").join(overlay);
        let out = tool("kubectl", &["kustomize", dir.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "kubectl kustomize {overlay}: {stderr}"
        );
        let yaml = String::from_utf8(out.stdout).unwrap();
        let objects = serde_yaml_ng::Deserializer::from_str(&yaml)
            .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
            .collect();
        Rendered { yaml, objects }
    }

    /// The one object of this kind and name.
    fn get(&self, kind: &str, name: &str) -> &Value {
        let found: Vec<&Value> = self
            .objects
            .iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{kind}/{name} in {:#?}", self.names());
        found[0]
    }

    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// `Kind/name` of every object.
    fn names(&self) -> BTreeSet<String> {
        self.objects
            .iter()
            .map(|o| format!("{}/{}", str(&o["kind"]), str(&o["metadata"]["name"])))
            .collect()
    }

    /// The ConfigMap generated from base/config.toml (its name has kustomize's hash suffix).
    fn runner_config(&self) -> (String, toml::Table) {
        let maps: Vec<&Value> = self
            .of_kind("ConfigMap")
            .into_iter()
            .filter(|m| str(&m["metadata"]["name"]).starts_with("cortex-runner-config-"))
            .collect();
        assert_eq!(maps.len(), 1, "{:#?}", self.names());
        let text = str(&maps[0]["data"]["config.toml"]);
        let name = str(&maps[0]["metadata"]["name"]).to_string();
        (name, text.parse().unwrap())
    }
}

fn str(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v}"))
}

/// The pod spec that runs the runner and the runner's container in it: the standalone
/// Deployment's container, or the sidecar (an init container with `restartPolicy: Always`) in
/// Cortex's Deployment.
fn runner_pod(r: &Rendered, deployment: &str) -> (Value, Value) {
    let pod = r.get("Deployment", deployment)["spec"]["template"].clone();
    let all = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .chain(pod["spec"]["initContainers"].as_array())
        .flatten();
    let runner: Vec<&Value> = all.filter(|c| c["name"] == "cortex-runner").collect();
    assert_eq!(runner.len(), 1, "{pod:#}");
    let container = runner[0].clone();
    (pod, container)
}

/// The volume a container mounts at `path`, by its mount.
fn volume_at<'a>(pod: &'a Value, container: &Value, path: &str) -> &'a Value {
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == path)
        .unwrap_or_else(|| panic!("no volume mounted at {path} in {container:#}"));
    pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("volume {} of {path} is not in the pod", mount["name"]))
}

/// The configured value at `section.key` of the runner's config.toml.
fn key<'a>(config: &'a toml::Table, section: &str, key: &str) -> &'a toml::Value {
    config[section]
        .get(key)
        .unwrap_or_else(|| panic!("config.toml has no {section}.{key}"))
}

fn toml_str<'a>(config: &'a toml::Table, section: &str, name: &str) -> &'a str {
    key(config, section, name).as_str().unwrap()
}

/// `kubernetes-validate -k 1.33.0 --strict` accepts every object of the overlay.
fn validate(r: &Rendered, overlay: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{overlay}.yaml"));
    std::fs::write(&file, &r.yaml).unwrap();
    let out = tool(
        "kubernetes-validate",
        &["-k", "1.33.0", "--strict", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "kubernetes-validate rejected the {overlay} overlay:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // One "passed" line per object: none was skipped as unknown.
    let passed = String::from_utf8_lossy(&out.stdout)
        .matches(" passed for resource ")
        .count()
        + String::from_utf8_lossy(&out.stderr)
            .matches(" passed for resource ")
            .count();
    assert_eq!(passed, r.objects.len(), "{overlay}: {:#?}", r.names());
}

/// The checkov exceptions `deploy/README.md` documents for `overlay`: (check id, checkov's
/// resource id) from its table rows `| CKV_... | Kind.namespace.name | overlays | reason |`.
fn documented_exceptions(overlay: &str) -> BTreeSet<(String, String)> {
    let readme = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `CKV"))
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .collect();
            let overlays: Vec<&str> = cells[3].split(", ").collect();
            overlays
                .contains(&overlay)
                .then(|| (cells[1].to_string(), cells[2].to_string()))
        })
        .collect()
}

/// checkov over the rendered overlay: no failed check, and the skipped ones (each with its reason
/// in a `checkov.io/skip` annotation) are exactly those `deploy/README.md` lists.
fn scan(r: &Rendered, overlay: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{overlay}.yaml"));
    std::fs::write(&file, &r.yaml).unwrap();
    // --skip-download: no call to the vendor's platform (none is reachable from CI).
    let out = tool(
        "checkov",
        &[
            "-f",
            file.to_str().unwrap(),
            "--framework",
            "kubernetes",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = &report["results"];
    let failed: Vec<String> = results["failed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} on {}", c["check_id"], c["check_name"], c["resource"]))
        .collect();
    assert_eq!(
        failed,
        Vec::<String>::new(),
        "checkov on the {overlay} overlay"
    );
    assert_eq!(results["parsing_errors"], json!([]));
    assert!(out.status.success(), "{report:#}");
    let skipped: BTreeSet<(String, String)> = results["skipped_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let reason = str(&c["check_result"]["suppress_comment"]);
            assert!(reason.len() > 20, "a skip without its reason: {c:#}");
            (
                str(&c["check_id"]).to_string(),
                str(&c["resource"]).to_string(),
            )
        })
        .collect();
    assert_eq!(skipped, documented_exceptions(overlay), "{overlay}");
    // checkov checked every object that carries a security setting: one it could not parse
    // would pass silently.
    let checked: BTreeSet<&str> = ["passed_checks", "skipped_checks"]
        .iter()
        .flat_map(|list| results[list].as_array().unwrap())
        .map(|c| str(&c["resource"]))
        .collect();
    for kind in ["Deployment", "Role", "RoleBinding", "ServiceAccount"] {
        for o in r.of_kind(kind) {
            let id = format!("{kind}.cortex.{}", str(&o["metadata"]["name"]));
            assert!(
                checked.contains(id.as_str()),
                "checkov did not check {id}: {checked:?}"
            );
        }
    }
    assert!(
        report["summary"]["passed"].as_u64().unwrap() > 90,
        "{report:#}"
    );
}

#[test]
fn the_standalone_overlay_renders_validates_and_scans_clean() {
    let r = Rendered::overlay("standalone");
    let (config, _) = r.runner_config();
    assert_eq!(
        r.names(),
        BTreeSet::from(
            [
                format!("ConfigMap/{config}").as_str(),
                "Deployment/cortex-runner",
                "NetworkPolicy/cortex-runner",
                "NetworkPolicy/cortex-runner-jobs",
                "PersistentVolumeClaim/cortex-jobs",
                "Role/cortex-runner",
                "RoleBinding/cortex-runner",
                "Service/cortex-runner",
                "ServiceAccount/cortex-runner",
            ]
            .map(String::from)
        )
    );
    validate(&r, "standalone");
    scan(&r, "standalone");
}

#[test]
fn the_sidecar_overlay_renders_validates_and_scans_clean() {
    let r = Rendered::overlay("sidecar");
    let (config, _) = r.runner_config();
    // No runner Deployment, Service or service NetworkPolicy: the runner is in Cortex's pod.
    assert_eq!(
        r.names(),
        BTreeSet::from(
            [
                format!("ConfigMap/{config}").as_str(),
                "Deployment/cortex",
                "NetworkPolicy/cortex",
                "NetworkPolicy/cortex-runner-jobs",
                "PersistentVolumeClaim/cortex-jobs",
                "Role/cortex-runner",
                "RoleBinding/cortex-runner",
                "ServiceAccount/cortex-runner",
            ]
            .map(String::from)
        )
    );
    validate(&r, "sidecar");
    scan(&r, "sidecar");
}

#[test]
fn the_role_grants_exactly_what_the_backend_needs_in_its_namespace() {
    for overlay in ["standalone", "sidecar"] {
        let r = Rendered::overlay(overlay);
        let role = r.get("Role", "cortex-runner");
        assert_eq!(
            role["rules"],
            json!([
                {"apiGroups": ["batch"], "resources": ["jobs"],
                 "verbs": ["create", "get", "list", "watch", "delete"]},
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch"]},
                {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"],
                 "verbs": ["create", "delete"]},
            ]),
            "{overlay}"
        );
        let binding = r.get("RoleBinding", "cortex-runner");
        assert_eq!(
            (&binding["roleRef"], &binding["subjects"]),
            (
                &json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cortex-runner"}),
                &json!([{"kind": "ServiceAccount", "name": "cortex-runner", "namespace": "cortex"}])
            ),
            "{overlay}"
        );
        assert!(r.of_kind("ClusterRole").is_empty() && r.of_kind("ClusterRoleBinding").is_empty());
        // Every object lives in the namespace the runner creates its Jobs in.
        let (_, config) = r.runner_config();
        let namespace = toml_str(&config, "kubernetes", "namespace");
        for o in &r.objects {
            assert_eq!(o["metadata"]["namespace"], namespace, "{overlay}: {o:#}");
        }
        // The account's token is mounted nowhere by default; the runner's pod uses this account.
        assert_eq!(
            r.get("ServiceAccount", "cortex-runner")["automountServiceAccountToken"],
            false
        );
    }
}

/// What both overlays share: the runner's config and its pod agree on every path and name.
fn assert_config_matches_pod(r: &Rendered, deployment: &str) {
    let (config_map, config) = r.runner_config();
    let (pod, container) = runner_pod(r, deployment);
    let spec = &pod["spec"];

    // The config file: the ConfigMap at /etc/cortex-runner, passed with --config.
    assert_eq!(
        volume_at(&pod, &container, "/etc/cortex-runner")["configMap"]["name"],
        config_map.as_str()
    );
    assert_eq!(
        container["args"],
        json!([
            "serve",
            "--config",
            "/etc/cortex-runner/config.toml",
            "--log-format",
            "json"
        ])
    );

    // The job volume: the claim `kubernetes.pvc`, ReadWriteMany, mounted at jobs.root.
    let root = toml_str(&config, "jobs", "root");
    let pvc = toml_str(&config, "kubernetes", "pvc");
    assert_eq!(
        volume_at(&pod, &container, root)["persistentVolumeClaim"]["claimName"],
        pvc
    );
    assert_eq!(
        r.get("PersistentVolumeClaim", pvc)["spec"]["accessModes"],
        json!(["ReadWriteMany"])
    );

    // The token: the Secret's key `token` is the file service.token_file.
    let token = Path::new(toml_str(&config, "service", "token_file"));
    assert_eq!(token.file_name().unwrap(), "token");
    let secret = volume_at(&pod, &container, token.parent().unwrap().to_str().unwrap());
    assert_eq!(secret["secret"]["secretName"], "cortex-runner-token");

    // The module cache is on a writable emptyDir: the root file system is read-only.
    let cache = toml_str(&config, "wasm", "cache_dir");
    assert!(
        cache.starts_with("/var/cache/cortex-runner/"),
        "{cache} is not on the cache emptyDir"
    );
    assert!(volume_at(&pod, &container, "/var/cache/cortex-runner")["emptyDir"].is_object());
    assert!(volume_at(&pod, &container, "/tmp")["emptyDir"].is_object());
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    // In-cluster credentials: the account the Role is bound to, its token in this container only.
    assert_eq!(
        key(&config, "kubernetes", "in_cluster").as_bool(),
        Some(true)
    );
    assert_eq!(spec["serviceAccountName"], "cortex-runner");
    assert_eq!(spec["automountServiceAccountToken"], false);
    let api = volume_at(
        &pod,
        &container,
        "/var/run/secrets/kubernetes.io/serviceaccount",
    );
    assert_eq!(
        api["projected"]["sources"][0]["serviceAccountToken"]["path"],
        "token"
    );
    let init = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for other in spec["containers"].as_array().unwrap().iter().chain(&init) {
        if other["name"] != "cortex-runner" {
            let mounts = other["volumeMounts"].to_string();
            assert!(!mounts.contains(str(&api_volume_name(&pod))), "{other:#}");
        }
    }

    // The job folder rule: the runner is in kubernetes.fs_group (its pod's fsGroup).
    assert_eq!(
        spec["securityContext"]["fsGroup"],
        json!(key(&config, "kubernetes", "fs_group").as_integer().unwrap())
    );
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);

    // The service: listen's port is the container's port the probes use.
    let listen = toml_str(&config, "service", "listen");
    assert_eq!(listen, "0.0.0.0:9980", "the kubelet probes the pod IP");
    assert_eq!(
        container["ports"],
        json!([{"name": "http", "containerPort": 9980, "protocol": "TCP"}])
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["startupProbe"]["httpGet"]["path"], "/healthz");

    // One runner at a time: at start-up it adopts every Job of the runner it finds, so an
    // update must not start the new pod before the old one has stopped.
    assert_eq!(
        r.get("Deployment", deployment)["spec"]["strategy"],
        json!({"type": "Recreate"})
    );

    // The runner's pod is not a Job pod: the deny-all policy of Job pods must not select it.
    assert_ne!(
        pod["metadata"]["labels"][MANAGED_BY.0], MANAGED_BY.1,
        "{pod:#}"
    );
}

/// The name of the projected token volume in the runner's pod.
fn api_volume_name(pod: &Value) -> Value {
    pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["projected"].is_object())
        .unwrap()["name"]
        .clone()
}

#[test]
fn the_standalone_config_matches_its_pod() {
    let r = Rendered::overlay("standalone");
    assert_config_matches_pod(&r, "cortex-runner");
    // The Service reaches the runner's pod on the named port.
    let (pod, _) = runner_pod(&r, "cortex-runner");
    let service = r.get("Service", "cortex-runner");
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v);
    }
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http", "port": 9980, "targetPort": "http", "protocol": "TCP"}])
    );
}

#[test]
fn the_sidecar_is_the_standalone_container_in_cortex_pod_sharing_the_job_volume() {
    let r = Rendered::overlay("sidecar");
    assert_config_matches_pod(&r, "cortex");
    let (pod, sidecar) = runner_pod(&r, "cortex");
    // A native sidecar: started (and ready) before Cortex, stopped after it.
    assert_eq!(sidecar["restartPolicy"], "Always");
    let mut same = sidecar.clone();
    same.as_object_mut().unwrap().remove("restartPolicy");
    let (_, standalone) = runner_pod(&Rendered::overlay("standalone"), "cortex-runner");
    assert_eq!(same, standalone);

    // Cortex's container: the job volume at the same path (Cortex's job.directory) and the token
    // for `cortex-runner submit`; no Kubernetes credentials.
    let (_, config) = r.runner_config();
    let cortex = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cortex")
        .unwrap();
    let root = toml_str(&config, "jobs", "root");
    assert_eq!(
        volume_at(&pod, cortex, root)["persistentVolumeClaim"]["claimName"],
        toml_str(&config, "kubernetes", "pvc")
    );
    assert_eq!(
        volume_at(&pod, cortex, "/run/secrets/cortex-runner")["secret"]["secretName"],
        "cortex-runner-token"
    );
    let mounts: Vec<&str> = cortex["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| str(&m["mountPath"]))
        .collect();
    assert!(
        !mounts.iter().any(|m| m.contains("serviceaccount")),
        "{mounts:?}"
    );
    // One uid for both: Cortex makes job folders 0700.
    assert_eq!(pod["spec"]["securityContext"]["runAsUser"], 10001);

    // After the sidecar has started, `catalog export` writes the worker definitions where
    // Cortex reads them, talking to the sidecar on localhost with the token file.
    let init: Vec<&Value> = pod["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let names: Vec<&str> = init.iter().map(|c| str(&c["name"])).collect();
    assert_eq!(names, ["cortex-runner", "cortex-runner-export"]);
    let export = init[1];
    let workers = "/opt/cortex-runner/workers";
    let port = toml_str(&config, "service", "listen")
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        export["args"],
        json!([
            "catalog",
            "export",
            workers,
            "--server",
            format!("http://127.0.0.1:{port}"),
            "--token-file",
            toml_str(&config, "service", "token_file"),
        ])
    );
    assert_eq!(export["image"], sidecar["image"]);
    let exported = volume_at(&pod, export, workers);
    assert!(exported["emptyDir"].is_object(), "{exported:#}");
    assert_eq!(volume_at(&pod, cortex, workers), exported);
    assert_eq!(
        volume_at(&pod, export, "/run/secrets/cortex-runner")["secret"]["secretName"],
        "cortex-runner-token"
    );

    // Cortex's pod admits its own port only: the runner's 9980 is for localhost.
    let policy = r.get("NetworkPolicy", "cortex");
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{"ports": [{"port": 9001, "protocol": "TCP"}]}])
    );
}

#[test]
fn network_policies_isolate_job_pods_and_admit_only_cortex_to_the_service() {
    for overlay in ["standalone", "sidecar"] {
        let r = Rendered::overlay(overlay);
        // Job pods: no ingress rule, egress to the cluster DNS on port 53 only.
        let jobs = &r.get("NetworkPolicy", "cortex-runner-jobs")["spec"];
        assert_eq!(
            jobs["podSelector"],
            json!({"matchLabels": {MANAGED_BY.0: MANAGED_BY.1}}),
            "{overlay}"
        );
        assert_eq!(jobs["policyTypes"], json!(["Ingress", "Egress"]));
        assert!(jobs.get("ingress").is_none(), "{overlay}: {jobs:#}");
        assert_eq!(
            jobs["egress"],
            json!([{
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                }],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
            }])
        );
        // No pod of ours is selected by it.
        for d in r.of_kind("Deployment") {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(d["spec"]["template"]["metadata"]["labels"].clone())
                    .unwrap();
            assert_ne!(
                labels.get(MANAGED_BY.0).map(String::as_str),
                Some(MANAGED_BY.1)
            );
        }
    }

    // The standalone runner: ingress from Cortex's pods to its port, egress to the API server.
    let r = Rendered::overlay("standalone");
    let (pod, _) = runner_pod(&r, "cortex-runner");
    let policy = &r.get("NetworkPolicy", "cortex-runner")["spec"];
    for (k, v) in policy["podSelector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &pod["metadata"]["labels"][k], v,
            "the policy selects the runner's pod"
        );
    }
    assert_eq!(policy["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        policy["ingress"],
        json!([{
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "cortex"}}}],
            "ports": [{"port": 9980, "protocol": "TCP"}]
        }])
    );
    assert_eq!(
        policy["egress"],
        json!([{
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
        }])
    );
}

#[test]
fn the_readme_yaml_examples_are_valid_objects() {
    let readme = std::fs::read_to_string(repo().join("deploy/README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty());
    let yaml = blocks.join("---\n");
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&yaml)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    validate(&Rendered { yaml, objects }, "readme-examples");
}
