//! Datasets, logged models (MLflow 3's `<exp>/models/<id>/`), model-URI resolution and the model registry
//! (`<root>/models/<name>/version-<N>/`) of the file store.

use super::*;

const REGISTRY: &str = "models";

impl FileStore {
    pub(super) fn log_input_impl(&self, run_id: &str, ds: &Dataset, context: &str) -> Result<()> {
        let (loc, _) = self.active_run(run_id)?;
        let dataset_id = md5_hex(&format!("{}{}", ds.name, ds.digest));
        let ds_dir = loc.experiment_dir.join("datasets").join(&dataset_id);
        if !ds_dir.join(META).is_file() {
            fs::create_dir_all(&ds_dir).map_err(|e| StoreError::io(&ds_dir, e))?;
            let mut m = Meta::new();
            m.insert("digest".into(), meta::s(ds.digest.clone()));
            m.insert("name".into(), meta::s(ds.name.clone()));
            m.insert("profile".into(), meta::s(ds.profile.clone()));
            m.insert("schema".into(), meta::s(ds.schema.clone()));
            m.insert("source".into(), meta::s(ds.source.clone()));
            m.insert("source_type".into(), meta::s(ds.source_type.clone()));
            meta::write(&ds_dir.join(META), &m)?;
        }
        let input_id = md5_hex(&format!("{dataset_id}{run_id}"));
        let input_dir = loc.dir.join("inputs").join(&input_id);
        fs::create_dir_all(&input_dir).map_err(|e| StoreError::io(&input_dir, e))?;
        let mut tags = serde_yaml_ng::Mapping::new();
        tags.insert(meta::s("mlflow.data.context"), meta::s(context));
        let mut m = Meta::new();
        m.insert("destination_id".into(), meta::s(run_id));
        m.insert("destination_type".into(), meta::s("RUN"));
        m.insert("source_id".into(), meta::s(dataset_id));
        m.insert("source_type".into(), meta::s("DATASET"));
        m.insert("tags".into(), Value::Mapping(tags));
        meta::write(&input_dir.join(META), &m)
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
        let staging = self.staging_dir(&models_dir)?;
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
                atomic::append(&path, line.as_bytes()).map_err(|e| StoreError::io(&path, e))?;
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
        fs::create_dir_all(&out_dir).map_err(|e| StoreError::io(&out_dir, e))?;
        let mut m = Meta::new();
        m.insert("destination_id".into(), meta::s(model_id));
        m.insert("destination_type".into(), meta::s("MODEL_OUTPUT"));
        m.insert("source_id".into(), meta::s(model_id));
        m.insert("source_type".into(), meta::s("RUN_OUTPUT"));
        m.insert("step".into(), meta::i(0));
        m.insert("tags".into(), Value::Mapping(Default::default()));
        meta::write(&out_dir.join(META), &m)?;
        Ok(LoggedModel {
            model_id: model_id.into(),
            name: name.into(),
            experiment_id: info.experiment_id,
            source_run_id: run_id.into(),
            artifact_location,
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

    pub(super) fn resolve_model_impl(&self, uri: &str) -> Result<PathBuf> {
        let not_found = || StoreError::ModelNotFound(uri.to_string());
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, "model"));
            let path = path.trim_matches('/');
            validate::artifact_path(path)?;
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
                if m.get("name").and_then(|v| v.as_str()) == Some(path) {
                    return Ok(dir.join("artifacts"));
                }
            }
            return Err(StoreError::ModelNotFound(format!(
                "{uri}: run {run_id} has no model at '{path}'"
            )));
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            if rest.starts_with("m-") && !rest.contains('/') && !rest.contains('@') {
                return self.logged_model_dir(rest);
            }
            let version = self.resolve_version(rest)?;
            return self.resolve_model_impl(&version.source);
        }
        let path = file_uri_to_path(uri).ok_or_else(not_found)?;
        if path.join("MLmodel").is_file() {
            Ok(path)
        } else {
            Err(StoreError::ModelNotFound(format!(
                "{uri}: no MLmodel file in that folder"
            )))
        }
    }

    /// `NAME/3`, `NAME/latest`, `NAME@alias` to a model version.
    pub(super) fn resolve_version(&self, spec: &str) -> Result<ModelVersion> {
        let (name, which) = if let Some((name, alias)) = spec.split_once('@') {
            (name, Err(alias))
        } else if let Some((name, v)) = spec.rsplit_once('/') {
            (name, Ok(v))
        } else {
            return Err(StoreError::ModelNotFound(format!(
                "models:/{spec} (expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest)"
            )));
        };
        let dir = self.registered_model_dir(name)?;
        if !dir.join(META).is_file() {
            return Err(StoreError::ModelNotFound(format!(
                "registered model '{name}'"
            )));
        }
        let version = match which {
            Ok("latest") | Err("latest") => self
                .version_numbers(&dir)?
                .into_iter()
                .max()
                .ok_or_else(|| StoreError::ModelNotFound(format!("'{name}' has no versions")))?,
            Ok(v) => v.parse::<u64>().map_err(|_| {
                StoreError::ModelNotFound(format!("models:/{spec}: '{v}' is not a version number"))
            })?,
            Err(alias) => {
                validate::alias(alias)?;
                let path = dir.join("aliases").join(alias);
                let text = fs::read_to_string(&path).map_err(|_| {
                    StoreError::ModelNotFound(format!(
                        "alias '{alias}' of registered model '{name}'"
                    ))
                })?;
                text.trim().parse::<u64>().map_err(|_| {
                    StoreError::corrupt(&path, format!("{:?} is not a version number", text.trim()))
                })?
            }
        };
        self.read_version(name, version)
    }

    fn registered_model_dir(&self, name: &str) -> Result<PathBuf> {
        validate::model_name(name)?;
        Ok(self.root.join(REGISTRY).join(name))
    }

    fn version_numbers(&self, dir: &Path) -> Result<Vec<u64>> {
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
        Ok(ModelVersion {
            name: f.string("name")?,
            version: f.int("version")? as u64,
            source: f.opt_string("source")?.unwrap_or_default(),
            run_id: f.opt_string("run_id")?,
            model_id: f.opt_string("model_id")?,
            creation_timestamp: f.int("creation_timestamp")?,
            description: f.opt_string("description")?,
        })
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
        let model_dir = self.resolve_model_impl(source)?;
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
        let model_id = source
            .strip_prefix("models:/")
            .filter(|s| s.starts_with("m-"))
            .map(str::to_string)
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
        let staging = self.staging_dir(&dir)?;
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
