//! The tracking store behind an MLflow tracking server: MLflow's REST API (`/api/2.0/mlflow/...`) for
//! entities and its artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) for files. Models are
//! downloaded once into a local cache keyed by their (immutable) artifact location.
//!
//! This file holds the store, its two HTTP helpers and its `TrackingStore` impl, which hands each
//! method to the file that owns it: `experiments`, `runs`, `artifacts`, `models` (logged models and the
//! registry); `json` reads and writes MLflow's proto-JSON, `http` is the client, `count` counts runs
//! and `readahead` reads metric histories in bulk.

mod artifacts;
mod count;
mod experiments;
pub mod http;
mod json;
mod models;
mod readahead;
mod runs;

pub use artifacts::proxy_path;

use super::entities::*;
use super::{
    Batch, ModelUri, NewRun, Projection, Result, ServerPage, StoreError, TrackingStore, VersionRef,
    validate,
};
use json::{parse_registered_model, parse_run};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ureq::http::Method;

/// MLflow's log-batch limits per request.
const MAX_METRICS_PER_BATCH: usize = 1000;
const MAX_PARAMS_PER_BATCH: usize = 100;
const MAX_TAGS_PER_BATCH: usize = 100;
const PAGE: usize = 1000;

pub struct RestStore {
    client: http::Client,
    read_ahead: std::sync::Mutex<readahead::ReadAhead>,
}

impl RestStore {
    /// A store at `uri` (`http://host:port` or `https://...`); nothing is contacted until used. Fails
    /// only on a bad CA certificate file.
    pub fn new(uri: &str) -> Result<Self> {
        Ok(RestStore {
            client: http::Client::from_env(uri, super::no_notes())?,
            read_ahead: Default::default(),
        })
    }

    fn read_ahead(&self) -> std::sync::MutexGuard<'_, readahead::ReadAhead> {
        self.read_ahead.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand notes (a retry against a server that does not answer) to `notes`.
    pub fn with_notes(mut self, notes: super::Notes) -> Self {
        self.client.notes = notes;
        self
    }

    fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.client.get(endpoint, query)
    }

    fn post(&self, endpoint: &str, body: Value) -> Result<Value> {
        self.client.post(endpoint, &body)
    }
}

fn is_not_found(e: &StoreError) -> bool {
    match e {
        StoreError::Remote {
            code,
            status,
            message,
            ..
        } => {
            code == "RESOURCE_DOES_NOT_EXIST"
                || *status == 404
                // A missing alias is a 400 with this message.
                || (code == "INVALID_PARAMETER_VALUE" && message.contains("alias") && message.contains("not found"))
        }
        _ => false,
    }
}

/// Turn the server's "does not exist" into the store's own not-found error.
fn not_found(e: StoreError, to: impl FnOnce() -> StoreError) -> StoreError {
    if is_not_found(&e) { to() } else { e }
}

impl TrackingStore for RestStore {
    fn location(&self) -> String {
        self.client.base().to_string()
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.create_experiment_impl(name, artifact_location, tags)
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        self.get_experiment_impl(id)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.get_experiment_by_name_impl(name)
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        self.list_experiments_impl(view)
    }

    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.rename_experiment_impl(id, new_name)
    }

    fn delete_experiment(&self, id: &str) -> Result<()> {
        self.delete_experiment_impl(id)
    }

    fn restore_experiment(&self, id: &str) -> Result<()> {
        self.restore_experiment_impl(id)
    }

    fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        self.set_experiment_tag_impl(id, key, value)
    }

    fn create_run(&self, new: NewRun) -> Result<RunInfo> {
        self.create_run_impl(new)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        Ok(parse_run(&self.get_run_json(run_id)?))
    }

    fn list_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>> {
        self.list_runs_impl(experiment_ids, view, projection)
    }

    fn count_runs(&self, experiment_ids: &[String], view: ViewType) -> Result<usize> {
        self.count_runs_on_server(experiment_ids, view)
    }

    fn metric_keys(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        self.metric_keys_impl(experiment_ids, view)
    }

    fn search_page(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        page: &ServerPage<'_>,
    ) -> Result<Option<(Vec<Run>, Option<String>)>> {
        self.search_page_impl(experiment_ids, view, page)
    }

    fn get_runs(&self, experiment_ids: &[String], run_ids: &[String]) -> Result<Vec<Run>> {
        self.get_runs_impl(experiment_ids, run_ids)
    }

    fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        self.log_batch_impl(run_id, batch)
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        self.update_run_impl(run_id, status, end_time)
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.delete_run_impl(run_id)
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.restore_run_impl(run_id)
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.metric_history_impl(run_id, key)
    }

    fn log_artifact(&self, run_id: &str, local: &Path, dest: Option<&str>) -> Result<()> {
        self.log_artifact_impl(run_id, local, dest)
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<ArtifactEntry>> {
        self.list_artifacts_impl(run_id, path)
    }

    fn log_input(&self, run_id: &str, dataset: &Dataset, context: &str) -> Result<()> {
        self.log_input_impl(run_id, dataset, context)
    }

    fn open_artifact(&self, run_id: &str, path: &str) -> Result<std::fs::File> {
        self.open_artifact_impl(run_id, path)
    }

    fn download_artifacts(&self, run_id: &str, dest: &Path) -> Result<()> {
        self.download_artifacts_impl(run_id, dest)
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.get_logged_model_impl(model_id)
    }

    fn create_logged_model(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        self.create_logged_model_impl(run_id, name)
    }

    fn log_model(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()> {
        self.log_model_impl(model, local, metrics)
    }

    fn fetch_model(&self, uri: &ModelUri) -> Result<PathBuf> {
        let artifact_uri = self.model_artifact_uri(uri)?;
        self.cached_download(&artifact_uri)
    }

    fn allows_folder_sources(&self) -> bool {
        false
    }

    fn resolve_model_version(&self, version: &VersionRef) -> Result<ModelVersion> {
        self.resolve_model_version_impl(version)
    }

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        self.list_registered_models_impl()
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        Ok(parse_registered_model(&self.registered_model_json(name)?))
    }

    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.delete_registered_model_impl(name)
    }

    fn list_model_versions(&self, name: &str, include_deleted: bool) -> Result<Vec<ModelVersion>> {
        self.list_model_versions_impl(name, include_deleted)
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.get_model_version_impl(name, version)
    }

    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.delete_model_version_impl(name, version)
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.set_registered_model_tag_impl(name, key, value)
    }

    fn delete_tag(&self, owner: &TagOwner, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        // MLflow's server takes an unknown key silently for models and versions: look the tag up first, so
        // every backend refuses it alike, naming it.
        let (tags, what, method, endpoint, body) = match owner {
            TagOwner::Run(id) => (
                self.get_run(id)?.data.tags,
                format!("run {id}"),
                Method::POST,
                "runs/delete-tag",
                json!({"run_id": id, "key": key}),
            ),
            TagOwner::Experiment(id) => (
                self.get_experiment(id)?.tags,
                format!("experiment {id}"),
                Method::POST,
                "experiments/delete-experiment-tag",
                json!({"experiment_id": id, "key": key}),
            ),
            TagOwner::Model(name) => (
                self.get_registered_model(name)?.tags,
                format!("registered model '{name}'"),
                Method::DELETE,
                "registered-models/delete-tag",
                json!({"name": name, "key": key}),
            ),
            TagOwner::Version(name, v) => (
                self.get_model_version(name, *v)?.tags,
                format!("model '{name}' version {v}"),
                Method::DELETE,
                "model-versions/delete-tag",
                json!({"name": name, "version": v.to_string(), "key": key}),
            ),
        };
        if !tags.contains_key(key) {
            return Err(StoreError::InvalidValue {
                what: "tag".into(),
                why: format!("no tag '{key}' on {what}"),
            });
        }
        self.client.send(method, endpoint, &body)?;
        Ok(())
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.set_model_version_tag_impl(name, version, key, value)
    }

    fn set_registered_model_description(&self, name: &str, description: &str) -> Result<()> {
        self.set_registered_model_description_impl(name, description)
    }

    fn set_model_version_description(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<()> {
        self.set_model_version_description_impl(name, version, description)
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64, kind: &str) -> Result<Option<u64>> {
        self.set_alias_impl(name, alias, version, kind)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.delete_alias_impl(name, alias)
    }

    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        self.alias_history_impl(name, alias)
    }

    fn register_model(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        self.register_model_impl(name, source, run_id, description)
    }
}
