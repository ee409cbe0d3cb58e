//! The tracking store behind an MLflow tracking server: MLflow's REST API (`/api/2.0/mlflow/...`) for
//! entities and its artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) for files. Models are
//! downloaded once into a local cache keyed by their (immutable) artifact location.

mod count;
pub mod http;
mod readahead;

use super::entities::*;
use super::{
    Batch, Fields, ModelUri, NewRun, Projection, Result, ServerPage, StoreError, TrackingStore,
    VersionRef, Which, most_common, sort_newest_first, validate,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ureq::http::Method;

/// MLflow's log-batch limits per request.
const MAX_METRICS_PER_BATCH: usize = 1000;
const MAX_PARAMS_PER_BATCH: usize = 100;
const MAX_TAGS_PER_BATCH: usize = 100;
const PAGE: usize = 1000;
/// How many of the newest runs the UI's list of metric keys is taken from.
const METRIC_KEY_RUNS: usize = 200;

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

    /// One page of `runs/search` and the token of the next, if any.
    fn runs_search(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        filter: Option<&str>,
        order_by: &[String],
        max_results: usize,
        page_token: Option<&str>,
    ) -> Result<(Vec<Run>, Option<String>)> {
        let mut body = json!({
            "experiment_ids": experiment_ids,
            "run_view_type": view_name(view),
            "max_results": max_results,
        });
        if let Some(f) = filter {
            body["filter"] = json!(f);
        }
        if !order_by.is_empty() {
            body["order_by"] = json!(order_by);
        }
        if let Some(t) = page_token {
            body["page_token"] = json!(t);
        }
        let v = self.post("runs/search", body)?;
        let runs = array(&v["runs"]).iter().map(parse_run).collect();
        Ok((runs, opt_str(&v["next_page_token"])))
    }

    /// Every run of the experiments that passes the server-side `filter`, in the server's default order.
    fn search_all(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        filter: Option<&str>,
    ) -> Result<Vec<Run>> {
        if experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) =
                self.runs_search(experiment_ids, view, filter, &[], PAGE, token.as_deref())?;
            runs.extend(page);
            token = next;
            if token.is_none() {
                return Ok(runs);
            }
        }
    }

    fn get_run_json(&self, run_id: &str) -> Result<Value> {
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let v = self
            .get("runs/get", &[("run_id", run_id)])
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(v["run"].clone())
    }

    /// The artifact-proxy path of an `mlflow-artifacts:` URI.
    fn proxy_path(&self, uri: &str) -> Result<String> {
        proxy_path(uri).ok_or_else(|| StoreError::InvalidState(format!(
            "artifact location '{uri}' is not served by the tracking server's artifact proxy; start `mlflow server` with artifact serving (the default) so mlx can upload and download artifacts"
        )))
    }

    fn upload_dir(&self, local: &Path, dest: &str) -> Result<()> {
        let mut files = Vec::new();
        collect_files(local, "", &mut files)?;
        // A few uploads at a time: each is a round trip.
        let workers = 4.min(files.len().max(1));
        let chunks: Vec<Vec<(String, PathBuf)>> = (0..workers)
            .map(|w| files.iter().skip(w).step_by(workers).cloned().collect())
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    s.spawn(move || -> Result<()> {
                        for (rel, path) in chunk {
                            self.client.put_file(&format!("{dest}/{rel}"), &path)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("upload thread"))
        })
    }

    /// Download the artifact folder at proxy path `path` into `dest` (created).
    fn download_dir(&self, path: &str, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|e| StoreError::io(dest, e))?;
        for (name, is_dir, _) in self.client.list_artifact_dir(path)? {
            // The proxy answers names relative to `path`; never let one climb out of `dest`.
            let name = name.rsplit('/').next().unwrap_or(&name).to_string();
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let target = dest.join(&name);
            let child = format!("{}/{name}", path.trim_end_matches('/'));
            if is_dir {
                self.download_dir(&child, &target)?;
            } else {
                self.client.download(&child, &target)?;
            }
        }
        Ok(())
    }

    /// A local copy of the artifact folder at `uri`, downloaded once into the cache.
    fn cached_download(&self, uri: &str) -> Result<PathBuf> {
        let path = self.proxy_path(uri)?;
        validate::artifact_path(&path)?;
        let host = self
            .client
            .base()
            .split("://")
            .nth(1)
            .unwrap_or("server")
            .replace([':', '/'], "_");
        let root = cache_root().join(host);
        let target = root.join(&path);
        if target.join(".mlx-complete").is_file() {
            return Ok(target);
        }
        std::fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".mlx-download-")
            .tempdir_in(&root)
            .map_err(|e| StoreError::io(&root, e))?;
        let into = staging.path().join("m");
        self.download_dir(&path, &into)?;
        if !into.join("MLmodel").is_file() {
            return Err(StoreError::ModelNotFound(format!(
                "{uri}: no MLmodel file in that artifact folder"
            )));
        }
        std::fs::write(into.join(".mlx-complete"), b"").map_err(|e| StoreError::io(&into, e))?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        match std::fs::rename(&into, &target) {
            Ok(()) => Ok(target),
            // Another process finished the same download first.
            Err(_) if target.join(".mlx-complete").is_file() => Ok(target),
            Err(e) => Err(StoreError::io(&target, e)),
        }
    }

    fn logged_model_json(&self, model_id: &str) -> Result<Value> {
        validate::id("model", model_id)
            .map_err(|_| StoreError::ModelNotFound(format!("models:/{model_id}")))?;
        let v = self
            .get(&format!("logged-models/{model_id}"), &[])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!("models:/{model_id}"))
                })
            })?;
        Ok(v["model"].clone())
    }

    /// The artifact URI of the model a URI names (see [`TrackingStore::resolve_model`]).
    fn model_artifact_uri(&self, uri: &ModelUri) -> Result<String> {
        match super::follow_versions(self, uri)? {
            ModelUri::Run { run_id, path } => {
                let run = self.get_run_json(&run_id)?;
                // MLflow 3: a logged model of that name produced by the run.
                for out in array(&run["outputs"]["model_outputs"]) {
                    if let Some(id) = out["model_id"].as_str() {
                        let m = self.logged_model_json(id)?;
                        if m["info"]["name"].as_str() == Some(path.as_str()) {
                            return Ok(str_of(&m["info"]["artifact_uri"]));
                        }
                    }
                }
                // MLflow 2: the model inside the run's artifacts.
                let listing = self.list_artifacts(&run_id, Some(&path))?;
                if listing.iter().any(|e| e.path.ends_with("/MLmodel")) {
                    return Ok(format!(
                        "{}/{path}",
                        str_of(&run["info"]["artifact_uri"]).trim_end_matches('/')
                    ));
                }
                Err(StoreError::ModelNotFound(format!(
                    "{uri}: run {run_id} has no model at '{path}'"
                )))
            }
            ModelUri::Logged(id) => Ok(str_of(
                &self.logged_model_json(&id)?["info"]["artifact_uri"],
            )),
            ModelUri::Proxied(p) => Ok(p),
            ModelUri::Folder(_) | ModelUri::Version(_) => {
                Err(StoreError::ModelNotFound(uri.to_string()))
            }
        }
    }

    fn registered_model_json(&self, name: &str) -> Result<Value> {
        validate::model_name(name)?;
        let v = self
            .get("registered-models/get", &[("name", name)])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!("registered model '{name}'"))
                })
            })?;
        Ok(v["registered_model"].clone())
    }

    fn current_alias(&self, name: &str, alias: &str) -> Result<Option<u64>> {
        match self.get(
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
        ) {
            Ok(v) => Ok(number(&v["model_version"]["version"]).map(|n| n as u64)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn append_alias_history(&self, name: &str, entry: AliasMove) -> Result<()> {
        let key = super::alias_history_tag(&entry.alias);
        let history = self.alias_history(name, &entry.alias).unwrap_or_default();
        let text = super::alias_history_text(history, entry);
        self.set_registered_model_tag(name, &key, &text)
    }
}

/// Where downloaded models are kept: `MLX_CACHE_DIR`, else the user cache dir.
fn cache_root() -> PathBuf {
    if let Some(d) = crate::settings::env::path("MLX_CACHE_DIR") {
        return d.join("artifacts");
    }
    directories::ProjectDirs::from("", "", "mlx")
        .map(|d| d.cache_dir().join("artifacts"))
        .unwrap_or_else(|| std::env::temp_dir().join("mlx-cache").join("artifacts"))
}

/// `mlflow-artifacts:/1/abc/artifacts` or `mlflow-artifacts://host:port/1/abc/artifacts` to `1/abc/artifacts`.
pub fn proxy_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_string())
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let md = std::fs::metadata(dir).map_err(|e| StoreError::io(dir, e))?;
    if !md.is_dir() {
        out.push((prefix.to_string(), dir.to_path_buf()));
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        collect_files(&entry.path(), &rel, out)?;
    }
    Ok(())
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

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn opt_str(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// proto3 JSON: int64 may come as a number or a string.
fn number(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// Floats: a number, or "NaN"/"Infinity"/"-Infinity" as strings.
fn float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => match s.as_str() {
            "Infinity" | "inf" => f64::INFINITY,
            "-Infinity" | "-inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        },
        _ => f64::NAN,
    }
}

fn kv_map(v: &Value) -> BTreeMap<String, String> {
    array(v)
        .iter()
        .filter_map(|kv| Some((kv["key"].as_str()?.to_string(), str_of(&kv["value"]))))
        .collect()
}

fn kv_list<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(
        pairs
            .into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn view_name(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "ACTIVE_ONLY",
        ViewType::DeletedOnly => "DELETED_ONLY",
        ViewType::All => "ALL",
    }
}

fn parse_experiment(v: &Value) -> Experiment {
    Experiment {
        experiment_id: str_of(&v["experiment_id"]),
        name: str_of(&v["name"]),
        artifact_location: str_of(&v["artifact_location"]),
        lifecycle_stage: Lifecycle::parse(v["lifecycle_stage"].as_str().unwrap_or("active"))
            .unwrap_or(Lifecycle::Active),
        creation_time: number(&v["creation_time"]),
        last_update_time: number(&v["last_update_time"]),
        tags: kv_map(&v["tags"]),
    }
}

fn parse_run_info(v: &Value) -> RunInfo {
    RunInfo {
        run_id: opt_str(&v["run_id"]).unwrap_or_else(|| str_of(&v["run_uuid"])),
        run_name: str_of(&v["run_name"]),
        experiment_id: str_of(&v["experiment_id"]),
        user_id: str_of(&v["user_id"]),
        status: v["status"]
            .as_str()
            .and_then(RunStatus::parse)
            .unwrap_or(RunStatus::Running),
        start_time: number(&v["start_time"]).unwrap_or(0),
        end_time: number(&v["end_time"]),
        artifact_uri: str_of(&v["artifact_uri"]),
        lifecycle_stage: Lifecycle::parse(v["lifecycle_stage"].as_str().unwrap_or("active"))
            .unwrap_or(Lifecycle::Active),
    }
}

fn parse_metric(v: &Value) -> MetricPoint {
    MetricPoint {
        timestamp: number(&v["timestamp"]).unwrap_or(0),
        value: float(&v["value"]),
        step: number(&v["step"]).unwrap_or(0),
    }
}

fn parse_run(v: &Value) -> Run {
    let data = &v["data"];
    let mut metrics = BTreeMap::new();
    for m in array(&data["metrics"]) {
        if let Some(k) = m["key"].as_str() {
            metrics.insert(k.to_string(), parse_metric(m));
        }
    }
    let inputs = array(&v["inputs"]["dataset_inputs"])
        .iter()
        .map(|d| {
            let ds = &d["dataset"];
            DatasetInput {
                name: str_of(&ds["name"]),
                digest: str_of(&ds["digest"]),
                source_type: str_of(&ds["source_type"]),
                context: kv_map(&d["tags"]).remove("mlflow.data.context"),
                source: str_of(&ds["source"]),
                schema: str_of(&ds["schema"]),
                profile: str_of(&ds["profile"]),
            }
        })
        .collect();
    let outputs = array(&v["outputs"]["model_outputs"])
        .iter()
        .filter_map(|o| opt_str(&o["model_id"]))
        .collect();
    Run {
        info: parse_run_info(&v["info"]),
        data: RunData {
            metrics,
            params: kv_map(&data["params"]),
            tags: kv_map(&data["tags"]),
        },
        inputs,
        outputs,
    }
}

fn parse_version(v: &Value) -> ModelVersion {
    ModelVersion {
        name: str_of(&v["name"]),
        version: number(&v["version"]).unwrap_or(0) as u64,
        source: str_of(&v["source"]),
        run_id: opt_str(&v["run_id"]),
        model_id: opt_str(&v["model_id"]),
        creation_timestamp: number(&v["creation_timestamp"]).unwrap_or(0),
        last_updated_timestamp: number(&v["last_updated_timestamp"]),
        description: opt_str(&v["description"]),
        current_stage: opt_str(&v["current_stage"]).unwrap_or_else(|| "None".into()),
        status: opt_str(&v["status"]).unwrap_or_else(|| "READY".into()),
        tags: kv_map(&v["tags"]),
        aliases: array(&v["aliases"])
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
    }
}

fn parse_registered_model(v: &Value) -> RegisteredModel {
    RegisteredModel {
        name: str_of(&v["name"]),
        description: opt_str(&v["description"]),
        creation_timestamp: number(&v["creation_timestamp"]),
        last_updated_timestamp: number(&v["last_updated_timestamp"]),
        tags: kv_map(&v["tags"]),
        aliases: array(&v["aliases"])
            .iter()
            .filter_map(|a| {
                Some((
                    a["alias"].as_str()?.to_string(),
                    number(&a["version"])? as u64,
                ))
            })
            .collect(),
        latest_version: array(&v["latest_versions"])
            .iter()
            .filter_map(|lv| number(&lv["version"]))
            .max()
            .map(|n| n as u64),
    }
}

/// Keep only what the projection asks for, as the file store would have loaded it.
fn project(runs: &mut [Run], projection: &Projection) {
    let metrics = match &projection.metrics {
        Fields::MostCommon(n) => Fields::Only(
            most_common(
                runs.iter()
                    .map(|r| r.data.metrics.keys().cloned().collect())
                    .collect(),
                *n,
            )
            .into_iter()
            .collect(),
        ),
        other => other.clone(),
    };
    for run in runs {
        run.data.metrics.retain(|k, _| metrics.wants(k));
        run.data.params.retain(|k, _| projection.params.wants(k));
        run.data.tags.retain(|k, _| projection.tags.wants(k));
        if !projection.io {
            run.inputs.clear();
            run.outputs.clear();
        }
    }
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
        validate::experiment_name(name)?;
        let mut body = json!({"name": name, "tags": kv_list(tags)});
        if let Some(loc) = artifact_location {
            body["artifact_location"] = json!(loc);
        }
        match self.post("experiments/create", body) {
            Ok(v) => Ok(str_of(&v["experiment_id"])),
            Err(StoreError::Remote { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => {
                Err(StoreError::ExperimentExists(name.into()))
            }
            Err(e) => Err(e),
        }
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        // MLflow's server numbers its experiments (and answers 400 to anything else).
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::ExperimentNotFound(id.into()));
        }
        let v = self
            .get("experiments/get", &[("experiment_id", id)])
            .map_err(|e| not_found(e, || StoreError::ExperimentNotFound(id.into())))?;
        Ok(parse_experiment(&v["experiment"]))
    }

    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => Ok(Some(parse_experiment(&v["experiment"]))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"max_results": PAGE, "view_type": view_name(view)});
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let v = self.post("experiments/search", body)?;
            out.extend(array(&v["experiments"]).iter().map(parse_experiment));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.sort_by_key(|e| {
            (
                e.experiment_id.parse::<u64>().unwrap_or(u64::MAX),
                e.experiment_id.clone(),
            )
        });
        Ok(out)
    }

    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()> {
        validate::experiment_name(new_name)?;
        self.get_experiment(id)?;
        self.post(
            "experiments/update",
            json!({"experiment_id": id, "new_name": new_name}),
        )
        .map_err(|e| match e {
            StoreError::Remote { code, .. } if code == "RESOURCE_ALREADY_EXISTS" => {
                StoreError::ExperimentExists(new_name.into())
            }
            e => e,
        })?;
        Ok(())
    }

    fn delete_experiment(&self, id: &str) -> Result<()> {
        self.get_experiment(id)?;
        self.post("experiments/delete", json!({"experiment_id": id}))?;
        Ok(())
    }

    fn restore_experiment(&self, id: &str) -> Result<()> {
        self.get_experiment(id)?;
        self.post("experiments/restore", json!({"experiment_id": id}))?;
        Ok(())
    }

    fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()> {
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.get_experiment(id)?;
        self.post(
            "experiments/set-experiment-tag",
            json!({"experiment_id": id, "key": key, "value": value}),
        )?;
        Ok(())
    }

    fn create_run(&self, new: NewRun) -> Result<RunInfo> {
        for (k, v) in &new.tags {
            validate::key("tag", k)?;
            validate::tag_value(k, v)?;
        }
        let mut body = json!({
            "experiment_id": new.experiment_id,
            "user_id": new.user_id,
            "start_time": new.start_time,
            "tags": kv_list(&new.tags),
        });
        if let Some(name) = &new.run_name {
            body["run_name"] = json!(name);
        }
        let v = self.post("runs/create", body).map_err(|e| {
            not_found(e, || {
                StoreError::ExperimentNotFound(new.experiment_id.clone())
            })
        })?;
        Ok(parse_run_info(&v["run"]["info"]))
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
        let mut runs = self.search_all(experiment_ids, view, None)?;
        sort_newest_first(&mut runs);
        self.read_ahead().listed(&runs);
        project(&mut runs, projection);
        Ok(runs)
    }

    fn count_runs(&self, experiment_ids: &[String], view: ViewType) -> Result<usize> {
        self.count_runs_on_server(experiment_ids, view)
    }

    /// The metric keys of the newest runs only (one request): the server has no listing of keys, and
    /// reading every run of a 50,000-run experiment for the UI's column picker would take a minute.
    fn metric_keys(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        if experiment_ids.is_empty() {
            return Ok(Default::default());
        }
        let (runs, _) = self.runs_search(experiment_ids, view, None, &[], METRIC_KEY_RUNS, None)?;
        Ok(runs
            .into_iter()
            .flat_map(|r| r.data.metrics.into_keys())
            .collect())
    }

    fn search_page(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        page: &ServerPage<'_>,
    ) -> Result<Option<(Vec<Run>, Option<String>)>> {
        if experiment_ids.is_empty() {
            return Ok(Some((Vec::new(), None)));
        }
        self.runs_search(
            experiment_ids,
            view,
            page.filter,
            page.order_by,
            page.max_results,
            page.page_token,
        )
        .map(Some)
    }

    /// One `runs/search` per 100 ids instead of a `runs/get` per run.
    fn get_runs(&self, experiment_ids: &[String], run_ids: &[String]) -> Result<Vec<Run>> {
        let mut found: BTreeMap<String, Run> = BTreeMap::new();
        for chunk in run_ids.chunks(100) {
            for id in chunk {
                validate::id("run", id).map_err(|_| StoreError::RunNotFound(id.clone()))?;
            }
            let list: Vec<String> = chunk.iter().map(|id| format!("'{id}'")).collect();
            let v = self.post(
                "runs/search",
                json!({
                    "experiment_ids": experiment_ids,
                    "filter": format!("attributes.run_id IN ({})", list.join(", ")),
                    "run_view_type": "ALL",
                    "max_results": chunk.len(),
                }),
            )?;
            for run in array(&v["runs"]).iter().map(parse_run) {
                found.insert(run.info.run_id.clone(), run);
            }
        }
        run_ids
            .iter()
            .map(|id| found.remove(id).map_or_else(|| self.get_run(id), Ok))
            .collect()
    }

    fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        validate::batch(batch)?;
        self.read_ahead().written(run_id);
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let metric = |(k, p): &(String, MetricPoint)| json!({"key": k, "value": float_json(p.value), "timestamp": p.timestamp, "step": p.step});
        let kv = |(k, v): &(String, String)| json!({"key": k, "value": v});
        // Params and tags first (small), then metrics, each request within MLflow's limits.
        let mut bodies = Vec::new();
        let mut params = batch.params.chunks(MAX_PARAMS_PER_BATCH);
        let mut tags = batch.tags.chunks(MAX_TAGS_PER_BATCH);
        loop {
            let (p, t) = (params.next(), tags.next());
            if p.is_none() && t.is_none() {
                break;
            }
            bodies.push(json!({
                "run_id": run_id,
                "params": p.unwrap_or_default().iter().map(kv).collect::<Vec<_>>(),
                "tags": t.unwrap_or_default().iter().map(kv).collect::<Vec<_>>(),
            }));
        }
        for chunk in batch.metrics.chunks(MAX_METRICS_PER_BATCH) {
            bodies.push(json!({
                "run_id": run_id,
                "metrics": chunk.iter().map(metric).collect::<Vec<_>>(),
            }));
        }
        for body in bodies {
            self.post("runs/log-batch", body)
                .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        }
        Ok(())
    }

    fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()> {
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let mut body = json!({"run_id": run_id, "status": status.as_str()});
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        self.post("runs/update", body)
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(())
    }

    fn delete_run(&self, run_id: &str) -> Result<()> {
        self.get_run_json(run_id)?;
        self.post("runs/delete", json!({"run_id": run_id}))?;
        Ok(())
    }

    fn restore_run(&self, run_id: &str) -> Result<()> {
        self.get_run_json(run_id)?;
        self.post("runs/restore", json!({"run_id": run_id}))?;
        Ok(())
    }

    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        validate::key("metric", key)?;
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        if let Some(points) = self.history_read_ahead(run_id, key)? {
            return Ok(points);
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self
                .get("metrics/get-history", &query)
                .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
            out.extend(array(&v["metrics"]).iter().map(parse_metric));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    fn log_artifact(&self, run_id: &str, local: &Path, dest: Option<&str>) -> Result<()> {
        if let Some(d) = dest {
            validate::artifact_path(d)?;
        }
        let name = local.file_name().ok_or_else(|| StoreError::InvalidValue {
            what: format!("artifact '{}'", local.display()),
            why: "it has no file name".into(),
        })?;
        std::fs::metadata(local).map_err(|e| StoreError::io(local, e))?;
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let mut target = self.proxy_path(&info.artifact_uri)?;
        if let Some(d) = dest.map(|d| d.trim_matches('/')).filter(|d| !d.is_empty()) {
            target = format!("{target}/{d}");
        }
        let target = format!("{target}/{}", name.to_string_lossy());
        self.upload_dir(local, &target)
    }

    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<ArtifactEntry>> {
        let prefix = path.unwrap_or("").trim_matches('/');
        validate::artifact_path(prefix)?;
        validate::id("run", run_id).map_err(|_| StoreError::RunNotFound(run_id.into()))?;
        let mut query = vec![("run_id", run_id)];
        if !prefix.is_empty() {
            query.push(("path", prefix));
        }
        let v = self
            .get("artifacts/list", &query)
            .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        let mut out: Vec<ArtifactEntry> = array(&v["files"])
            .iter()
            .map(|f| ArtifactEntry {
                path: str_of(&f["path"]),
                is_dir: f["is_dir"].as_bool().unwrap_or(false),
                file_size: number(&f["file_size"]).map(|n| n as u64),
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn log_input(&self, run_id: &str, dataset: &Dataset, context: &str) -> Result<()> {
        self.post(
            "runs/log-inputs",
            json!({
                "run_id": run_id,
                "datasets": [{
                    "tags": [{"key": "mlflow.data.context", "value": context}],
                    "dataset": {
                        "name": dataset.name,
                        "digest": dataset.digest,
                        "source_type": dataset.source_type,
                        "source": dataset.source,
                        "schema": dataset.schema,
                        "profile": dataset.profile,
                    },
                }],
            }),
        )
        .map_err(|e| not_found(e, || StoreError::RunNotFound(run_id.into())))?;
        Ok(())
    }

    fn open_artifact(&self, run_id: &str, path: &str) -> Result<std::fs::File> {
        let path = path.trim_matches('/');
        validate::artifact_path(path)?;
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let base = self.proxy_path(&info.artifact_uri)?;
        let tmp =
            tempfile::NamedTempFile::new().map_err(|e| StoreError::io(&std::env::temp_dir(), e))?;
        self.client
            .download(&format!("{base}/{path}"), tmp.path())?;
        // The open handle outlives the temp file's name, which is removed when `tmp` drops.
        tmp.reopen().map_err(|e| StoreError::io(tmp.path(), e))
    }

    fn download_artifacts(&self, run_id: &str, dest: &Path) -> Result<()> {
        let info = parse_run_info(&self.get_run_json(run_id)?["info"]);
        let path = self.proxy_path(&info.artifact_uri)?;
        self.download_dir(&path, dest)
    }

    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let m = self.logged_model_json(model_id)?;
        let info = &m["info"];
        Ok(LoggedModel {
            model_id: model_id.into(),
            name: str_of(&info["name"]),
            experiment_id: str_of(&info["experiment_id"]),
            source_run_id: str_of(&info["source_run_id"]),
            artifact_location: str_of(&info["artifact_uri"]),
        })
    }

    fn create_logged_model(&self, run_id: &str, name: &str) -> Result<LoggedModel> {
        validate::key("model name", name)?;
        let run = self.get_run(run_id)?;
        let tags: BTreeMap<&String, &String> = run
            .data
            .tags
            .iter()
            .filter(|(k, _)| k.starts_with("mlflow.source.") || k.as_str() == "mlflow.user")
            .collect();
        let v = self.post(
            "logged-models",
            json!({
                "experiment_id": run.info.experiment_id,
                "name": name,
                "source_run_id": run_id,
                "params": kv_list(&run.data.params),
                "tags": kv_list(tags),
            }),
        )?;
        let info = &v["model"]["info"];
        Ok(LoggedModel {
            model_id: str_of(&info["model_id"]),
            name: name.into(),
            experiment_id: run.info.experiment_id,
            source_run_id: run_id.into(),
            artifact_location: str_of(&info["artifact_uri"]),
        })
    }

    fn log_model(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()> {
        let target = self.proxy_path(&model.artifact_location)?;
        self.upload_dir(local, &target)?;
        if !metrics.is_empty() {
            for chunk in metrics.chunks(MAX_METRICS_PER_BATCH) {
                let points: Vec<Value> = chunk
                    .iter()
                    .map(|(k, p)| {
                        json!({"key": k, "value": float_json(p.value), "timestamp": p.timestamp,
                               "step": p.step, "model_id": model.model_id})
                    })
                    .collect();
                self.post(
                    "runs/log-batch",
                    json!({"run_id": model.source_run_id, "metrics": points}),
                )?;
            }
        }
        self.client.send(
            Method::PATCH,
            &format!("logged-models/{}", model.model_id),
            &json!({"model_id": model.model_id, "status": "LOGGED_MODEL_READY"}),
        )?;
        self.post(
            "runs/outputs",
            json!({"run_id": model.source_run_id, "models": [{"model_id": model.model_id, "step": 0}]}),
        )?;
        Ok(())
    }

    fn fetch_model(&self, uri: &ModelUri) -> Result<PathBuf> {
        let artifact_uri = self.model_artifact_uri(uri)?;
        self.cached_download(&artifact_uri)
    }

    fn allows_folder_sources(&self) -> bool {
        false
    }

    fn resolve_model_version(&self, version: &VersionRef) -> Result<ModelVersion> {
        let name = version.name.as_str();
        match &version.which {
            Which::Latest => {
                // One small request (a replica following `latest` polls this): the newest version only.
                let filter = format!("name = '{}'", name.replace('\'', "\\'"));
                let v = self.get(
                    "model-versions/search",
                    &[
                        ("filter", filter.as_str()),
                        ("order_by", "version_number DESC"),
                        ("max_results", "1"),
                    ],
                )?;
                match array(&v["model_versions"]).first().map(parse_version) {
                    Some(version) if version.name == name => Ok(version),
                    // No such model (its own error) or a model without versions.
                    _ => self
                        .list_model_versions(name, false)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            StoreError::ModelNotFound(format!("'{name}' has no versions"))
                        }),
                }
            }
            Which::Number(n) => self.get_model_version(name, *n),
            Which::Alias(alias) => {
                let v = self
                    .get(
                        "registered-models/alias",
                        &[("name", name), ("alias", alias)],
                    )
                    .map_err(|e| {
                        not_found(e, || {
                            let known = self
                                .get_registered_model(name)
                                .map(|m| m.aliases)
                                .unwrap_or_default();
                            crate::store::alias_not_found(name, alias, &known)
                        })
                    })?;
                Ok(parse_version(&v["model_version"]))
            }
        }
    }

    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = PAGE.to_string();
            let mut query = vec![("max_results", page.as_str())];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self.get("registered-models/search", &query)?;
            out.extend(
                array(&v["registered_models"])
                    .iter()
                    .map(parse_registered_model),
            );
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        Ok(parse_registered_model(&self.registered_model_json(name)?))
    }

    fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.registered_model_json(name)?;
        self.client.send(
            Method::DELETE,
            "registered-models/delete",
            &json!({"name": name}),
        )?;
        Ok(())
    }

    fn list_model_versions(&self, name: &str, _include_deleted: bool) -> Result<Vec<ModelVersion>> {
        // The server deletes versions outright: there are no deleted ones to include.
        self.registered_model_json(name)?;
        let quoted = format!("'{}'", name.replace('\'', "\\'"));
        let filter = format!("name = {quoted}");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("filter", filter.as_str()), ("max_results", "200000")];
            if let Some(t) = &token {
                query.push(("page_token", t));
            }
            let v = self.get("model-versions/search", &query)?;
            out.extend(array(&v["model_versions"]).iter().map(parse_version));
            token = opt_str(&v["next_page_token"]);
            if token.is_none() {
                break;
            }
        }
        out.retain(|v| v.name == name);
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(out)
    }

    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        validate::model_name(name)?;
        let n = version.to_string();
        let v = self
            .get("model-versions/get", &[("name", name), ("version", &n)])
            .map_err(|e| {
                not_found(e, || {
                    StoreError::ModelNotFound(format!(
                        "version {version} of registered model '{name}'"
                    ))
                })
            })?;
        Ok(parse_version(&v["model_version"]))
    }

    fn delete_model_version(&self, name: &str, version: u64) -> Result<()> {
        self.get_model_version(name, version)?;
        self.client.send(
            Method::DELETE,
            "model-versions/delete",
            &json!({"name": name, "version": version.to_string()}),
        )?;
        Ok(())
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        validate::model_name(name)?;
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
        )
        .map_err(|e| {
            not_found(e, || {
                StoreError::ModelNotFound(format!("registered model '{name}'"))
            })
        })?;
        Ok(())
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
        validate::key("tag", key)?;
        validate::tag_value(key, value)?;
        self.get_model_version(name, version)?;
        self.post(
            "model-versions/set-tag",
            json!({"name": name, "version": version.to_string(), "key": key, "value": value}),
        )?;
        Ok(())
    }

    fn set_registered_model_description(&self, name: &str, description: &str) -> Result<()> {
        self.registered_model_json(name)?;
        self.client.send(
            Method::PATCH,
            "registered-models/update",
            &json!({"name": name, "description": description}),
        )?;
        Ok(())
    }

    fn set_model_version_description(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<()> {
        self.get_model_version(name, version)?;
        self.client.send(
            Method::PATCH,
            "model-versions/update",
            &json!({"name": name, "version": version.to_string(), "description": description}),
        )?;
        Ok(())
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64, kind: &str) -> Result<Option<u64>> {
        validate::alias(alias)?;
        self.get_model_version(name, version)?;
        let from = self.current_alias(name, alias)?;
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
        )?;
        self.append_alias_history(
            name,
            AliasMove {
                alias: alias.into(),
                from,
                to: Some(version),
                user: crate::context::user(),
                timestamp: super::now_ms(),
                kind: kind.into(),
            },
        )?;
        Ok(from)
    }

    fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        validate::alias(alias)?;
        self.registered_model_json(name)?;
        let Some(from) = self.current_alias(name, alias)? else {
            let known = self
                .get_registered_model(name)
                .map(|m| m.aliases)
                .unwrap_or_default();
            return Err(crate::store::alias_not_found(name, alias, &known));
        };
        self.client.send(
            Method::DELETE,
            "registered-models/alias",
            &json!({"name": name, "alias": alias}),
        )?;
        self.append_alias_history(
            name,
            AliasMove {
                alias: alias.into(),
                from: Some(from),
                to: None,
                user: crate::context::user(),
                timestamp: super::now_ms(),
                kind: "delete".into(),
            },
        )
    }

    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>> {
        validate::alias(alias)?;
        let model = self.get_registered_model(name)?;
        match model.tags.get(&super::alias_history_tag(alias)) {
            Some(text) => super::parse_alias_history(text).map_err(|e| {
                StoreError::InvalidState(format!(
                    "registered model '{name}': tag {} is not an alias history: {e}",
                    super::alias_history_tag(alias)
                ))
            }),
            None => Ok(Vec::new()),
        }
    }

    fn register_model(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        validate::model_name(name)?;
        // The model must exist before it is registered.
        let source_uri = ModelUri::parse(source)?;
        let artifact_uri = self.model_artifact_uri(&source_uri)?;
        match self.post("registered-models/create", json!({"name": name})) {
            Ok(_) => {}
            Err(StoreError::Remote { code, .. }) if code == "RESOURCE_ALREADY_EXISTS" => {}
            Err(e) => return Err(e),
        }
        let model_id = match &source_uri {
            ModelUri::Logged(id) => Some(id.clone()),
            _ => None,
        };
        // MLflow's server wants a models:/m-ID or run/artifact source it can check.
        let mut body = json!({"name": name, "source": source});
        if matches!(source_uri, ModelUri::Run { .. }) {
            body["source"] = json!(artifact_uri);
        }
        if let Some(r) = run_id {
            body["run_id"] = json!(r);
        }
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        if let Some(m) = &model_id {
            body["model_id"] = json!(m);
        }
        let v = self.post("model-versions/create", body)?;
        Ok(parse_version(&v["model_version"]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths() {
        assert_eq!(
            proxy_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxy_path("mlflow-artifacts://host:5000/1/abc/artifacts/").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxy_path("file:///tmp/x"), None);
    }

    #[test]
    fn floats_and_numbers_from_proto_json() {
        assert!(float(&json!("NaN")).is_nan());
        assert_eq!(float(&json!("-Infinity")), f64::NEG_INFINITY);
        assert_eq!(float(&json!(0.25)), 0.25);
        assert_eq!(number(&json!("12")), Some(12));
        assert_eq!(number(&json!(12)), Some(12));
        assert_eq!(float_json(f64::INFINITY), json!("Infinity"));
    }
}
