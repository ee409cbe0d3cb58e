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
    mut note: impl FnMut(&str),
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
        sync_experiment(from, to, exp, &dest, &mut map, &mut report)?;
        note(&format!(
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
            &mut note,
        )?;
    }
    Ok(report)
}

fn sync_experiment(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    exp: &Experiment,
    dest: &Experiment,
    map: &mut Mapping,
    report: &mut SyncReport,
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
    let mut runs = from.list_runs(
        std::slice::from_ref(&exp.experiment_id),
        ViewType::ActiveOnly,
        &Projection::everything(),
    )?;
    // Parents start before their children: copy them first so parent ids can be mapped.
    runs.sort_by_key(|r| r.info.start_time);
    for run in runs {
        let src_id = run.info.run_id.clone();
        let copy = by_source.get(&src_id).or_else(|| {
            run.data
                .tags
                .get(SOURCE_RUN_TAG)
                .and_then(|origin| by_source.get(origin))
        });
        match copy {
            Some(copy) => {
                map.runs.insert(src_id.clone(), copy.info.run_id.clone());
                for (model_id, copy_id) in matching_models(from, to, &run, copy)? {
                    map.models.insert(model_id, copy_id);
                }
                let unchanged = run.info.status.is_terminated()
                    && copy.info.status == run.info.status
                    && copy.info.end_time == run.info.end_time;
                if unchanged {
                    report.runs_unchanged += 1;
                } else {
                    update_run(from, to, &run, copy, map, report)?;
                    report.runs_updated += 1;
                }
            }
            None => {
                copy_run(from, to, &run, dest, map, report)?;
                report.runs_copied += 1;
            }
        }
    }
    Ok(())
}

/// Tags as the copy should have them: the source marker added, the parent run id mapped.
fn copied_tags(run: &Run, map: &Mapping) -> BTreeMap<String, String> {
    let mut tags = run.data.tags.clone();
    tags.remove("mlflow.runName");
    tags.insert(SOURCE_RUN_TAG.into(), run.info.run_id.clone());
    if let Some(parent) = tags.get("mlflow.parentRunId").and_then(|p| map.runs.get(p)) {
        tags.insert("mlflow.parentRunId".into(), parent.clone());
    }
    tags
}

fn copy_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    dest: &Experiment,
    map: &mut Mapping,
    report: &mut SyncReport,
) -> Result<()> {
    let new = |run_id| NewRun {
        run_id,
        experiment_id: dest.experiment_id.clone(),
        run_name: Some(run.info.run_name.clone()).filter(|n| !n.is_empty()),
        user_id: run.info.user_id.clone(),
        start_time: run.info.start_time,
        tags: copied_tags(run, map),
    };
    let info = match to.create_run(new(Some(run.info.run_id.clone()))) {
        Ok(info) => info,
        // The id is taken in the destination (e.g. copied into another experiment before): a new one.
        Err(StoreError::InvalidState(_)) => to.create_run(new(None))?,
        Err(e) => return Err(e),
    };
    let copy_id = info.run_id.clone();
    map.runs.insert(run.info.run_id.clone(), copy_id.clone());

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
        map.models.insert(model_id.clone(), copied);
        report.logged_models += 1;
    }
    if run.info.status != RunStatus::Running {
        to.update_run(&copy_id, run.info.status, run.info.end_time)?;
    }
    Ok(())
}

/// Bring an earlier copy up to date with a run that went on: new params, tags, metric points, artifacts.
fn update_run(
    from: &dyn TrackingStore,
    to: &dyn TrackingStore,
    run: &Run,
    copy: &Run,
    map: &mut Mapping,
    report: &mut SyncReport,
) -> Result<()> {
    let copy_id = &copy.info.run_id;
    let mut batch = Batch::default();
    for (k, v) in &run.data.params {
        if !copy.data.params.contains_key(k) {
            batch.params.push((k.clone(), v.clone()));
        }
    }
    for (k, v) in copied_tags(run, map) {
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
        if !map.models.contains_key(model_id) {
            let copied = copy_logged_model(from, to, model_id, copy_id)?;
            map.models.insert(model_id.clone(), copied);
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
    let created = to.create_logged_model(copy_run_id, &model.name)?;
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
    note: &mut impl FnMut(&str),
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
    }
    Ok(())
}
