//! MLflow 3's own store: its SQL schema in SQLite (`sqlite:///mlflow.db`, MLflow's default tracking URI),
//! read and written by mlx itself with MLflow's rules (`mlflow/store/tracking/sqlalchemy_store.py`,
//! `mlflow/store/model_registry/sqlalchemy_store.py`).
//!
//! The database is opened at the first call (a listing's start-up stays lean) and created with MLflow's
//! schema when missing (`schema`). Every logical write is one `BEGIN IMMEDIATE` transaction (a batch of
//! metrics with its `latest_metrics`, a run with its tags, a registration, an alias with its history), so
//! a crash leaves all of it or none, and writers wait for each other (MLflow's busy timeout) instead of
//! failing. Artifacts are files where MLflow puts them: `<root>/<exp>/<run>/artifacts` and
//! `<root>/<exp>/models/<m-id>/artifacts`, with `<root>` = `mlruns` beside the database, and never a
//! `meta.yaml` (that would turn MLflow's default to the folder store).
//!
//! `schema` opens and creates; `experiments` holds experiments; `tracking` runs, metrics and datasets;
//! `artifacts` run artifacts, logged models and the folder a model URI names; `registry` the model
//! registry.

use super::entities::*;
use super::{
    Batch, ModelUri, NewRun, NewVersion, Projection, Result, StoreError, TrackingStore, VersionRef,
    validate,
};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod artifacts;
mod experiments;
mod maintenance;
mod registry;
pub mod schema;
pub mod search;
mod shared;
mod tracking;

pub struct SqliteStore {
    path: PathBuf,
    /// Where new experiments' artifacts go (`<root>/<experiment_id>`).
    artifact_root: PathBuf,
    conn: Mutex<Option<Connection>>,
}

/// The inner result type: a store error, or a SQL error still to be named.
pub(super) enum Fail {
    Store(StoreError),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

pub(super) type R<T> = std::result::Result<T, Fail>;

/// Whether an error is SQLite's "busy/locked": the whole transaction is tried again.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Whether an error is a uniqueness or key conflict.
pub(super) fn is_conflict(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

impl SqliteStore {
    /// The store in the database file `path` (made absolute); nothing is opened until the first call.
    /// New experiments' artifacts go under `mlruns` beside the database, as MLflow's default puts them
    /// under `./mlruns` beside `./mlflow.db`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let path = std::path::absolute(&path).unwrap_or(path);
        let artifact_root = path
            .parent()
            .map(|p| p.join("mlruns"))
            .unwrap_or_else(|| PathBuf::from("mlruns"));
        SqliteStore {
            path,
            artifact_root,
            conn: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn name_err(&self, f: Fail) -> StoreError {
        match f {
            Fail::Store(e) => e,
            Fail::Sql(e) => StoreError::corrupt(&self.path, e.to_string()),
        }
    }

    fn locked(&self) -> Result<std::sync::MutexGuard<'_, Option<Connection>>> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(schema::open(&self.path, &self.artifact_root)?);
        }
        Ok(guard)
    }

    /// Read with the connection (each statement sees a consistent database).
    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> R<T>) -> Result<T> {
        let guard = self.locked()?;
        f(guard.as_ref().expect("opened")).map_err(|e| self.name_err(e))
    }

    /// One logical write: a `BEGIN IMMEDIATE` transaction (the write lock taken up front, so it never
    /// fails half-way on another writer), committed whole or not at all; tried again if SQLite still
    /// reports the database busy after MLflow's busy timeout.
    pub(super) fn write<T>(&self, mut f: impl FnMut(&Connection) -> R<T>) -> Result<T> {
        let mut guard = self.locked()?;
        let conn = guard.as_mut().expect("opened");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = (|| -> R<T> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })();
            match result {
                Err(Fail::Sql(e)) if is_busy(&e) && attempt < 5 => continue,
                other => return other.map_err(|e| self.name_err(e)),
            }
        }
    }
}

/// `'?,?,?'` for `n` parameters.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// A metric value as MLflow stores it: NaN as 0 with `is_nan`, ±infinity as ±f64::MAX.
pub(super) fn stored_value(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else if v == f64::INFINITY {
        (f64::MAX, false)
    } else if v == f64::NEG_INFINITY {
        (f64::MIN, false)
    } else {
        (v, false)
    }
}

/// A stored metric value read back as MLflow reads it.
pub(super) fn read_value(value: f64, is_nan: bool) -> f64 {
    if is_nan { f64::NAN } else { value }
}

/// An experiment id as the database keeps it (an integer).
pub(super) fn experiment_key(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .map_err(|_| StoreError::ExperimentNotFound(id.to_string()))
}

impl TrackingStore for SqliteStore {
    fn location(&self) -> String {
        format!("sqlite:///{}", self.path.display())
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
        self.experiment_by_name_impl(name)
    }
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        self.list_experiments_impl(view)
    }
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        self.rename_experiment_impl(id, new_name)
    }
    fn delete_experiment(&self, id: &str) -> Result<()> {
        self.set_experiment_stage(id, Lifecycle::Deleted)
    }
    fn restore_experiment(&self, id: &str) -> Result<()> {
        self.set_experiment_stage(id, Lifecycle::Active)
    }
    fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        self.set_experiment_tag_impl(id, key, value)
    }
    fn create_run(&self, new: NewRun) -> Result<RunInfo> {
        self.create_run_impl(new)
    }
    fn get_run(&self, run_id: &str) -> Result<Run> {
        self.get_run_impl(run_id)
    }
    fn list_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>> {
        self.list_runs_impl(experiment_ids, view, projection)
    }
    fn query_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        query: &super::RunQuery<'_>,
    ) -> Result<Option<Vec<Run>>> {
        self.query_runs_impl(experiment_ids, view, query).map(Some)
    }
    fn count_runs(&self, experiment_ids: &[String], view: ViewType) -> Result<usize> {
        self.count_runs_impl(experiment_ids, view)
    }
    fn metric_keys(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        self.metric_keys_impl(experiment_ids, view)
    }
    fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        self.log_batch_impl(run_id, batch)
    }
    fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        self.update_run_impl(run_id, status, end_time)
    }
    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, Lifecycle::Deleted)
    }
    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, Lifecycle::Active)
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
    fn open_artifact(&self, run_id: &str, path: &str) -> Result<std::fs::File> {
        self.open_artifact_impl(run_id, path)
    }
    fn download_artifacts(&self, run_id: &str, dest: &Path) -> Result<()> {
        self.download_artifacts_impl(run_id, dest)
    }
    fn log_input(&self, run_id: &str, dataset: &Dataset, context: &str) -> Result<()> {
        self.log_input_impl(run_id, dataset, context)
    }
    fn create_logged_model(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        self.create_logged_model_impl(run_id, name)
    }
    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.get_logged_model_impl(model_id)
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
        self.fetch_model_impl(uri)
    }
    fn resolve_model_version(&self, version: &VersionRef) -> Result<ModelVersion> {
        self.resolve_version_impl(version)
    }
    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        self.list_registered_models_impl()
    }
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.get_registered_model_impl(name)
    }
    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.delete_registered_model_impl(name)
    }
    fn list_model_versions(&self, name: &str, include_deleted: bool) -> Result<Vec<ModelVersion>> {
        self.list_versions_impl(name, include_deleted)
    }
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.live_version(name, version)
    }
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.delete_version_impl(name, version)
    }
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.set_model_tag_impl(name, None, key, value)
    }
    fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.set_model_tag_impl(name, Some(version), key, value)
    }
    fn set_registered_model_description(&self, name: &str, description: &str) -> Result<()> {
        self.set_description_impl(name, None, description)
    }
    fn set_model_version_description(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<()> {
        self.set_description_impl(name, Some(version), description)
    }
    fn delete_tag(&self, owner: &TagOwner, key: &str) -> Result<()> {
        match owner {
            TagOwner::Model(name) => self.delete_model_tag_impl(name, None, key),
            TagOwner::Version(name, v) => self.delete_model_tag_impl(name, Some(*v), key),
            TagOwner::Run(id) => self.delete_run_tag_impl(id, key),
            TagOwner::Experiment(id) => self.delete_experiment_tag_impl(id, key),
        }
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
        validate::model_name(name)?;
        self.register_model_impl(&NewVersion {
            name,
            source,
            run_id,
            description,
        })
    }
    fn register_model_with_alias(
        &self,
        new: &NewVersion<'_>,
        alias: &str,
        kind: &str,
    ) -> Result<ModelVersion> {
        validate::model_name(new.name)?;
        self.register_model_with_alias_impl(new, alias, kind)
    }
}
