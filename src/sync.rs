//! `mlx sync`: copy experiments, runs (params, full metric histories, tags, artifacts, datasets, logged
//! models) and registered models (versions, tags, aliases) from one store to another — a laptop's `mlruns`
//! to a team's MLflow server, or back.
//!
//! Idempotent, also on the way back: every copied run carries the tag `mlx.sync.source_run_id` and every
//! copied version the tag `mlx.sync.source_version`, runs are matched by id or by that tag in either
//! direction, and versions also by the model they point at — so a second sync finds what it copied before
//! (or what its source was copied from) and only adds what is new (a run
//! that went on logging gets its new params, tags, metric points and artifacts). A file-store destination
//! keeps the source's run ids; an MLflow server always assigns its own.

use crate::store::entities::*;
use crate::store::{
    Batch, ModelUri, NewRun, Projection, Result, StoreError, TrackingStore,
    get_or_create_experiment,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const SOURCE_RUN_TAG: &str = "mlx.sync.source_run_id";
pub const SOURCE_VERSION_TAG: &str = "mlx.sync.source_version";

#[derive(Debug, Default, Clone)]
pub struct SyncOptions {
    /// Experiment names to copy; empty: every active experiment.
    pub experiments: Vec<String>,
    /// Copy registered models too.
    pub models: bool,
    /// Runs copied at a time (each is a few requests to a server); 0 counts as 1.
    pub jobs: usize,
}

/// What a sync says while it works (the CLI draws a progress bar on a terminal).
pub trait Progress: Sync {
    /// A line for the user.
    fn note(&self, line: &str);
    /// `n` more runs to go through.
    fn add_runs(&self, n: usize) {
        let _ = n;
    }
    /// One run copied, updated or found unchanged.
    fn run_done(&self) {}
}

/// What a sync did.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct SyncReport {
    pub experiments_created: usize,
    pub runs_copied: usize,
    pub runs_updated: usize,
    pub runs_unchanged: usize,
    pub metric_points: usize,
    pub artifact_files: usize,
    pub logged_models: usize,
    pub versions_registered: usize,
    pub aliases_set: usize,
}

impl SyncReport {
    /// Count what one run's copy did (the runs of an experiment are copied in parallel).
    fn add_run(&mut self, other: &SyncReport) {
        self.runs_copied += other.runs_copied;
        self.runs_updated += other.runs_updated;
        self.runs_unchanged += other.runs_unchanged;
        self.metric_points += other.metric_points;
        self.artifact_files += other.artifact_files;
        self.logged_models += other.logged_models;
    }
}

/// Runs and logged models of the source mapped to their copies in the destination.
#[derive(Default)]
struct Mapping {
    runs: BTreeMap<String, String>,
    models: BTreeMap<String, String>,
}

pub fn sync(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    let mut map = Mapping::default();
    let experiments: Vec<Experiment> = if opts.experiments.is_empty() {
        from.list_experiments(ViewType::ActiveOnly)?
    } else {
        opts.experiments
            .iter()
            .map(|n| crate::store::resolve_experiment(from, n))
            .collect::<Result<_>>()?
    };
    for exp in &experiments {
        let existed = to.get_experiment_by_name(&exp.name)?.is_some();
        let dest = get_or_create_experiment(to, &exp.name)?;
        if !existed {
            report.experiments_created += 1;
        }
        for (k, v) in &exp.tags {
            if dest.tags.get(k) != Some(v) {
                to.set_experiment_tag(&dest.experiment_id, k, v)?;
            }
        }
        let before = report.clone();
        sync_experiment(
            from,
            to,
            exp,
            &dest,
            opts.jobs.max(1),
            &mut map,
            &mut report,
            progress,
        )?;
        progress.note(&format!(
            "experiment '{}': {} runs copied, {} updated, {} unchanged",
            exp.name,
            report.runs_copied - before.runs_copied,
            report.runs_updated - before.runs_updated,
            report.runs_unchanged - before.runs_unchanged
        ));
    }
    if opts.models {
        sync_registry(
            from,
            to,
            &map,
            opts.experiments.is_empty(),
            &mut report,
            &|line: &str| progress.note(line),
        )?;
    }
    Ok(report)
}

/// One source run's copy: its id, its logged models' copies, and what copying it did.
struct Copied {
    source: String,
    copy: String,
    models: Vec<(String, String)>,
    report: SyncReport,
}

#[allow(clippy::too_many_arguments)]
fn sync_experiment(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    exp: &Experiment,
    dest: &Experiment,
    jobs: usize,
    map: &mut Mapping,
    report: &mut SyncReport,
    progress: &dyn Progress,
) -> Result<()> {
    let existing = to.list_runs(
        std::slice::from_ref(&dest.experiment_id),
        ViewType::All,
        &Projection::everything(),
    )?;
    // A destination run is the copy of a source run when either is marked as copied from the other, or
    // they share an id (a folder keeps the ids of what it copies).
    let mut by_source: BTreeMap<String, Run> = BTreeMap::new();
    for run in existing {
        if let Some(origin) = run.data.tags.get(SOURCE_RUN_TAG) {
            by_source.insert(origin.clone(), run.clone());
        }
        by_source.insert(run.info.run_id.clone(), run);
    }
    let mut pending = from.list_runs(
        std::slice::from_ref(&exp.experiment_id),
        ViewType::ActiveOnly,
        &Projection::everything(),
    )?;
    progress.add_runs(pending.len());
    // Runs are copied `jobs` at a time, in waves: a child run waits for the wave after its parent's,
    // so its parent id can be mapped to the parent's copy.
    while !pending.is_empty() {
        let waiting: BTreeSet<&String> = pending.iter().map(|r| &r.info.run_id).collect();
        let (ready, later): (Vec<&Run>, Vec<&Run>) = pending.iter().partition(|r| {
            r.data
                .tags
                .get("mlflow.parentRunId")
                .is_none_or(|p| !waiting.contains(p) || p == &r.info.run_id)
        });
        // Parent links that loop: copy them all now rather than never.
        let (ready, later) = if ready.is_empty() {
            (later, Vec::new())
        } else {
            (ready, later)
        };
        let shared: &Mapping = map;
        let done = crate::store::parallel(&ready, jobs, |run| {
            let copy = by_source.get(&run.info.run_id).or_else(|| {
                run.data
                    .tags
                    .get(SOURCE_RUN_TAG)
                    .and_then(|origin| by_source.get(origin))
            });
            let result = sync_run(from, to, run, copy, dest, shared);
            progress.run_done();
            result
        })?;
        for c in done {
            map.runs.insert(c.source, c.copy);
            map.models.extend(c.models);
            report.add_run(&c.report);
        }
        let later: BTreeSet<String> = later.iter().map(|r| r.info.run_id.clone()).collect();
        pending.retain(|r| later.contains(&r.info.run_id));
    }
    Ok(())
}

/// Copy one source run, or bring its earlier copy up to date.
fn sync_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    copy: Option<&Run>,
    dest: &Experiment,
    map: &Mapping,
) -> Result<Copied> {
    let mut report = SyncReport::default();
    let mut models = Vec::new();
    let copy_id = match copy {
        Some(copy) => {
            models = matching_models(from, to, run, copy)?;
            let unchanged = run.info.status.is_terminated()
                && copy.info.status == run.info.status
                && copy.info.end_time == run.info.end_time;
            if unchanged {
                report.runs_unchanged += 1;
            } else {
                update_run(from, to, run, copy, map, &mut models, &mut report)?;
                report.runs_updated += 1;
            }
            copy.info.run_id.clone()
        }
        None => {
            let id = copy_run(from, to, run, dest, map, &mut models, &mut report)?;
            report.runs_copied += 1;
            id
        }
    };
    Ok(Copied {
        source: run.info.run_id.clone(),
        copy: copy_id,
        models,
        report,
    })
}

/// Tags as the copy `copy_id` should have them: the parent run id mapped, and the source marker added
/// when the copy has an id of its own (a copy with the source's id is matched by it, and stays identical).
fn copied_tags(run: &Run, copy_id: Option<&str>, map: &Mapping) -> BTreeMap<String, String> {
    let mut tags = run.data.tags.clone();
    tags.remove("mlflow.runName");
    if copy_id != Some(run.info.run_id.as_str()) {
        tags.insert(SOURCE_RUN_TAG.into(), run.info.run_id.clone());
    }
    if let Some(parent) = tags.get("mlflow.parentRunId").and_then(|p| map.runs.get(p)) {
        tags.insert("mlflow.parentRunId".into(), parent.clone());
    }
    tags
}

/// Copy a run the destination lacks; returns the copy's id.
fn copy_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    dest: &Experiment,
    map: &Mapping,
    models: &mut Vec<(String, String)>,
    report: &mut SyncReport,
) -> Result<String> {
    let new = |run_id: Option<String>| NewRun {
        tags: copied_tags(run, run_id.as_deref(), map),
        run_id,
        experiment_id: dest.experiment_id.clone(),
        run_name: Some(run.info.run_name.clone()).filter(|n| !n.is_empty()),
        user_id: run.info.user_id.clone(),
        start_time: run.info.start_time,
    };
    let info = match to.create_run(new(Some(run.info.run_id.clone()))) {
        // A store that assigns its own ids (an MLflow server) gets the marker after all.
        Ok(info) if info.run_id != run.info.run_id => {
            let marker = [(SOURCE_RUN_TAG.to_string(), run.info.run_id.clone())];
            let batch = Batch {
                tags: marker.into(),
                ..Batch::default()
            };
            to.log_batch(&info.run_id, &batch)?;
            info
        }
        Ok(info) => info,
        // The id is taken in the destination (e.g. copied into another experiment before): a new one.
        Err(StoreError::InvalidState(_)) => to.create_run(new(None))?,
        Err(e) => return Err(e),
    };
    let copy_id = info.run_id.clone();

    let mut batch = Batch {
        params: run.data.params.clone().into_iter().collect(),
        ..Batch::default()
    };
    for key in run.data.metrics.keys() {
        for point in from.metric_history(&run.info.run_id, key)? {
            batch.metrics.push((key.clone(), point));
        }
    }
    report.metric_points += batch.metrics.len();
    to.log_batch(&copy_id, &batch)?;
    report.artifact_files +=
        copy_artifacts(from, to, &run.info.run_id, &copy_id, &BTreeSet::new())?;
    for input in &run.inputs {
        to.log_input(
            &copy_id,
            &dataset_of(input),
            input.context.as_deref().unwrap_or(""),
        )?;
    }
    for model_id in &run.outputs {
        let copied = copy_logged_model(from, to, model_id, &copy_id)?;
        models.push((model_id.clone(), copied));
        report.logged_models += 1;
    }
    if run.info.status != RunStatus::Running {
        to.update_run(&copy_id, run.info.status, run.info.end_time)?;
    }
    Ok(copy_id)
}

/// Bring an earlier copy up to date with a run that went on: new params, tags, metric points, artifacts.
fn update_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    copy: &Run,
    map: &Mapping,
    models: &mut Vec<(String, String)>,
    report: &mut SyncReport,
) -> Result<()> {
    let copy_id = &copy.info.run_id;
    let mut batch = Batch::default();
    for (k, v) in &run.data.params {
        if !copy.data.params.contains_key(k) {
            batch.params.push((k.clone(), v.clone()));
        }
    }
    for (k, v) in copied_tags(run, Some(copy_id), map) {
        if copy.data.tags.get(&k) != Some(&v) {
            batch.tags.push((k, v));
        }
    }
    for key in run.data.metrics.keys() {
        let have = if copy.data.metrics.contains_key(key) {
            to.metric_history(copy_id, key)?.len()
        } else {
            0
        };
        for point in from
            .metric_history(&run.info.run_id, key)?
            .into_iter()
            .skip(have)
        {
            batch.metrics.push((key.clone(), point));
        }
    }
    report.metric_points += batch.metrics.len();
    to.log_batch(copy_id, &batch)?;
    let present = artifact_paths(to, copy_id)?;
    report.artifact_files += copy_artifacts(from, to, &run.info.run_id, copy_id, &present)?;
    for model_id in &run.outputs {
        if !models.iter().any(|(m, _)| m == model_id) {
            let copied = copy_logged_model(from, to, model_id, copy_id)?;
            models.push((model_id.clone(), copied));
            report.logged_models += 1;
        }
    }
    if run.info.status != copy.info.status || run.info.end_time != copy.info.end_time {
        to.update_run(copy_id, run.info.status, run.info.end_time)?;
    }
    Ok(())
}

fn artifact_paths(store: &dyn TrackingStore, run_id: &str) -> Result<BTreeSet<String>> {
    Ok(crate::store::list_artifact_files(store, run_id)?
        .into_iter()
        .map(|e| e.path)
        .collect())
}

/// Copy the run's artifact files that `present` lacks; returns how many were copied.
fn copy_artifacts(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run_id: &str,
    copy_id: &str,
    present: &BTreeSet<String>,
) -> Result<usize> {
    let files = artifact_paths(from, run_id)?;
    let missing: Vec<&String> = files.iter().filter(|f| !present.contains(*f)).collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let tmp = tempfile::tempdir().map_err(|e| StoreError::io(&std::env::temp_dir(), e))?;
    from.download_artifacts(run_id, tmp.path())?;
    for rel in &missing {
        let local = tmp.path().join(rel);
        let dest = Path::new(rel.as_str())
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty());
        to.log_artifact(copy_id, &local, dest.as_deref())?;
    }
    Ok(missing.len())
}

fn dataset_of(input: &DatasetInput) -> Dataset {
    Dataset {
        name: input.name.clone(),
        digest: input.digest.clone(),
        source_type: input.source_type.clone(),
        source: input.source.clone(),
        schema: input.schema.clone(),
        profile: input.profile.clone(),
    }
}

fn copy_logged_model(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    model_id: &str,
    copy_run_id: &str,
) -> Result<String> {
    let model = from.get_logged_model(model_id)?;
    let local = from.resolve_model(&ModelUri::Logged(model_id.to_string()))?;
    let mut created = to.create_logged_model(copy_run_id, &model.name)?;
    // A folder or a database only names the model until `log_model` stores it, so the copy can keep the
    // source's id (and a version's `models:/m-…` source stays the same); a server assigns its own.
    let keeps_ids = to.allows_folder_sources();
    if keeps_ids
        && created.model_id != model_id
        && matches!(
            to.get_logged_model(model_id),
            Err(StoreError::ModelNotFound(_))
        )
    {
        created.artifact_location = created
            .artifact_location
            .replace(&created.model_id, model_id);
        created.model_id = model_id.to_string();
    }
    to.log_model(&created, &local, &[])?;
    Ok(created.model_id)
}

/// Logged models of an earlier copy, matched to the source run's by name.
fn matching_models(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    copy: &Run,
) -> Result<Vec<(String, String)>> {
    let mut copies = BTreeMap::new();
    for id in &copy.outputs {
        copies.insert(to.get_logged_model(id)?.name, id.clone());
    }
    let mut out = Vec::new();
    for id in &run.outputs {
        if let Some(copy_id) = copies.get(&from.get_logged_model(id)?.name) {
            out.push((id.clone(), copy_id.clone()));
        }
    }
    Ok(out)
}

/// A version's source with run and logged-model ids mapped to their copies; None if it is not copied.
fn mapped_source(source: &str, map: &Mapping) -> Option<String> {
    match ModelUri::parse(source).ok()? {
        ModelUri::Logged(id) => map.models.get(&id).map(|c| format!("models:/{c}")),
        ModelUri::Run { run_id, path } => {
            map.runs.get(&run_id).map(|c| format!("runs:/{c}/{path}"))
        }
        _ => None,
    }
}

fn sync_registry(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    map: &Mapping,
    every_model: bool,
    report: &mut SyncReport,
    note: &dyn Fn(&str),
) -> Result<()> {
    for model in from.list_registered_models()? {
        let mut versions = from.list_model_versions(&model.name, false)?;
        versions.sort_by_key(|v| v.version);
        let relevant = every_model
            || versions
                .iter()
                .any(|v| v.run_id.as_ref().is_some_and(|r| map.runs.contains_key(r)));
        if !relevant {
            continue;
        }
        let existing = match to.get_registered_model(&model.name) {
            Ok(_) => to.list_model_versions(&model.name, false)?,
            Err(StoreError::ModelNotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut copied: BTreeMap<u64, u64> = existing
            .iter()
            .filter_map(|v| Some((v.tags.get(SOURCE_VERSION_TAG)?.parse().ok()?, v.version)))
            .collect();
        let mut skipped = 0;
        for v in &versions {
            if copied.contains_key(&v.version) {
                continue;
            }
            let Some(source) = mapped_source(&v.source, map) else {
                skipped += 1;
                continue;
            };
            // A version of the same model is already there (e.g. the one this version was copied from).
            if let Some(same) = existing.iter().find(|e| e.source == source) {
                copied.insert(v.version, same.version);
                continue;
            }
            let run_id = v.run_id.as_ref().and_then(|r| map.runs.get(r));
            let new = to.register_model(
                &model.name,
                &source,
                run_id.map(String::as_str),
                v.description.as_deref(),
            )?;
            to.set_model_version_tag(
                &model.name,
                new.version,
                SOURCE_VERSION_TAG,
                &v.version.to_string(),
            )?;
            for (k, val) in &v.tags {
                to.set_model_version_tag(&model.name, new.version, k, val)?;
            }
            copied.insert(v.version, new.version);
            report.versions_registered += 1;
        }
        if skipped > 0 {
            note(&format!(
                "model '{}': {skipped} versions left out (their runs or models were not copied)",
                model.name
            ));
        }
        if copied.is_empty() {
            continue;
        }
        let dest = to.get_registered_model(&model.name)?;
        if let Some(d) = &model.description
            && dest.description.as_ref() != Some(d)
        {
            to.set_registered_model_description(&model.name, d)?;
        }
        for (k, v) in &model.tags {
            if dest.tags.get(k) != Some(v) {
                to.set_registered_model_tag(&model.name, k, v)?;
            }
        }
        for (alias, version) in &model.aliases {
            if let Some(target) = copied.get(version)
                && dest.aliases.get(alias) != Some(target)
            {
                to.set_alias(&model.name, alias, *target, "sync")?;
                report.aliases_set += 1;
            }
        }
        keep_alias_histories(to, &model, &copied)?;
    }
    Ok(())
}

/// An alias history (a model tag, `crate::store::alias_history_tag`) as the source has it, when the
/// copied versions kept their numbers: setting the alias in the copy recorded a move of its own, which
/// the source's history replaces, so a copy's history is the source's.
fn keep_alias_histories(
    to: &dyn TrackingStore,
    model: &RegisteredModel,
    copied: &BTreeMap<u64, u64>,
) -> Result<()> {
    let prefix = crate::store::alias_history_tag("");
    let dest = to.get_registered_model(&model.name)?;
    for (key, text) in &model.tags {
        if !key.starts_with(&prefix) || dest.tags.get(key) == Some(text) {
            continue;
        }
        // Either form the tag has had: lines, or the JSON list of older mlx.
        let Ok(moves) = crate::store::parse_alias_history(text) else {
            continue;
        };
        let kept = |v: Option<u64>| v.is_none_or(|v| copied.get(&v) == Some(&v));
        let same_numbers = moves.iter().all(|m| kept(m.from) && kept(m.to));
        if same_numbers {
            to.set_registered_model_tag(&model.name, key, text)?;
        }
    }
    Ok(())
}
