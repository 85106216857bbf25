//! The worker table: every worker the catalogs and the policies know, with its policy and image.
//!
//! The scheduler looks workers up here and hands them to backends; neither owns the table, so
//! both depend on it and not on each other.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::catalog::{Catalog, Definition, WorkerKind};
use crate::policy::{Policy, PolicySet};

/// One worker the runner can be asked to run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worker {
    /// The name jobs are submitted under.
    pub name: String,
    /// Analyzer or responder.
    pub kind: WorkerKind,
    /// The version ("" when neither catalog nor policy gives one).
    pub version: String,
    /// What it does.
    pub description: String,
    /// The data types it accepts.
    pub data_types: Vec<String>,
    /// The `config` a job gets before the organisation's settings: the catalog definition's
    /// (with configuration item defaults), then the policy's `[worker] config`.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The catalog definition, if a catalog has one.
    pub definition: Option<Definition>,
    /// Its policy, if any.
    pub policy: Option<Policy>,
    /// The container image for Kubernetes: the policy's, else the catalog's `dockerImage` with
    /// the configured registry prefix.
    pub image: Option<String>,
}

impl Worker {
    /// Cortex's worker id, `<name>_<version with dots as underscores>`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.name, self.version.replace('.', "_"))
    }
}

/// Every worker, by name, with lookups by Cortex id and catalog alias.
///
/// Workers are shared (`Arc`), so that a job can hold its worker for as long as its backend needs
/// it, cleanup included, without copying the policy.
#[derive(Debug, Clone, Default)]
pub struct WorkerTable {
    workers: BTreeMap<String, Arc<Worker>>,
    aliases: BTreeMap<String, String>,
}

impl WorkerTable {
    /// Joins the catalogs and the policies. A catalog entry governed by another policy through
    /// `[worker] catalog_name` appears once, under the policy's name.
    pub fn build(catalog: &Catalog, policies: &PolicySet, image_prefix: &str) -> Self {
        let mut table = Table::default();
        for entry in catalog.entries() {
            let name = &entry.definition.name;
            if let Some(worker) = policies.alias_of(name) {
                table.aliases.insert(name.clone(), worker.to_string());
                continue;
            }
            let worker = Worker {
                name: name.clone(),
                kind: entry.kind,
                version: entry.definition.version.clone(),
                description: entry.definition.description.clone(),
                data_types: entry.definition.data_type_list.clone(),
                config: entry.definition.default_config(),
                definition: Some(entry.definition.clone()),
                policy: policies.get(name).cloned(),
                image: None,
            };
            table.workers.insert(name.clone(), worker);
        }
        for policy in policies.iter() {
            let section = policy.definition.clone().unwrap_or_default();
            let worker = table
                .workers
                .entry(policy.worker.clone())
                .or_insert_with(|| {
                    let entry = section.catalog_name.as_deref().and_then(|n| catalog.get(n));
                    Worker {
                        name: policy.worker.clone(),
                        kind: entry.map_or(WorkerKind::Analyzer, |e| e.kind),
                        version: entry
                            .map(|e| e.definition.version.clone())
                            .unwrap_or_default(),
                        description: entry
                            .map(|e| e.definition.description.clone())
                            .unwrap_or_default(),
                        data_types: entry
                            .map(|e| e.definition.data_type_list.clone())
                            .unwrap_or_default(),
                        config: entry
                            .map(|e| e.definition.default_config())
                            .unwrap_or_default(),
                        definition: entry.map(|e| e.definition.clone()),
                        policy: Some(policy.clone()),
                        image: None,
                    }
                });
            // The policy's own `[worker]` keys override whatever the catalog said.
            if let Some(kind) = section.kind {
                worker.kind = kind;
            }
            if let Some(version) = section.version {
                worker.version = version;
            }
            if let Some(description) = section.description {
                worker.description = description;
            }
            if let Some(types) = section.data_types {
                worker.data_types = types;
            }
            worker.config.extend(section.config.unwrap_or_default());
        }
        for worker in table.workers.values_mut() {
            let policy_image = worker
                .policy
                .as_ref()
                .and_then(|p| p.kubernetes.image.clone());
            let catalog_image = worker
                .definition
                .as_ref()
                .and_then(|d| d.docker_image.as_deref());
            worker.image =
                policy_image.or_else(|| catalog_image.map(|i| with_prefix(i, image_prefix)));
        }
        Self {
            workers: (table.workers.into_iter())
                .map(|(name, worker)| (name, Arc::new(worker)))
                .collect(),
            aliases: table.aliases,
        }
    }

    /// The worker named `name`, or whose Cortex id or catalog alias is `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Worker>> {
        self.workers
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|w| self.workers.get(w)))
            .or_else(|| self.workers.values().find(|w| w.id() == name))
    }

    /// Every worker, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Worker> {
        self.workers.values().map(Arc::as_ref)
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether there is no worker.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }
}

/// The table while it is being built, before its workers are shared.
#[derive(Default)]
struct Table {
    workers: BTreeMap<String, Worker>,
    aliases: BTreeMap<String, String>,
}

/// Replaces the registry and repository path of `image` with `prefix` (kept when `prefix` is
/// empty): `ghcr.io/thehive-project/fileinfo:8` with `registry.local/cortex` becomes
/// `registry.local/cortex/fileinfo:8`.
pub fn with_prefix(image: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        return image.to_string();
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    format!("{}/{last}", prefix.trim_end_matches('/'))
}
