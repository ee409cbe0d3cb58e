//! Runs of the file store: finding `<exp>/<run_id>`, reading `meta.yaml`, params, tags, latest metrics and
//! dataset inputs, and moving runs between lifecycle stages.

use super::*;

impl FileStore {
    /// Every run of the experiments (with its meta.yaml read) whose lifecycle the view admits.
    pub(super) fn admitted_runs(
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
                    self.skipped(&e);
                    None
                }
            })
            .into_iter()
            .flatten()
            .collect(),
        )
    }

    pub(super) fn find_run(&self, run_id: &str) -> Result<RunLocation> {
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

    pub(super) fn read_run_info(&self, dir: &Path) -> Result<RunInfo> {
        let path = dir.join(META);
        let m = meta::read_for_lookup(&path)?;
        run_info_from_meta(dir, &path, &m)
    }

    pub(super) fn read_run(&self, loc: &RunLocation) -> Result<Run> {
        let info = self.read_run_info(&loc.dir)?;
        self.read_run_projected(loc, info, &Projection::everything())
    }

    pub(super) fn read_run_projected(
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

    pub(super) fn read_inputs(&self, loc: &RunLocation) -> Result<Vec<DatasetInput>> {
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

    pub(super) fn active_run(&self, run_id: &str) -> Result<(RunLocation, RunInfo)> {
        let loc = self.find_run(run_id)?;
        let info = self.read_run_info(&loc.dir)?;
        if info.lifecycle_stage != Lifecycle::Active {
            return Err(StoreError::InvalidState(format!(
                "run {run_id} is deleted; restore it with `mlx runs restore {run_id}` before logging to it"
            )));
        }
        Ok((loc, info))
    }

    pub(super) fn run_dirs(&self, experiment_dir: &Path) -> Result<Vec<PathBuf>> {
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

    pub(super) fn set_runs_stage(
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

pub(super) fn run_meta(info: &RunInfo) -> Meta {
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

pub(super) fn run_info_from_meta(dir: &Path, path: &Path, m: &Meta) -> Result<RunInfo> {
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

/// Files under `dir`, recursively, keyed by their `/`-joined relative path. Hidden temp files are skipped.
pub(super) fn list_key_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
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

pub(super) fn read_kv_dir(dir: &Path, fields: &Fields) -> Result<BTreeMap<String, String>> {
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

pub(super) fn read_latest_metric(path: &Path) -> Result<MetricPoint> {
    let text = fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    match metric_file::latest(&text) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(StoreError::corrupt(path, "the metric file is empty")),
        Err((line, why)) => Err(StoreError::corrupt(path, format!("line {line}: {why}"))),
    }
}

/// A friendly name like MLflow's (`bold-fox-123`) for runs started without one.
pub(in crate::store) fn random_run_name() -> String {
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
