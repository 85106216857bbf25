//! Watch streams: newline-delimited JSON `WatchEvent`s replayed from the bounded history, then
//! live, with `BOOKMARK`s, `timeoutSeconds`, and an `ERROR` event carrying a 410 `Expired`
//! Status when the requested resourceVersion is older than the history.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::Shared;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Record, Res, WatchStart, to_value};

/// What a watch request asked for.
pub struct WatchParams {
    /// The resource watched.
    pub res: Res,
    /// Its namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// `labelSelector`.
    pub labels: LabelSelector,
    /// `fieldSelector`.
    pub fields: FieldSelector,
    /// `resourceVersion` (`None` when unset or `"0"`).
    pub rv: Option<u64>,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the synthetic `ADDED` events with a bookmark annotated
    /// `k8s.io/initial-events-end`.
    pub send_initial_events: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// The client asked for `meta.k8s.io/v1` Tables: each event carries a one-row Table, the
    /// first one with the column definitions.
    pub as_table: bool,
}

impl WatchParams {
    fn matches(&self, r: &Record) -> bool {
        r.res == self.res
            && self.namespace.as_ref().is_none_or(|n| *n == r.namespace)
            && self.labels.matches(&r.object)
            && self.fields.matches(&r.object)
    }
}

fn line(ty: &str, object: Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({ "type": ty, "object": object })).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn bookmark(res: Res, rv: u64, initial_end: bool) -> Bytes {
    let metadata = ObjectMeta {
        resource_version: Some(rv.to_string()),
        annotations: initial_end
            .then(|| [("k8s.io/initial-events-end".to_owned(), "true".to_owned())].into()),
        ..ObjectMeta::default()
    };
    let object = match res {
        Res::Jobs => to_value(&Job {
            metadata,
            ..Job::default()
        }),
        Res::Pods => to_value(&Pod {
            metadata,
            ..Pod::default()
        }),
        Res::Events => to_value(&Event {
            metadata,
            ..Event::default()
        }),
        Res::NetworkPolicies => to_value(&NetworkPolicy {
            metadata,
            ..NetworkPolicy::default()
        }),
    };
    line("BOOKMARK", object)
}

/// Starts a watch and returns its streaming response.
pub fn respond(shared: Arc<Shared>, p: WatchParams) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let start = if shared.faults.take_expire() {
        WatchStart::Expired(format!(
            "too old resource version: {} ({})",
            p.rv.unwrap_or(0),
            shared.store.current_rv()
        ))
    } else {
        shared.store.watch_from(p.res, p.rv)
    };
    let guard = shared.faults.watch_opened();
    let mut dropped = shared.faults.drop_signal();
    let interval = Duration::from_millis(shared.config.bookmark_interval_ms.max(10));
    tokio::spawn(async move {
        let _guard = guard;
        let (replay, mut live, mut last_rv) = match start {
            WatchStart::Expired(msg) => {
                let status = to_value(&ApiError::expired(msg).status);
                let _ = tx.send(line("ERROR", status)).await;
                return;
            }
            WatchStart::Replay(replay, live, rv) => (replay, live, rv),
        };
        let initial = p.rv.is_none();
        let mut headers = true;
        let mut render = |r: &Record| {
            if !p.as_table {
                return line(r.ty.as_str(), r.object.clone());
            }
            let meta = ListMeta {
                resource_version: Some(r.rv.to_string()),
                ..ListMeta::default()
            };
            let t = crate::table::table(p.res, std::slice::from_ref(&r.object), headers, meta);
            headers = false;
            line(r.ty.as_str(), t)
        };
        for r in replay.iter().filter(|r| p.matches(r)) {
            if tx.send(render(r)).await.is_err() {
                return;
            }
        }
        if initial && p.send_initial_events && p.bookmarks {
            let _ = tx.send(bookmark(p.res, last_rv, true)).await;
        }
        let deadline = p.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            let sleep_deadline = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::select! {
                rec = live.recv() => match rec {
                    Ok(r) => {
                        last_rv = last_rv.max(r.rv);
                        if p.matches(&r) && tx.send(render(&r)).await.is_err() {
                            return;
                        }
                    }
                    // A watcher too slow for the feed is closed; the client resumes from the
                    // last version it saw, as after any disconnect.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if p.bookmarks => {
                    if tx.send(bookmark(p.res, last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = dropped.changed() => return,
                _ = sleep_deadline => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
