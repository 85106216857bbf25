//! The HTTP routes: discovery, Jobs, Pods (with logs), Events, NetworkPolicies, and the
//! `/_standin/` control API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ListMeta};
use serde::Serialize;
use serde_json::Value;

use crate::faults::Faults;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Stored, to_value};
use crate::watch_stream::WatchParams;
use crate::{Shared, admission, controller, discovery, logs, table};

type Q = Query<HashMap<String, String>>;
type St = State<Arc<Shared>>;

/// A JSON response with the API server's content type.
pub fn json_body<T: Serialize>(v: &T) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The router over the shared state, with the fault middleware in front.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async { json_body(&discovery::version()) }),
        )
        .route("/api", get(api))
        .route("/apis", get(|| async { json_body(&discovery::groups()) }))
        .route(
            "/api/v1",
            get(|| async { json_body(&discovery::core_v1()) }),
        )
        .route(
            "/apis/batch",
            get(|| async { json_body(&discovery::batch_group()) }),
        )
        .route(
            "/apis/batch/v1",
            get(|| async { json_body(&discovery::batch_v1_resources()) }),
        )
        .route("/apis/batch/v1/jobs", get(list_all::<Job>))
        .route(
            "/apis/batch/v1/namespaces/{ns}/jobs",
            get(list_ns::<Job>).post(create_job),
        )
        .route(
            "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
            get(get_one::<Job>).delete(delete_job),
        )
        .route("/api/v1/pods", get(list_all::<Pod>))
        .route("/api/v1/namespaces/{ns}/pods", get(list_ns::<Pod>))
        .route("/api/v1/namespaces/{ns}/pods/{name}", get(get_one::<Pod>))
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
        .route("/api/v1/events", get(list_all::<Event>))
        .route("/api/v1/namespaces/{ns}/events", get(list_ns::<Event>))
        .route(
            "/api/v1/namespaces/{ns}/events/{name}",
            get(get_one::<Event>),
        )
        .route(
            "/apis/networking.k8s.io",
            get(|| async { json_body(&discovery::networking_group()) }),
        )
        .route(
            "/apis/networking.k8s.io/v1",
            get(|| async { json_body(&discovery::networking_v1_resources()) }),
        )
        .route(
            "/apis/networking.k8s.io/v1/networkpolicies",
            get(list_all::<NetworkPolicy>),
        )
        .route(
            "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
            get(list_ns::<NetworkPolicy>).post(create_network_policy),
        )
        .route(
            "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}",
            get(get_one::<NetworkPolicy>).delete(delete_network_policy),
        )
        .route("/_standin/faults", get(get_faults).post(set_faults))
        .route("/_standin/stats", get(stats))
        .route("/_standin/objects", get(objects))
        .route("/_standin/exits", get(exits))
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async {
            ApiError::bad_request("the stand-in does not serve this verb on this resource")
                .with_code(405, "MethodNotAllowed")
        })
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            crate::faults::middleware,
        ))
        .with_state(shared)
}

async fn api(State(s): St) -> Response {
    json_body(&discovery::core_versions(&s.address))
}

fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "1" || v == "true")
}

fn parse_u64(q: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {key} {v:?}: expected a non-negative integer"
            ))
        }),
    }
}

fn accepts_table(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(table::wants_table)
}

async fn list_all<T: Stored>(s: St, h: HeaderMap, q: Q) -> Response {
    list_or_watch::<T>(s.0, None, q.0, accepts_table(&h))
        .unwrap_or_else(IntoResponse::into_response)
}

async fn list_ns<T: Stored>(s: St, h: HeaderMap, Path(ns): Path<String>, q: Q) -> Response {
    list_or_watch::<T>(s.0, Some(ns), q.0, accepts_table(&h))
        .unwrap_or_else(IntoResponse::into_response)
}

fn list_or_watch<T: Stored>(
    shared: Arc<Shared>,
    namespace: Option<String>,
    q: HashMap<String, String>,
    as_table: bool,
) -> Result<Response, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?;
    if flag(&q, "watch") {
        let rv = parse_u64(&q, "resourceVersion")?.filter(|rv| *rv != 0);
        let timeout = parse_u64(&q, "timeoutSeconds")?.map(Duration::from_secs);
        return Ok(crate::watch_stream::respond(
            shared,
            WatchParams {
                res: T::RES,
                namespace,
                labels,
                fields,
                rv,
                bookmarks: flag(&q, "allowWatchBookmarks"),
                send_initial_events: flag(&q, "sendInitialEvents"),
                timeout,
                as_table,
            },
        ));
    }
    let (items, rv) = shared.store.list::<T>(namespace.as_deref());
    let mut values: Vec<Value> = items
        .iter()
        .map(to_value)
        .filter(|v| labels.matches(v) && fields.matches(v))
        .collect();
    // Pagination: the continue token is the key of the last item sent and the list's version.
    let mut list_rv = rv;
    if let Some(token) = q.get("continue").filter(|t| !t.is_empty()) {
        let (tok_rv, after) = decode_continue(token)?;
        list_rv = tok_rv;
        values.retain(|v| item_key(v) > after);
    }
    let limit = parse_u64(&q, "limit")?.filter(|l| *l > 0);
    let mut meta = ListMeta {
        resource_version: Some(list_rv.to_string()),
        ..ListMeta::default()
    };
    if let Some(limit) = limit.and_then(|l| usize::try_from(l).ok())
        && values.len() > limit
    {
        let remaining = values.len() - limit;
        values.truncate(limit);
        if let Some(last) = values.last() {
            meta.continue_ = Some(encode_continue(list_rv, &item_key(last)));
            meta.remaining_item_count = Some(remaining as i64);
        }
    }
    if as_table {
        return Ok(json_body(&table::table(T::RES, &values, true, meta)));
    }
    // The real server omits apiVersion and kind on the items of a list.
    for v in &mut values {
        if let Some(m) = v.as_object_mut() {
            m.remove("apiVersion");
            m.remove("kind");
        }
    }
    let list = k8s_openapi::List::<T> {
        items: Vec::new(),
        metadata: meta,
    };
    let mut body = to_value(&list);
    body["items"] = Value::Array(values);
    Ok(json_body(&body))
}

fn item_key(v: &Value) -> String {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    format!("{}/{}", s("/metadata/namespace"), s("/metadata/name"))
}

fn encode_continue(rv: u64, key: &str) -> String {
    let raw = format!("{rv}\n{key}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<(u64, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let raw = String::from_utf8(bytes).map_err(|_| bad())?;
    let (rv, key) = raw.split_once('\n').ok_or_else(bad)?;
    Ok((rv.parse().map_err(|_| bad())?, key.to_owned()))
}

async fn get_one<T: Stored>(State(s): St, Path((ns, name)): Path<(String, String)>) -> Response {
    match s.store.get::<T>(&ns, &name) {
        Ok(o) => json_body(&o),
        Err(e) => e.into_response(),
    }
}

async fn create_job(State(s): St, Path(ns): Path<String>, body: Bytes) -> Response {
    let mut job: Job = match serde_json::from_slice(&body) {
        Ok(j) => j,
        Err(e) => {
            return ApiError::bad_request(format!(
                "Job in version \"v1\" cannot be handled as a Job: {e}"
            ))
            .into_response();
        }
    };
    if let Err(e) = admission::admit_job(&mut job, &ns) {
        return e.into_response();
    }
    match s.store.create(job) {
        Ok(job) => {
            controller::job_created(&s, &job);
            (StatusCode::CREATED, json_body(&job)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn delete_job(
    State(s): St,
    Path((ns, name)): Path<(String, String)>,
    q: Q,
    body: Bytes,
) -> Response {
    let mut opts: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(o) => o,
            Err(e) => {
                return ApiError::bad_request(format!("invalid DeleteOptions: {e}"))
                    .into_response();
            }
        }
    };
    if let Some(p) = q.get("propagationPolicy") {
        opts.propagation_policy = Some(p.clone());
    }
    controller::delete_job(&s, &ns, &name, opts).unwrap_or_else(IntoResponse::into_response)
}

async fn create_network_policy(State(s): St, Path(ns): Path<String>, body: Bytes) -> Response {
    let mut policy: NetworkPolicy = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return ApiError::bad_request(format!(
                "NetworkPolicy in version \"v1\" cannot be handled as a NetworkPolicy: {e}"
            ))
            .into_response();
        }
    };
    if let Err(e) = admission::admit_network_policy(&mut policy, &ns) {
        return e.into_response();
    }
    match s.store.create(policy) {
        Ok(policy) => (StatusCode::CREATED, json_body(&policy)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE networkpolicies/{name}`: gone at once (no finalizers, nothing to propagate). Like the
/// rest of the stand-in, no garbage collector follows ownerReferences: a policy owned by a
/// deleted Job stays until deleted itself.
async fn delete_network_policy(State(s): St, Path((ns, name)): Path<(String, String)>) -> Response {
    match s.store.remove::<NetworkPolicy>(&ns, &name, |_| Ok(())) {
        Ok(policy) => json_body(&policy),
        Err(e) => e.into_response(),
    }
}

async fn pod_log(State(s): St, Path((ns, name)): Path<(String, String)>, q: Q) -> Response {
    let run = || -> Result<Response, ApiError> {
        let tail_lines = parse_u64(&q, "tailLines")?;
        let limit_bytes = parse_u64(&q, "limitBytes")?;
        let read = logs::read_log(
            &s,
            &ns,
            &name,
            q.get("container").map(String::as_str),
            tail_lines,
            limit_bytes,
        )?;
        // limitBytes bounds the whole response, so it ends a follow at once.
        if flag(&q, "follow") && limit_bytes.is_none() {
            let stream = logs::follow(s.clone(), ns.clone(), name.clone(), read);
            return Ok((
                [(header::CONTENT_TYPE, "text/plain")],
                axum::body::Body::from_stream(stream),
            )
                .into_response());
        }
        Ok(([(header::CONTENT_TYPE, "text/plain")], read.text).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

async fn get_faults(State(s): St) -> Response {
    json_body(&s.faults.current())
}

async fn set_faults(State(s): St, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            s.faults.set(f);
            json_body(&s.faults.current())
        }
        Err(e) => ApiError::bad_request(format!("POST /_standin/faults: {e}")).into_response(),
    }
}

async fn stats(State(s): St) -> Response {
    json_body(&s.faults.stats())
}

async fn objects(State(s): St) -> Response {
    json_body(&s.store.snapshot())
}

async fn exits(State(s): St) -> Response {
    json_body(&s.exits.list())
}
