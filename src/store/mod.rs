//! The tracking store: MLflow's entities behind one trait, with the local `mlruns` folder as the first
//! implementation and an MLflow tracking server's REST API as the second.

pub mod atomic;
pub mod entities;
pub mod file;
pub mod meta;
pub mod metric_file;
pub mod model_uri;
pub mod query;
pub mod rest;
pub mod sqlite;
pub mod uri;
pub mod validate;

use entities::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use file::FileStore;
pub use model_uri::{ModelUri, VersionRef, Which};
pub use rest::RestStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("experiment '{0}' does not exist")]
    ExperimentNotFound(String),
    #[error("run '{0}' does not exist")]
    RunNotFound(String),
    #[error("an experiment named '{0}' already exists")]
    ExperimentExists(String),
    #[error("invalid {kind} key '{key}': {why}")]
    InvalidKey {
        kind: String,
        key: String,
        why: String,
    },
    #[error("invalid {kind} id '{id}'")]
    InvalidId { kind: String, id: String },
    #[error("invalid {kind} name '{name}': {why}")]
    InvalidName {
        kind: String,
        name: String,
        why: String,
    },
    #[error("invalid {what}: {why}")]
    InvalidValue { what: String, why: String },
    #[error(
        "param '{key}' of run {run_id} is already '{old}'; params are immutable, so '{new}' cannot be logged"
    )]
    ParamChanged {
        run_id: String,
        key: String,
        old: String,
        new: String,
    },
    #[error("{0}")]
    InvalidState(String),
    /// What was looked for, said in full ("alias 'Champion' of registered model 'titanic' ...").
    #[error("model not found: {0}")]
    ModelNotFound(String),
    /// The tracking server answered with an error (MLflow's `error_code` and message).
    #[error("tracking server: {method} {endpoint} failed with {code} (HTTP {status}): {message}")]
    Remote {
        method: String,
        endpoint: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the tracking server at {url}: {why}")]
    Unreachable { url: String, why: String },
    #[error("{path}: {why}")]
    Corrupt { path: PathBuf, why: String },
    /// A file mlx will not read on a store writer's say-so (a link out of the store, a FIFO).
    #[error("{path}: {why}")]
    Refused { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An alias a model does not have, naming the aliases it does have.
pub fn alias_not_found(name: &str, alias: &str, known: &BTreeMap<String, u64>) -> StoreError {
    let known = if known.is_empty() {
        "it has no aliases".to_string()
    } else {
        let list: Vec<String> = known.iter().map(|(a, v)| format!("{a} -> v{v}")).collect();
        format!("its aliases: {}", list.join(", "))
    };
    StoreError::ModelNotFound(format!(
        "registered model '{name}' has no alias '{alias}' ({known})"
    ))
}

impl StoreError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn corrupt(path: &Path, why: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Metrics, params and tags to log in one call.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub metrics: Vec<(String, MetricPoint)>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

/// What a new run starts with.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Keep this id (the file store can; an MLflow server always assigns its own). None: a new uuid.
    pub run_id: Option<String>,
    pub experiment_id: String,
    pub run_name: Option<String>,
    pub user_id: String,
    pub start_time: i64,
    pub tags: BTreeMap<String, String>,
}

/// A request for one page of a tracking server's run search.
#[derive(Debug, Clone, Copy)]
pub struct ServerPage<'a> {
    pub filter: Option<&'a str>,
    pub order_by: &'a [String],
    pub max_results: usize,
    pub page_token: Option<&'a str>,
}

/// A whole run query, for a store that answers it itself (see [`TrackingStore::query_runs`]).
#[derive(Debug, Clone, Copy)]
pub struct RunQuery<'a> {
    pub filter: Option<&'a query::Expr>,
    pub order_by: &'a [query::OrderBy],
    /// Matching runs to skip before the first one returned.
    pub offset: usize,
    /// At most this many runs (None: all).
    pub limit: Option<usize>,
}

/// Which keys of one kind (metrics, params or tags) a listing loads.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Fields {
    #[default]
    All,
    Nothing,
    Only(std::collections::BTreeSet<String>),
    /// The `n` keys most runs of the listing have (for table columns).
    MostCommon(usize),
}

impl Fields {
    pub fn wants(&self, key: &str) -> bool {
        match self {
            Fields::All => true,
            Fields::Nothing | Fields::MostCommon(_) => false,
            Fields::Only(keys) => keys.contains(key),
        }
    }
}

/// Which parts of each run a listing loads. Reading only what is shown is what makes listings fast: a run
/// is dozens of small files, and most listings need a few of them.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub metrics: Fields,
    pub params: Fields,
    pub tags: Fields,
    /// Dataset inputs and model outputs.
    pub io: bool,
}

impl Projection {
    pub fn everything() -> Self {
        Projection {
            io: true,
            ..Projection::default()
        }
    }
}

/// Everything mlx does with a tracking backend: the `mlruns` folder ([`FileStore`]) or an MLflow tracking
/// server over its REST API ([`RestStore`]). Shared between threads (a sync copies runs in parallel).
pub trait TrackingStore: Send + Sync {
    /// Human-readable location (a path or URL) for messages.
    fn location(&self) -> String;

    fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<String>;
    fn get_experiment(&self, id: &str) -> Result<Experiment>;
    fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>>;
    fn list_experiments(&self, view: ViewType) -> Result<Vec<Experiment>>;
    fn rename_experiment(&self, id: &str, new_name: &str) -> Result<()>;
    fn delete_experiment(&self, id: &str) -> Result<()>;
    fn restore_experiment(&self, id: &str) -> Result<()>;
    fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> Result<()>;

    fn create_run(&self, new: NewRun) -> Result<RunInfo>;
    fn get_run(&self, run_id: &str) -> Result<Run>;
    /// All runs of the given experiments in the view, newest first, loaded as far as `projection` asks.
    fn list_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        projection: &Projection,
    ) -> Result<Vec<Run>>;
    /// How many runs the experiments have in the view.
    fn count_runs(&self, experiment_ids: &[String], view: ViewType) -> Result<usize> {
        let nothing = Projection {
            metrics: Fields::Nothing,
            params: Fields::Nothing,
            tags: Fields::Nothing,
            io: false,
        };
        Ok(self.list_runs(experiment_ids, view, &nothing)?.len())
    }
    /// Every metric key any run of the experiments has (names only: the UI's column picker).
    fn metric_keys(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<std::collections::BTreeSet<String>> {
        let runs = self.list_runs(
            experiment_ids,
            view,
            &Projection {
                metrics: Fields::MostCommon(200),
                params: Fields::Nothing,
                tags: Fields::Nothing,
                io: false,
            },
        )?;
        Ok(runs
            .into_iter()
            .flat_map(|r| r.data.metrics.into_keys())
            .collect())
    }
    /// One page of the store's own run search, when it has one (a tracking server's `runs/search`): the
    /// runs passing `filter` (MLflow's grammar) in `order_by`'s order, at most `max_results`, loaded whole,
    /// and the token of the next page. None: the store has no search of its own (see `search::Query`).
    fn search_page(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        page: &ServerPage<'_>,
    ) -> Result<Option<(Vec<Run>, Option<String>)>> {
        let _ = (experiment_ids, view, page);
        Ok(None)
    }
    /// The runs matching a whole query (filter, order, offset and limit) in order, loaded whole, when the
    /// store answers queries itself with MLflow's semantics (the SQLite store: one SQL statement, as
    /// MLflow's own SQL store evaluates it). None: the store has no such search (see `search::Query`).
    fn query_runs(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        query: &RunQuery<'_>,
    ) -> Result<Option<Vec<Run>>> {
        let _ = (experiment_ids, view, query);
        Ok(None)
    }
    /// Several runs of the given experiments, loaded whole, in the order of `run_ids`.
    fn get_runs(&self, experiment_ids: &[String], run_ids: &[String]) -> Result<Vec<Run>> {
        let _ = experiment_ids;
        run_ids.iter().map(|id| self.get_run(id)).collect()
    }
    fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()>;
    fn update_run(&self, run_id: &str, status: RunStatus, end_time: Option<i64>) -> Result<()>;
    fn delete_run(&self, run_id: &str) -> Result<()>;
    fn restore_run(&self, run_id: &str) -> Result<()>;
    fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>>;
    /// Copy a local file or directory into the run's artifacts, under `dest` if given.
    fn log_artifact(&self, run_id: &str, local: &Path, dest: Option<&str>) -> Result<()>;
    fn list_artifacts(&self, run_id: &str, path: Option<&str>) -> Result<Vec<ArtifactEntry>>;
    /// One artifact file of the run, opened for reading (streamed, never read whole into memory). The file
    /// store refuses links out of the store and anything but a regular file.
    fn open_artifact(&self, run_id: &str, path: &str) -> Result<std::fs::File>;
    /// Copy every artifact of the run into the local folder `dest` (created).
    fn download_artifacts(&self, run_id: &str, dest: &Path) -> Result<()>;

    /// Record that the run used `dataset` (MLflow's dataset input), with a context such as "training".
    fn log_input(&self, run_id: &str, dataset: &Dataset, context: &str) -> Result<()>;
    /// Start logged model `name` of the run (MLflow 3): its id and the URI its artifacts will have, which
    /// is written into the model's MLmodel before [`TrackingStore::log_model`] stores it.
    fn create_logged_model(&self, run_id: &str, name: &str) -> Result<LoggedModel>;
    fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel>;
    /// Store the model folder `local` as the artifacts of `model`, with a copy of the run's params and the
    /// given metrics, and record it as the run's output.
    fn log_model(
        &self,
        model: &LoggedModel,
        local: &Path,
        metrics: &[(String, MetricPoint)],
    ) -> Result<()>;
    /// A local folder holding the model a URI names: `runs:/RUN/PATH`, `models:/m-ID`, `models:/NAME/N`,
    /// `models:/NAME@ALIAS`, `models:/NAME/latest`, a path or a `file:` URI. Shared by both stores: a
    /// folder must hold an `MLmodel` file, and a registered version is followed to its source (with a
    /// bound on the hops); the rest is [`TrackingStore::fetch_model`].
    fn resolve_model(&self, uri: &ModelUri) -> Result<PathBuf> {
        resolve_model_shared(self, uri)
    }
    /// The store's own part of [`TrackingStore::resolve_model`]: the local folder of a run's model
    /// (`runs:/`), a logged model (`models:/m-ID`) or a server's proxied artifacts (`mlflow-artifacts:`).
    fn fetch_model(&self, uri: &ModelUri) -> Result<PathBuf>;
    /// Whether a registered version's source may be a local folder. A server's registry may not send mlx
    /// to read a folder of this machine.
    fn allows_folder_sources(&self) -> bool {
        true
    }
    /// The registered model version a `models:/NAME/N`, `models:/NAME@ALIAS` or `models:/NAME/latest` URI names.
    fn resolve_model_version(&self, version: &VersionRef) -> Result<ModelVersion>;
    fn list_registered_models(&self) -> Result<Vec<RegisteredModel>>;
    fn get_registered_model(&self, name: &str) -> Result<RegisteredModel>;
    fn delete_registered_model(&self, name: &str) -> Result<()>;
    /// Versions of a model, newest first, without deleted ones unless asked.
    fn list_model_versions(&self, name: &str, include_deleted: bool) -> Result<Vec<ModelVersion>>;
    fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion>;
    fn delete_model_version(&self, name: &str, version: u64) -> Result<()>;
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    fn set_model_version_tag(&self, name: &str, version: u64, key: &str, value: &str)
    -> Result<()>;
    /// Remove a tag from a run, an experiment, a registered model or a model version (MLflow's
    /// `delete_tag`, `delete_experiment_tag`, `delete_registered_model_tag`, `delete_model_version_tag`);
    /// an unknown key is an `InvalidValue` naming it.
    fn delete_tag(&self, owner: &TagOwner, key: &str) -> Result<()>;
    fn set_registered_model_description(&self, name: &str, description: &str) -> Result<()>;
    fn set_model_version_description(
        &self,
        name: &str,
        version: u64,
        description: &str,
    ) -> Result<()>;
    /// Point `alias` at `version` (`kind` is recorded in the alias history: "set" or "rollback").
    fn set_alias(&self, name: &str, alias: &str, version: u64, kind: &str) -> Result<Option<u64>>;
    fn delete_alias(&self, name: &str, alias: &str) -> Result<()>;
    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<AliasMove>>;
    /// Register a new version of `name` (created if missing) from a model URI; returns the version.
    fn register_model(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion>;
    /// Register a new version (as [`TrackingStore::register_model`]) and point `alias` at it: one logical
    /// write. A store with transactions (SQLite) makes it one, so a crash never leaves the version
    /// without its alias move; the others make it two steps, a crash between them leaving the new version
    /// registered and the alias where it was.
    fn register_model_with_alias(
        &self,
        new: &NewVersion<'_>,
        alias: &str,
        kind: &str,
    ) -> Result<ModelVersion> {
        let version = self.register_model(new.name, new.source, new.run_id, new.description)?;
        self.set_alias(new.name, alias, version.version, kind)?;
        self.get_model_version(new.name, version.version)
    }
}

/// A version to register: the model's name, its source URI, the run it came from and a description.
pub struct NewVersion<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub run_id: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// Notes a store has for a person — an unreadable entry a listing skipped, a retry against a server that
/// does not answer — handed to whoever opened it (the CLI prints them on stderr). A store never prints.
pub type Notes = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Notes nobody reads.
pub fn no_notes() -> Notes {
    std::sync::Arc::new(|_| {})
}

/// How many registered-model versions one model URI may pass through (a version whose source is another
/// version's `models:/NAME/N` URI) before mlx gives up.
pub const MAX_MODEL_HOPS: usize = 8;

/// Record that resolving `uri` leads on to `version.source`; an error if that source is a registered-model
/// URI already followed (a cycle) or the chain is longer than [`MAX_MODEL_HOPS`]. Both backends use it,
/// so a hostile or broken registry gives a clear error, never a stack overflow.
fn follow_version_source(seen: &mut Vec<String>, uri: &str, version: &ModelVersion) -> Result<()> {
    seen.push(uri.to_string());
    let next = version.source.as_str();
    let is_registry = next.starts_with("models:/") && !next.starts_with("models:/m-");
    if !is_registry {
        return Ok(());
    }
    if seen.iter().any(|s| s == next) {
        let mut chain = seen.clone();
        chain.push(next.to_string());
        return Err(StoreError::ModelNotFound(format!(
            "{}: version {} of '{}' has source {next}, which leads back to itself ({})",
            seen[0],
            version.version,
            version.name,
            chain.join(" -> ")
        )));
    }
    if seen.len() >= MAX_MODEL_HOPS {
        return Err(StoreError::ModelNotFound(format!(
            "{}: more than {MAX_MODEL_HOPS} registered-model versions point at one another ({} -> {next})",
            seen[0],
            seen.join(" -> ")
        )));
    }
    Ok(())
}

/// [`TrackingStore::resolve_model`]: follow registered versions to their source, then a folder must hold
/// an `MLmodel` file and anything else is the store's to fetch.
fn resolve_model_shared<S: TrackingStore + ?Sized>(store: &S, uri: &ModelUri) -> Result<PathBuf> {
    match follow_versions(store, uri)? {
        ModelUri::Folder(path) => {
            if path.join("MLmodel").is_file() {
                Ok(path)
            } else {
                Err(StoreError::ModelNotFound(format!(
                    "{uri}: no MLmodel file in {}",
                    path.display()
                )))
            }
        }
        other => store.fetch_model(&other),
    }
}

/// The URI a registered version leads to, following versions whose source is another version (at most
/// [`MAX_MODEL_HOPS`], never in a circle); any other URI is returned as it is.
pub fn follow_versions<S: TrackingStore + ?Sized>(store: &S, uri: &ModelUri) -> Result<ModelUri> {
    let mut seen = Vec::new();
    let mut current = uri.clone();
    while let ModelUri::Version(v) = &current {
        let version = store.resolve_model_version(v)?;
        follow_version_source(&mut seen, &current.to_string(), &version)?;
        let next = ModelUri::parse(&version.source)?;
        if matches!(next, ModelUri::Folder(_)) && !store.allows_folder_sources() {
            return Err(StoreError::ModelNotFound(format!(
                "{uri}: version {} of '{}' has the source '{}', which is not a model the server holds",
                version.version, version.name, version.source
            )));
        }
        current = next;
    }
    Ok(current)
}

/// Every artifact file of a run (folders walked), sorted by path.
pub fn list_artifact_files(store: &dyn TrackingStore, run_id: &str) -> Result<Vec<ArtifactEntry>> {
    let mut out = Vec::new();
    let mut stack = vec![None::<String>];
    while let Some(dir) = stack.pop() {
        for e in store.list_artifacts(run_id, dir.as_deref())? {
            if e.is_dir {
                stack.push(Some(e.path));
            } else {
                out.push(e);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `f` over `items` on at most `jobs` threads (round trips to a server overlap), the results in the
/// order of `items`; the first error stops the others at their next item.
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Result<Vec<(usize, R)>> {
        let mut out = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            match f(item) {
                Ok(r) => out.push((i, r)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(out)
    };
    let workers = jobs.clamp(1, items.len().max(1));
    let mut all = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
        let mut all = Vec::new();
        let mut first_error = None;
        for h in handles {
            match h.join().expect("a worker thread") {
                Ok(r) => all.extend(r),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        first_error.map_or(Ok(all), Err)
    })?;
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// Listing order of runs: newest first, ties by id.
pub fn sort_newest_first(runs: &mut [Run]) {
    runs.sort_by(|a, b| {
        b.info
            .start_time
            .cmp(&a.info.start_time)
            .then_with(|| a.info.run_id.cmp(&b.info.run_id))
    });
}

/// Where an alias history is kept: a registered-model tag (MLflow shows and keeps it as any tag).
pub fn alias_history_tag(alias: &str) -> String {
    format!("mlx.alias_history.{alias}")
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

/// The alias-history tag's text after `entry`, one line per move (oldest first), so MLflow's UI shows it
/// readably: `2026-11-23 10:35:47.123 UTC set Champion v1 → v2 by alice`. The oldest moves are dropped to
/// keep it within MLflow's tag size limit (the newest always stays). Both stores write the history through
/// this and read it with [`parse_alias_history`].
pub fn alias_history_text(mut history: Vec<AliasMove>, entry: AliasMove) -> String {
    history.push(entry);
    loop {
        let text = history
            .iter()
            .map(alias_move_line)
            .collect::<Vec<_>>()
            .join("\n");
        if text.len() <= validate::MAX_TAG_VALUE_LEN || history.len() <= 1 {
            return text;
        }
        history.remove(0);
    }
}

fn alias_move_line(m: &AliasMove) -> String {
    let v = |n: Option<u64>| n.map_or("(none)".to_string(), |n| format!("v{n}"));
    // The user is the rest of the line: a line break in it would start a new move.
    let user = m.user.replace(['\n', '\r'], " ");
    format!(
        "{}.{:03} UTC {} {} {} → {} by {user}",
        crate::timefmt::datetime(m.timestamp),
        m.timestamp.rem_euclid(1000),
        m.kind,
        m.alias,
        v(m.from),
        v(m.to)
    )
}

/// An alias-history tag's moves: the lines [`alias_history_text`] writes, or the JSON list mlx wrote
/// before. `Err` says which line is not a move.
pub fn parse_alias_history(text: &str) -> std::result::Result<Vec<AliasMove>, String> {
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| e.to_string());
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            parse_alias_move(line)
                .ok_or_else(|| format!("line {} is not an alias move: {line}", i + 1))
        })
        .collect()
}

fn parse_alias_move(line: &str) -> Option<AliasMove> {
    let f: Vec<&str> = line.splitn(10, ' ').collect();
    if f.len() < 9 || f[2] != "UTC" || f[6] != "→" || f[8] != "by" {
        return None;
    }
    let v = |s: &str| -> Option<Option<u64>> {
        match s {
            "(none)" => Some(None),
            _ => s.strip_prefix('v')?.parse().ok().map(Some),
        }
    };
    Some(AliasMove {
        timestamp: crate::timefmt::parse_datetime_ms(&format!("{} {}", f[0], f[1]))?,
        kind: f[3].to_string(),
        alias: f[4].to_string(),
        from: v(f[5])?,
        to: v(f[7])?,
        user: f.get(9).unwrap_or(&"").to_string(),
    })
}

/// A new logged-model id: `m-` and 32 hex digits, as MLflow 3.
pub fn new_model_id() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

/// Find an experiment by name, else by id.
pub fn resolve_experiment(store: &dyn TrackingStore, name_or_id: &str) -> Result<Experiment> {
    if let Some(e) = store.get_experiment_by_name(name_or_id)? {
        return Ok(e);
    }
    if validate::id("experiment", name_or_id).is_ok() {
        match store.get_experiment(name_or_id) {
            Ok(e) => return Ok(e),
            Err(StoreError::ExperimentNotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::ExperimentNotFound(name_or_id.to_string()))
}

/// Find an experiment by name, creating it when missing (as `mlflow.set_experiment` does).
pub fn get_or_create_experiment(store: &dyn TrackingStore, name: &str) -> Result<Experiment> {
    match resolve_experiment(store, name) {
        Ok(e) if e.lifecycle_stage == Lifecycle::Deleted => Err(StoreError::InvalidState(format!(
            "experiment '{name}' is deleted; restore it with `mlx experiments restore {name}`"
        ))),
        Ok(e) => Ok(e),
        Err(StoreError::ExperimentNotFound(_)) => {
            match store.create_experiment(name, None, &BTreeMap::new()) {
                Ok(id) => store.get_experiment(&id),
                // Another process created it between our lookup and our create.
                Err(StoreError::ExperimentExists(_)) => resolve_experiment(store, name),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_the_order_and_stops_at_an_error() {
        let items: Vec<u32> = (0..100).collect();
        let doubled = parallel(&items, 8, |i| Ok(i * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err = parallel(&items, 8, |i| {
            if *i == 50 {
                Err(StoreError::RunNotFound("50".into()))
            } else {
                Ok(*i)
            }
        })
        .unwrap_err();
        assert!(matches!(err, StoreError::RunNotFound(id) if id == "50"));
        assert!(parallel(&[] as &[u32], 8, |i| Ok(*i)).unwrap().is_empty());
    }

    fn mv(kind: &str, from: Option<u64>, to: Option<u64>, user: &str, timestamp: i64) -> AliasMove {
        AliasMove {
            alias: "Champion".into(),
            from,
            to,
            user: user.into(),
            timestamp,
            kind: kind.into(),
        }
    }

    #[test]
    fn the_alias_history_tag_is_one_readable_line_per_move_and_reads_back() {
        let first = mv("set", None, Some(1), "alice", 1_764_894_947_123);
        let text = alias_history_text(Vec::new(), first.clone());
        let text = alias_history_text(
            parse_alias_history(&text).unwrap(),
            mv("rollback", Some(2), Some(1), "bob smith", 1_764_894_960_005),
        );
        assert_eq!(
            text,
            "2025-12-05 00:35:47.123 UTC set Champion (none) → v1 by alice\n\
             2025-12-05 00:36:00.005 UTC rollback Champion v2 → v1 by bob smith"
        );
        let back = parse_alias_history(&text).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], first);
        assert_eq!(back[1].user, "bob smith");
        assert_eq!(back[1].timestamp, 1_764_894_960_005);
        let deleted = alias_history_text(back, mv("delete", Some(1), None, "", 0));
        assert!(deleted.ends_with("1970-01-01 00:00:00.000 UTC delete Champion v1 → (none) by "));
        assert_eq!(parse_alias_history(&deleted).unwrap()[2].user, "");
        assert!(
            parse_alias_history("set Champion v1")
                .unwrap_err()
                .contains("line 1")
        );
    }

    #[test]
    fn the_old_json_alias_history_is_still_read_and_continued_as_lines() {
        let old = r#"[{"alias":"Champion","from":null,"to":1,"user":"alice","timestamp":1764894947123,"kind":"set"}]"#;
        let moves = parse_alias_history(old).unwrap();
        assert_eq!(
            moves,
            vec![mv("set", None, Some(1), "alice", 1_764_894_947_123)]
        );
        let text = alias_history_text(moves, mv("set", Some(1), Some(2), "bob", 1_764_894_950_000));
        assert_eq!(text.lines().count(), 2);
        assert_eq!(parse_alias_history(&text).unwrap().len(), 2);
    }

    #[test]
    fn a_long_alias_history_drops_its_oldest_lines_to_fit_a_tag() {
        let mut history = Vec::new();
        for i in 0..200 {
            let text =
                alias_history_text(history, mv("set", Some(i), Some(i + 1), "alice", i as i64));
            assert!(text.len() <= validate::MAX_TAG_VALUE_LEN);
            history = parse_alias_history(&text).unwrap();
        }
        assert!(history.len() < 200);
        assert_eq!(history.last().unwrap().to, Some(200));
    }
}
