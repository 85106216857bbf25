//! The object store: Jobs, Pods, Events and NetworkPolicies keyed by namespace and name, one
//! resourceVersion counter for all of them, and the bounded event history that watches replay.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::serde::Serialize;
use k8s_openapi::serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::status::ApiError;

/// A resource the stand-in serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Res {
    /// `batch/v1` Jobs.
    Jobs,
    /// `v1` Pods.
    Pods,
    /// `v1` Events.
    Events,
    /// `networking.k8s.io/v1` NetworkPolicies.
    NetworkPolicies,
}

impl Res {
    /// The plural resource name (`jobs`).
    pub fn plural(self) -> &'static str {
        match self {
            Res::Jobs => "jobs",
            Res::Pods => "pods",
            Res::Events => "events",
            Res::NetworkPolicies => "networkpolicies",
        }
    }

    /// The API group (`batch`, or empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Res::Jobs => "batch",
            Res::NetworkPolicies => "networking.k8s.io",
            Res::Pods | Res::Events => "",
        }
    }

    /// The kind (`Job`).
    pub fn kind(self) -> &'static str {
        match self {
            Res::Jobs => "Job",
            Res::Pods => "Pod",
            Res::Events => "Event",
            Res::NetworkPolicies => "NetworkPolicy",
        }
    }

    /// The group/version (`batch/v1`).
    pub fn api_version(self) -> &'static str {
        match self {
            Res::Jobs => "batch/v1",
            Res::NetworkPolicies => "networking.k8s.io/v1",
            Res::Pods | Res::Events => "v1",
        }
    }

    /// The resource as errors name it (`jobs.batch`, `pods`).
    pub fn qualified(self) -> String {
        if self.group().is_empty() {
            self.plural().to_owned()
        } else {
            format!("{}.{}", self.plural(), self.group())
        }
    }
}

/// A stored object type.
pub trait Stored:
    k8s_openapi::Metadata<Ty = ObjectMeta>
    + k8s_openapi::ListableResource
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Its resource.
    const RES: Res;
    /// Its table in the store.
    fn table(inner: &mut Inner) -> &mut BTreeMap<Key, Self>;
}

/// Namespace and name.
pub type Key = (String, String);

impl Stored for Job {
    const RES: Res = Res::Jobs;
    fn table(inner: &mut Inner) -> &mut BTreeMap<Key, Self> {
        &mut inner.jobs
    }
}

impl Stored for Pod {
    const RES: Res = Res::Pods;
    fn table(inner: &mut Inner) -> &mut BTreeMap<Key, Self> {
        &mut inner.pods
    }
}

impl Stored for Event {
    const RES: Res = Res::Events;
    fn table(inner: &mut Inner) -> &mut BTreeMap<Key, Self> {
        &mut inner.events
    }
}

impl Stored for NetworkPolicy {
    const RES: Res = Res::NetworkPolicies;
    fn table(inner: &mut Inner) -> &mut BTreeMap<Key, Self> {
        &mut inner.network_policies
    }
}

/// A watch event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history and sent to watches.
#[derive(Debug)]
pub struct Record {
    /// The resource changed.
    pub res: Res,
    /// Its namespace.
    pub namespace: String,
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// What happened.
    pub ty: EventType,
    /// The object after the change (for `DELETED`: its last state, with the new resourceVersion).
    pub object: Value,
}

/// The store's state behind its lock.
pub struct Inner {
    rv: u64,
    jobs: BTreeMap<Key, Job>,
    pods: BTreeMap<Key, Pod>,
    events: BTreeMap<Key, Event>,
    network_policies: BTreeMap<Key, NetworkPolicy>,
    history: VecDeque<Arc<Record>>,
    history_limit: usize,
    /// The highest resourceVersion dropped from the history (0: none dropped yet).
    evicted_up_to: u64,
}

/// What a watch starting at a resourceVersion gets.
pub enum WatchStart {
    /// The changes after the version that the history still holds, and the live feed.
    Replay(Vec<Arc<Record>>, broadcast::Receiver<Arc<Record>>, u64),
    /// The version is older than the history: `too old resource version: N (M)`.
    Expired(String),
}

/// The object store. Every mutation takes the one lock, gets the next resourceVersion and
/// publishes its [`Record`] while still holding the lock, so watches see changes in order.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Record>>,
}

/// The current time as the API's `Time`.
pub fn now() -> Time {
    Time(
        jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(jiff::Timestamp::now()),
    )
}

/// A random UUID (version 4), as the API server gives `metadata.uid`.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Store {
    /// An empty store whose history keeps the last `history_limit` changes.
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(4096);
        Store {
            inner: Mutex::new(Inner {
                rv: 0,
                jobs: BTreeMap::new(),
                pods: BTreeMap::new(),
                events: BTreeMap::new(),
                network_policies: BTreeMap::new(),
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                evicted_up_to: 0,
            }),
            tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent maps (each mutation is one insert),
        // so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    fn publish<T: Stored>(&self, inner: &mut Inner, ty: EventType, obj: &T) {
        let namespace = obj.metadata().namespace.clone().unwrap_or_default();
        let record = Arc::new(Record {
            res: T::RES,
            namespace,
            rv: inner.rv,
            ty,
            object: to_value(obj),
        });
        inner.history.push_back(record.clone());
        while inner.history.len() > inner.history_limit {
            if let Some(old) = inner.history.pop_front() {
                inner.evicted_up_to = old.rv;
            }
        }
        // No receiver is not an error: nobody watches.
        let _ = self.tx.send(record);
    }

    /// Creates an object: fills uid, creationTimestamp and resourceVersion; `AlreadyExists` when
    /// the name is taken.
    pub fn create<T: Stored>(&self, mut obj: T) -> Result<T, ApiError> {
        let mut inner = self.lock();
        let key = key_of(&obj);
        if T::table(&mut inner).contains_key(&key) {
            return Err(ApiError::already_exists(T::RES, &key.1));
        }
        inner.rv += 1;
        let rv = inner.rv;
        let meta = obj.metadata_mut();
        if meta.uid.is_none() {
            meta.uid = Some(new_uid());
        }
        meta.creation_timestamp = Some(now());
        meta.resource_version = Some(rv.to_string());
        T::table(&mut inner).insert(key, obj.clone());
        self.publish(&mut inner, EventType::Added, &obj);
        Ok(obj)
    }

    /// One object, or `NotFound`.
    pub fn get<T: Stored>(&self, namespace: &str, name: &str) -> Result<T, ApiError> {
        let mut inner = self.lock();
        T::table(&mut inner)
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(T::RES, name))
    }

    /// All objects of a namespace (or of all namespaces), in key order, and the list's
    /// resourceVersion.
    pub fn list<T: Stored>(&self, namespace: Option<&str>) -> (Vec<T>, u64) {
        let mut inner = self.lock();
        let rv = inner.rv;
        let items = T::table(&mut inner)
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o.clone())
            .collect();
        (items, rv)
    }

    /// The objects of `namespace` that `keep` accepts, in key order. Only those are cloned, so
    /// that looking up one Job's pods among thousands costs no copy of the others.
    pub fn list_where<T: Stored>(&self, namespace: &str, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let mut inner = self.lock();
        T::table(&mut inner)
            .iter()
            .filter(|((ns, _), o)| ns == namespace && keep(o))
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Changes an object in place (`f` returns an error to abort); bumps its resourceVersion and
    /// publishes `MODIFIED`. `NotFound` when it is gone.
    pub fn update<T: Stored>(
        &self,
        namespace: &str,
        name: &str,
        f: impl FnOnce(&mut T) -> Result<(), ApiError>,
    ) -> Result<T, ApiError> {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let mut obj = T::table(&mut inner)
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(T::RES, name))?;
        f(&mut obj)?;
        inner.rv += 1;
        obj.metadata_mut().resource_version = Some(inner.rv.to_string());
        T::table(&mut inner).insert(key, obj.clone());
        self.publish(&mut inner, EventType::Modified, &obj);
        Ok(obj)
    }

    /// Removes an object if `check` accepts it; publishes `DELETED` with a new resourceVersion.
    pub fn remove<T: Stored>(
        &self,
        namespace: &str,
        name: &str,
        check: impl FnOnce(&T) -> Result<(), ApiError>,
    ) -> Result<T, ApiError> {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let existing = T::table(&mut inner)
            .get(&key)
            .ok_or_else(|| ApiError::not_found(T::RES, name))?;
        check(existing)?;
        let mut obj = T::table(&mut inner)
            .remove(&key)
            .ok_or_else(|| ApiError::not_found(T::RES, name))?;
        inner.rv += 1;
        obj.metadata_mut().resource_version = Some(inner.rv.to_string());
        self.publish(&mut inner, EventType::Deleted, &obj);
        Ok(obj)
    }

    /// Where a watch of `res` from `rv` starts. `rv = None` (unset or `"0"`) means "now": the
    /// current objects of `res` come first as synthetic `ADDED` records.
    pub fn watch_from(&self, res: Res, rv: Option<u64>) -> WatchStart {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let Some(rv) = rv else {
            let objects: Vec<Value> = match res {
                Res::Jobs => inner.jobs.values().map(to_value).collect(),
                Res::Pods => inner.pods.values().map(to_value).collect(),
                Res::Events => inner.events.values().map(to_value).collect(),
                Res::NetworkPolicies => inner.network_policies.values().map(to_value).collect(),
            };
            let records = objects
                .into_iter()
                .map(|object| {
                    Arc::new(Record {
                        res,
                        namespace: object
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        rv: inner.rv,
                        ty: EventType::Added,
                        object,
                    })
                })
                .collect();
            return WatchStart::Replay(records, rx, inner.rv);
        };
        if rv < inner.evicted_up_to {
            return WatchStart::Expired(format!(
                "too old resource version: {rv} ({})",
                inner.evicted_up_to
            ));
        }
        let replay = inner
            .history
            .iter()
            .filter(|r| r.rv > rv && r.res == res)
            .cloned()
            .collect();
        WatchStart::Replay(replay, rx, inner.rv.max(rv))
    }

    /// Every stored object as JSON, Jobs then Pods then Events then NetworkPolicies (for tests
    /// and validation).
    pub fn snapshot(&self) -> Vec<Value> {
        let inner = self.lock();
        let mut out: Vec<Value> = inner.jobs.values().map(to_value).collect();
        out.extend(inner.pods.values().map(to_value));
        out.extend(inner.events.values().map(to_value));
        out.extend(inner.network_policies.values().map(to_value));
        out
    }
}

/// An object's key.
pub fn key_of<T: Stored>(obj: &T) -> Key {
    let m = obj.metadata();
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

/// An object as JSON (k8s-openapi's serializer writes `apiVersion` and `kind`).
pub fn to_value<T: Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("d".to_owned()),
                ..ObjectMeta::default()
            },
            ..Event::default()
        }
    }

    #[test]
    fn history_eviction_expires_older_versions_with_the_watch_cache_message() {
        let store = Store::new(2);
        for n in ["a", "b", "c"] {
            store.create(event(n)).unwrap();
        }
        // Changes 1, 2, 3; the history keeps 2 and 3, so version 1 is the oldest servable.
        match store.watch_from(Res::Events, Some(0)) {
            WatchStart::Expired(msg) => assert_eq!(msg, "too old resource version: 0 (1)"),
            WatchStart::Replay(..) => panic!("version 0 is older than the history"),
        }
        match store.watch_from(Res::Events, Some(1)) {
            WatchStart::Replay(replay, _, rv) => {
                assert_eq!(replay.iter().map(|r| r.rv).collect::<Vec<_>>(), [2, 3]);
                assert_eq!(rv, 3);
            }
            WatchStart::Expired(m) => panic!("{m}"),
        }
    }

    #[test]
    fn list_where_gives_the_accepted_objects_of_one_namespace_in_key_order() {
        let store = Store::new(10);
        for n in ["b2", "a1", "b1", "c1"] {
            store.create(event(n)).unwrap();
        }
        let mut other = event("b3");
        other.metadata.namespace = Some("e".to_owned());
        store.create(other).unwrap();
        let names: Vec<String> = store
            .list_where::<Event>("d", |e| {
                e.metadata.name.as_deref().unwrap_or("").starts_with('b')
            })
            .into_iter()
            .filter_map(|e| e.metadata.name)
            .collect();
        assert_eq!(names, ["b1", "b2"]);
    }

    #[test]
    fn delete_publishes_a_new_resource_version() {
        let store = Store::new(10);
        store.create(event("a")).unwrap();
        let gone: Event = store.remove("d", "a", |_| Ok(())).unwrap();
        assert_eq!(gone.metadata.resource_version.as_deref(), Some("2"));
        assert_eq!(store.get::<Event>("d", "a").unwrap_err().code(), 404);
        let again = store.create(event("a")).unwrap();
        assert_eq!(again.metadata.resource_version.as_deref(), Some("3"));
        let dup = store.create(event("a")).unwrap_err();
        assert_eq!(dup.status.reason.as_deref(), Some("AlreadyExists"));
    }
}
