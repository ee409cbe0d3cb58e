//! Artifacts (files where MLflow's default puts them), logged models (MLflow 3's `logged_models*`), model
//! URIs and the model registry (`registered_models`, `model_versions`, tags, aliases; an alias's history
//! in a registered-model tag, never an extra table).

use super::tracking::{active_run, find_experiment, find_run_info};
use super::*;
use crate::store::uri::file_uri_to_path;
use crate::store::{Which, alias_history_tag, alias_history_text, alias_not_found};
use rusqlite::{OptionalExtension, params};
use std::fs;

/// A logged model's `status`: READY (MLflow's `LoggedModelStatus`).
const LOGGED_MODEL_READY: i64 = 2;
/// What MLflow writes into a deleted version's source and run id.
const DELETED_STAGE: &str = "Deleted_Internal";

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

fn model_id_of(source: &str) -> Option<String> {
    source
        .strip_prefix("models:/")
        .filter(|id| id.starts_with("m-") && !id.contains('/'))
        .map(str::to_string)
}

fn read_version(c: &Connection, name: &str, version: u64) -> R<ModelVersion> {
    let row = c
        .query_row(
            "SELECT name, version, creation_time, last_updated_time, description, current_stage, source, \
             run_id, status FROM model_versions WHERE workspace = 'default' AND name = ?1 AND version = ?2",
            params![name, version as i64],
            |r| {
                let source: Option<String> = r.get(6)?;
                Ok(ModelVersion {
                    name: r.get(0)?,
                    version: r.get::<_, i64>(1)? as u64,
                    creation_timestamp: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    last_updated_timestamp: r.get(3)?,
                    description: r.get(4)?,
                    current_stage: r
                        .get::<_, Option<String>>(5)?
                        .unwrap_or_else(|| "None".into()),
                    model_id: source.as_deref().and_then(model_id_of),
                    source: source.unwrap_or_default(),
                    run_id: r.get(7)?,
                    status: r.get::<_, Option<String>>(8)?.unwrap_or_else(|| "READY".into()),
                    tags: BTreeMap::new(),
                    aliases: Vec::new(),
                })
            },
        )
        .optional()?;
    let mut v =
        row.ok_or_else(|| StoreError::ModelNotFound(format!("version {version} of '{name}'")))?;
    let mut stmt = c.prepare_cached(
        "SELECT key, value FROM model_version_tags WHERE workspace = 'default' AND name = ?1 AND version = ?2",
    )?;
    for kv in stmt.query_map(params![name, version as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (k, value) = kv?;
        v.tags.insert(k, value.unwrap_or_default());
    }
    let mut stmt = c.prepare_cached(
        "SELECT alias FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND version = ?2 \
         ORDER BY alias",
    )?;
    v.aliases = stmt
        .query_map(params![name, version as i64], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

fn live_version(c: &Connection, name: &str, version: u64) -> R<ModelVersion> {
    let v = read_version(c, name, version)?;
    if v.is_deleted() {
        return Err(
            StoreError::ModelNotFound(format!("version {version} of '{name}' (deleted)")).into(),
        );
    }
    Ok(v)
}

fn aliases(c: &Connection, name: &str) -> R<BTreeMap<String, u64>> {
    let mut stmt = c.prepare_cached(
        "SELECT alias, version FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1",
    )?;
    let out = stmt
        .query_map([name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

fn find_model(c: &Connection, name: &str) -> R<RegisteredModel> {
    let row = c
        .query_row(
            "SELECT name, description, creation_time, last_updated_time FROM registered_models \
             WHERE workspace = 'default' AND name = ?1",
            [name],
            |r| {
                Ok(RegisteredModel {
                    name: r.get(0)?,
                    description: r.get(1)?,
                    creation_timestamp: r.get(2)?,
                    last_updated_timestamp: r.get(3)?,
                    tags: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    latest_version: None,
                })
            },
        )
        .optional()?;
    let mut m =
        row.ok_or_else(|| StoreError::ModelNotFound(format!("registered model '{name}'")))?;
    let mut stmt = c.prepare_cached(
        "SELECT key, value FROM registered_model_tags WHERE workspace = 'default' AND name = ?1",
    )?;
    for kv in stmt.query_map([name], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (k, v) = kv?;
        m.tags.insert(k, v.unwrap_or_default());
    }
    m.aliases = aliases(c, name)?;
    m.latest_version = c
        .query_row(
            "SELECT MAX(version) FROM model_versions WHERE workspace = 'default' AND name = ?1 \
             AND current_stage IS NOT ?2",
            params![name, DELETED_STAGE],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .map(|v| v as u64);
    Ok(m)
}

fn touch_model(c: &Connection, name: &str, now: i64) -> R<()> {
    c.execute(
        "UPDATE registered_models SET last_updated_time = ?1 WHERE workspace = 'default' AND name = ?2",
        params![now, name],
    )?;
    Ok(())
}

fn history(c: &Connection, name: &str, alias: &str) -> R<Vec<AliasMove>> {
    let text: Option<Option<String>> = c
        .query_row(
            "SELECT value FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 AND key = ?2",
            params![name, alias_history_tag(alias)],
            |r| r.get(0),
        )
        .optional()?;
    Ok(text
        .flatten()
        .and_then(|t| crate::store::parse_alias_history(&t).ok())
        .unwrap_or_default())
}

fn append_history(c: &Connection, name: &str, entry: AliasMove) -> R<()> {
    let key = alias_history_tag(&entry.alias);
    let text = alias_history_text(history(c, name, &entry.alias)?, entry);
    c.execute(
        "INSERT OR REPLACE INTO registered_model_tags (key, value, name, workspace) VALUES (?1, ?2, ?3, 'default')",
        params![key, text, name],
    )?;
    Ok(())
}

fn alias_move(alias: &str, from: Option<u64>, to: Option<u64>, kind: &str, now: i64) -> AliasMove {
    AliasMove {
        alias: alias.into(),
        from,
        to,
        user: crate::context::user(),
        timestamp: now,
        kind: kind.into(),
    }
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

    pub(super) fn resolve_version_impl(&self, spec: &VersionRef) -> Result<ModelVersion> {
        let name = spec.name.as_str();
        self.read(|c| {
            let model = find_model(c, name)?;
            let version = match &spec.which {
                Which::Latest => model.latest_version.ok_or_else(|| {
                    StoreError::ModelNotFound(format!("'{name}' has no versions"))
                })?,
                Which::Number(n) => *n,
                Which::Alias(alias) => *model
                    .aliases
                    .get(alias)
                    .ok_or_else(|| alias_not_found(name, alias, &model.aliases))?,
            };
            live_version(c, name, version)
        })
    }

    pub(super) fn live_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        self.read(|c| live_version(c, name, version))
    }

    pub(super) fn list_registered_models_impl(&self) -> Result<Vec<RegisteredModel>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT name FROM registered_models WHERE workspace = 'default' ORDER BY name",
            )?;
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names.iter().map(|n| find_model(c, n)).collect()
        })
    }

    pub(super) fn get_registered_model_impl(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|c| find_model(c, name))
    }

    pub(super) fn delete_registered_model_impl(&self, name: &str) -> Result<()> {
        self.write(|c| {
            find_model(c, name)?;
            for table in [
                "registered_model_aliases",
                "model_version_tags",
                "model_versions",
                "registered_model_tags",
                "registered_models",
            ] {
                c.execute(
                    &format!("DELETE FROM {table} WHERE workspace = 'default' AND name = ?1"),
                    [name],
                )?;
            }
            Ok(())
        })
    }

    pub(super) fn list_versions_impl(
        &self,
        name: &str,
        include_deleted: bool,
    ) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            find_model(c, name)?;
            let mut stmt = c.prepare(
                "SELECT version FROM model_versions WHERE workspace = 'default' AND name = ?1 ORDER BY version DESC",
            )?;
            let versions: Vec<i64> = stmt
                .query_map([name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for v in versions {
                let mv = read_version(c, name, v as u64)?;
                if include_deleted || !mv.is_deleted() {
                    out.push(mv);
                }
            }
            Ok(out)
        })
    }

    /// As MLflow: the version is marked deleted and its source redacted; its aliases go (recorded in
    /// their histories).
    pub(super) fn delete_version_impl(&self, name: &str, version: u64) -> Result<()> {
        self.write(|c| {
            let v = live_version(c, name, version)?;
            let now = crate::store::now_ms();
            c.execute(
                "UPDATE model_versions SET current_stage = ?1, last_updated_time = ?2, description = NULL, \
                 user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', \
                 run_link = 'REDACTED-RUN-LINK', status_message = NULL \
                 WHERE workspace = 'default' AND name = ?3 AND version = ?4",
                params![DELETED_STAGE, now, name, version as i64],
            )?;
            for alias in &v.aliases {
                c.execute(
                    "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                    params![name, alias],
                )?;
                append_history(c, name, alias_move(alias, Some(version), None, "delete", now))?;
            }
            touch_model(c, name, now)
        })
    }

    /// MLflow's `delete_registered_model_tag` / `delete_model_version_tag`, but an unknown key is an
    /// `InvalidValue` naming it, as on the other stores (MLflow's SQL store ignores it).
    pub(super) fn delete_model_tag_impl(
        &self,
        name: &str,
        version: Option<u64>,
        key: &str,
    ) -> Result<()> {
        validate::key("tag", key)?;
        self.write(|c| {
            find_model(c, name)?;
            let (removed, what) = match version {
                Some(v) => {
                    live_version(c, name, v)?;
                    let n = c.execute(
                        "DELETE FROM model_version_tags WHERE workspace = 'default' AND name = ?1 \
                         AND version = ?2 AND key = ?3",
                        params![name, v as i64, key],
                    )?;
                    (n, format!("model '{name}' version {v}"))
                }
                None => {
                    let n = c.execute(
                        "DELETE FROM registered_model_tags WHERE workspace = 'default' AND name = ?1 \
                         AND key = ?2",
                        params![name, key],
                    )?;
                    (n, format!("model '{name}'"))
                }
            };
            super::tracking::no_tag_unless_removed(removed, key, &what)?;
            touch_model(c, name, crate::store::now_ms())
        })
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
        self.write(|c| {
            find_model(c, name)?;
            match version {
                Some(v) => {
                    live_version(c, name, v)?;
                    c.execute(
                        "INSERT OR REPLACE INTO model_version_tags (key, value, name, version, workspace) \
                         VALUES (?1, ?2, ?3, ?4, 'default')",
                        params![key, value, name, v as i64],
                    )?;
                }
                None => {
                    c.execute(
                        "INSERT OR REPLACE INTO registered_model_tags (key, value, name, workspace) \
                         VALUES (?1, ?2, ?3, 'default')",
                        params![key, value, name],
                    )?;
                }
            }
            touch_model(c, name, crate::store::now_ms())
        })
    }

    pub(super) fn set_description_impl(
        &self,
        name: &str,
        version: Option<u64>,
        description: &str,
    ) -> Result<()> {
        self.write(|c| {
            find_model(c, name)?;
            let now = crate::store::now_ms();
            if let Some(v) = version {
                live_version(c, name, v)?;
                c.execute(
                    "UPDATE model_versions SET description = ?1, last_updated_time = ?2 \
                     WHERE workspace = 'default' AND name = ?3 AND version = ?4",
                    params![description, now, name, v as i64],
                )?;
            } else {
                c.execute(
                    "UPDATE registered_models SET description = ?1 WHERE workspace = 'default' AND name = ?2",
                    params![description, name],
                )?;
            }
            touch_model(c, name, now)
        })
    }

    /// Point the alias, record the move in its history and touch the model: one transaction.
    pub(super) fn set_alias_impl(
        &self,
        name: &str,
        alias: &str,
        version: u64,
        kind: &str,
    ) -> Result<Option<u64>> {
        validate::alias(alias)?;
        self.write(|c| move_alias(c, name, alias, version, kind))
    }

    pub(super) fn delete_alias_impl(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        self.write(|c| {
            let model = find_model(c, name)?;
            let Some(&from) = model.aliases.get(alias) else {
                return Err(alias_not_found(name, alias, &model.aliases).into());
            };
            c.execute(
                "DELETE FROM registered_model_aliases WHERE workspace = 'default' AND name = ?1 AND alias = ?2",
                params![name, alias],
            )?;
            let now = crate::store::now_ms();
            append_history(c, name, alias_move(alias, Some(from), None, "delete", now))?;
            touch_model(c, name, now)
        })
    }

    pub(super) fn alias_history_impl(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        validate::alias(alias)?;
        self.read(|c| {
            find_model(c, name)?;
            history(c, name, alias)
        })
    }

    pub(super) fn register_model_impl(&self, new: &NewVersion<'_>) -> Result<ModelVersion> {
        let storage = self.storage_location(new.source)?;
        self.write(|c| insert_version(c, new, &storage))
    }

    /// A new version and its alias move in one transaction: both or neither.
    pub(super) fn register_model_with_alias_impl(
        &self,
        new: &NewVersion<'_>,
        alias: &str,
        kind: &str,
    ) -> Result<ModelVersion> {
        validate::alias(alias)?;
        let storage = self.storage_location(new.source)?;
        self.write(|c| {
            let version = insert_version(c, new, &storage)?;
            move_alias(c, new.name, alias, version.version, kind)?;
            read_version(c, new.name, version.version)
        })
    }

    /// Where the model a version's source names keeps its files (it must exist before it is registered).
    fn storage_location(&self, source: &str) -> Result<String> {
        let model_dir = self.resolve_model(&ModelUri::parse(source)?)?;
        Ok(model_dir.to_string_lossy().into_owned())
    }
}

/// Point the alias at a live version, record the move in its history and touch the model.
fn move_alias(c: &Connection, name: &str, alias: &str, version: u64, kind: &str) -> R<Option<u64>> {
    let model = find_model(c, name)?;
    live_version(c, name, version)?;
    let from = model.aliases.get(alias).copied();
    c.execute(
        "INSERT OR REPLACE INTO registered_model_aliases (alias, version, name, workspace) \
         VALUES (?1, ?2, ?3, 'default')",
        params![alias, version as i64, name],
    )?;
    let now = crate::store::now_ms();
    append_history(c, name, alias_move(alias, from, Some(version), kind, now))?;
    touch_model(c, name, now)?;
    Ok(from)
}

/// The next version of the model (created if missing), `READY`, with its files at `storage`.
fn insert_version(c: &Connection, new: &NewVersion<'_>, storage: &str) -> R<ModelVersion> {
    let now = crate::store::now_ms();
    c.execute(
        "INSERT OR IGNORE INTO registered_models (name, creation_time, last_updated_time, description, \
         workspace) VALUES (?1, ?2, ?2, NULL, 'default')",
        params![new.name, now],
    )?;
    touch_model(c, new.name, now)?;
    let version: i64 = c.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE workspace = 'default' AND name = ?1",
        [new.name],
        |r| r.get(0),
    )?;
    c.execute(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, \
         user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, \
         workspace) VALUES (?1, ?2, ?3, ?3, ?4, NULL, 'None', ?5, ?6, 'READY', NULL, NULL, ?7, 'default')",
        params![new.name, version, now, new.description, new.source, new.run_id, storage],
    )?;
    read_version(c, new.name, version as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with one run that logged one model (an `MLmodel` file is all resolving needs).
    fn store_with_a_model(dir: &Path) -> (SqliteStore, String, String) {
        let store = SqliteStore::new(dir.join("mlflow.db"));
        let id = store
            .create_experiment("e", None, &BTreeMap::new())
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
        let model = store.create_logged_model(&run.run_id, "model").unwrap();
        let local = dir.join("model");
        fs::create_dir_all(&local).unwrap();
        fs::write(local.join("MLmodel"), "flavors: {}\n").unwrap();
        store.log_model(&model, &local, &[]).unwrap();
        (store, run.run_id, format!("models:/{}", model.model_id))
    }

    #[test]
    fn a_version_and_its_alias_move_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let (store, run_id, source) = store_with_a_model(dir.path());
        let new = NewVersion {
            name: "m",
            source: &source,
            run_id: Some(&run_id),
            description: None,
        };
        let v = store
            .register_model_with_alias(&new, "Champion", "set")
            .unwrap();
        assert_eq!(v.version, 1);
        assert_eq!(v.aliases, vec!["Champion".to_string()]);
        assert_eq!(store.alias_history("m", "Champion").unwrap().len(), 1);

        // The alias move fails inside the transaction: the version it was for is not left behind.
        store
            .write(|c| {
                c.execute_batch(
                    "CREATE TRIGGER no_alias BEFORE INSERT ON registered_model_aliases \
                     BEGIN SELECT RAISE(ABORT, 'alias refused'); END;",
                )?;
                Ok(())
            })
            .unwrap();
        let err = store
            .register_model_with_alias(&new, "Challenger", "set")
            .unwrap_err();
        assert!(err.to_string().contains("alias refused"), "{err}");
        let versions: Vec<u64> = store
            .list_model_versions("m", true)
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, vec![1]);
    }

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
