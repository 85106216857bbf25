//! What the real API server does to a Job before storing it: validation (the `Invalid` causes
//! the runner can meet) and defaulting (selector, controller labels, pod template defaults); and
//! the same for a NetworkPolicy (name, CIDRs, ports and protocols; `policyTypes` defaulted).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::status::{ApiError, FieldError, FieldErrorKind};
use crate::store::{Res, new_uid};

/// Five random characters from the alphabet the API server uses for `generateName`.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether `s` is a DNS-1123 label (at most 63 characters).
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Resets what a client may not set, fixes the namespace and name.
pub fn prepare_meta(meta: &mut ObjectMeta, namespace: &str) -> Result<(), ApiError> {
    match &meta.namespace {
        Some(ns) if !ns.is_empty() && ns != namespace => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        _ => meta.namespace = Some(namespace.to_owned()),
    }
    if meta.name.as_deref().unwrap_or("").is_empty()
        && let Some(g) = meta.generate_name.as_deref().filter(|g| !g.is_empty())
    {
        meta.name = Some(format!("{g}{}", random_suffix()));
    }
    meta.uid = None;
    meta.resource_version = None;
    meta.creation_timestamp = None;
    meta.deletion_timestamp = None;
    meta.generation = Some(1);
    Ok(())
}

fn req(field: &str, detail: &str) -> FieldError {
    FieldError {
        kind: FieldErrorKind::Required,
        field: field.to_owned(),
        value: None,
        detail: detail.to_owned(),
    }
}

/// Validates and defaults a Job about to be created in `namespace`.
pub fn admit_job(job: &mut Job, namespace: &str) -> Result<(), ApiError> {
    prepare_meta(&mut job.metadata, namespace)?;
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push(req("metadata.name", "name or generateName is required"));
    } else if !is_dns_label(&name) {
        errs.push(FieldError {
            kind: FieldErrorKind::Invalid,
            field: "metadata.name".to_owned(),
            value: Some(name.clone()),
            detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character and be at most 63 characters".to_owned(),
        });
    }
    let spec = job.spec.get_or_insert_with(Default::default);
    let pod = spec.template.spec.get_or_insert_with(PodSpec::default);
    // The API server defaults an empty restartPolicy to Always, which Jobs then reject.
    let restart = pod
        .restart_policy
        .get_or_insert_with(|| "Always".to_owned())
        .clone();
    if restart != "Never" && restart != "OnFailure" {
        errs.push(FieldError {
            kind: FieldErrorKind::NotSupported,
            field: "spec.template.spec.restartPolicy".to_owned(),
            value: Some(restart),
            detail: "supported values: \"OnFailure\", \"Never\"".to_owned(),
        });
    }
    if pod.containers.is_empty() {
        errs.push(req("spec.template.spec.containers", ""));
    }
    for (i, c) in pod.containers.iter().enumerate() {
        if c.name.is_empty() {
            errs.push(req(&format!("spec.template.spec.containers[{i}].name"), ""));
        }
        if c.image.as_deref().unwrap_or("").is_empty() {
            errs.push(req(
                &format!("spec.template.spec.containers[{i}].image"),
                "",
            ));
        }
    }
    if let Some(d) = spec.active_deadline_seconds
        && d <= 0
    {
        errs.push(FieldError {
            kind: FieldErrorKind::Invalid,
            field: "spec.activeDeadlineSeconds".to_owned(),
            value: Some(d.to_string()),
            detail: "must be greater than or equal to 1".to_owned(),
        });
    }
    if let Some(b) = spec.backoff_limit
        && b < 0
    {
        errs.push(FieldError {
            kind: FieldErrorKind::Invalid,
            field: "spec.backoffLimit".to_owned(),
            value: Some(b.to_string()),
            detail: "must be greater than or equal to 0".to_owned(),
        });
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(Res::Jobs, &name, errs));
    }

    // Defaults, as the API server applies them to batch/v1 Jobs.
    let uid = new_uid();
    job.metadata.uid = Some(uid.clone());
    spec.backoff_limit.get_or_insert(6);
    spec.completions.get_or_insert(1);
    spec.parallelism.get_or_insert(1);
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".to_owned());
    spec.suspend.get_or_insert(false);
    spec.pod_replacement_policy
        .get_or_insert_with(|| "TerminatingOrFailed".to_owned());
    spec.manual_selector = None;
    spec.selector = Some(LabelSelector {
        match_labels: Some(BTreeMap::from([(
            "batch.kubernetes.io/controller-uid".to_owned(),
            uid.clone(),
        )])),
        match_expressions: None,
    });
    let template_meta = spec.template.metadata.get_or_insert_with(Default::default);
    let labels = template_meta.labels.get_or_insert_with(Default::default);
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", name.as_str()),
        ("controller-uid", uid.as_str()),
        ("job-name", name.as_str()),
    ] {
        labels.insert(k.to_owned(), v.to_owned());
    }
    if job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
        job.metadata.labels = Some(labels.clone());
    }
    default_pod_spec(pod);
    job.status = None;
    Ok(())
}

/// Whether `s` is a CIDR as the API server parses it (`address/prefix`, prefix within the
/// address's length).
fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

/// Validates and defaults a NetworkPolicy about to be created in `namespace`: a DNS-1123
/// subdomain name, valid `ipBlock` CIDRs, ports 1-65535 and TCP, UDP or SCTP; `policyTypes`
/// defaults to `Ingress`, plus `Egress` when the policy has egress rules.
pub fn admit_network_policy(policy: &mut NetworkPolicy, namespace: &str) -> Result<(), ApiError> {
    prepare_meta(&mut policy.metadata, namespace)?;
    let name = policy.metadata.name.clone().unwrap_or_default();
    let mut errs = Vec::new();
    let invalid = |field: String, value: String, detail: &str| FieldError {
        kind: FieldErrorKind::Invalid,
        field,
        value: Some(value),
        detail: detail.to_owned(),
    };
    if name.is_empty() {
        errs.push(req("metadata.name", "name or generateName is required"));
    } else if name.len() > 253 || !name.split('.').all(is_dns_label) {
        errs.push(invalid(
            "metadata.name".to_owned(),
            name.clone(),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ));
    }
    let spec = policy.spec.get_or_insert_with(Default::default);
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            if let Some(block) = &peer.ip_block
                && !is_cidr(&block.cidr)
            {
                errs.push(invalid(
                    format!("spec.egress[{i}].to[{j}].ipBlock.cidr"),
                    block.cidr.clone(),
                    "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ));
            }
        }
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
            if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
                errs.push(FieldError {
                    kind: FieldErrorKind::NotSupported,
                    field: format!("spec.egress[{i}].ports[{j}].protocol"),
                    value: Some(protocol),
                    detail: "supported values: \"SCTP\", \"TCP\", \"UDP\"".to_owned(),
                });
            }
            if let Some(IntOrString::Int(n)) = port.port
                && !(1..=65535).contains(&n)
            {
                errs.push(invalid(
                    format!("spec.egress[{i}].ports[{j}].port"),
                    n.to_string(),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(Res::NetworkPolicies, &name, errs));
    }
    if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
        let mut types = vec!["Ingress".to_owned()];
        if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
            types.push("Egress".to_owned());
        }
        spec.policy_types = Some(types);
    }
    for rule in spec.egress.iter_mut().flatten() {
        for port in rule.ports.iter_mut().flatten() {
            port.protocol.get_or_insert_with(|| "TCP".to_owned());
        }
    }
    Ok(())
}

/// The defaults the API server fills in a pod spec.
pub fn default_pod_spec(pod: &mut PodSpec) {
    pod.dns_policy
        .get_or_insert_with(|| "ClusterFirst".to_owned());
    pod.scheduler_name
        .get_or_insert_with(|| "default-scheduler".to_owned());
    pod.security_context.get_or_insert_with(Default::default);
    pod.termination_grace_period_seconds.get_or_insert(30);
    for c in &mut pod.containers {
        c.termination_message_path
            .get_or_insert_with(|| "/dev/termination-log".to_owned());
        c.termination_message_policy
            .get_or_insert_with(|| "File".to_owned());
        let image = c.image.clone().unwrap_or_default();
        let tag = image.rsplit('/').next().unwrap_or("");
        let latest = !tag.contains(':') || tag.ends_with(":latest");
        c.image_pull_policy
            .get_or_insert_with(|| if latest { "Always" } else { "IfNotPresent" }.to_owned());
        c.resources.get_or_insert_with(Default::default);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Container;

    fn job(name: &str, restart: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::batch::v1::JobSpec {
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        restart_policy: restart.map(str::to_owned),
                        containers: vec![Container {
                            name: "c".to_owned(),
                            image: Some("img:1".to_owned()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn restart_policy_always_is_invalid_with_the_real_message() {
        let e = admit_job(&mut job("a", None), "default").unwrap_err();
        assert_eq!(e.code(), 422);
        assert_eq!(
            e.status.message.as_deref(),
            Some(
                "Job.batch \"a\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            )
        );
        let cause = &e.status.details.as_ref().unwrap().causes.as_ref().unwrap()[0];
        assert_eq!(cause.reason.as_deref(), Some("FieldValueNotSupported"));
        assert_eq!(
            cause.field.as_deref(),
            Some("spec.template.spec.restartPolicy")
        );
    }

    #[test]
    fn defaults_selector_and_labels() {
        let mut j = job("a", Some("Never"));
        admit_job(&mut j, "ns").unwrap();
        let uid = j.metadata.uid.clone().unwrap();
        let spec = j.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(6));
        let labels = spec.template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels["controller-uid"], uid);
        assert_eq!(labels["job-name"], "a");
        assert_eq!(
            j.metadata.labels.unwrap()["batch.kubernetes.io/job-name"],
            "a"
        );
        assert_eq!(j.metadata.namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn a_network_policy_with_a_bad_cidr_is_invalid_and_a_good_one_defaulted() {
        use k8s_openapi::api::networking::v1::{
            IPBlock, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
            NetworkPolicySpec,
        };
        let policy = |cidr: &str| NetworkPolicy {
            metadata: ObjectMeta {
                name: Some("p".to_owned()),
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: cidr.to_owned(),
                            except: None,
                        }),
                        ..Default::default()
                    }]),
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::Int(443)),
                        ..Default::default()
                    }]),
                }]),
                ..Default::default()
            }),
        };
        let e = admit_network_policy(&mut policy("10.0.0.1/33"), "d").unwrap_err();
        assert_eq!(
            e.status.message.as_deref(),
            Some(
                "NetworkPolicy.networking.k8s.io \"p\" is invalid: spec.egress[0].to[0].ipBlock.cidr: Invalid value: \"10.0.0.1/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
            )
        );
        let mut good = policy("2001:db8::1/128");
        admit_network_policy(&mut good, "d").unwrap();
        let spec = good.spec.unwrap();
        assert_eq!(
            spec.policy_types,
            Some(vec!["Ingress".to_owned(), "Egress".to_owned()])
        );
        assert_eq!(
            spec.egress.unwrap()[0].ports.as_ref().unwrap()[0]
                .protocol
                .as_deref(),
            Some("TCP")
        );
        assert_eq!(good.metadata.namespace.as_deref(), Some("d"));
    }

    #[test]
    fn name_longer_than_63_is_invalid() {
        let e = admit_job(&mut job(&"a".repeat(64), Some("Never")), "d").unwrap_err();
        assert_eq!(e.code(), 422);
        assert!(
            e.status
                .message
                .unwrap()
                .contains("metadata.name: Invalid value")
        );
    }
}
