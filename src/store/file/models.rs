//! Datasets, logged models (MLflow 3's `<exp>/models/<id>/`), model-URI resolution and the model registry
//! (`<root>/models/<name>/version-<N>/`) of the file store.

use super::*;
use crate::store::{ModelUri, VersionRef, Which};

const REGISTRY: &str = "models";

impl FileStore {
    pub(super) fn log_input_impl(&self, run_id: &str, ds: &Dataset, context: &str) -> Result<()> {
        let (loc, _) = self.active_run(run_id)?;
        let dataset_id = md5_hex(&format!("{}{}", ds.name, ds.digest));
        let ds_dir = loc.experiment_dir.join("datasets").join(&dataset_id);
        if !ds_dir.join(META).is_file() {
            let mut m = Meta::new();
            m.insert("digest".into(), meta::s(ds.digest.clone()));
            m.insert("name".into(), meta::s(ds.name.clone()));
            m.insert("profile".into(), meta::s(ds.profile.clone()));
            m.insert("schema".into(), meta::s(ds.schema.clone()));
            m.insert("source".into(), meta::s(ds.source.clone()));
            m.insert("source_type".into(), meta::s(ds.source_type.clone()));
            self.publish_meta_dir(&ds_dir, &m)?;
        }
        let input_id = md5_hex(&format!("{dataset_id}{run_id}"));
        let input_dir = loc.dir.join("inputs").join(&input_id);
        let mut tags = serde_yaml_ng::Mapping::new();
        tags.insert(meta::s("mlflow.data.context"), meta::s(context));
        let mut m = Meta::new();
        m.insert("destination_id".into(), meta::s(run_id));
        m.insert("destination_type".into(), meta::s("RUN"));
        m.insert("source_id".into(), meta::s(dataset_id));
        m.insert("source_type".into(), meta::s("DATASET"));
        m.insert("tags".into(), Value::Mapping(tags));
        self.publish_meta_dir(&input_dir, &m)
    }

    /// Create `target/meta.yaml` whole: assembled in a scratch folder, renamed into place, so MLflow never
    /// meets the folder without its meta.yaml (which it cannot read).
    fn publish_meta_dir(&self, target: &Path, m: &Meta) -> Result<()> {
        if target.join(META).is_file() {
            return Ok(());
        }
        let staging = self.scratch_dir()?;
        let result = (|| {
            meta::write(&staging.join(META), m)?;
            create_parent(target)?;
            match fs::rename(&staging, target) {
                Ok(()) => Ok(()),
                // Someone else published it first.
                Err(_) if target.join(META).is_file() => Ok(()),
                Err(e) => Err(StoreError::io(target, e)),
            }
        })();
        if staging.exists() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }

    pub(super) fn logged_model_uri_impl(&self, run_id: &str, model_id: &str) -> Result<String> {
        let loc = self.find_run(run_id)?;
        let exp = self.read_experiment(&loc.experiment_dir)?;
        Ok(format!(
            "{}/models/{model_id}/artifacts",
            exp.artifact_location.trim_end_matches('/')
        ))
    }

    pub(super) fn log_model_impl(
        &self,
        run_id: &str,
        model_id: &str,
        name: &str,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<LoggedModel> {
        validate::id("model", model_id)?;
        validate::key("model name", name)?;
        let (loc, info) = self.active_run(run_id)?;
        let models_dir = loc.experiment_dir.join("models");
        fs::create_dir_all(&models_dir).map_err(|e| StoreError::io(&models_dir, e))?;
        let artifact_location = self.logged_model_uri_impl(run_id, model_id)?;
        let now = super::super::now_ms();
        let staging = self.scratch_dir()?;
        let result = (|| {
            copy_dir(local, &staging.join("artifacts"))?;
            let run_dir = &loc.dir;
            let params = read_kv_dir(&run_dir.join("params"), &Fields::All)?;
            for (k, v) in &params {
                write_value_file(&staging.join("params"), k, v)?;
            }
            fs::create_dir_all(staging.join("metrics")).map_err(|e| StoreError::io(&staging, e))?;
            for (k, p) in metrics {
                let path = staging.join("metrics").join(k);
                create_parent(&path)?;
                let line = format!(
                    "{} {} {} {run_id}\n",
                    p.timestamp,
                    metric_file::format_value(p.value),
                    p.step
                );
                atomic::append(&path, line.as_bytes(), &staging)
                    .map_err(|e| StoreError::io(&path, e))?;
            }
            let tags = read_kv_dir(&run_dir.join("tags"), &Fields::All)?;
            for (k, v) in tags
                .iter()
                .filter(|(k, _)| k.starts_with("mlflow.source.") || k.as_str() == "mlflow.user")
            {
                write_value_file(&staging.join("tags"), k, v)?;
            }
            let mut m = Meta::new();
            m.insert(
                "artifact_location".into(),
                meta::s(artifact_location.clone()),
            );
            m.insert("creation_timestamp".into(), meta::i(now));
            m.insert("experiment_id".into(), meta::s(info.experiment_id.clone()));
            m.insert("last_updated_timestamp".into(), meta::i(now));
            m.insert("model_id".into(), meta::s(model_id));
            m.insert("model_type".into(), Value::Null);
            m.insert("name".into(), meta::s(name));
            m.insert("source_run_id".into(), meta::s(run_id));
            m.insert("status".into(), meta::i(2));
            m.insert("status_message".into(), Value::Null);
            meta::write(&staging.join(META), &m)?;
            let target = models_dir.join(model_id);
            fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
            atomic::sync_dir(&models_dir);
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result?;
        let out_dir = loc.dir.join("outputs").join(model_id);
        let mut m = Meta::new();
        m.insert("destination_id".into(), meta::s(model_id));
        m.insert("destination_type".into(), meta::s("MODEL_OUTPUT"));
        m.insert("source_id".into(), meta::s(model_id));
        m.insert("source_type".into(), meta::s("RUN_OUTPUT"));
        m.insert("step".into(), meta::i(0));
        m.insert("tags".into(), Value::Mapping(Default::default()));
        self.publish_meta_dir(&out_dir, &m)?;
        Ok(LoggedModel {
            model_id: model_id.into(),
            name: name.into(),
            experiment_id: info.experiment_id,
            source_run_id: run_id.into(),
            artifact_location,
        })
    }

    pub(super) fn get_logged_model_impl(&self, model_id: &str) -> Result<LoggedModel> {
        let artifacts = self.logged_model_dir(model_id)?;
        let path = artifacts.with_file_name(META);
        let m = meta::read(&path)?;
        let f = MetaFields {
            path: &path,
            meta: &m,
        };
        Ok(LoggedModel {
            model_id: model_id.into(),
            name: f.opt_string("name")?.unwrap_or_default(),
            experiment_id: f.opt_string("experiment_id")?.unwrap_or_default(),
            source_run_id: f.opt_string("source_run_id")?.unwrap_or_default(),
            artifact_location: f.opt_string("artifact_location")?.unwrap_or_default(),
        })
    }

    /// The artifacts folder of logged model `model_id`, searched in every experiment.
    fn logged_model_dir(&self, model_id: &str) -> Result<PathBuf> {
        validate::id("model", model_id).map_err(|_| StoreError::ModelNotFound(model_id.into()))?;
        for exp in self.experiment_dirs()? {
            let dir = exp.join("models").join(model_id);
            if dir.join(META).is_file() {
                return Ok(dir.join("artifacts"));
            }
        }
        Err(StoreError::ModelNotFound(format!("models:/{model_id}")))
    }

    /// The file store's part of model-URI resolution (see [`TrackingStore::fetch_model`]).
    pub(super) fn fetch_model_impl(&self, uri: &ModelUri) -> Result<PathBuf> {
        match uri {
            ModelUri::Run { run_id, path } => {
                let loc = self.find_run(run_id)?;
                let info = self.read_run_info(&loc.dir)?;
                // MLflow 2 layout: the model inside the run's artifacts.
                let in_artifacts = self.artifacts_dir(&loc, &info).join(path);
                if in_artifacts.join("MLmodel").is_file() {
                    return Ok(in_artifacts);
                }
                // MLflow 3: a logged model of that name produced by the run.
                for model_id in list_names(&loc.dir.join("outputs"))? {
                    let dir = loc.experiment_dir.join("models").join(&model_id);
                    let Ok(m) = meta::read_for_lookup(&dir.join(META)) else {
                        continue;
                    };
                    if m.get("name").and_then(|v| v.as_str()) == Some(path.as_str()) {
                        return Ok(dir.join("artifacts"));
                    }
                }
                Err(StoreError::ModelNotFound(format!(
                    "{uri}: run {run_id} has no model at '{path}'"
                )))
            }
            ModelUri::Logged(model_id) => self.logged_model_dir(model_id),
            other => Err(StoreError::ModelNotFound(format!(
                "{other}: a tracking server's artifacts; this store is the folder {}",
                self.root.display()
            ))),
        }
    }

    /// `NAME/3`, `NAME/latest`, `NAME@alias` to a model version.
    pub(super) fn resolve_version(&self, spec: &VersionRef) -> Result<ModelVersion> {
        let name = spec.name.as_str();
        let dir = self.registered_model_dir(name)?;
        if !dir.join(META).is_file() {
            return Err(StoreError::ModelNotFound(format!(
                "registered model '{name}'"
            )));
        }
        let version = match &spec.which {
            Which::Latest => self
                .list_versions_impl(name, false)?
                .first()
                .map(|v| v.version)
                .ok_or_else(|| StoreError::ModelNotFound(format!("'{name}' has no versions")))?,
            Which::Number(n) => *n,
            Which::Alias(alias) => {
                let path = dir.join("aliases").join(alias);
                let Ok(text) = fs::read_to_string(&path) else {
                    let known = self.read_aliases(&dir).unwrap_or_default();
                    return Err(super::super::alias_not_found(name, alias, &known));
                };
                text.trim().parse::<u64>().map_err(|_| {
                    StoreError::corrupt(&path, format!("{:?} is not a version number", text.trim()))
                })?
            }
        };
        self.live_version(name, version)
    }

    fn registered_model_dir(&self, name: &str) -> Result<PathBuf> {
        validate::model_name(name)?;
        Ok(self.root.join(REGISTRY).join(name))
    }

    pub(super) fn version_numbers(&self, dir: &Path) -> Result<Vec<u64>> {
        Ok(list_names(dir)?
            .iter()
            .filter_map(|n| n.strip_prefix("version-")?.parse().ok())
            .collect())
    }

    pub(super) fn read_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let path = self
            .registered_model_dir(name)?
            .join(format!("version-{version}"))
            .join(META);
        if !path.is_file() {
            return Err(StoreError::ModelNotFound(format!(
                "version {version} of '{name}'"
            )));
        }
        let m = meta::read(&path)?;
        let f = MetaFields {
            path: &path,
            meta: &m,
        };
        let version_dir = path.parent().expect("a version folder");
        let aliases = self
            .read_aliases(&self.registered_model_dir(name)?)?
            .into_iter()
            .filter(|(_, v)| *v == version)
            .map(|(a, _)| a)
            .collect();
        Ok(ModelVersion {
            name: f.string("name")?,
            version: f.int("version")? as u64,
            source: f.opt_string("source")?.unwrap_or_default(),
            run_id: f.opt_string("run_id")?,
            model_id: f.opt_string("model_id")?,
            creation_timestamp: f.int("creation_timestamp")?,
            last_updated_timestamp: f.opt_int("last_updated_timestamp")?,
            description: f.opt_string("description")?,
            current_stage: f
                .opt_string("current_stage")?
                .unwrap_or_else(|| "None".into()),
            status: f.opt_string("status")?.unwrap_or_else(|| "READY".into()),
            tags: read_kv_dir(&version_dir.join("tags"), &Fields::All)?,
            aliases,
        })
    }

    /// A live (not deleted) version.
    pub(super) fn live_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let v = self.read_version(name, version)?;
        if v.is_deleted() {
            return Err(StoreError::ModelNotFound(format!(
                "version {version} of '{name}' (deleted)"
            )));
        }
        Ok(v)
    }

    fn read_aliases(&self, dir: &Path) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        for alias in list_names(&dir.join("aliases"))? {
            let path = dir.join("aliases").join(&alias);
            let text = fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
            let v = text.trim().parse::<u64>().map_err(|_| {
                StoreError::corrupt(&path, format!("{:?} is not a version number", text.trim()))
            })?;
            out.insert(alias, v);
        }
        Ok(out)
    }

    fn existing_model_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.registered_model_dir(name)?;
        if dir.join(META).is_file() {
            Ok(dir)
        } else {
            Err(StoreError::ModelNotFound(format!(
                "registered model '{name}'"
            )))
        }
    }

    pub(super) fn read_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let dir = self.existing_model_dir(name)?;
        let path = dir.join(META);
        let m = meta::read(&path)?;
        let f = MetaFields {
            path: &path,
            meta: &m,
        };
        // A model is found by its folder; a different name inside would send every lookup of the name
        // it reports (the UI's runs list, for one) to a folder that does not exist.
        let recorded = f.string("name")?;
        if recorded != name {
            return Err(StoreError::Corrupt {
                path,
                why: format!(
                    "registered model name '{}' differs from its folder '{}'",
                    crate::redact::brief(&recorded),
                    crate::redact::brief(name)
                ),
            });
        }
        let mut live = Vec::new();
        for v in self.version_numbers(&dir)? {
            if let Ok(mv) = self.read_version(name, v)
                && !mv.is_deleted()
            {
                live.push(v);
            }
        }
        Ok(RegisteredModel {
            name: recorded,
            description: f.opt_string("description")?,
            creation_timestamp: f.opt_int("creation_timestamp")?,
            last_updated_timestamp: f.opt_int("last_updated_timestamp")?,
            tags: read_kv_dir(&dir.join("tags"), &Fields::All)?,
            aliases: self.read_aliases(&dir)?,
            latest_version: live.into_iter().max(),
        })
    }

    pub(super) fn list_registered_models_impl(&self) -> Result<Vec<RegisteredModel>> {
        let mut out = Vec::new();
        for name in list_names(&self.root.join(REGISTRY))? {
            if validate::model_name(&name).is_err() {
                continue;
            }
            match self.read_registered_model(&name) {
                Ok(m) => out.push(m),
                Err(StoreError::ModelNotFound(_)) => {}
                Err(e) => self.skipped(&e),
            }
        }
        Ok(out)
    }

    pub(super) fn list_versions_impl(
        &self,
        name: &str,
        include_deleted: bool,
    ) -> Result<Vec<ModelVersion>> {
        let dir = self.existing_model_dir(name)?;
        let mut out = Vec::new();
        for v in self.version_numbers(&dir)? {
            let mv = self.read_version(name, v)?;
            if include_deleted || !mv.is_deleted() {
                out.push(mv);
            }
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(out)
    }

    fn lock_model(&self, name: &str) -> Result<(PathBuf, atomic::LockGuard)> {
        let dir = self.existing_model_dir(name)?;
        let lock = atomic::LockGuard::on_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok((dir, lock))
    }

    fn touch_model(&self, dir: &Path, now: i64) -> Result<()> {
        let path = dir.join(META);
        let mut m = meta::read(&path)?;
        m.insert("last_updated_timestamp".into(), meta::i(now));
        meta::write(&path, &m)
    }

    pub(super) fn delete_registered_model_impl(&self, name: &str) -> Result<()> {
        let dir = self.existing_model_dir(name)?;
        // Move aside first so a crash never leaves half a model that still looks registered.
        let doomed = self.scratch_dir()?.join("deleted");
        fs::rename(&dir, &doomed).map_err(|e| StoreError::io(&dir, e))?;
        let scratch = doomed.parent().unwrap_or(&doomed);
        fs::remove_dir_all(scratch).map_err(|e| StoreError::io(scratch, e))
    }

    pub(super) fn delete_version_impl(&self, name: &str, version: u64) -> Result<()> {
        let (dir, _lock) = self.lock_model(name)?;
        let v = self.live_version(name, version)?;
        let now = super::super::now_ms();
        let path = dir.join(format!("version-{version}")).join(META);
        let mut m = meta::read(&path)?;
        m.insert("current_stage".into(), meta::s("Deleted_Internal"));
        m.insert("last_updated_timestamp".into(), meta::i(now));
        meta::write(&path, &m)?;
        for alias in &v.aliases {
            self.remove_alias_locked(&dir, name, alias, "delete")?;
        }
        self.touch_model(&dir, now)
    }

    pub(super) fn set_model_tag_impl(
        &self,
        name: &str,
        version: Option<u64>,
        key: &str,
        value: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        let (dir, _lock) = self.lock_model(name)?;
        let target = match version {
            Some(v) => {
                self.live_version(name, v)?;
                dir.join(format!("version-{v}")).join("tags")
            }
            None => dir.join("tags"),
        };
        write_value_file(&target, key, value)?;
        self.touch_model(&dir, super::super::now_ms())
    }

    pub(super) fn delete_model_tag_impl(
        &self,
        name: &str,
        version: Option<u64>,
        key: &str,
    ) -> Result<()> {
        let (dir, _lock) = self.lock_model(name)?;
        let (target, what) = match version {
            Some(v) => {
                self.live_version(name, v)?;
                (
                    dir.join(format!("version-{v}")).join("tags"),
                    format!("model '{name}' version {v}"),
                )
            }
            None => (dir.join("tags"), format!("registered model '{name}'")),
        };
        super::remove_value_file(&target, key, &what)?;
        self.touch_model(&dir, super::super::now_ms())
    }

    pub(super) fn set_description_impl(
        &self,
        name: &str,
        version: Option<u64>,
        description: &str,
    ) -> Result<()> {
        let (dir, _lock) = self.lock_model(name)?;
        let now = super::super::now_ms();
        let path = match version {
            Some(v) => {
                self.live_version(name, v)?;
                dir.join(format!("version-{v}")).join(META)
            }
            None => dir.join(META),
        };
        let mut m = meta::read(&path)?;
        m.insert("description".into(), meta::s(description));
        m.insert("last_updated_timestamp".into(), meta::i(now));
        meta::write(&path, &m)?;
        if version.is_some() {
            self.touch_model(&dir, now)?;
        }
        Ok(())
    }

    fn append_history(&self, dir: &Path, entry: AliasMove) -> Result<()> {
        let key = super::super::alias_history_tag(&entry.alias);
        let path = dir.join("tags").join(&key);
        let history: Vec<AliasMove> = match fs::read_to_string(&path) {
            Ok(t) => super::super::parse_alias_history(&t).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let text = super::super::alias_history_text(history, entry);
        write_value_file(&dir.join("tags"), &key, &text)
    }

    fn remove_alias_locked(&self, dir: &Path, name: &str, alias: &str, kind: &str) -> Result<()> {
        let path = dir.join("aliases").join(alias);
        let from = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        if from.is_none() {
            let known = self.read_aliases(dir).unwrap_or_default();
            return Err(super::super::alias_not_found(name, alias, &known));
        }
        fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
        self.append_history(
            dir,
            AliasMove {
                alias: alias.into(),
                from,
                to: None,
                user: crate::context::user(),
                timestamp: super::super::now_ms(),
                kind: kind.into(),
            },
        )
    }

    pub(super) fn set_alias_impl(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        kind: &str,
    ) -> Result<Option<u64>> {
        validate::alias(alias)?;
        let (dir, _lock) = self.lock_model(name)?;
        self.live_version(name, version)?;
        let path = dir.join("aliases").join(alias);
        let from = fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        create_parent(&path)?;
        atomic::write(&path, version.to_string().as_bytes())
            .map_err(|e| StoreError::io(&path, e))?;
        let now = super::super::now_ms();
        self.append_history(
            &dir,
            AliasMove {
                alias: alias.into(),
                from,
                to: Some(version),
                user: crate::context::user(),
                timestamp: now,
                kind: kind.into(),
            },
        )?;
        self.touch_model(&dir, now)?;
        Ok(from)
    }

    pub(super) fn delete_alias_impl(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        let (dir, _lock) = self.lock_model(name)?;
        self.remove_alias_locked(&dir, name, alias, "delete")?;
        self.touch_model(&dir, super::super::now_ms())
    }

    pub(super) fn alias_history_impl(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        validate::alias(alias)?;
        let dir = self.existing_model_dir(name)?;
        let path = dir
            .join("tags")
            .join(super::super::alias_history_tag(alias));
        match fs::read_to_string(&path) {
            Ok(t) => {
                super::super::parse_alias_history(&t).map_err(|e| StoreError::corrupt(&path, e))
            }
            Err(_) => Ok(Vec::new()),
        }
    }

    pub(super) fn register_model_impl(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        let dir = self.registered_model_dir(name)?;
        // The model must exist before it is registered.
        let source_uri = ModelUri::parse(source)?;
        let model_dir = self.resolve_model(&source_uri)?;
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        // One lock per registered model: concurrent registrations get distinct, gapless versions.
        let _lock = atomic::LockGuard::on_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let now = super::super::now_ms();
        if !dir.join(META).is_file() {
            let mut m = Meta::new();
            m.insert("creation_timestamp".into(), meta::i(now));
            m.insert("description".into(), Value::Null);
            m.insert("last_updated_timestamp".into(), meta::i(now));
            m.insert("name".into(), meta::s(name));
            meta::write(&dir.join(META), &m)?;
        } else {
            let path = dir.join(META);
            let mut m = meta::read(&path)?;
            m.insert("last_updated_timestamp".into(), meta::i(now));
            meta::write(&path, &m)?;
        }
        let version = self.version_numbers(&dir)?.into_iter().max().unwrap_or(0) + 1;
        let model_id = match &source_uri {
            ModelUri::Logged(id) => Some(id.clone()),
            _ => None,
        }
        .or_else(|| {
            let id = model_dir
                .parent()?
                .file_name()?
                .to_string_lossy()
                .into_owned();
            id.starts_with("m-").then_some(id)
        });
        let mut m = Meta::new();
        m.insert("creation_timestamp".into(), meta::i(now));
        m.insert("current_stage".into(), meta::s("None"));
        m.insert(
            "description".into(),
            description.map_or(Value::Null, meta::s),
        );
        m.insert("last_updated_timestamp".into(), meta::i(now));
        m.insert(
            "model_id".into(),
            model_id.clone().map_or(Value::Null, meta::s),
        );
        m.insert("name".into(), meta::s(name));
        m.insert("run_id".into(), run_id.map_or(Value::Null, meta::s));
        m.insert("run_link".into(), Value::Null);
        m.insert("source".into(), meta::s(source));
        m.insert("status".into(), meta::s("READY"));
        m.insert("status_message".into(), Value::Null);
        m.insert(
            "storage_location".into(),
            meta::s(path_to_file_uri(&model_dir)),
        );
        m.insert("user_id".into(), Value::Null);
        m.insert("version".into(), meta::i(version as i64));
        let staging = self.scratch_dir()?;
        let result = (|| {
            meta::write(&staging.join(META), &m)?;
            let target = dir.join(format!("version-{version}"));
            fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
            atomic::sync_dir(&dir);
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result?;
        self.read_version(name, version)
    }
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
