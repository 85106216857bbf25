//! Server-side printing: `meta.k8s.io/v1` `Table` responses for clients that ask for them
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, as `kubectl get` does), with the
//! columns of the real printers for Jobs, Pods, Events and NetworkPolicies.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use serde::Serialize;
use serde_json::Value;

use crate::store::Res;

/// Whether an `Accept` header asks for a `meta.k8s.io/v1` Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let p: Vec<&str> = part.split(';').map(str::trim).collect();
        p.contains(&"as=Table") && p.contains(&"v=v1") && p.contains(&"g=meta.k8s.io")
    })
}

#[derive(Serialize, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Column {
    name: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
}

#[derive(Serialize)]
struct PartialObjectMetadata {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: ObjectMeta,
}

#[derive(Serialize)]
struct Row {
    cells: Vec<Value>,
    object: PartialObjectMetadata,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    column_definitions: Vec<Column>,
    rows: Vec<Row>,
}

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(
    name: &'static str,
    format: &'static str,
    description: &'static str,
    priority: i32,
) -> Column {
    Column {
        name,
        type_: "string",
        format,
        description,
        priority,
    }
}

fn columns(res: Res) -> Vec<Column> {
    match res {
        Res::Jobs => vec![
            col("Name", "name", NAME_DESC, 0),
            col("Status", "", "Status of the job.", 0),
            col(
                "Completions",
                "",
                "The desired number of successfully finished pods the job should be run with.",
                0,
            ),
            col("Duration", "", "Time required to complete the job.", 0),
            col("Age", "", AGE_DESC, 0),
            col(
                "Containers",
                "",
                "Names of each container in the template.",
                1,
            ),
            col(
                "Images",
                "",
                "Images referenced by each container in the template.",
                1,
            ),
            col(
                "Selector",
                "",
                "Query is a label query over pods that should match the pod count.",
                1,
            ),
        ],
        Res::Pods => vec![
            col("Name", "name", NAME_DESC, 0),
            col(
                "Ready",
                "",
                "The aggregate readiness state of this pod for accepting traffic.",
                0,
            ),
            col(
                "Status",
                "",
                "The aggregate status of the containers in this pod.",
                0,
            ),
            col(
                "Restarts",
                "",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                0,
            ),
            col("Age", "", AGE_DESC, 0),
            col(
                "IP",
                "",
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                1,
            ),
            col(
                "Node",
                "",
                "NodeName is a request to schedule this pod onto a specific node.",
                1,
            ),
        ],
        Res::Events => vec![
            col("Last Seen", "", "Time when this Event was last seen", 0),
            col(
                "Type",
                "",
                "Type of this event (Normal, Warning), new types could be added in the future.",
                0,
            ),
            col(
                "Reason",
                "",
                "This should be a short, machine understandable string that gives the reason for this event being generated.",
                0,
            ),
            col("Object", "", "The object this Event is about.", 0),
            col(
                "Message",
                "",
                "A human-readable description of the status of this operation.",
                0,
            ),
        ],
        Res::NetworkPolicies => vec![
            col("Name", "name", NAME_DESC, 0),
            col(
                "Pod-Selector",
                "",
                "Selects the pods to which this NetworkPolicy object applies.",
                0,
            ),
            col("Age", "", AGE_DESC, 0),
        ],
    }
}

/// kubectl's short human duration (`duration.HumanDuration`).
pub fn human(d: i64) -> String {
    if d < -1 {
        return "<invalid>".to_owned();
    }
    let s = d.max(0);
    let (m, h) = (s / 60, s / 3600);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 192 {
        if h % 24 == 0 {
            format!("{}d", h / 24)
        } else {
            format!("{}d{}h", h / 24, h % 24)
        }
    } else if h < 24 * 365 * 2 {
        format!("{}d", h / 24)
    } else if h < 24 * 365 * 8 {
        format!("{}y{}d", h / (24 * 365), (h / 24) % 365)
    } else {
        format!("{}y", h / (24 * 365))
    }
}

fn since(t: Option<&Time>) -> String {
    match t {
        Some(t) => human((jiff::Timestamp::now() - t.0).get_seconds()),
        None => "<unknown>".to_owned(),
    }
}

fn job_cells(j: &Job) -> Vec<Value> {
    let spec = j.spec.clone().unwrap_or_default();
    let st = j.status.clone().unwrap_or_default();
    let has = |t: &str| {
        st.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == t && c.status == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if j.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let completions = format!(
        "{}/{}",
        st.succeeded.unwrap_or(0),
        spec.completions.unwrap_or(1)
    );
    let duration = match (&st.start_time, &st.completion_time) {
        (None, _) => String::new(),
        (Some(s), None) => since(Some(s)),
        (Some(s), Some(c)) => human((c.0 - s.0).get_seconds()),
    };
    let pod = spec.template.spec.unwrap_or_default();
    let names: Vec<String> = pod.containers.iter().map(|c| c.name.clone()).collect();
    let images: Vec<String> = pod
        .containers
        .iter()
        .map(|c| c.image.clone().unwrap_or_default())
        .collect();
    let selector = spec
        .selector
        .and_then(|s| s.match_labels)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        j.metadata.name.clone().unwrap_or_default().into(),
        status.into(),
        completions.into(),
        duration.into(),
        since(j.metadata.creation_timestamp.as_ref()).into(),
        names.join(",").into(),
        images.join(",").into(),
        selector.into(),
    ]
}

fn pod_cells(p: &Pod) -> Vec<Value> {
    let st = p.status.clone().unwrap_or_default();
    let cs = st.container_statuses.clone().unwrap_or_default();
    let total = p.spec.as_ref().map_or(0, |s| s.containers.len());
    let ready = cs.iter().filter(|c| c.ready).count();
    let mut reason = st.reason.clone().or(st.phase.clone()).unwrap_or_default();
    for c in &cs {
        if let Some(state) = &c.state {
            if let Some(r) = state.waiting.as_ref().and_then(|w| w.reason.clone()) {
                reason = r;
            } else if let Some(r) = state.terminated.as_ref().and_then(|t| t.reason.clone())
                && st.reason.is_none()
            {
                reason = r;
            }
        }
    }
    if p.metadata.deletion_timestamp.is_some() {
        reason = "Terminating".to_owned();
    }
    let restarts: i32 = cs.iter().map(|c| c.restart_count).sum();
    vec![
        p.metadata.name.clone().unwrap_or_default().into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts.to_string().into(),
        since(p.metadata.creation_timestamp.as_ref()).into(),
        st.pod_ip.unwrap_or_else(|| "<none>".to_owned()).into(),
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<none>".to_owned())
            .into(),
    ]
}

fn event_cells(e: &Event) -> Vec<Value> {
    let o = &e.involved_object;
    let object = format!(
        "{}/{}",
        o.kind.clone().unwrap_or_default().to_lowercase(),
        o.name.clone().unwrap_or_default()
    );
    vec![
        since(e.last_timestamp.as_ref().or(e.first_timestamp.as_ref())).into(),
        e.type_.clone().unwrap_or_default().into(),
        e.reason.clone().unwrap_or_default().into(),
        object.into(),
        e.message.clone().unwrap_or_default().into(),
    ]
}

fn network_policy_cells(n: &NetworkPolicy) -> Vec<Value> {
    let selector = n
        .spec
        .as_ref()
        .and_then(|s| s.pod_selector.clone())
        .and_then(|s| s.match_labels)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        n.metadata.name.clone().unwrap_or_default().into(),
        if selector.is_empty() {
            "<none>".to_owned()
        } else {
            selector
        }
        .into(),
        since(n.metadata.creation_timestamp.as_ref()).into(),
    ]
}

fn row(res: Res, v: &Value) -> Option<Row> {
    let (cells, metadata) = match res {
        Res::Jobs => {
            let j: Job = serde_json::from_value(v.clone()).ok()?;
            (job_cells(&j), j.metadata)
        }
        Res::Pods => {
            let p: Pod = serde_json::from_value(v.clone()).ok()?;
            (pod_cells(&p), p.metadata)
        }
        Res::Events => {
            let e: Event = serde_json::from_value(v.clone()).ok()?;
            (event_cells(&e), e.metadata)
        }
        Res::NetworkPolicies => {
            let n: NetworkPolicy = serde_json::from_value(v.clone()).ok()?;
            (network_policy_cells(&n), n.metadata)
        }
    };
    Some(Row {
        cells,
        object: PartialObjectMetadata {
            kind: "PartialObjectMetadata",
            api_version: "meta.k8s.io/v1",
            metadata,
        },
    })
}

/// A Table of `objects` (JSON as stored); `headers` false leaves out the column definitions,
/// as the API server does after the first event of a watch.
pub fn table(res: Res, objects: &[Value], headers: bool, meta: ListMeta) -> Value {
    let t = Table {
        kind: "Table",
        api_version: "meta.k8s.io/v1",
        metadata: meta,
        column_definitions: if headers { columns(res) } else { Vec::new() },
        rows: objects.iter().filter_map(|v| row(res, v)).collect(),
    };
    serde_json::to_value(&t).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubectl() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (30 * 3600, "30h"),
            (50 * 3600, "2d2h"),
            (-5, "<invalid>"),
        ] {
            assert_eq!(human(s), want, "{s}");
        }
    }

    #[test]
    fn accept_header_detection() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }
}
