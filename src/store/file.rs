//! The local `mlruns` folder, laid out exactly as MLflow's file store lays it out (see
//! `../shared/spec/mlruns-format.md`): every path of the format is built here and nowhere else.
//!
//! Writes are crash-safe: a new run or experiment is assembled in a hidden staging folder and renamed into
//! place whole; files are replaced by rename; metric lines are appended under a lock; read-modify-write of a
//! `meta.yaml` holds a lock on its directory. Lookups never scan runs: a run is found by probing
//! `<exp>/<run_id>` in each experiment folder.

use super::entities::*;
use super::meta::{self, Meta, MetaFields};
use super::{
    Batch, Fields, NewRun, Projection, Result, StoreError, TrackingStore, atomic, metric_file,
    validate,
};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

mod maintenance;
mod models;

pub use maintenance::{Finding, Removed};

const TRASH: &str = ".trash";
const REGISTRY_DIR: &str = "models";
const META: &str = "meta.yaml";
/// Folder names inside an experiment that are never runs.
const RESERVED_IN_EXPERIMENT: [&str; 4] = ["tags", "datasets", "traces", "models"];
const DEFAULT_EXPERIMENT_ID: &str = "0";

pub struct FileStore {
    root: PathBuf,
}

/// Where a run lives on disk.
struct RunLocation {
    dir: PathBuf,
    experiment_dir: PathBuf,
}

impl FileStore {
    /// Every run of the experiments (with its meta.yaml read) whose lifecycle the view admits.
    fn admitted_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<Vec<(RunLocation, RunInfo)>> {
        let mut locations = Vec::new();
        for id in experiment_ids {
            let (exp_dir, _) = self.experiment_dir(id)?;
            for dir in self.run_dirs(&exp_dir)? {
                locations.push(RunLocation {
                    dir,
                    experiment_dir: exp_dir.clone(),
                });
            }
        }
        // Check the lifecycle from meta.yaml before paying for params/metrics/tags.
        Ok(
            parallel_map(locations, |loc| match self.read_run_info(&loc.dir) {
                Ok(info) if view.admits(info.lifecycle_stage) => Some((loc, info)),
                Ok(_) => None,
                Err(e) => {
                    warn(&e);
                    None
                }
            })
            .into_iter()
            .flatten()
            .collect(),
        )
    }

    /// Open the store at `root` (made absolute). Nothing is created until the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        FileStore { root }
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

    /// `(dir, is_in_trash)` of an experiment.
    fn experiment_dir(&self, id: &str) -> Result<(PathBuf, bool)> {
        validate::id("experiment", id).map_err(|_| StoreError::ExperimentNotFound(id.into()))?;
        if id == TRASH || id == REGISTRY_DIR {
            return Err(StoreError::ExperimentNotFound(id.into()));
        }
        let live = self.root.join(id);
        if live.join(META).is_file() {
            return Ok((live, false));
        }
        let trashed = self.root.join(TRASH).join(id);
        if trashed.join(META).is_file() {
            return Ok((trashed, true));
        }
        Err(StoreError::ExperimentNotFound(id.into()))
    }

    /// Every experiment folder (live ones, then trashed ones).
    fn experiment_dirs(&self) -> Result<Vec<PathBuf>> {
        let mut dirs = Vec::new();
        for (base, skip_reserved) in [(self.root.clone(), true), (self.root.join(TRASH), false)] {
            let entries = match fs::read_dir(&base) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&base, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io(&base, e))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || (skip_reserved && name == REGISTRY_DIR) {
                    continue;
                }
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    dirs.push(entry.path());
                }
            }
        }
        Ok(dirs)
    }

    fn read_experiment(&self, dir: &Path) -> Result<Experiment> {
        let path = dir.join(META);
        let m = meta::read(&path)?;
        let f = MetaFields {
            path: &path,
            meta: &m,
        };
        let id = f.string("experiment_id")?;
        let folder = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if folder.as_deref() != Some(id.as_str()) {
            return Err(StoreError::corrupt(
                &path,
                format!("experiment_id '{id}' does not match its folder name"),
            ));
        }
        let stage = f.string("lifecycle_stage")?;
        Ok(Experiment {
            experiment_id: id,
            name: f.string("name")?,
            artifact_location: f.string("artifact_location")?,
            lifecycle_stage: Lifecycle::parse(&stage).ok_or_else(|| {
                StoreError::corrupt(&path, format!("unknown lifecycle_stage '{stage}'"))
            })?,
            creation_time: f.opt_int("creation_time")?,
            last_update_time: f.opt_int("last_update_time")?,
            tags: read_kv_dir(&dir.join("tags"), &Fields::All)?,
        })
    }

    fn all_experiments(&self) -> Result<Vec<Experiment>> {
        let (out, unreadable) = self.scan_experiments()?;
        unreadable.iter().for_each(warn);
        Ok(out)
    }

    /// Every readable experiment, and the errors of experiment folders whose `meta.yaml` exists but
    /// cannot be read (a folder with no `meta.yaml` at all is not an experiment).
    fn scan_experiments(&self) -> Result<(Vec<Experiment>, Vec<StoreError>)> {
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        for dir in self.experiment_dirs()? {
            match self.read_experiment(&dir) {
                Ok(e) => out.push(e),
                Err(StoreError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound
                        && fs::symlink_metadata(dir.join(META)).is_err() => {}
                Err(e) => unreadable.push(e),
            }
        }
        Ok((out, unreadable))
    }

    /// The experiment named `name`, if any. An experiment whose `meta.yaml` cannot be read might be the
    /// one, so then the answer is an error naming that file — never "no such experiment", which would
    /// make `log start --experiment NAME` create a second experiment of the same name.
    fn find_experiment_named(&self, name: &str) -> Result<Option<Experiment>> {
        Ok(self.experiments_named(name)?.into_iter().next())
    }

    /// Every experiment named `name` (see [`FileStore::find_experiment_named`]).
    fn experiments_named(&self, name: &str) -> Result<Vec<Experiment>> {
        let (all, mut unreadable) = self.scan_experiments()?;
        let found: Vec<Experiment> = all.into_iter().filter(|e| e.name == name).collect();
        if found.is_empty() && !unreadable.is_empty() {
            return Err(StoreError::InvalidState(format!(
                "cannot tell whether experiment '{name}' exists: {}; fix or remove that file",
                unreadable.swap_remove(0)
            )));
        }
        Ok(found)
    }

    fn write_new_experiment(
        &self,
        id: &str,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        let now = super::now_ms();
        let location = match artifact_location {
            Some(l) => l.to_string(),
            None => format!("{}/{id}", self.root_uri()),
        };
        let mut m = Meta::new();
        m.insert("artifact_location".into(), meta::s(location));
        m.insert("creation_time".into(), meta::i(now));
        m.insert("experiment_id".into(), meta::s(id));
        m.insert("last_update_time".into(), meta::i(now));
        m.insert("lifecycle_stage".into(), meta::s("active"));
        m.insert("name".into(), meta::s(name));
        m.insert("workspace".into(), meta::s("default"));
        let staging = self.scratch_dir()?;
        let result = (|| {
            meta::write(&staging.join(META), &m)?;
            for (k, v) in tags {
                write_value_file(&staging.join("tags"), k, v)?;
            }
            let target = self.root.join(id);
            fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
            atomic::sync_dir(&self.root);
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
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

    fn find_run(&self, run_id: &str) -> Result<RunLocation> {
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        for exp_dir in self.experiment_dirs()? {
            let dir = exp_dir.join(run_id);
            if dir.join(META).is_file() {
                return Ok(RunLocation {
                    dir,
                    experiment_dir: exp_dir,
                });
            }
        }
        Err(StoreError::RunNotFound(run_id.into()))
    }

    fn read_run_info(&self, dir: &Path) -> Result<RunInfo> {
        let path = dir.join(META);
        let m = meta::read_for_lookup(&path)?;
        run_info_from_meta(dir, &path, &m)
    }

    fn read_run(&self, loc: &RunLocation) -> Result<Run> {
        let info = self.read_run_info(&loc.dir)?;
        self.read_run_projected(loc, info, &Projection::everything())
    }

    fn read_run_projected(
        &self,
        loc: &RunLocation,
        mut info: RunInfo,
        projection: &Projection,
    ) -> Result<Run> {
        let params = read_kv_dir(&loc.dir.join("params"), &projection.params)?;
        let tags = read_kv_dir(&loc.dir.join("tags"), &projection.tags)?;
        let mut metrics = BTreeMap::new();
        match &projection.metrics {
            Fields::Nothing | Fields::MostCommon(_) => {}
            // Named keys are opened directly: no folder listing.
            Fields::Only(keys) => {
                for key in keys {
                    if validate::key("metric", key).is_err() {
                        continue;
                    }
                    let path = loc.dir.join("metrics").join(key);
                    match read_latest_metric(&path) {
                        Ok(p) => {
                            metrics.insert(key.clone(), p);
                        }
                        Err(StoreError::Io { source, .. })
                            if source.kind() == io::ErrorKind::NotFound
                                || source.kind() == io::ErrorKind::IsADirectory => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Fields::All => {
                for (key, path) in list_key_files(&loc.dir.join("metrics"))? {
                    metrics.insert(key, read_latest_metric(&path)?);
                }
            }
        }
        if info.run_name.is_empty() {
            info.run_name = tags.get("mlflow.runName").cloned().unwrap_or_else(|| {
                fs::read_to_string(loc.dir.join("tags/mlflow.runName")).unwrap_or_default()
            });
        }
        let (inputs, outputs) = if projection.io {
            (
                self.read_inputs(loc)?,
                list_names(&loc.dir.join("outputs"))?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(Run {
            info,
            data: RunData {
                metrics,
                params,
                tags,
            },
            inputs,
            outputs,
        })
    }

    fn read_inputs(&self, loc: &RunLocation) -> Result<Vec<DatasetInput>> {
        let mut inputs = Vec::new();
        for input_id in list_names(&loc.dir.join("inputs"))? {
            let path = loc.dir.join("inputs").join(&input_id).join(META);
            let Ok(m) = meta::read(&path) else { continue };
            let f = MetaFields {
                path: &path,
                meta: &m,
            };
            if f.opt_string("source_type")?.as_deref() != Some("DATASET") {
                continue;
            }
            let Some(dataset_id) = f.opt_string("source_id")? else {
                continue;
            };
            if validate::id("dataset", &dataset_id).is_err() {
                continue;
            }
            let context = match m.get("tags") {
                Some(Value::Mapping(t)) => t
                    .get(Value::String("mlflow.data.context".into()))
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                _ => None,
            };
            let ds_path = loc
                .experiment_dir
                .join("datasets")
                .join(&dataset_id)
                .join(META);
            let Ok(ds) = meta::read(&ds_path) else {
                continue;
            };
            let d = MetaFields {
                path: &ds_path,
                meta: &ds,
            };
            inputs.push(DatasetInput {
                name: d.opt_string("name")?.unwrap_or_default(),
                digest: d.opt_string("digest")?.unwrap_or_default(),
                source_type: d.opt_string("source_type")?.unwrap_or_default(),
                context,
                source: d.opt_string("source")?.unwrap_or_default(),
                schema: d.opt_string("schema")?.unwrap_or_default(),
                profile: d.opt_string("profile")?.unwrap_or_default(),
            });
        }
        Ok(inputs)
    }

    /// The run's artifact folder. A default-layout URI (`.../<exp>/<run>/artifacts`) always resolves inside
    /// this store, so a moved or copied store keeps working; a custom location is used as given.
    fn artifacts_dir(&self, loc: &RunLocation, info: &RunInfo) -> PathBuf {
        let in_store = loc.dir.join("artifacts");
        let default_suffix = format!("/{}/{}/artifacts", info.experiment_id, info.run_id);
        match file_uri_to_path(&info.artifact_uri) {
            Some(p)
                if !info
                    .artifact_uri
                    .trim_end_matches('/')
                    .ends_with(&default_suffix) =>
            {
                p
            }
            _ => in_store,
        }
    }

    /// The real path of artifact `file` (under the artifact folder `base`) if it is safe to read: a regular
    /// file (a FIFO or device would block a reader or never end) whose real path, symlinks followed, stays
    /// inside this store or `base`. Whoever can write the store could otherwise plant a link to
    /// `/etc/passwd` or `~/.ssh/id_rsa` and have `mlx ui` serve it or `mlx sync` upload it.
    fn check_artifact(&self, base: &Path, file: &Path) -> Result<PathBuf> {
        let real = fs::canonicalize(file).map_err(|e| StoreError::io(file, e))?;
        let inside = [&self.root, base]
            .into_iter()
            .filter_map(|r| fs::canonicalize(r).ok())
            .any(|r| real.starts_with(r));
        if !inside {
            return Err(StoreError::Refused {
                path: file.to_path_buf(),
                why: "a symbolic link out of the store; mlx does not read artifacts outside the store"
                    .into(),
            });
        }
        let md = fs::metadata(&real).map_err(|e| StoreError::io(&real, e))?;
        if !md.is_file() && !md.is_dir() {
            return Err(not_regular(file));
        }
        Ok(real)
    }

    /// Copy a run's artifact folder `from` (under `base`) to `to`, every file checked by
    /// [`FileStore::check_artifact`].
    fn copy_artifacts(&self, base: &Path, from: &Path, to: &Path) -> Result<()> {
        fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| StoreError::io(from, e))? {
            let entry = entry.map_err(|e| StoreError::io(from, e))?;
            let path = entry.path();
            let real = self.check_artifact(base, &path)?;
            let target = to.join(entry.file_name());
            if real.is_dir() {
                // A link to a folder is followed once it is known to stay inside.
                self.copy_artifacts(base, &path, &target)?;
            } else {
                copy_file(&real, &target)?;
            }
        }
        Ok(())
    }

    fn active_run(&self, run_id: &str) -> Result<(RunLocation, RunInfo)> {
        let loc = self.find_run(run_id)?;
        let info = self.read_run_info(&loc.dir)?;
        if info.lifecycle_stage != Lifecycle::Active {
            return Err(StoreError::InvalidState(format!(
                "run {run_id} is deleted; restore it with `mlx runs restore {run_id}` before logging to it"
            )));
        }
        Ok((loc, info))
    }

    /// Read-modify-write the meta.yaml of a run or experiment folder under a lock on that folder.
    fn update_meta(&self, dir: &Path, change: impl FnOnce(&mut Meta)) -> Result<()> {
        let _lock = atomic::LockGuard::on_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        let path = dir.join(META);
        let mut m = meta::read(&path)?;
        change(&mut m);
        meta::write(&path, &m)
    }

    fn run_dirs(&self, experiment_dir: &Path) -> Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(experiment_dir) {
            Ok(e) => e,
            Err(e) => return Err(StoreError::io(experiment_dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(experiment_dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || RESERVED_IN_EXPERIMENT.contains(&name.as_ref()) {
                continue;
            }
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(entry.path());
            }
        }
        Ok(out)
    }

    fn check_name_free(&self, name: &str, except_id: Option<&str>) -> Result<()> {
        for e in self.experiments_named(name)? {
            if Some(e.experiment_id.as_str()) != except_id {
                return Err(StoreError::ExperimentExists(name.into()));
            }
        }
        Ok(())
    }

    fn set_runs_stage(
        &self,
        experiment_dir: &Path,
        from: Lifecycle,
        to: Lifecycle,
        deleted_since: Option<i64>,
        now: i64,
    ) -> Result<()> {
        for dir in self.run_dirs(experiment_dir)? {
            let Ok(info) = self.read_run_info(&dir) else {
                continue;
            };
            if info.lifecycle_stage != from {
                continue;
            }
            self.update_meta(&dir, |m| {
                if let Some(since) = deleted_since {
                    let deleted_at = m.get("deleted_time").and_then(|v| v.as_i64());
                    if deleted_at.is_some_and(|t| t < since) {
                        return; // deleted on its own before the experiment was
                    }
                }
                m.insert("lifecycle_stage".into(), meta::s(to.as_str()));
                match to {
                    Lifecycle::Deleted => {
                        m.insert("deleted_time".into(), meta::i(now));
                    }
                    Lifecycle::Active => {
                        m.remove("deleted_time");
                    }
                }
            })?;
        }
        Ok(())
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
                    warn(&e);
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

    fn resolve_model(&self, uri: &str) -> Result<PathBuf> {
        self.resolve_model_impl(uri)
    }

    fn resolve_model_version(&self, uri: &str) -> Result<ModelVersion> {
        let spec = uri.strip_prefix("models:/").ok_or_else(|| {
            StoreError::ModelNotFound(format!(
                "{uri} (expected models:/NAME/VERSION or models:/NAME@ALIAS)"
            ))
        })?;
        self.resolve_version(spec)
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
        let base = self.artifacts_dir(&loc, &info);
        let dir = if prefix.is_empty() {
            base.clone()
        } else {
            base.join(prefix)
        };
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let md = entry
                .metadata()
                .map_err(|e| StoreError::io(&entry.path(), e))?;
            out.push(ArtifactEntry {
                path: rel,
                is_dir: md.is_dir(),
                file_size: (!md.is_dir()).then_some(md.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
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

fn warn(e: &StoreError) {
    eprintln!("warning: skipping {e}");
}

fn run_meta(info: &RunInfo) -> Meta {
    let mut m = Meta::new();
    m.insert("artifact_uri".into(), meta::s(info.artifact_uri.clone()));
    m.insert("end_time".into(), meta::opt_i(info.end_time));
    m.insert("entry_point_name".into(), meta::s(""));
    m.insert("experiment_id".into(), meta::s(info.experiment_id.clone()));
    m.insert(
        "lifecycle_stage".into(),
        meta::s(info.lifecycle_stage.as_str()),
    );
    m.insert("run_id".into(), meta::s(info.run_id.clone()));
    m.insert("run_name".into(), meta::s(info.run_name.clone()));
    m.insert("source_name".into(), meta::s(""));
    m.insert("source_type".into(), meta::i(4));
    m.insert("source_version".into(), meta::s(""));
    m.insert("start_time".into(), meta::i(info.start_time));
    m.insert("status".into(), meta::i(info.status.code()));
    m.insert("tags".into(), Value::Sequence(vec![]));
    m.insert("user_id".into(), meta::s(info.user_id.clone()));
    m
}

fn run_info_from_meta(dir: &Path, path: &Path, m: &Meta) -> Result<RunInfo> {
    let f = MetaFields { path, meta: m };
    let run_id = f.string("run_id")?;
    let folder = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    if folder.as_deref() != Some(run_id.as_str()) {
        return Err(StoreError::corrupt(
            path,
            format!("run_id '{run_id}' does not match its folder name"),
        ));
    }
    let status = match m.get("status") {
        None | Some(Value::Null) => RunStatus::Running,
        Some(Value::String(s)) => RunStatus::parse(s)
            .ok_or_else(|| StoreError::corrupt(path, format!("unknown status {s:?}")))?,
        Some(_) => {
            let code = f.int("status")?;
            RunStatus::from_code(code)
                .ok_or_else(|| StoreError::corrupt(path, format!("unknown status {code}")))?
        }
    };
    let stage = f
        .opt_string("lifecycle_stage")?
        .unwrap_or_else(|| "active".into());
    Ok(RunInfo {
        run_name: f.opt_string("run_name")?.unwrap_or_default(),
        experiment_id: f.string("experiment_id")?,
        user_id: f.opt_string("user_id")?.unwrap_or_default(),
        status,
        start_time: f.int("start_time")?,
        end_time: f.opt_int("end_time")?,
        artifact_uri: f.opt_string("artifact_uri")?.unwrap_or_default(),
        lifecycle_stage: Lifecycle::parse(&stage).ok_or_else(|| {
            StoreError::corrupt(path, format!("unknown lifecycle_stage '{stage}'"))
        })?,
        run_id,
    })
}

/// Write `value` to `<dir>/<key>` (nested for keys with `/`), atomically, no trailing newline. The temp
/// file goes to `dir`'s parent: MLflow reads every file in a key folder as a key.
fn write_value_file(dir: &Path, key: &str, value: &str) -> Result<()> {
    let path = dir.join(key);
    create_parent(&path)?;
    let tmp_dir = dir.parent().unwrap_or(dir);
    atomic::write_via(&path, value.as_bytes(), tmp_dir).map_err(|e| StoreError::io(&path, e))
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    Ok(())
}

/// Files under `dir`, recursively, keyed by their `/`-joined relative path. Hidden temp files are skipped.
fn list_key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".mlx-tmp-") {
                continue;
            }
            let key = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&entry.path(), &key, out)?;
            } else {
                out.push((key, entry.path()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn read_kv_dir(dir: &Path, fields: &Fields) -> Result<BTreeMap<String, String>> {
    match fields {
        Fields::Nothing | Fields::MostCommon(_) => return Ok(BTreeMap::new()),
        // Named keys are opened directly: no folder listing.
        Fields::Only(keys) => {
            let mut out = BTreeMap::new();
            for k in keys {
                if validate::key("key", k).is_err() {
                    continue;
                }
                let path = dir.join(k);
                match fs::read(&path) {
                    Ok(v) => {
                        out.insert(k.clone(), String::from_utf8_lossy(&v).into_owned());
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                        ) => {}
                    Err(e) => return Err(StoreError::io(&path, e)),
                }
            }
            return Ok(out);
        }
        Fields::All => {}
    }
    list_key_files(dir)?
        .into_iter()
        .filter(|(k, _)| fields.wants(k))
        .map(|(k, path)| {
            let v = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
            Ok((k, String::from_utf8_lossy(&v).into_owned()))
        })
        .collect()
}

fn read_latest_metric(path: &Path) -> Result<MetricPoint> {
    let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    match metric_file::latest(&text) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(StoreError::corrupt(path, "the metric file is empty")),
        Err((line, why)) => Err(StoreError::corrupt(path, format!("line {line}: {why}"))),
    }
}

/// The `n` keys that occur in most lists, most frequent first (ties by name).
pub fn most_common(lists: Vec<Vec<String>>, n: usize) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for k in lists.into_iter().flatten() {
        *counts.entry(k).or_default() += 1;
    }
    let mut keys: Vec<(String, usize)> = counts.into_iter().collect();
    keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    keys.into_iter().take(n).map(|(k, _)| k).collect()
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

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    create_parent(to)?;
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = super::atomic::temp_file_in(dir).map_err(|e| StoreError::io(dir, e))?;
    fs::copy(from, tmp.path()).map_err(|e| StoreError::io(from, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| StoreError::io(to, e))?;
    tmp.persist(to).map_err(|e| StoreError::io(to, e.error))?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| StoreError::io(from, e))? {
        let entry = entry.map_err(|e| StoreError::io(from, e))?;
        let ft = entry
            .file_type()
            .map_err(|e| StoreError::io(&entry.path(), e))?;
        let target = to.join(entry.file_name());
        if ft.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ft.is_file() || ft.is_symlink() {
            copy_file(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// MLflow's `_generate_unique_integer_id`: 18 decimal digits from a uuid4, no leading zero.
fn new_experiment_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    let digits = format!("{:018}", n % 1_000_000_000_000_000_000);
    let mut id = digits.into_bytes();
    if id[0] == b'0' {
        id[0] = b'1' + (n % 9) as u8;
    }
    String::from_utf8(id).expect("digits are ASCII")
}

/// A friendly name like MLflow's (`bold-fox-123`) for runs started without one.
fn random_run_name() -> String {
    const ADJ: [&str; 16] = [
        "bold", "calm", "brave", "clever", "eager", "gentle", "happy", "keen", "lively", "merry",
        "nimble", "proud", "quick", "sunny", "witty", "zesty",
    ];
    const NOUN: [&str; 16] = [
        "fox", "owl", "bear", "wolf", "hawk", "lynx", "otter", "seal", "crane", "finch", "koi",
        "moth", "newt", "shrew", "stoat", "wren",
    ];
    let n = uuid::Uuid::new_v4().as_u128();
    format!(
        "{}-{}-{}",
        ADJ[(n % 16) as usize],
        NOUN[((n >> 8) % 16) as usize],
        (n >> 16) % 1000
    )
}

/// `file:///abs/path`, percent-encoding what a URI cannot hold (as Python's `Path.as_uri`).
pub fn path_to_file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The local path of a `file:` URI or plain path; None for other schemes.
pub fn file_uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = if let Some(r) = uri.strip_prefix("file://") {
        // file://host/path is not local unless host is empty or localhost
        if r.starts_with('/') {
            r
        } else {
            r.strip_prefix("localhost")?
        }
    } else if let Some(r) = uri.strip_prefix("file:") {
        r
    } else if uri.contains("://") {
        return None;
    } else {
        uri
    };
    Some(PathBuf::from(percent_decode(rest)))
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_ids_look_like_mlflows() {
        for _ in 0..200 {
            let id = new_experiment_id();
            assert_eq!(id.len(), 18);
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert_ne!(id.as_bytes()[0], b'0');
        }
    }

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/my store/ü");
        let uri = path_to_file_uri(p);
        assert_eq!(uri, "file:///tmp/my%20store/%C3%BC");
        assert_eq!(file_uri_to_path(&uri).unwrap(), p);
        assert_eq!(file_uri_to_path("file:/a/b").unwrap(), Path::new("/a/b"));
        assert_eq!(file_uri_to_path("rel/dir").unwrap(), Path::new("rel/dir"));
        assert!(file_uri_to_path("s3://bucket/x").is_none());
        assert_eq!(file_uri_to_path("file:///a%2").unwrap(), Path::new("/a%2"));
    }
}
