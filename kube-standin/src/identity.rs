//! Who the container's process runs as: `runAsUser`, `runAsGroup`, `fsGroup` and
//! `supplementalGroups` from the pod and container security contexts (the container's win),
//! the image's user otherwise, and the `runAsNonRoot` check the kubelet makes.

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// A process identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user id.
    pub uid: i64,
    /// The primary group id.
    pub gid: i64,
    /// Supplementary groups (`fsGroup` first, then `supplementalGroups`).
    pub groups: Vec<i64>,
}

/// Resolves the identity, or the `CreateContainerConfigError` message the kubelet gives.
pub fn resolve(
    pod_name: &str,
    spec: &PodSpec,
    c: &Container,
    image_user: Option<i64>,
) -> Result<Identity, String> {
    let psc = spec.security_context.clone().unwrap_or_default();
    let csc = c.security_context.clone().unwrap_or_default();
    let explicit = csc.run_as_user.or(psc.run_as_user);
    let uid = explicit.or(image_user).unwrap_or(0);
    if csc.run_as_non_root.or(psc.run_as_non_root) == Some(true) && uid == 0 {
        return Err(if explicit.is_some() {
            format!(
                "container's runAsUser breaks non-root policy (pod: {pod_name:?}, container: {})",
                c.name
            )
        } else {
            format!(
                "container has runAsNonRoot and image will run as root (pod: {pod_name:?}, container: {})",
                c.name
            )
        });
    }
    let gid = csc.run_as_group.or(psc.run_as_group).unwrap_or(0);
    let mut groups: Vec<i64> = psc.fs_group.into_iter().collect();
    groups.extend(psc.supplemental_groups.into_iter().flatten());
    Ok(Identity { uid, gid, groups })
}

impl Identity {
    /// The argv that runs `argv` as this identity: unchanged for root without groups, else
    /// prefixed with `setpriv` (util-linux), which needs the stand-in to run as root.
    pub fn wrap(&self, argv: Vec<String>) -> Vec<String> {
        if self.uid == 0 && self.gid == 0 && self.groups.is_empty() {
            return argv;
        }
        let groups = if self.groups.is_empty() {
            "--clear-groups".to_owned()
        } else {
            let g: Vec<String> = self.groups.iter().map(i64::to_string).collect();
            format!("--groups={}", g.join(","))
        };
        let mut out = vec![
            "setpriv".to_owned(),
            format!("--reuid={}", self.uid),
            format!("--regid={}", self.gid),
            groups,
            "--".to_owned(),
        ];
        out.extend(argv);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSecurityContext, SecurityContext};

    fn spec(psc: PodSecurityContext) -> PodSpec {
        PodSpec {
            security_context: Some(psc),
            ..PodSpec::default()
        }
    }

    #[test]
    fn run_as_non_root_with_a_root_image_is_a_config_error() {
        let c = Container {
            name: "w".into(),
            security_context: Some(SecurityContext {
                run_as_non_root: Some(true),
                ..SecurityContext::default()
            }),
            ..Container::default()
        };
        assert_eq!(
            resolve("d/p", &PodSpec::default(), &c, None).unwrap_err(),
            "container has runAsNonRoot and image will run as root (pod: \"d/p\", container: w)"
        );
        let id = resolve("d/p", &PodSpec::default(), &c, Some(1000)).unwrap();
        assert_eq!(id.uid, 1000);
    }

    #[test]
    fn container_wins_and_fs_group_joins_the_groups() {
        let c = Container {
            name: "w".into(),
            security_context: Some(SecurityContext {
                run_as_user: Some(2000),
                ..SecurityContext::default()
            }),
            ..Container::default()
        };
        let s = spec(PodSecurityContext {
            run_as_user: Some(1000),
            run_as_group: Some(3000),
            fs_group: Some(4000),
            ..PodSecurityContext::default()
        });
        let id = resolve("d/p", &s, &c, None).unwrap();
        assert_eq!(
            id,
            Identity {
                uid: 2000,
                gid: 3000,
                groups: vec![4000]
            }
        );
        assert_eq!(
            id.wrap(vec!["prog".into()]),
            [
                "setpriv",
                "--reuid=2000",
                "--regid=3000",
                "--groups=4000",
                "--",
                "prog"
            ]
        );
        assert_eq!(
            Identity {
                uid: 0,
                gid: 0,
                groups: vec![]
            }
            .wrap(vec!["prog".into()]),
            ["prog"]
        );
    }
}
