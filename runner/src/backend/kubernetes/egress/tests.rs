//! resolve_with and build: pins, literals, internal addresses, timeouts, and the exact policy.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use wasm_host::net::Origin;

use super::*;

fn rules(allow: &[&str], allow_addresses: &[&str]) -> NetworkRules {
    NetworkRules {
        allow: allow.iter().map(|o| o.parse::<Origin>().unwrap()).collect(),
        allow_addresses: allow_addresses.iter().map(|a| a.parse().unwrap()).collect(),
        max_tlp: None,
        max_pap: None,
        max_requests: NetworkRules::DEFAULT_MAX_REQUESTS,
        max_response_kib: NetworkRules::DEFAULT_MAX_RESPONSE_KIB,
        request_timeout_s: NetworkRules::DEFAULT_REQUEST_TIMEOUT_S,
    }
}

fn pin(host: &str, port: u16, addrs: &[&str]) -> Pinned {
    Pinned {
        host: host.into(),
        port,
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

/// A resolver that knows `answers` (host → addresses) and fails for any other name.
fn resolver<'a>(
    answers: &'static [(&'static str, &'static [&'static str])],
    calls: &'a AtomicUsize,
) -> impl Fn(String, u16) -> std::future::Ready<io::Result<Vec<SocketAddr>>> + 'a {
    move |host, port| {
        calls.fetch_add(1, Ordering::Relaxed);
        std::future::ready(
            answers
                .iter()
                .find(|(h, _)| *h == host)
                .map(|(_, ips)| {
                    ips.iter()
                        .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
                        .collect()
                })
                .ok_or_else(|| io::Error::other("failed to lookup address information")),
        )
    }
}

#[tokio::test]
async fn pins_literals_and_resolved_names_become_addresses_by_port() {
    let calls = AtomicUsize::new(0);
    let r = rules(
        &[
            "https://api.example.test",
            "http://198.51.100.9:8080",
            "https://cdn.example.test",
            "https://[2001:db8::5]",
        ],
        &["10.20.30.40/16"],
    );
    let dest = resolve_with(
        &r,
        &[pin("api.example.test", 443, &["203.0.113.7:443"])],
        Duration::from_secs(1),
        resolver(
            &[(
                "cdn.example.test",
                &["203.0.113.8", "::ffff:203.0.113.9", "203.0.113.8"],
            )],
            &calls,
        ),
    )
    .await
    .unwrap();
    // The pinned name is not looked up; the literals are not either.
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    let ips =
        |list: &[&str]| -> BTreeSet<IpAddr> { list.iter().map(|i| i.parse().unwrap()).collect() };
    assert_eq!(
        dest.by_port,
        BTreeMap::from([
            (
                443,
                ips(&["203.0.113.7", "203.0.113.8", "203.0.113.9", "2001:db8::5"])
            ),
            (8080, ips(&["198.51.100.9"])),
        ])
    );
    // The range as a network (host bits cleared), as the API server wants a CIDR.
    assert_eq!(dest.ranges, vec!["10.20.0.0/16".parse::<IpNet>().unwrap()]);
}

#[tokio::test]
async fn internal_addresses_are_left_out_unless_named_and_a_name_with_none_left_fails() {
    let calls = AtomicUsize::new(0);
    let lookup = resolver(
        &[
            ("mixed.example.test", &["203.0.113.7", "10.0.0.5"]),
            ("meta.example.test", &["169.254.169.254", "127.0.0.1"]),
        ],
        &calls,
    );
    let dest = resolve_with(
        &rules(&["https://mixed.example.test"], &[]),
        &[],
        Duration::from_secs(1),
        &lookup,
    )
    .await
    .unwrap();
    assert_eq!(
        dest.by_port[&443],
        BTreeSet::from(["203.0.113.7".parse().unwrap()])
    );
    let named = resolve_with(
        &rules(&["https://mixed.example.test"], &["10.0.0.0/8"]),
        &[],
        Duration::from_secs(1),
        &lookup,
    )
    .await
    .unwrap();
    assert_eq!(named.by_port[&443].len(), 2);
    let err = resolve_with(
        &rules(&["https://meta.example.test"], &[]),
        &[],
        Duration::from_secs(1),
        &lookup,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "wasm.network.allow: meta.example.test (port 443) resolves only to internal addresses (169.254.169.254 cloud metadata, 127.0.0.1 loopback) that wasm.network.allow_addresses does not name; the Job's pod would get no egress to it"
    );
    // A pinned internal address is judged the same way.
    let err = resolve_with(
        &rules(&["http://svc.example.test:8080"], &[]),
        &[pin("svc.example.test", 8080, &["127.0.0.1:8080"])],
        Duration::from_secs(1),
        &lookup,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, EgressError::OnlyInternal { .. }), "{err}");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_an_exact_error() {
    let calls = AtomicUsize::new(0);
    let err = resolve_with(
        &rules(&["https://nowhere.example.test"], &[]),
        &[],
        Duration::from_secs(1),
        resolver(&[], &calls),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "wasm.network.allow: nowhere.example.test (port 443) does not resolve (failed to lookup address information); the Job's egress NetworkPolicy needs its addresses (pin them with `wasm.network.resolve` in the configuration)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resolver_that_does_not_answer_times_out() {
    let started = tokio::time::Instant::now();
    let err = resolve_with(
        &rules(&["https://slow.example.test"], &[]),
        &[],
        RESOLVE_TIMEOUT,
        |_, _| std::future::pending::<io::Result<Vec<SocketAddr>>>(),
    )
    .await
    .unwrap_err();
    assert_eq!(started.elapsed(), RESOLVE_TIMEOUT);
    assert_eq!(
        err.to_string(),
        "wasm.network.allow: resolving slow.example.test (port 443) took longer than 5 s; the Job's egress NetworkPolicy needs its addresses (pin them with `wasm.network.resolve` in the configuration)"
    );
}

#[tokio::test]
async fn the_policy_selects_the_jobs_pod_and_allows_dns_and_the_addresses() {
    let r = rules(
        &["https://api.example.test", "http://[2001:db8::5]:8080"],
        &["10.20.0.0/16"],
    );
    let dest = resolve_with(
        &r,
        &[pin("api.example.test", 443, &["203.0.113.7:443"])],
        Duration::from_secs(1),
        |_, _| std::future::ready(Ok(Vec::new())),
    )
    .await
    .unwrap();
    let mut job = Job::default();
    job.metadata.name = Some("cortex-job-x-0123456789ab".into());
    job.metadata.uid = Some("u-1".into());
    let config = KubernetesConfig::default();
    let policy = build("cortex-job-x-0123456789ab", &config, "W", &dest, Some(&job));
    assert_eq!(
        serde_json::to_value(&policy).unwrap(),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "cortex-job-x-0123456789ab",
                "namespace": "cortex",
                "labels": {
                    "app.kubernetes.io/managed-by": "cortex-runner",
                    "cortex-runner/job": "cortex-job-x-0123456789ab"
                },
                "annotations": {
                    "cortex-runner/allow": "https://api.example.test, http://[2001:db8::5]:8080",
                    "cortex-runner/worker": "W"
                },
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "Job",
                    "name": "cortex-job-x-0123456789ab", "uid": "u-1"
                }]
            },
            "spec": {
                "podSelector": {"matchLabels": {
                    "app.kubernetes.io/managed-by": "cortex-runner",
                    "cortex-runner/job": "cortex-job-x-0123456789ab"
                }},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                        }],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
                    },
                    {"to": [{"ipBlock": {"cidr": "203.0.113.7/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
                    {"to": [{"ipBlock": {"cidr": "2001:db8::5/128"}}], "ports": [{"port": 8080, "protocol": "TCP"}]},
                    {
                        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}]
                    }
                ]
            }
        })
    );
    // Before the Job exists (`k8s manifest`), no owner.
    let unowned = build("n", &config, "W", &dest, None);
    assert_eq!(unowned.metadata.owner_references, None);
}

#[test]
fn the_dns_rule_follows_the_configuration() {
    let dest = Destinations::default();
    let dns = |config: &KubernetesConfig| {
        let policy = build("n", config, "W", &dest, None);
        serde_json::to_value(&policy.spec.unwrap().egress.unwrap()[0]).unwrap()
    };
    let ports = json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]);
    let mut config = KubernetesConfig {
        dns_namespace: "dns".into(),
        dns_pod_labels: [("app".to_string(), "coredns".to_string())].into(),
        ..KubernetesConfig::default()
    };
    assert_eq!(
        dns(&config),
        json!({
            "to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}},
                "podSelector": {"matchLabels": {"app": "coredns"}}
            }],
            "ports": ports
        })
    );
    // Every pod of the namespace.
    config.dns_pod_labels.clear();
    assert_eq!(
        dns(&config),
        json!({
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "dns"}}}],
            "ports": ports
        })
    );
    // Port 53 at any address (NodeLocal DNSCache's link-local address, say).
    config.dns_namespace.clear();
    assert_eq!(dns(&config), json!({"ports": ports}));
}
