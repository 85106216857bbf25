//! The egress NetworkPolicy of a Job pod whose worker's policy has `[wasm.network]`: the same
//! allowlist the sandbox enforces, turned into what a NetworkPolicy can say.
//!
//! A NetworkPolicy matches addresses, not host names, so each allowed origin's host is resolved
//! when the Job is created ([`resolve`]; pinned addresses from the configuration's
//! `[wasm.network] resolve` first, then the system resolver under [`RESOLVE_TIMEOUT`]) and the
//! pod may open TCP connections to those addresses on the origin's port. IP literals in `allow`
//! and the ranges of `allow_addresses` are taken as given. As in the sandbox, a resolved address
//! that is loopback, private, link-local, the metadata service or otherwise internal is left out
//! unless `allow_addresses` (or a literal origin) names it; a name with nothing left, or that does
//! not resolve in time, fails the job before any Job is created.
//!
//! [`build`] makes the policy: it selects the one Job's pod (the runner's job label), allows DNS
//! to the cluster's DNS pods (`kubernetes.dns_namespace` and `dns_pod_labels`; kube-dns in
//! kube-system by default, like deploy/'s policy for every Job pod) and the addresses above, and is owned by the Job so that the
//! cluster's garbage collector removes it with the Job (the runner deletes it explicitly too).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use wasm_host::net::{IpNet, Pinned, special_address};

use super::spec::{JOB_LABEL, MANAGED_BY, MANAGED_BY_LABEL, WORKER_ANNOTATION};
use crate::config::KubernetesConfig;
use crate::policy::NetworkRules;

/// How long one host name may take to resolve when a Job is created.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Addresses kept per host name (a resolver may answer with many; the policy stays small).
pub const MAX_ADDRESSES_PER_HOST: usize = 32;
/// Annotation listing the allowed origins the policy was made from, for `kubectl describe`.
pub const ALLOW_ANNOTATION: &str = "cortex-runner/allow";

/// Why a worker's allowlist cannot be turned into addresses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EgressError {
    /// The resolver answered with an error or no address.
    #[error(
        "wasm.network.allow: {host} (port {port}) does not resolve ({reason}); the Job's egress NetworkPolicy needs its addresses (pin them with `wasm.network.resolve` in the configuration)"
    )]
    Unresolved {
        /// The host name.
        host: String,
        /// The origin's port.
        port: u16,
        /// The resolver's answer.
        reason: String,
    },
    /// The resolver did not answer in time.
    #[error(
        "wasm.network.allow: resolving {host} (port {port}) took longer than {seconds} s; the Job's egress NetworkPolicy needs its addresses (pin them with `wasm.network.resolve` in the configuration)"
    )]
    Timeout {
        /// The host name.
        host: String,
        /// The origin's port.
        port: u16,
        /// The timeout.
        seconds: u64,
    },
    /// Every address of the name is internal and not named by `allow_addresses`.
    #[error(
        "wasm.network.allow: {host} (port {port}) resolves only to internal addresses ({addresses}) that wasm.network.allow_addresses does not name; the Job's pod would get no egress to it"
    )]
    OnlyInternal {
        /// The host name.
        host: String,
        /// The origin's port.
        port: u16,
        /// Each address with its kind (`10.0.0.1 private`).
        addresses: String,
    },
}

/// Where the pod may connect: addresses by TCP port, and the policy's own ranges (on every
/// allowed port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    /// Resolved, pinned and literal addresses, by port.
    pub by_port: BTreeMap<u16, BTreeSet<IpAddr>>,
    /// `allow_addresses`, as ranges, on every port of `by_port`.
    pub ranges: Vec<IpNet>,
    /// The allowed origins, as written in the policy (for the annotation).
    pub origins: Vec<String>,
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; others unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Resolves `rules`' hosts with the system resolver (see [`resolve_with`]).
pub async fn resolve(
    rules: &NetworkRules,
    pins: &[Pinned],
    timeout: Duration,
) -> Result<Destinations, EgressError> {
    resolve_with(rules, pins, timeout, |host, port| async move {
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(Iterator::collect)
    })
    .await
}

/// The addresses each allowed origin may be reached at: an IP literal as written; a pinned
/// host's pinned addresses (address and port, as the sandbox connects to them); any other name
/// through `lookup`, bounded by `timeout`. Internal addresses are kept only when
/// `allow_addresses` names them (like the sandbox); the first name left with none is the error.
pub async fn resolve_with<F, Fut>(
    rules: &NetworkRules,
    pins: &[Pinned],
    timeout: Duration,
    lookup: F,
) -> Result<Destinations, EgressError>
where
    F: Fn(String, u16) -> Fut,
    Fut: Future<Output = io::Result<Vec<SocketAddr>>>,
{
    let mut out = Destinations {
        ranges: rules.allow_addresses.iter().map(IpNet::trunc).collect(),
        origins: rules.allow.iter().map(ToString::to_string).collect(),
        ..Destinations::default()
    };
    let literal_origins: Vec<IpAddr> = rules
        .allow
        .iter()
        .filter_map(|o| o.host.parse().ok().map(canonical))
        .collect();
    let named = |ip: IpAddr| {
        rules.allow_addresses.iter().any(|net| net.contains(&ip)) || literal_origins.contains(&ip)
    };
    for origin in &rules.allow {
        let (host, port) = (origin.host.clone(), origin.port);
        if let Ok(ip) = host.parse::<IpAddr>() {
            out.by_port.entry(port).or_default().insert(canonical(ip));
            continue;
        }
        let found: Vec<SocketAddr> = match pins.iter().find(|p| p.host == host && p.port == port) {
            Some(pin) => pin.addrs.clone(),
            None => match tokio::time::timeout(timeout, lookup(host.clone(), port)).await {
                Err(_) => {
                    return Err(EgressError::Timeout {
                        host,
                        port,
                        seconds: timeout.as_secs(),
                    });
                }
                Ok(Err(e)) => {
                    return Err(EgressError::Unresolved {
                        host,
                        port,
                        reason: e.to_string(),
                    });
                }
                Ok(Ok(addrs)) if addrs.is_empty() => {
                    return Err(EgressError::Unresolved {
                        host,
                        port,
                        reason: "no address".into(),
                    });
                }
                Ok(Ok(addrs)) => addrs,
            },
        };
        let mut refused = Vec::new();
        let mut kept = 0;
        for addr in found {
            let ip = canonical(addr.ip());
            if let Some(kind) = special_address(ip).filter(|_| !named(ip)) {
                refused.push(format!("{ip} {kind}"));
                continue;
            }
            if kept < MAX_ADDRESSES_PER_HOST {
                out.by_port.entry(addr.port()).or_default().insert(ip);
                kept += 1;
            }
        }
        if kept == 0 && !refused.is_empty() {
            return Err(EgressError::OnlyInternal {
                host,
                port,
                addresses: refused.join(", "),
            });
        }
    }
    Ok(out)
}

/// A TCP port rule entry.
fn tcp(port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_string()),
        end_port: None,
    }
}

/// An address as a one-address `ipBlock` (`/32` or `/128`).
fn host_block(ip: IpAddr) -> NetworkPolicyPeer {
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: format!("{ip}/{bits}"),
            except: None,
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The NetworkPolicy named `name` (the Job's name) in `config.namespace`, selecting the pod of
/// the Job `name` and allowing it DNS (to `config`'s DNS pods) plus `dest`; owned by `owner` when
/// given (the Job as created, with its uid).
pub fn build(
    name: &str,
    config: &KubernetesConfig,
    worker: &str,
    dest: &Destinations,
    owner: Option<&Job>,
) -> NetworkPolicy {
    let selector = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (JOB_LABEL.to_string(), name.to_string()),
    ]);
    // No `to`: port 53 at any address.
    let dns_peer = (!config.dns_namespace.is_empty()).then(|| NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                config.dns_namespace.clone(),
            )])),
            match_expressions: None,
        }),
        pod_selector: (!config.dns_pod_labels.is_empty()).then(|| LabelSelector {
            match_labels: Some(config.dns_pod_labels.clone()),
            match_expressions: None,
        }),
        ip_block: None,
    });
    let dns = NetworkPolicyEgressRule {
        to: dns_peer.map(|peer| vec![peer]),
        ports: Some(
            ["UDP", "TCP"]
                .map(|protocol| NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some(protocol.to_string()),
                    end_port: None,
                })
                .to_vec(),
        ),
    };
    let mut egress = vec![dns];
    for (port, addrs) in &dest.by_port {
        egress.push(NetworkPolicyEgressRule {
            to: Some(addrs.iter().copied().map(host_block).collect()),
            ports: Some(vec![tcp(*port)]),
        });
    }
    if !dest.ranges.is_empty() && !dest.by_port.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            to: Some(
                dest.ranges
                    .iter()
                    .map(|net| NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: net.to_string(),
                            except: None,
                        }),
                        ..NetworkPolicyPeer::default()
                    })
                    .collect(),
            ),
            ports: Some(dest.by_port.keys().copied().map(tcp).collect()),
        });
    }
    let owner_references = owner.and_then(|job| {
        Some(vec![OwnerReference {
            api_version: "batch/v1".to_string(),
            kind: "Job".to_string(),
            name: job.metadata.name.clone()?,
            uid: job.metadata.uid.clone()?,
            // Neither: the policy does not control the Job, and blocking the owner's deletion
            // would need the update permission on jobs/finalizers.
            controller: None,
            block_owner_deletion: None,
        }])
    });
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(config.namespace.clone()),
            labels: Some(selector.clone()),
            annotations: Some(BTreeMap::from([
                (WORKER_ANNOTATION.to_string(), worker.to_string()),
                (ALLOW_ANNOTATION.to_string(), dest.origins.join(", ")),
            ])),
            owner_references,
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Egress".to_string()]),
            egress: Some(egress),
            ingress: None,
        }),
    }
}

#[cfg(test)]
mod tests;
