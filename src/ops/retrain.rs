//! `mlx serve`'s `/update_model` as an operation ([`retrain`]): retrain what is served, register the new model
//! and move the alias it is served by. The retraining never executes text from the store (issue 13, point 1). Either the
//! served project's own `MLproject.toml` `main` entry point runs (the operator wrote that file; it is started
//! as an argv, no shell), or the served run's recorded `mlx train` params are parsed into typed, validated
//! [`TrainOptions`] and trained in-process. Anyone who can write the store can set tags and params, so every
//! param is checked (names, numbers, bounds, the data file inside an allowed folder) before anything runs;
//! the `mlx.command` tag is only ever a note for people.

use crate::ml::core::Choice;
use crate::ml::core::Task;
use crate::ml::core::params::Params;
use crate::ml::data::fetch::{FetchError, UrlPrefixes};
use crate::ml::data::preprocess::{self, Encoding, NaPolicy};
use crate::ml::learners::{self, ModelKind};
use crate::ops::train::{TrainOptions, TrainReport};
use crate::store::TrackingStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A recorded param that cannot be trusted to rebuild the training.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("the served run has no recorded param '{0}' to retrain from")]
    Missing(&'static str),
    #[error("the request's \"data\" = '{value}' is refused: {why}")]
    Request { value: String, why: String },
    #[error("the served run's param '{key}' = '{value}' is refused: {why}")]
    Invalid {
        key: String,
        value: String,
        why: String,
    },
}

/// A hostile value in an error: at most ~100 bytes of it (the shared rule), control characters shown as `?`,
/// credentials in a URL hidden (the error is logged as well as answered).
fn clip(value: &str) -> String {
    crate::redact::brief(&crate::redact::uris(value))
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn invalid(key: &str, value: &str, why: impl Into<String>) -> ParamError {
    ParamError::Invalid {
        key: key.to_string(),
        value: clip(value),
        why: why.into(),
    }
}

/// Where the data of a retrain may be read from (the project folder and any `--data-dir`, URLs under a
/// `--data-url` prefix).
pub struct DataRoots(Vec<PathBuf>, UrlPrefixes);

impl DataRoots {
    /// The roots as they are on disk (symlinks resolved); ones that do not exist are left out.
    pub fn new(project_dir: &Path, extra: &[PathBuf]) -> DataRoots {
        DataRoots(
            std::iter::once(project_dir)
                .chain(extra.iter().map(PathBuf::as_path))
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .collect(),
            UrlPrefixes::default(),
        )
    }

    /// Also allow URLs under these prefixes (normalised, see `ml::fetch::UrlPrefixes`; `mlx serve` refuses
    /// a prefix that is not an http(s) URL when it starts).
    pub fn with_urls(mut self, prefixes: &[String]) -> Result<DataRoots, ParamError> {
        self.1 = UrlPrefixes::new(prefixes).map_err(|why| invalid("data", "", why))?;
        Ok(self)
    }

    /// The recorded data path as a regular file inside one of the roots (relative paths are relative to the
    /// project folder, as when `mlx train` ran there).
    fn check(&self, project_dir: &Path, value: &str) -> Result<PathBuf, ParamError> {
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(invalid("data", value, "not a file path"));
        }
        if crate::ml::data::fetch::is_url(value) {
            // Downloading is a request to another host on the server's behalf: only where the operator allows,
            // checked on the normalised URL (the one then requested, and recorded).
            return self
                .1
                .allow(value)
                .map(PathBuf::from)
                .map_err(|why| invalid("data", value, why));
        }
        let path = project_dir.join(value);
        let real = std::fs::canonicalize(&path)
            .map_err(|e| invalid("data", value, format!("cannot read it: {e}")))?;
        if !real.is_file() {
            return Err(invalid("data", value, "not a regular file"));
        }
        if !self.0.iter().any(|root| real.starts_with(root)) {
            return Err(invalid(
                "data",
                value,
                "outside the project folder and every --data-dir",
            ));
        }
        Ok(real)
    }
}

fn get<'a>(params: &'a BTreeMap<String, String>, key: &'static str) -> Result<&'a str, ParamError> {
    params
        .get(key)
        .map(String::as_str)
        .ok_or(ParamError::Missing(key))
}

fn flag(params: &BTreeMap<String, String>, key: &str) -> Result<bool, ParamError> {
    match params.get(key).map(String::as_str) {
        None | Some("False") => Ok(false),
        Some("True") => Ok(true),
        Some(v) => Err(invalid(key, v, "not True or False")),
    }
}

fn choice<T: Choice>(
    params: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, ParamError> {
    match params.get(key) {
        None => Ok(default),
        Some(v) => {
            T::from_name(v).ok_or_else(|| invalid(key, v, format!("not one of {}", T::names())))
        }
    }
}

/// A column name as recorded: plain text of a sane length.
fn column(key: &str, value: &str) -> Result<String, ParamError> {
    if value.is_empty() || value.len() > 1000 || value.chars().any(char::is_control) {
        return Err(invalid(key, value, "not a column name"));
    }
    Ok(value.to_string())
}

/// The hyperparameters as recorded, seeded with `seed`: every param of every learner that the run has,
/// each read by its spec's rule and bound (a hostile value is refused even where this learner would not use
/// it); the learner's defaults fill in the rest when it fits.
fn hyper_from_params(params: &BTreeMap<String, String>, seed: u64) -> Result<Params, ParamError> {
    let mut out = Params {
        seed,
        ..Params::default()
    };
    for (spec, _) in learners::all_params() {
        if let Some(text) = params.get(spec.name) {
            let value = spec
                .parse_recorded(text)
                .map_err(|why| invalid(spec.name, text, why))?;
            out.values.insert(spec.name, value);
        }
    }
    Ok(out)
}

/// What a retrain needs besides the recorded params.
pub struct Context<'a> {
    pub project_dir: &'a Path,
    pub data_roots: &'a DataRoots,
    /// Experiment the new run goes to (the served run's).
    pub experiment: String,
    /// Columns the served model encodes as categories (`--categorical` is not a param; the model knows).
    pub categorical: Vec<String>,
    pub retrained_from: String,
    /// Data named by the request (`{"data": ...}`) instead of the recorded param.
    pub data: Option<&'a str>,
}

/// The training a run's params describe, as typed options (what `mlx train` records, see `ml::train`).
pub fn options_from_params(
    params: &BTreeMap<String, String>,
    cx: &Context,
) -> Result<TrainOptions, ParamError> {
    let name = get(params, "model")?;
    let model = ModelKind::from_name(name)
        .ok_or_else(|| invalid("model", name, format!("not one of {}", learners::names())))?;
    let task: Option<Task> = match params.get("task") {
        None => None,
        Some(_) => Some(choice(params, "task", Task::Classification)?),
    };
    let data = match cx.data {
        Some(value) => cx
            .data_roots
            .check(cx.project_dir, value)
            .map_err(|e| match e {
                ParamError::Invalid { value, why, .. } => ParamError::Request { value, why },
                other => other,
            })?,
        None => {
            let recorded = get(params, "data")?;
            if crate::ml::data::fetch::is_url(recorded) && recorded.contains("***") {
                return Err(invalid(
                    "data",
                    recorded,
                    "its credentials were left out when it was recorded; send the URL in the request: \
                     {\"data\": \"URL\"}",
                ));
            }
            cx.data_roots.check(cx.project_dir, recorded)?
        }
    };
    let target = column("target", get(params, "target")?)?;
    let features = get(params, "features")?
        .split(',')
        .map(|f| column("features", f))
        .collect::<Result<Vec<_>, _>>()?;
    let test_size = match params.get("test_size") {
        None => 0.2,
        Some(v) => match v.parse::<f64>() {
            Ok(x) if 0.0 < x && x < 1.0 => x,
            _ => return Err(invalid("test_size", v, "not a number between 0 and 1")),
        },
    };
    let mut maps = BTreeMap::new();
    for (key, value) in params.range("map.".to_string()..) {
        let Some(col) = key.strip_prefix("map.") else {
            break;
        };
        let (col, map) = preprocess::parse_map(&format!("{}={value}", column(key, col)?))
            .map_err(|e| invalid(key, value, e))?;
        if map.values().any(|v| !v.is_finite()) {
            return Err(invalid(key, value, "a mapped value is not a finite number"));
        }
        maps.insert(col, map);
    }
    let seed = match params.get("random_state") {
        None => 42,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| invalid("random_state", v, "not a whole number"))?,
    };
    let hyper = hyper_from_params(params, seed)?;
    let categorical: Vec<String> = cx
        .categorical
        .iter()
        .filter(|c| features.contains(c))
        .cloned()
        .collect();
    let mut opts = TrainOptions {
        data,
        // A URL's redirects stay under the same prefixes.
        data_prefixes: Some(cx.data_roots.1.clone()),
        target,
        features: Some(features),
        drop: Vec::new(),
        categorical,
        // Detected from the header, as at training time (`;` and tab files included).
        delimiter: None,
        maps,
        encoding: choice(params, "encoding", Encoding::Onehot)?,
        na: choice(params, "na", NaPolicy::Drop)?,
        scale: flag(params, "scale")?,
        test_size,
        seed,
        stratify: flag(params, "stratify")?,
        model: Some(model),
        task,
        hyper,
        experiment: cx.experiment.clone(),
        run_name: None,
        run_id: None,
        tags: BTreeMap::from([("mlx.retrained_from".to_string(), cx.retrained_from.clone())]),
        register: None,
        cv: None,
        command: String::new(),
    };
    opts.command = equivalent_command(&opts);
    Ok(opts)
}

/// The `mlx train` command line these options amount to, recorded as the new run's `mlx.command` (a note for
/// people: nothing ever runs it).
fn equivalent_command(o: &TrainOptions) -> String {
    let mut args: Vec<String> = vec!["mlx".into(), "train".into()];
    let mut push = |k: &str, v: String| {
        args.push(k.into());
        args.push(v);
    };
    push("--data", crate::redact::uris(&o.data.display().to_string()));
    push("--target", o.target.clone());
    if let Some(f) = &o.features {
        push("--features", f.join(","));
    }
    if !o.categorical.is_empty() {
        push("--categorical", o.categorical.join(","));
    }
    for (col, map) in &o.maps {
        let pairs: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}:{}", crate::ml::data::format_number(*v)))
            .collect();
        push("--map", format!("{col}={}", pairs.join(",")));
    }
    if let Some(m) = o.model {
        push("--model", m.name().into());
    }
    push("--test-size", o.test_size.to_string());
    push("--seed", o.seed.to_string());
    push("--na", format!("{:?}", o.na).to_lowercase());
    push("--encoding", format!("{:?}", o.encoding).to_lowercase());
    if let Some(t) = o.task {
        push("--task", format!("{t:?}").to_lowercase());
    }
    if let Some(m) = o.model {
        for (flag, value) in learners::arguments(m.0, &o.hyper) {
            push(&flag, value);
        }
    }
    if o.scale {
        args.push("--scale".into());
    }
    if o.stratify {
        args.push("--stratify".into());
    }
    args.iter()
        .map(|a| crate::project::shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a retrain did not produce a model to serve. `mlx serve` answers each variant with its own status
/// (see `serve::admin`) and [`RetrainError::answer`] as the message.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error("the retrain took longer than {0:?} (--retrain-timeout) and was abandoned")]
    Timeout(Duration),
    /// A recorded param or the request's `data` is refused: nothing ran.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The training's data could not be downloaded: refused (a redirect out of the `--data-url` prefixes,
    /// the request's fault) or failed. It names the URL and why, never the data, so it is said.
    #[error("training failed: {0}")]
    Download(FetchError),
    /// The training itself failed: its reason may quote the data (a header, a value), so `mlx serve` logs
    /// it and does not send it back (see [`RetrainError::answer`]).
    #[error("training failed: {0:#}")]
    Training(anyhow::Error),
    /// Anything else: the store, the served model, the project's entry point, the swap.
    #[error("{0:#}")]
    Other(anyhow::Error),
}

impl From<anyhow::Error> for RetrainError {
    fn from(e: anyhow::Error) -> Self {
        RetrainError::Other(e)
    }
}

impl From<crate::store::StoreError> for RetrainError {
    fn from(e: crate::store::StoreError) -> Self {
        RetrainError::Other(e.into())
    }
}

impl RetrainError {
    /// A failed training as a typed error: `ops::train` answers `anyhow`, and a download's failure is the one
    /// cause a client may be told, so it is taken out here, once.
    fn training(e: anyhow::Error) -> RetrainError {
        match e.downcast::<FetchError>() {
            Ok(fetch) => RetrainError::Download(fetch),
            Err(e) => RetrainError::Training(e),
        }
    }

    /// What a client may be told of this error: everything, except a failed training's reason, which may
    /// quote the data (only a download's refusal or failure, which names the URL and HTTP status, is said).
    pub fn answer(&self) -> String {
        match self {
            RetrainError::Training(_) => {
                "training failed; the reason is in mlx serve's log (not sent: it may quote the data)".into()
            }
            other => format!("{other:#}"),
        }
    }
}

/// Train `opts` in-process on a thread of its own, waiting at most `timeout`. A training cannot be stopped
/// midway, so on a timeout it finishes in the background with its result dropped; `busy` (the retrain lock)
/// travels with it, so no second retrain starts while it still runs.
pub fn train_with_timeout<G: Send + 'static>(
    tracking_uri: &str,
    opts: TrainOptions,
    timeout: Duration,
    busy: G,
) -> Result<(TrainReport, G), RetrainError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let uri = tracking_uri.to_string();
    std::thread::Builder::new()
        .name("mlx-retrain".into())
        .spawn(move || {
            let result = crate::settings::open_store(&uri)
                .map_err(anyhow::Error::from)
                .and_then(|store| crate::ops::train::train(store.as_ref(), &opts, &|| {}, &|_| {}));
            // The receiver is gone after a timeout; then `busy` is released here, when training ends.
            let _ = tx.send((result, busy));
        })
        .map_err(|e| anyhow::anyhow!("cannot start the retrain: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok((Ok(result), busy)) => Ok((result, busy)),
        Ok((Err(e), _)) => Err(RetrainError::training(e)),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(RetrainError::Timeout(timeout)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(RetrainError::Other(
            anyhow::anyhow!("the training thread ended without a result"),
        )),
    }
}

/// Run the project's `main` entry point in a new run, in-process through the same operation as `mlx run`
/// (`ops::sweep`): its command is the operator's own (no shell text comes from the store), runs in a process
/// group of its own and is killed whole after `timeout`; its output is kept as the run's artifacts. Returns
/// the new run's id.
pub fn run_entry_point(
    store: &dyn TrackingStore,
    project_dir: &Path,
    tracking_uri: &str,
    timeout: Duration,
    notes: &dyn Fn(&str),
) -> Result<String, RetrainError> {
    use crate::ops::sweep::{ProjectReport, ProjectRequest, run_project};
    let req = ProjectRequest {
        project_dir: std::path::absolute(project_dir).unwrap_or(project_dir.to_path_buf()),
        entry: "main".into(),
        params: Vec::new(),
        experiment: None,
        name: None,
        by: None,
        minimize: false,
        tracking_uri: tracking_uri.to_string(),
    };
    let opts = crate::runner::RunOptions {
        quiet: true,
        timeout: Some(timeout),
        ..Default::default()
    };
    match run_project(store, &req, opts, notes) {
        Ok(ProjectReport::Single(run)) if run.ended.code == 0 => Ok(run.run_id),
        Ok(ProjectReport::Single(run)) => Err(RetrainError::Other(anyhow::anyhow!(
            "the project's main entry point failed with exit code {} (its output is in run {}'s stderr.txt)",
            run.ended.code,
            run.run_id
        ))),
        Ok(ProjectReport::Sweep { .. }) => Err(RetrainError::Other(anyhow::anyhow!(
            "the project's main entry point sweeps a grid; a retrain needs one run"
        ))),
        Err(crate::ops::OpsError::Runner(crate::runner::RunnerError::Timeout(_))) => {
            Err(RetrainError::Timeout(timeout))
        }
        Err(e) => Err(RetrainError::Other(
            anyhow::Error::from(e).context("the project's main entry point could not run"),
        )),
    }
}

/// The experiment name and categorical columns of the served run, for [`Context`].
pub fn served_context(
    store: &dyn TrackingStore,
    experiment_id: &str,
    model: &crate::ml::SavedModel,
) -> anyhow::Result<(String, Vec<String>)> {
    let experiment = store.get_experiment(experiment_id)?.name;
    let categorical = model
        .preprocessor
        .steps
        .iter()
        .filter_map(|s| match s {
            preprocess::Step::OneHot { column, .. } | preprocess::Step::Ordinal { column, .. } => {
                Some(column.clone())
            }
            _ => None,
        })
        .collect();
    Ok((experiment, categorical))
}

/// What is served, as a retrain needs it.
pub struct Served<'a> {
    /// The URI it was loaded from (`models:/NAME@ALIAS` keeps following the alias).
    pub uri: &'a str,
    /// The registered model's name, if served from the registry.
    pub name: Option<&'a str>,
    /// The run that trained it.
    pub run_id: Option<&'a str>,
    /// The model, if mlx trained it (only then are its params a training to repeat).
    pub model: Option<&'a crate::ml::SavedModel>,
}

/// Where a retrain runs and may read from (`mlx serve`'s flags).
pub struct Setup<'a> {
    /// Where `MLproject.toml` is.
    pub project_dir: &'a Path,
    /// Folders besides the project folder that the data may be read from.
    pub data_dirs: &'a [PathBuf],
    /// URL prefixes the data may be downloaded from.
    pub data_urls: &'a [String],
    pub tracking_uri: &'a str,
    /// How long the training may take.
    pub timeout: Duration,
}

/// What a retrain made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetrainReport {
    pub run_id: String,
    /// The registered version of the new model.
    pub version: u64,
    /// What to serve now: the alias served by (moved to the new version), else the new version.
    pub model_uri: String,
    pub metrics: BTreeMap<String, f64>,
}

/// Retrain from the served run's recorded params (on `data`, a path or URL, if given), in-process with
/// [`train_with_timeout`]: the new run's id, and `busy` once training is over.
fn retrain_from_params<G: Send + 'static>(
    store: &dyn TrackingStore,
    served: &Served,
    setup: &Setup,
    data: Option<&str>,
    busy: G,
    notes: &dyn Fn(&str),
) -> Result<(String, G), RetrainError> {
    use anyhow::Context as _;
    let from = served
        .run_id
        .context("the served model has no run whose params to retrain from")?;
    let run = store.get_run(from)?;
    let model = served.model.context(
        "the served model was not trained by mlx, so it has no training params to retrain from; \
         retrain it where it was trained and register the new version",
    )?;
    let (experiment, categorical) = served_context(store, &run.info.experiment_id, model)?;
    let roots = DataRoots::new(setup.project_dir, setup.data_dirs).with_urls(setup.data_urls)?;
    let opts = options_from_params(
        &run.data.params,
        &Context {
            project_dir: setup.project_dir,
            data_roots: &roots,
            experiment,
            categorical,
            retrained_from: from.to_string(),
            data,
        },
    )?;
    notes(&format!("retraining from the params of run {from} ..."));
    let (result, busy) = train_with_timeout(setup.tracking_uri, opts, setup.timeout, busy)?;
    Ok((result.run_id, busy))
}

/// Retrain with the project's `main` entry point, or from the served run's recorded params (on `data`, a
/// path or URL, if given), register the new model (unless the training registered it) and point the alias
/// served by at it. `busy` (the retrain lock) is returned once training is over, or kept by a training
/// abandoned at the timeout until it ends. `notes` hears what is happening.
pub fn retrain<G: Send + 'static>(
    store: &dyn TrackingStore,
    served: &Served,
    setup: &Setup,
    data: Option<String>,
    busy: G,
    notes: &dyn Fn(&str),
) -> Result<(RetrainReport, G), RetrainError> {
    use crate::store::{ModelUri, NewVersion, VersionRef, Which};
    use anyhow::Context as _;
    let project = crate::project::Project::load(setup.project_dir).ok();
    let (run_id, busy) = if project
        .as_ref()
        .is_some_and(|p| p.entry_points.contains_key("main"))
    {
        if data.is_some() {
            // The entry point is the operator's own command: it decides where its data comes from.
            return Err(ParamError::Invalid {
                key: "data".into(),
                value: data.unwrap_or_default(),
                why: "the project's main entry point retrains here; it reads its own data".into(),
            }
            .into());
        }
        notes("retraining with the project's main entry point ...");
        let run_id = run_entry_point(
            store,
            setup.project_dir,
            setup.tracking_uri,
            setup.timeout,
            notes,
        )?;
        (run_id, busy)
    } else {
        retrain_from_params(store, served, setup, data.as_deref(), busy, notes)?
    };
    let run = store.get_run(&run_id)?;
    let model_id = run
        .outputs
        .first()
        .cloned()
        .context("the training run logged no model")?;
    let name = served
        .name
        .map(str::to_string)
        .or_else(|| project.and_then(|p| p.name))
        .context("no registered model name: serve a models:/ URI or name the project")?;
    // The training command may have registered the model itself (`--register`); do not add a second version.
    let already = store
        .list_model_versions(&name, false)
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.run_id.as_deref() == Some(run_id.as_str()));
    let alias = match ModelUri::parse(served.uri) {
        Ok(ModelUri::Version(VersionRef {
            which: Which::Alias(alias),
            ..
        })) => Some(alias),
        _ => None,
    };
    let source = format!("models:/{model_id}");
    let new = NewVersion {
        name: &name,
        source: &source,
        run_id: Some(&run_id),
        description: Some("retrained by mlx serve"),
    };
    // A new version and the move of the alias it is served by are one logical write.
    let version = match (already, &alias) {
        (Some(v), Some(alias)) => {
            store.set_alias(&name, alias, v.version, "set")?;
            v
        }
        (Some(v), None) => v,
        (None, Some(alias)) => store.register_model_with_alias(&new, alias, "set")?,
        (None, None) => store.register_model(new.name, new.source, new.run_id, new.description)?,
    };
    let model_uri = match alias {
        Some(_) => served.uri.to_string(),
        None => format!("models:/{name}/{}", version.version),
    };
    let metrics = run
        .data
        .metrics
        .iter()
        .map(|(k, p)| (k.clone(), p.value))
        .collect();
    Ok((
        RetrainReport {
            run_id,
            version: version.version,
            model_uri,
            metrics,
        },
        busy,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(dir: &Path) -> BTreeMap<String, String> {
        std::fs::write(dir.join("d.csv"), "a,b,y\n1,2,0\n").unwrap();
        [
            ("model", "random-forest"),
            ("data", "d.csv"),
            ("target", "y"),
            ("features", "a,b"),
            ("test_size", "0.25"),
            ("n_estimators", "7"),
            ("max_depth", "None"),
            ("random_state", "3"),
            ("map.a", "x:1,y:2"),
            ("stratify", "True"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn parse(dir: &Path, params: &BTreeMap<String, String>) -> Result<TrainOptions, ParamError> {
        let roots = DataRoots::new(dir, &[]);
        options_from_params(
            params,
            &Context {
                project_dir: dir,
                data_roots: &roots,
                experiment: "e".into(),
                categorical: vec!["b".into(), "zz".into()],
                retrained_from: "r".into(),
                data: None,
            },
        )
    }

    #[test]
    fn data_urls_only_under_a_data_url_prefix() {
        let d = tempfile::tempdir().unwrap();
        let roots = DataRoots::new(d.path(), &[])
            .with_urls(&["https://data.example".into(), "https://h/d/".into()])
            .unwrap();
        let ok = roots.check(d.path(), "https://data.example/t.csv").unwrap();
        assert_eq!(ok, PathBuf::from("https://data.example/t.csv"));
        // Recorded (and requested) normalised.
        let ok = roots.check(d.path(), "https://h/d/a/../%74.csv").unwrap();
        assert_eq!(ok, PathBuf::from("https://h/d/t.csv"));
        for bad in [
            "https://data.example.evil.test/t.csv",
            "http://169.254.169.254/latest",
            "https://h/d/a/../../x",
            "https://h/d/%2e%2e/x",
        ] {
            let e = roots.check(d.path(), bad).unwrap_err().to_string();
            assert!(e.contains("--data-url"), "{e}");
        }
        let e = roots
            .check(d.path(), "http://u:Secr3t@10.0.0.1/x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("'http://***@10.0.0.1/x.csv'"), "{e}");
        let none = DataRoots::new(d.path(), &[]);
        assert!(none.check(d.path(), "https://data.example/t.csv").is_err());
    }

    #[test]
    fn recorded_params_become_typed_options() {
        let d = tempfile::tempdir().unwrap();
        let o = parse(d.path(), &recorded(d.path())).unwrap();
        assert_eq!(o.model, Some(ModelKind::named("random-forest")));
        assert_eq!(o.features, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(o.categorical, vec!["b".to_string()]);
        assert_eq!((o.test_size, o.seed, o.hyper.seed), (0.25, 3, 3));
        use crate::ml::core::params::Value;
        let n = (o.hyper.get("n_estimators"), o.hyper.get("max_depth"));
        assert_eq!(n, (Some(Value::Count(7)), Some(Value::OptCount(None))));
        assert_eq!(o.maps["a"]["y"], 2.0);
        assert!(o.stratify);
        assert!(o.data.is_absolute());
        assert!(o.command.starts_with("mlx train --data "), "{}", o.command);
    }

    #[test]
    fn hostile_values_are_refused_with_the_key() {
        let d = tempfile::tempdir().unwrap();
        for (key, value, why) in [
            ("model", "random-forest; touch PWNED", "not one of"),
            ("test_size", "$(touch PWNED)", "between 0 and 1"),
            ("n_estimators", "99999999999", "larger than"),
            ("stratify", "yes", "True or False"),
            ("data", "/etc/passwd", "outside the project folder"),
            ("data", "../../../../../../etc/hostname", "outside"),
            ("data", "x\ny", "not a file path"),
            ("data", "https://***@h/t.csv", "credentials were left out"),
            ("C", "NaN", "positive"),
            ("map.a", "x:inf", "finite"),
        ] {
            let mut p = recorded(d.path());
            p.insert(key.into(), value.into());
            let e = parse(d.path(), &p).unwrap_err().to_string();
            assert!(e.contains(&format!("'{key}'")) && e.contains(why), "{e}");
        }
        let mut p = recorded(d.path());
        p.remove("target");
        assert!(
            parse(d.path(), &p)
                .unwrap_err()
                .to_string()
                .contains("'target'")
        );
        let long = "m".repeat(10_000);
        let mut p = recorded(d.path());
        p.insert("model".into(), long);
        // The value clipped; the list of learners grows with the registry.
        let e = parse(d.path(), &p).unwrap_err().to_string();
        assert!(e.len() < 200 + learners::names().len(), "{e}");
    }
}
