//! Artifacts (files where MLflow's default puts them: `<root>/<exp>/<run>/artifacts`), logged models
//! (MLflow 3's `logged_models*`) and the folder a run's or logged model's URI names.

use super::experiments::find_experiment;
use super::tracking::{active_run, find_run_info};
use super::*;
use crate::store::uri::file_uri_to_path;
use rusqlite::{OptionalExtension, params};
use std::fs;

/// A logged model's `status`: READY (MLflow's `LoggedModelStatus`).
const LOGGED_MODEL_READY: i64 = 2;
/// The local folder an artifact location names (a plain path or a `file:` URI).
fn local_dir(location: &str) -> Result<PathBuf> {
    // A scheme other than `file:` (`mlflow-artifacts:/1/...`, `s3://...`) is not a folder of this machine.
    let scheme = location
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.contains('/'));
    let local = match scheme {
        None => true,
        Some(s) => s.eq_ignore_ascii_case("file"),
    };
    local
        .then(|| file_uri_to_path(location))
        .flatten()
        .ok_or_else(|| StoreError::InvalidValue {
        what: format!("artifact location '{location}'"),
        why: "mlx reads and writes only local artifacts of a SQLite store itself; for artifacts a tracking \
              server keeps (mlflow-artifacts:, s3:, ...), point mlx at that server (--tracking-uri http://host:port)"
            .into(),
    })
}

fn not_regular(path: &Path) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        why: "not a regular file (a folder, FIFO, device or socket); mlx reads only regular files as artifacts"
            .into(),
    }
}

/// The real path of `file` if it stays inside the artifact folder `base` (links followed) and is a file
/// or folder: whoever can write the store could otherwise plant a link to a secret.
fn check_inside(base: &Path, file: &Path) -> Result<PathBuf> {
    let real = fs::canonicalize(file).map_err(|e| StoreError::io(file, e))?;
    let inside = fs::canonicalize(base).is_ok_and(|b| real.starts_with(b));
    if !inside {
        return Err(StoreError::Refused {
            path: file.to_path_buf(),
            why: "a symbolic link out of the run's artifacts; mlx does not read artifacts outside them"
                .into(),
        });
    }
    let md = fs::metadata(&real).map_err(|e| StoreError::io(&real, e))?;
    if !md.is_file() && !md.is_dir() {
        return Err(not_regular(file));
    }
    Ok(real)
}

fn copy_checked(base: &Path, from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| StoreError::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| StoreError::io(from, e))? {
        let entry = entry.map_err(|e| StoreError::io(from, e))?;
        let path = entry.path();
        let real = check_inside(base, &path)?;
        let target = to.join(entry.file_name());
        if real.is_dir() {
            copy_checked(base, &path, &target)?;
        } else {
            crate::store::file::copy_file(&real, &target)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    fn run_artifacts(&self, run_id: &str) -> Result<PathBuf> {
        let info = self.read(|c| find_run_info(c, run_id))?;
        local_dir(&info.artifact_uri)
    }

    pub(super) fn log_artifact_impl(
        &self,
        run_id: &str,
        local: &Path,
        dest: Option<&str>,
    ) -> Result<()> {
        if let Some(d) = dest {
            validate::artifact_path(d)?;
        }
        let info = self.read(|c| active_run(c, run_id))?;
        let meta = fs::metadata(local).map_err(|e| StoreError::io(local, e))?;
        let name = local.file_name().ok_or_else(|| StoreError::InvalidValue {
            what: format!("artifact '{}'", local.display()),
            why: "it has no file name".into(),
        })?;
        let mut target = local_dir(&info.artifact_uri)?;
        if let Some(d) = dest.filter(|d| !d.is_empty()) {
            target = target.join(d);
        }
        let target = target.join(name);
        if meta.is_dir() {
            crate::store::file::copy_dir(local, &target)
        } else {
            crate::store::file::copy_file(local, &target)
        }
    }

    pub(super) fn list_artifacts_impl(
        &self,
        run_id: &str,
        path: Option<&str>,
    ) -> Result<Vec<ArtifactEntry>> {
        let prefix = path.unwrap_or("").trim_matches('/');
        validate::artifact_path(prefix)?;
        crate::store::file::list_artifact_dir(&self.run_artifacts(run_id)?, prefix)
    }

    pub(super) fn open_artifact_impl(&self, run_id: &str, path: &str) -> Result<fs::File> {
        let path = path.trim_matches('/');
        validate::artifact_path(path)?;
        if path.is_empty() {
            return Err(StoreError::InvalidValue {
                what: "artifact path".into(),
                why: "it is empty".into(),
            });
        }
        let base = self.run_artifacts(run_id)?;
        let real = check_inside(&base, &base.join(path))?;
        let file = fs::File::open(&real).map_err(|e| StoreError::io(&real, e))?;
        match file.metadata() {
            Ok(md) if md.is_file() => Ok(file),
            Ok(_) => Err(not_regular(&real)),
            Err(e) => Err(StoreError::io(&real, e)),
        }
    }

    pub(super) fn download_artifacts_impl(&self, run_id: &str, dest: &Path) -> Result<()> {
        let base = self.run_artifacts(run_id)?;
        if base.is_dir() {
            copy_checked(&base, &base, dest)
        } else {
            fs::create_dir_all(dest).map_err(|e| StoreError::io(dest, e))
        }
    }

    pub(super) fn create_logged_model_impl(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        validate::key("model name", name)?;
        let model_id = crate::store::new_model_id();
        self.read(|c| {
            let info = active_run(c, run_id)?;
            let exp = find_experiment(c, &info.experiment_id)?;
            Ok(LoggedModel {
                artifact_location: format!(
                    "{}/models/{model_id}/artifacts",
                    exp.artifact_location.trim_end_matches('/')
                ),
                model_id: model_id.clone(),
                name: name.into(),
                experiment_id: info.experiment_id,
                source_run_id: run_id.into(),
            })
        })
    }

    /// Copy the model's files into place, then record it (row, params, tags, metrics and the run's
    /// output) in one transaction: MLflow never meets a logged model whose files are missing.
    pub(super) fn log_model_impl(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()> {
        validate::id("model", &model.model_id)?;
        validate::key("model name", &model.name)?;
        let run_id = model.source_run_id.as_str();
        self.read(|c| active_run(c, run_id))?;
        crate::store::file::copy_dir(local, &local_dir(&model.artifact_location)?)?;
        let now = crate::store::now_ms();
        self.write(|c| {
            let info = active_run(c, run_id)?;
            let exp = experiment_key(&info.experiment_id)?;
            let id = model.model_id.as_str();
            c.execute(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, \
                 creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, \
                 source_run_id, status_message) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'active', NULL, ?7, NULL)",
                params![id, exp, model.name, model.artifact_location, now, LOGGED_MODEL_READY, run_id],
            )?;
            c.execute(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) \
                 SELECT ?1, ?2, key, value FROM params WHERE run_uuid = ?3",
                params![id, exp, run_id],
            )?;
            c.execute(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) \
                 SELECT ?1, ?2, key, value FROM tags WHERE run_uuid = ?3 AND value IS NOT NULL \
                 AND (key = 'mlflow.user' OR key LIKE 'mlflow.source.%')",
                params![id, exp, run_id],
            )?;
            for (k, p) in metrics {
                c.execute(
                    "INSERT OR IGNORE INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, \
                     metric_step, metric_value, experiment_id, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![id, k, p.timestamp, p.step, stored_value(p.value).0, exp, run_id],
                )?;
            }
            c.execute(
                "INSERT OR IGNORE INTO inputs (input_uuid, source_type, source_id, destination_type, \
                 destination_id, step) VALUES (?1, 'RUN_OUTPUT', ?2, 'MODEL_OUTPUT', ?3, 0)",
                params![uuid::Uuid::new_v4().simple().to_string(), run_id, id],
            )?;
            Ok(())
        })
    }

    pub(super) fn get_logged_model_impl(&self, model_id: &str) -> Result<LoggedModel> {
        self.read(|c| {
            let m = c
                .query_row(
                    "SELECT model_id, name, experiment_id, source_run_id, artifact_location \
                     FROM logged_models WHERE model_id = ?1",
                    [model_id],
                    |r| {
                        Ok(LoggedModel {
                            model_id: r.get(0)?,
                            name: r.get(1)?,
                            experiment_id: r.get::<_, i64>(2)?.to_string(),
                            source_run_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            artifact_location: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            Ok(m.ok_or_else(|| StoreError::ModelNotFound(format!("models:/{model_id}")))?)
        })
    }

    pub(super) fn fetch_model_impl(&self, uri: &ModelUri) -> Result<PathBuf> {
        match uri {
            ModelUri::Run { run_id, path } => {
                let in_artifacts = self.run_artifacts(run_id)?.join(path);
                if in_artifacts.join("MLmodel").is_file() {
                    return Ok(in_artifacts);
                }
                let location: Option<String> = self.read(|c| {
                    Ok(c.query_row(
                        "SELECT artifact_location FROM logged_models WHERE source_run_id = ?1 AND name = ?2 \
                         ORDER BY creation_timestamp_ms DESC LIMIT 1",
                        params![run_id, path],
                        |r| r.get(0),
                    )
                    .optional()?)
                })?;
                match location {
                    Some(l) => local_dir(&l),
                    None => Err(StoreError::ModelNotFound(format!(
                        "{uri}: run {run_id} has no model at '{path}'"
                    ))),
                }
            }
            ModelUri::Logged(model_id) => {
                local_dir(&self.get_logged_model_impl(model_id)?.artifact_location)
            }
            other => Err(StoreError::ModelNotFound(format!(
                "{other}: a tracking server's artifacts; this store is the database {}",
                self.path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_a_server_keeps_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("mlflow.db"));
        let id = store
            .create_experiment("served", Some("mlflow-artifacts:/1"), &BTreeMap::new())
            .unwrap();
        let run = store
            .create_run(NewRun {
                run_id: None,
                experiment_id: id,
                run_name: None,
                user_id: "me".into(),
                start_time: 1,
                tags: BTreeMap::new(),
            })
            .unwrap();
        assert_eq!(
            run.artifact_uri,
            format!("mlflow-artifacts:/1/{}/artifacts", run.run_id)
        );
        let file = dir.path().join("a.txt");
        fs::write(&file, "x").unwrap();
        let err = store
            .log_artifact(&run.run_id, &file, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("point mlx at that server"), "{err}");
        assert!(store.list_artifacts(&run.run_id, None).is_err());
    }
}
