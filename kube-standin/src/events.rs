//! core/v1 Events recorded by the simulated scheduler, job controller and kubelet.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::store::{Store, now};

/// The node name the simulated scheduler assigns every pod.
pub const NODE: &str = "standin-node";

/// What an event is about.
pub struct Involved<'a> {
    /// `Job` or `Pod`.
    pub kind: &'a str,
    /// `batch/v1` or `v1`.
    pub api_version: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// uid.
    pub uid: &'a str,
    /// `spec.containers{c}` for container events.
    pub field_path: Option<String>,
}

/// Records one event (`warning` selects type `Warning`, else `Normal`).
pub fn record(
    store: &Store,
    about: &Involved<'_>,
    warning: bool,
    reason: &str,
    message: String,
    component: &str,
) {
    let t = now();
    let suffix: u64 = rand::random();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{suffix:016x}", about.name)),
            namespace: Some(about.namespace.to_owned()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(about.api_version.to_owned()),
            field_path: about.field_path.clone(),
            kind: Some(about.kind.to_owned()),
            name: Some(about.name.to_owned()),
            namespace: Some(about.namespace.to_owned()),
            resource_version: None,
            uid: Some(about.uid.to_owned()),
        },
        reason: Some(reason.to_owned()),
        message: Some(message),
        source: Some(EventSource {
            component: Some(component.to_owned()),
            host: (component == "kubelet").then(|| NODE.to_owned()),
        }),
        first_timestamp: Some(t.clone()),
        last_timestamp: Some(t),
        count: Some(1),
        type_: Some(if warning { "Warning" } else { "Normal" }.to_owned()),
        reporting_component: Some(component.to_owned()),
        reporting_instance: Some(if component == "kubelet" {
            NODE.to_owned()
        } else {
            String::new()
        }),
        ..Event::default()
    };
    // A name collision (2^-64) only loses one event.
    let _ = store.create(event);
}
