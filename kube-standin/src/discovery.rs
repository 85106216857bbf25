//! `/version` and the discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/batch/v1`,
//! `/apis/networking.k8s.io/v1`): only the resources and verbs the stand-in serves, in the real
//! shapes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ServerAddressByClientCIDR,
};
use k8s_openapi::apimachinery::pkg::version::Info;

/// The Kubernetes version the stand-in claims (the API it models).
pub const MINOR: &str = "33";

/// `GET /version`.
pub fn version() -> Info {
    Info {
        build_date: "2025-04-23T00:00:00Z".to_owned(),
        compiler: "gc".to_owned(),
        emulation_major: Some("1".to_owned()),
        emulation_minor: Some(MINOR.to_owned()),
        git_commit: "0000000000000000000000000000000000000000".to_owned(),
        git_tree_state: "clean".to_owned(),
        git_version: format!("v1.{MINOR}.0-kube-standin"),
        go_version: "go1.24.2".to_owned(),
        major: "1".to_owned(),
        min_compatibility_major: Some("1".to_owned()),
        min_compatibility_minor: Some("32".to_owned()),
        minor: MINOR.to_owned(),
        platform: format!("{}/{}", std::env::consts::OS, arch()),
    }
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `GET /api`.
pub fn core_versions(server_address: &str) -> APIVersions {
    APIVersions {
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".to_owned(),
            server_address: server_address.to_owned(),
        }],
        versions: vec!["v1".to_owned()],
    }
}

fn batch_v1() -> GroupVersionForDiscovery {
    GroupVersionForDiscovery {
        group_version: "batch/v1".to_owned(),
        version: "v1".to_owned(),
    }
}

fn networking_v1() -> GroupVersionForDiscovery {
    GroupVersionForDiscovery {
        group_version: "networking.k8s.io/v1".to_owned(),
        version: "v1".to_owned(),
    }
}

/// `GET /apis`.
pub fn groups() -> APIGroupList {
    APIGroupList {
        groups: vec![
            APIGroup {
                name: "batch".to_owned(),
                preferred_version: Some(batch_v1()),
                server_address_by_client_cidrs: None,
                versions: vec![batch_v1()],
            },
            networking_group(),
        ],
    }
}

/// `GET /apis/networking.k8s.io`.
pub fn networking_group() -> APIGroup {
    APIGroup {
        name: "networking.k8s.io".to_owned(),
        preferred_version: Some(networking_v1()),
        server_address_by_client_cidrs: None,
        versions: vec![networking_v1()],
    }
}

/// `GET /apis/networking.k8s.io/v1`.
pub fn networking_v1_resources() -> APIResourceList {
    APIResourceList {
        group_version: "networking.k8s.io/v1".to_owned(),
        resources: vec![resource(
            "networkpolicies",
            "networkpolicy",
            "NetworkPolicy",
            &["create", "delete", "get", "list", "watch"],
            &["netpol"],
            &[],
        )],
    }
}

/// `GET /apis/batch`.
pub fn batch_group() -> APIGroup {
    groups().groups.remove(0)
}

fn resource(
    name: &str,
    singular: &str,
    kind: &str,
    verbs: &[&str],
    short: &[&str],
    categories: &[&str],
) -> APIResource {
    let list = |v: &[&str]| (!v.is_empty()).then(|| v.iter().map(|s| (*s).to_owned()).collect());
    APIResource {
        categories: list(categories),
        group: None,
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespaced: true,
        short_names: list(short),
        singular_name: singular.to_owned(),
        storage_version_hash: None,
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        version: None,
    }
}

/// `GET /api/v1`.
pub fn core_v1() -> APIResourceList {
    APIResourceList {
        group_version: "v1".to_owned(),
        resources: vec![
            resource(
                "events",
                "event",
                "Event",
                &["get", "list", "watch"],
                &["ev"],
                &[],
            ),
            resource(
                "pods",
                "pod",
                "Pod",
                &["get", "list", "watch"],
                &["po"],
                &["all"],
            ),
            resource("pods/log", "", "Pod", &["get"], &[], &[]),
        ],
    }
}

/// `GET /apis/batch/v1`.
pub fn batch_v1_resources() -> APIResourceList {
    APIResourceList {
        group_version: "batch/v1".to_owned(),
        resources: vec![resource(
            "jobs",
            "job",
            "Job",
            &["create", "delete", "get", "list", "watch"],
            &[],
            &["all"],
        )],
    }
}
