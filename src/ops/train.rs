//! `mlx train` as an operation: prepare the data (`ml::train`), start a run (or attach to one), then fit,
//! cross-validate and evaluate, logging params, metric points, the model (MLflow 3 layout), reports and
//! plots and the dataset input, and register the model on request. A run it started ends FINISHED, or
//! FAILED with the error (tag `mlx.error`) if anything goes wrong midway. `mlx train` and `mlx serve`'s
//! retrain both call [`train`].

use crate::ml::learners::{self, FitError};
pub use crate::ml::train::TrainOptions;
use crate::ml::train::{self as ml_train, Prepared, data_location};
use crate::store::entities::{MetricPoint, RunStatus};
use crate::store::{Batch, NewRun, TrackingStore, get_or_create_experiment, now_ms};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// What a training recorded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainReport {
    pub run_id: String,
    pub experiment_id: String,
    pub model_id: String,
    pub model_uri: String,
    pub metrics: BTreeMap<String, f64>,
    pub registered_version: Option<u64>,
    pub n_train: usize,
    pub n_test: usize,
    pub features: Vec<String>,
}

/// Train and record a run. `progress` is called once per tree of a forest (iteration of boosting);
/// `notes` receives what a person should know (columns left out, rows dropped).
pub fn train(
    store: &dyn TrackingStore,
    opts: &TrainOptions,
    progress: &(dyn Fn() + Sync),
    notes: &dyn Fn(&str),
) -> anyhow::Result<TrainReport> {
    // A URL is streamed to a temp file, kept until the run is recorded.
    let fetched = crate::ml::data::fetch::fetch_if_url(&opts.data, opts.data_prefixes.as_ref())?;
    let p = ml_train::prepare(
        opts,
        fetched.as_ref().map_or(opts.data.as_path(), |f| f.path()),
    )?;
    for n in &p.notes {
        notes(n);
    }
    // Refused before a run exists, so a misplaced flag leaves no FAILED run behind.
    learners::check_given(p.model.0, p.task, &opts.hyper).map_err(|why| FitError {
        model: p.model.name().into(),
        why,
    })?;
    // The features too (a value missing from a --map, a category only the test rows have): bad data
    // fails before any run starts.
    let m = ml_train::matrices(opts, &p)?;
    let (run_id, experiment_id, own_run) = match &opts.run_id {
        Some(id) => {
            let run = store
                .get_run(id)
                .with_context(|| format!("cannot attach to run {id}"))?;
            (id.clone(), run.info.experiment_id, false)
        }
        None => {
            let exp = get_or_create_experiment(store, &opts.experiment)?;
            let mut tags = crate::context::system_tags("mlx train");
            tags.extend(opts.tags.clone());
            let info = store.create_run(NewRun {
                run_id: None,
                experiment_id: exp.experiment_id.clone(),
                run_name: opts.run_name.clone(),
                user_id: crate::context::user(),
                start_time: now_ms(),
                tags,
            })?;
            (info.run_id, exp.experiment_id, true)
        }
    };
    match train_in_run(store, opts, &p, m, &run_id, progress) {
        Ok(mut report) => {
            report.experiment_id = experiment_id;
            if own_run {
                store.update_run(&run_id, RunStatus::Finished, Some(now_ms()))?;
            }
            Ok(report)
        }
        Err(e) => {
            let message = format!("{e:#}");
            let _ = store.log_batch(
                &run_id,
                &Batch {
                    tags: vec![("mlx.error".into(), message.chars().take(5000).collect())],
                    ..Batch::default()
                },
            );
            let _ = store.update_run(&run_id, RunStatus::Failed, Some(now_ms()));
            Err(e.context(format!("run {run_id} ended FAILED")))
        }
    }
}

/// Fit, evaluate and log everything into `run_id`.
fn train_in_run(
    store: &dyn TrackingStore,
    opts: &TrainOptions,
    p: &Prepared,
    m: ml_train::Matrices,
    run_id: &str,
    progress: &(dyn Fn() + Sync),
) -> anyhow::Result<TrainReport> {
    let params = ml_train::recorded_params(opts, p, m.pre.n_features());
    let tags = vec![
        ("estimator".to_string(), p.model.name().to_string()),
        (
            "mlx.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (
            "mlx.command".to_string(),
            opts.command.chars().take(5000).collect(),
        ),
    ];
    store.log_batch(
        run_id,
        &Batch {
            params: params.clone().into_iter().collect(),
            tags,
            ..Batch::default()
        },
    )?;
    if let Some(k) = opts.cv {
        let cv = ml_train::cross_validate(opts, p, k)?;
        log_points(store, run_id, ml_train::cv_points(&cv, now_ms()))?;
    }
    let fit = ml_train::fit(opts, p, m.pre, &m.x_train, &m.y_train, params, progress)?;
    if let Some(curves) = &fit.curves {
        log_points(
            store,
            run_id,
            ml_train::curve_points(p.task, curves, now_ms()),
        )?;
    }
    let model = fit.model;
    let eval = ml_train::evaluate(
        p,
        &model,
        &m.x_test,
        &m.y_test,
        m.y_train.len(),
        fit.seconds,
    )?;
    let now = now_ms();
    let metric_points: Vec<(String, MetricPoint)> = eval
        .metrics
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                MetricPoint {
                    timestamp: now,
                    value: *v,
                    step: 0,
                },
            )
        })
        .collect();
    log_points(store, run_id, metric_points.clone())?;

    // The model, in MLflow 3's layout.
    let logged = store.create_logged_model(run_id, "model")?;
    let model_id = logged.model_id.clone();
    let staging = tempfile::tempdir()?;
    let model_dir = staging.path().join("model");
    model.save(
        &model_dir,
        run_id,
        &model_id,
        &logged.artifact_location,
        &m.train_table,
    )?;
    store.log_model(&logged, &model_dir, &metric_points)?;

    // Reports and plots as run artifacts.
    let reports = staging.path().join("reports");
    std::fs::create_dir_all(&reports)?;
    std::fs::write(
        reports.join("evaluation.json"),
        serde_json::to_string_pretty(&eval.report)?,
    )?;
    std::fs::write(reports.join("evaluation.txt"), &eval.text)?;
    std::fs::write(reports.join("test_predictions.csv"), &eval.test_predictions)?;
    crate::ml::write_plots(&model, &m.x_test, &m.y_test, &reports)?;
    store.log_artifact(run_id, &reports, None)?;

    store.log_input(run_id, &ml_train::dataset(opts, &p.table), "training")?;

    let registered_version = match &opts.register {
        Some(name) => Some(
            store
                .register_model(name, &format!("models:/{model_id}"), Some(run_id), None)?
                .version,
        ),
        None => None,
    };
    Ok(TrainReport {
        run_id: run_id.to_string(),
        experiment_id: String::new(),
        model_id,
        model_uri: format!("runs:/{run_id}/model"),
        metrics: eval.metrics,
        registered_version,
        n_train: m.y_train.len(),
        n_test: eval.n_test,
        features: model.preprocessor.feature_names.clone(),
    })
}

/// Log metric points in one batch (one append per metric file, chunked requests on a server).
fn log_points(
    store: &dyn TrackingStore,
    run_id: &str,
    metrics: Vec<(String, MetricPoint)>,
) -> anyhow::Result<()> {
    store.log_batch(
        run_id,
        &Batch {
            metrics,
            ..Batch::default()
        },
    )?;
    Ok(())
}

/// The command line `args` (without the program name) as a run records it in `mlx.command`, for people to
/// see how the run was made (nothing executes it; a retrain rebuilds from the params): shell-quoted, as
/// `mlx`, with credentials stripped (everyone who can read the store reads it), and `--data` made absolute
/// (as the `data` param) so that the command works from any folder.
pub fn recorded_command(args: impl IntoIterator<Item = String>) -> String {
    let mut after_data = false;
    std::iter::once("mlx".to_string())
        .chain(args.into_iter().map(|a| {
            let value = std::mem::replace(&mut after_data, a == "--data");
            match a.strip_prefix("--data=") {
                Some(d) => format!("--data={}", data_location(Path::new(d))),
                None if value && a != "-" => data_location(Path::new(&a)),
                None => a,
            }
        }))
        .map(|a| crate::project::shell_quote(&crate::redact::uris(&a)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_command_is_quoted_absolute_and_without_credentials() {
        let cmd = recorded_command(
            [
                "train",
                "--data",
                "d.csv",
                "--tag",
                "a b",
                "--tracking-uri",
                "https://u:secret@host",
            ]
            .map(String::from),
        );
        assert!(cmd.starts_with("mlx train --data /"), "{cmd}");
        assert!(cmd.contains("d.csv --tag 'a b'"), "{cmd}");
        assert!(!cmd.contains("secret"), "{cmd}");
        let cmd = recorded_command(["train".to_string(), "--data=https://h/x.csv".into()]);
        assert_eq!(cmd, "mlx train --data=https://h/x.csv");
    }
}
