//! The local `mlruns` folder, laid out exactly as MLflow's file store lays it out (see
//! `../shared/spec/mlruns-format.md`): every path of the format is built here and nowhere else.
//!
//! Writes are crash-safe: a new run or experiment is assembled in a hidden staging folder and renamed into
//! place whole; files are replaced by rename; metric lines are appended under a lock; read-modify-write of a
//! `meta.yaml` holds a lock on its directory. Lookups never scan runs: a run is found by probing
//! `<exp>/<run_id>` in each experiment folder.
//!
//! This file holds the store itself and its `TrackingStore` impl; the work is split by what it owns:
//! `experiments`, `runs`, `artifacts`, `models` (datasets, logged models, the registry) and `maintenance`
//! (doctor, gc).

use super::entities::*;
use super::meta::{self, Meta, MetaFields};
use super::uri::{file_uri_to_path, path_to_file_uri};
use super::{
    Batch, Fields, ModelUri, NewRun, Projection, Result, StoreError, TrackingStore, VersionRef,
    atomic, metric_file, most_common, validate,
};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

mod artifacts;
mod experiments;
mod maintenance;
mod models;
mod runs;

use experiments::*;
use runs::*;

pub(in crate::store) use artifacts::{copy_dir, copy_file, list_artifact_dir};
pub use maintenance::{Finding, Removed};
pub(in crate::store) use runs::random_run_name;

const TRASH: &str = ".trash";
const REGISTRY_DIR: &str = "models";
const META: &str = "meta.yaml";
/// Folder names inside an experiment that are never runs.
const RESERVED_IN_EXPERIMENT: [&str; 4] = ["tags", "datasets", "traces", "models"];
const DEFAULT_EXPERIMENT_ID: &str = "0";

pub struct FileStore {
    root: PathBuf,
    /// Where notes go (entries skipped as unreadable): the store never prints.
    notes: super::Notes,
}

/// Where a run lives on disk.
struct RunLocation {
    dir: PathBuf,
    experiment_dir: PathBuf,
}

impl FileStore {
    /// Open the store at `root` (made absolute). Nothing is created until the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        FileStore {
            root,
            notes: super::no_notes(),
        }
    }

    /// Hand notes (e.g. an unreadable run skipped in a listing) to `notes`.
    pub fn with_notes(mut self, notes: super::Notes) -> Self {
        self.notes = notes;
        self
    }

    /// An entry a listing skips because it cannot be read: a note, not a failure of the listing.
    fn skipped(&self, e: &StoreError) {
        (self.notes)(&format!("warning: skipping {e}"));
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn root_uri(&self) -> String {
        path_to_file_uri(&self.root)
    }

    /// Create the root with `.trash/` and the Default experiment, as MLflow does for a fresh root.
    fn ensure_root(&self) -> Result<()> {
        let trash = self.root.join(TRASH);
        if !trash.is_dir() {
            fs::create_dir_all(&trash).map_err(|e| StoreError::io(&trash, e))?;
        }
        if self.root.join(DEFAULT_EXPERIMENT_ID).is_dir()
            || trash.join(DEFAULT_EXPERIMENT_ID).is_dir()
        {
            return Ok(());
        }
        let _lock = self.lock_root()?;
        if self.root.join(DEFAULT_EXPERIMENT_ID).is_dir() {
            return Ok(());
        }
        self.write_new_experiment(DEFAULT_EXPERIMENT_ID, "Default", None, &BTreeMap::new())
    }

    fn lock_root(&self) -> Result<atomic::LockGuard> {
        atomic::LockGuard::on_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))
    }

    /// A hidden, empty scratch folder at the store root, to assemble an entity before one rename moves it
    /// into place (or to move one out of place before deleting it). Scratch folders live only at the root
    /// and end in `.trash` because that is the one place MLflow never reads: it takes every other folder of
    /// the root for an experiment (and fails on a name that is not an experiment id) and every folder of an
    /// experiment for a run (and fails when that folder's meta.yaml names a run stored elsewhere).
    pub(super) fn scratch_dir(&self) -> Result<PathBuf> {
        let dir = self
            .root
            .join(format!(".mlx-tmp-{}.trash", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(dir)
    }

    /// Read-modify-write the meta.yaml of a run or experiment folder under a lock on that folder.
    fn update_meta(&self, dir: &Path, change: impl FnOnce(&mut Meta)) -> Result<()> {
        let _lock = atomic::LockGuard::on_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        let path = dir.join(META);
        let mut m = meta::read(&path)?;
        change(&mut m);
        meta::write(&path, &m)
    }
}

impl TrackingStore for FileStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        validate::experiment_name(name)?;
        for (k, v) in tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        self.ensure_root()?;
        // Names are unique over the store: check and create under one lock.
        let _lock = self.lock_root()?;
        self.check_name_free(name, None)?;
        let id = loop {
            let id = new_experiment_id();
            if !self.root.join(&id).exists() && !self.root.join(TRASH).join(&id).exists() {
                break id;
            }
        };
        self.write_new_experiment(&id, name, artifact_location, tags)?;
        Ok(id)
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        let (dir, _) = self.experiment_dir(id)?;
        self.read_experiment(&dir)
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        self.find_experiment_named(name)
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let mut list: Vec<Experiment> = self
            .all_experiments()?
            .into_iter()
            .filter(|e| view.admits(e.lifecycle_stage))
            .collect();
        list.sort_by(|a, b| {
            b.creation_time
                .cmp(&a.creation_time)
                .then_with(|| a.experiment_id.cmp(&b.experiment_id))
        });
        Ok(list)
    }

    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        validate::experiment_name(new_name)?;
        let (dir, trashed) = self.experiment_dir(id)?;
        if trashed {
            return Err(StoreError::InvalidState(format!(
                "experiment {id} is deleted; restore it before renaming"
            )));
        }
        let _lock = self.lock_root()?;
        self.check_name_free(new_name, Some(id))?;
        let now = super::now_ms();
        self.update_meta(&dir, |m| {
            m.insert("name".into(), meta::s(new_name));
            m.insert("last_update_time".into(), meta::i(now));
        })
    }

    fn delete_experiment(&self, id: &str) -> Result<()> {
        if id == DEFAULT_EXPERIMENT_ID {
            return Err(StoreError::InvalidState(
                "the Default experiment (id 0) cannot be deleted".into(),
            ));
        }
        let (dir, trashed) = self.experiment_dir(id)?;
        if trashed {
            return Err(StoreError::InvalidState(format!(
                "experiment {id} is already deleted"
            )));
        }
        let _lock = self.lock_root()?;
        let now = super::now_ms();
        self.update_meta(&dir, |m| {
            m.insert("lifecycle_stage".into(), meta::s("deleted"));
            m.insert("last_update_time".into(), meta::i(now));
        })?;
        self.set_runs_stage(&dir, Lifecycle::Active, Lifecycle::Deleted, None, now)?;
        let trash = self.root.join(TRASH);
        fs::create_dir_all(&trash).map_err(|e| StoreError::io(&trash, e))?;
        let target = trash.join(id);
        fs::rename(&dir, &target).map_err(|e| StoreError::io(&target, e))?;
        atomic::sync_dir(&trash);
        atomic::sync_dir(&self.root);
        Ok(())
    }

    fn restore_experiment(&self, id: &str) -> Result<()> {
        let (dir, trashed) = self.experiment_dir(id)?;
        if !trashed {
            return Err(StoreError::InvalidState(format!(
                "experiment {id} is not deleted"
            )));
        }
        let _lock = self.lock_root()?;
        let exp = self.read_experiment(&dir)?;
        let deleted_at = exp.last_update_time;
        let now = super::now_ms();
        let target = self.root.join(id);
        if target.exists() {
            return Err(StoreError::InvalidState(format!(
                "cannot restore experiment {id}: {} already exists",
                target.display()
            )));
        }
        fs::rename(&dir, &target).map_err(|e| StoreError::io(&target, e))?;
        atomic::sync_dir(&self.root);
        self.update_meta(&target, |m| {
            m.insert("lifecycle_stage".into(), meta::s("active"));
            m.insert("last_update_time".into(), meta::i(now));
        })?;
        self.set_runs_stage(
            &target,
            Lifecycle::Deleted,
            Lifecycle::Active,
            Some(deleted_at.unwrap_or(i64::MIN)),
            now,
        )
    }

    fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        let (dir, _) = self.experiment_dir(id)?;
        write_value_file(&dir.join("tags"), key, value)
    }

    fn create_run(&self, new: NewRun) -> Result<RunInfo> {
        for (k, v) in &new.tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        self.ensure_root()?;
        let exp = self.get_experiment(&new.experiment_id)?;
        if exp.lifecycle_stage != Lifecycle::Active {
            return Err(StoreError::InvalidState(format!(
                "experiment '{}' is deleted; restore it to add runs",
                exp.name
            )));
        }
        let (exp_dir, _) = self.experiment_dir(&exp.experiment_id)?;
        let run_id = match &new.run_id {
            Some(id) => {
                validate::id("run", id)?;
                if self.find_run(id).is_ok() {
                    return Err(StoreError::InvalidState(format!("run {id} already exists")));
                }
                id.clone()
            }
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        let run_name = new.run_name.clone().unwrap_or_else(random_run_name);
        validate::tag_value("mlflow.runName", &run_name)?;
        let artifact_uri = format!(
            "{}/{run_id}/artifacts",
            exp.artifact_location.trim_end_matches('/')
        );
        let info = RunInfo {
            run_id: run_id.clone(),
            run_name: run_name.clone(),
            experiment_id: exp.experiment_id.clone(),
            user_id: new.user_id.clone(),
            status: RunStatus::Running,
            start_time: new.start_time,
            end_time: None,
            artifact_uri,
            lifecycle_stage: Lifecycle::Active,
        };
        let staging = self.scratch_dir()?;
        let result = (|| {
            for sub in ["params", "metrics", "artifacts", "tags"] {
                let d = staging.join(sub);
                fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
            }
            let mut tags = new.tags.clone();
            tags.insert("mlflow.runName".into(), run_name.clone());
            for (k, v) in &tags {
                write_value_file(&staging.join("tags"), k, v)?;
            }
            meta::write(&staging.join(META), &run_meta(&info))?;
            let target = exp_dir.join(&run_id);
            fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
            atomic::sync_dir(&exp_dir);
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result.map(|_| info)
    }

    fn get_run(&self, run_id: &str) -> Result<Run> {
        let loc = self.find_run(run_id)?;
        self.read_run(&loc)
    }

    fn list_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>> {
        let infos = self.admitted_runs(experiment_ids, view)?;
        let mut projection = projection.clone();
        if let Fields::MostCommon(n) = projection.metrics {
            let key_lists = parallel_map(infos.iter().collect(), |(loc, _)| {
                list_key_files(&loc.dir.join("metrics"))
                    .map(|files| files.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
                    .unwrap_or_default()
            });
            projection.metrics = Fields::Only(most_common(key_lists, n).into_iter().collect());
        }
        let mut runs: Vec<Run> = parallel_map(infos, |(loc, info)| {
            match self.read_run_projected(&loc, info, &projection) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.skipped(&e);
                    None
                }
            }
        })
        .into_iter()
        .flatten()
        .collect();
        super::sort_newest_first(&mut runs);
        Ok(runs)
    }

    fn metric_keys(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        // Names only: one folder listing per run, no metric file read.
        let infos = self.admitted_runs(experiment_ids, view)?;
        let key_lists = parallel_map(infos.iter().collect(), |(loc, _)| {
            list_key_files(&loc.dir.join("metrics"))
                .map(|files| files.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
                .unwrap_or_default()
        });
        Ok(key_lists.into_iter().flatten().collect())
    }

    fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        // Validate everything before writing anything, so a bad batch leaves the run untouched.
        validate::batch(batch)?;
        let (loc, _) = self.active_run(run_id)?;
        let params_dir = loc.dir.join("params");
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &batch.params {
            if let Some(old) = seen.insert(k, v).filter(|old| old != v) {
                return Err(param_changed(run_id, k, old, v));
            }
            let path = params_dir.join(k);
            if let Ok(old) = fs::read_to_string(&path)
                && old != *v
            {
                return Err(param_changed(run_id, k, &old, v));
            }
        }
        for (k, v) in &batch.params {
            let path = params_dir.join(k);
            create_parent(&path)?;
            if !atomic::write_new(&path, v.as_bytes(), &loc.dir)
                .map_err(|e| StoreError::io(&path, e))?
            {
                // Another process logged it meanwhile: fine if it is the same value.
                let old = fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
                if old != *v {
                    return Err(param_changed(run_id, k, &old, v));
                }
            }
        }
        let metrics_dir = loc.dir.join("metrics");
        let mut lines: BTreeMap<&str, String> = BTreeMap::new();
        for (k, p) in &batch.metrics {
            lines
                .entry(k.as_str())
                .or_default()
                .push_str(&metric_file::format_line(p));
        }
        for (k, text) in lines {
            let path = metrics_dir.join(k);
            create_parent(&path)?;
            atomic::append(&path, text.as_bytes(), &loc.dir)
                .map_err(|e| StoreError::io(&path, e))?;
        }
        for (k, v) in &batch.tags {
            write_value_file(&loc.dir.join("tags"), k, v)?;
            if k == "mlflow.runName" {
                self.update_meta(&loc.dir, |m| {
                    m.insert("run_name".into(), meta::s(v.clone()));
                })?;
            }
        }
        Ok(())
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        let (loc, _) = self.active_run(run_id)?;
        self.update_meta(&loc.dir, |m| {
            m.insert("status".into(), meta::i(status.code()));
            m.insert("end_time".into(), meta::opt_i(end_time));
        })
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        let loc = self.find_run(run_id)?;
        let now = super::now_ms();
        self.update_meta(&loc.dir, |m| {
            m.insert("lifecycle_stage".into(), meta::s("deleted"));
            m.insert("deleted_time".into(), meta::i(now));
        })
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        let loc = self.find_run(run_id)?;
        if loc.experiment_dir.parent() == Some(&self.root.join(TRASH)) {
            return Err(StoreError::InvalidState(format!(
                "run {run_id} is in a deleted experiment; restore the experiment instead"
            )));
        }
        self.update_meta(&loc.dir, |m| {
            m.insert("lifecycle_stage".into(), meta::s("active"));
            m.remove("deleted_time");
        })
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        validate::key("metric", key)?;
        let loc = self.find_run(run_id)?;
        let path = loc.dir.join("metrics").join(key);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        metric_file::parse_file(&text)
            .map_err(|(line, why)| StoreError::corrupt(&path, format!("line {line}: {why}")))
    }

    fn log_artifact(&self, run_id: &str, local: &Path, dest: Option<&str>) -> Result<()> {
        if let Some(d) = dest {
            validate::artifact_path(d)?;
        }
        let (loc, info) = self.active_run(run_id)?;
        let meta = fs::metadata(local).map_err(|e| StoreError::io(local, e))?;
        let name = local.file_name().ok_or_else(|| StoreError::InvalidValue {
            what: format!("artifact '{}'", local.display()),
            why: "it has no file name".into(),
        })?;
        let mut target = self.artifacts_dir(&loc, &info);
        if let Some(d) = dest.filter(|d| !d.is_empty()) {
            target = target.join(d);
        }
        let target = target.join(name);
        if meta.is_dir() {
            copy_dir(local, &target)
        } else {
            copy_file(local, &target)
        }
    }

    fn log_input(&self, run_id: &str, dataset: &Dataset, context: &str) -> Result<()> {
        self.log_input_impl(run_id, dataset, context)
    }

    fn open_artifact(&self, run_id: &str, path: &str) -> Result<fs::File> {
        let path = path.trim_matches('/');
        validate::artifact_path(path)?;
        if path.is_empty() {
            return Err(StoreError::InvalidValue {
                what: "artifact path".into(),
                why: "it is empty".into(),
            });
        }
        let loc = self.find_run(run_id)?;
        let info = self.read_run_info(&loc.dir)?;
        let base = self.artifacts_dir(&loc, &info);
        let real = self.check_artifact(&base, &base.join(path))?;
        let file = fs::File::open(&real).map_err(|e| StoreError::io(&real, e))?;
        // Checked again on the open file, in case it was swapped since.
        match file.metadata() {
            Ok(md) if md.is_file() => Ok(file),
            Ok(_) => Err(not_regular(&real)),
            Err(e) => Err(StoreError::io(&real, e)),
        }
    }

    fn download_artifacts(&self, run_id: &str, dest: &Path) -> Result<()> {
        let loc = self.find_run(run_id)?;
        let info = self.read_run_info(&loc.dir)?;
        let src = self.artifacts_dir(&loc, &info);
        if src.is_dir() {
            self.copy_artifacts(&src, &src, dest)
        } else {
            fs::create_dir_all(dest).map_err(|e| StoreError::io(dest, e))
        }
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        self.get_logged_model_impl(model_id)
    }

    fn create_logged_model(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        validate::key("model name", name)?;
        let model_id = super::new_model_id();
        let (_, info) = self.active_run(run_id)?;
        Ok(LoggedModel {
            artifact_location: self.logged_model_uri_impl(run_id, &model_id)?,
            model_id,
            name: name.into(),
            experiment_id: info.experiment_id,
            source_run_id: run_id.into(),
        })
    }

    fn log_model(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()> {
        self.log_model_impl(
            &model.source_run_id,
            &model.model_id,
            &model.name,
            local,
            metrics,
        )
        .map(|_| ())
    }

    fn fetch_model(&self, uri: &ModelUri) -> Result<PathBuf> {
        self.fetch_model_impl(uri)
    }

    fn resolve_model_version(&self, version: &VersionRef) -> Result<ModelVersion> {
        self.resolve_version(version)
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

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        self.list_registered_models_impl()
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.read_registered_model(name)
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

    fn delete_tag(&self, owner: &TagOwner, key: &str) -> Result<()> {
        validate::key("tag", key)?;
        let (dir, what) = match owner {
            TagOwner::Run(id) => (self.active_run(id)?.0.dir.join("tags"), format!("run {id}")),
            TagOwner::Experiment(id) => (
                self.experiment_dir(id)?.0.join("tags"),
                format!("experiment {id}"),
            ),
            TagOwner::Model(name) => return self.delete_model_tag_impl(name, None, key),
            TagOwner::Version(name, v) => return self.delete_model_tag_impl(name, Some(*v), key),
        };
        remove_value_file(&dir, key, &what)
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

    fn set_alias(&self, name: &str, alias: &str, version: u64, kind: &str) -> Result<Option<u64>> {
        self.set_alias_impl(name, alias, version, kind)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.delete_alias_impl(name, alias)
    }

    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        self.alias_history_impl(name, alias)
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<ArtifactEntry>> {
        let prefix = path.unwrap_or("").trim_matches('/');
        validate::artifact_path(prefix)?;
        let loc = self.find_run(run_id)?;
        let info = self.read_run_info(&loc.dir)?;
        artifacts::list_artifact_dir(&self.artifacts_dir(&loc, &info), prefix)
    }
}

fn param_changed(run_id: &str, key: &str, old: &str, new: &str) -> StoreError {
    StoreError::ParamChanged {
        run_id: run_id.into(),
        key: key.into(),
        old: old.into(),
        new: new.into(),
    }
}

/// Write `value` to `<dir>/<key>` (nested for keys with `/`), atomically, no trailing newline. The temp
/// file goes to `dir`'s parent: MLflow reads every file in a key folder as a key.
fn write_value_file(dir: &Path, key: &str, value: &str) -> Result<()> {
    let path = dir.join(key);
    create_parent(&path)?;
    let tmp_dir = dir.parent().unwrap_or(dir);
    atomic::write_via(&path, value.as_bytes(), tmp_dir).map_err(|e| StoreError::io(&path, e))
}

/// Remove the file of a tag (`what` names its owner in the error when there is no such tag).
fn remove_value_file(dir: &Path, key: &str, what: &str) -> Result<()> {
    let path = dir.join(key);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::InvalidValue {
            what: "tag".into(),
            why: format!("no tag '{key}' on {what}"),
        }),
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    Ok(())
}

/// Map `f` over `items` on a few threads (file reads overlap; order is kept).
fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    if threads == 1 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| scope.spawn(move || c.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a listing worker panicked"))
            .collect()
    })
}

fn list_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

fn not_regular(path: &Path) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        why: "not a regular file (a folder, FIFO, device or socket); mlx reads only regular files as artifacts"
            .into(),
    }
}

#[cfg(test)]
mod tests;
