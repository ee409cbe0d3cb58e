//! `mlx run [ENTRY] [-P k=v]...`: run an MLproject.toml (or MLflow's YAML MLproject) entry point inside a
//! run, or a grid of them as child runs of one parent run.

use super::experiment_from_env;
use crate::output::{self, Listing, OutputFormat};
use crate::project::{self, Project};
use crate::settings::Settings;
use crate::store::entities::{MetricPoint, RunStatus};
use crate::store::{Batch, NewRun, get_or_create_experiment, now_ms};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArgs {
    /// Entry point of the project
    #[arg(default_value = "main")]
    entry: String,
    /// Parameter NAME=VALUE (repeatable); NAME=1,2,3 (numbers) or NAME=a|b (text) sweeps a grid
    #[arg(short = 'P', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Folder holding MLproject.toml (or MLflow's YAML MLproject)
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// Experiment [default: $MLX_EXPERIMENT_NAME, $MLFLOW_EXPERIMENT_NAME, the project name, Default]
    #[arg(long, short = 'e')]
    experiment: Option<String>,
    /// Run name (the parent's name for a sweep)
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// For a sweep: the metric that picks the best child run
    #[arg(long, value_name = "METRIC")]
    by: Option<String>,
    /// Lower is better for --by [default: yes for names like loss, error, rmse, mae, mse]
    #[arg(long)]
    minimize: bool,
}

pub fn exec(settings: &Settings, args: RunArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let dir = std::path::absolute(&args.project).unwrap_or(args.project.clone());
    let project = Project::load(&dir)?;
    let path = project.source.clone();
    let entry = project.entry(&args.entry, &path)?;
    if let Some(env) = project.environment {
        eprintln!(
            "note: {} asks for a {env}; mlx runs it in the current environment (as `mlflow run --env-manager local`)",
            path.display()
        );
    }
    let mut given = Vec::new();
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("-P '{p}' is not NAME=VALUE"))?;
        given.push((k.to_string(), v.to_string()));
    }
    let grid = project::resolve_grid(entry, &given, &dir)?;
    let experiment = experiment_from_env(args.experiment.clone())
        .or_else(|| project.name.clone())
        .unwrap_or_else(|| "Default".into());
    let exp = get_or_create_experiment(store, &experiment)?;
    let tags = |extra: &[(&str, &str)]| {
        let mut t = crate::context::system_tags(&dir.to_string_lossy());
        t.insert("mlflow.source.type".into(), "PROJECT".into());
        t.insert("mlflow.project.entryPoint".into(), args.entry.clone());
        t.insert("mlflow.project.backend".into(), "local".into());
        for (k, v) in extra {
            t.insert(k.to_string(), v.to_string());
        }
        t
    };
    let start = |name: Option<String>, tags: BTreeMap<String, String>| {
        store.create_run(NewRun {
            run_id: None,
            experiment_id: exp.experiment_id.clone(),
            run_name: name,
            user_id: crate::context::user(),
            start_time: now_ms(),
            tags,
        })
    };
    // Our stdout carries one JSON document, so the commands' stdout goes to stderr; a nested mlx would see a
    // pipe and print JSON, so on a terminal it is told to keep to a table.
    let format = settings.output_format();
    let opts = crate::runner::RunOptions {
        cwd: Some(&dir),
        stdout_to_stderr: format == OutputFormat::Json,
        child_output: (format == OutputFormat::Table).then_some("table"),
    };
    let run_one =
        |run_id: &str, values: &BTreeMap<String, String>| -> Result<crate::runner::Outcome> {
            store.log_batch(
                run_id,
                &Batch {
                    params: values.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    ..Batch::default()
                },
            )?;
            let command = project::render_command(entry, values);
            eprintln!("mlx: run {run_id}: {command}");
            Ok(crate::runner::run_in(
                store,
                &settings.tracking_uri.value,
                run_id,
                "sh",
                &["-c".to_string(), command],
                opts,
            )?)
        };

    if grid.len() == 1 {
        let run = start(args.name.clone(), tags(&[]))?;
        let outcome = match run_one(&run.run_id, &grid[0]) {
            Ok(o) => o,
            // As a shell: 127 when the command cannot be started (126 not executable).
            Err(e) => match e.downcast_ref::<crate::runner::RunnerError>() {
                Some(spawn @ crate::runner::RunnerError::Spawn { .. }) => {
                    eprintln!("error: {spawn}");
                    return Ok(ExitCode::from(spawn.exit_code()));
                }
                _ => return Err(e),
            },
        };
        eprintln!("mlx: run {} ended {}", run.run_id, outcome.status.as_str());
        let doc = serde_json::json!({
            "run_id": run.run_id,
            "params": grid[0],
            "status": outcome.status.as_str(),
            "exit_code": outcome.code,
        });
        super::print_value(settings, &run.run_id, doc)?;
        return Ok(ExitCode::from(outcome.code.clamp(0, 255) as u8));
    }

    // A sweep: one parent, a child per combination.
    let parent = start(
        Some(
            args.name
                .clone()
                .unwrap_or_else(|| format!("sweep-{}", args.entry)),
        ),
        tags(&[]),
    )?;
    eprintln!(
        "mlx: sweep of {} runs under parent run {}",
        grid.len(),
        parent.run_id
    );
    let varying: Vec<String> = grid[0]
        .keys()
        .filter(|k| grid.iter().any(|g| g[*k] != grid[0][*k]))
        .cloned()
        .collect();
    let mut children = Vec::new();
    let mut failed = 0;
    for values in &grid {
        let label: Vec<String> = varying
            .iter()
            .map(|k| format!("{k}={}", values[k]))
            .collect();
        let child = start(
            Some(label.join(",")),
            tags(&[("mlflow.parentRunId", &parent.run_id)]),
        )?;
        let outcome = run_one(&child.run_id, values)?;
        if outcome.status != RunStatus::Finished {
            failed += 1;
        }
        children.push((child.run_id, values.clone(), outcome));
    }
    let minimize = args.minimize
        || args
            .by
            .as_deref()
            .is_some_and(crate::search::lower_is_better);
    let mut best: Option<(String, f64)> = None;
    let mut listing = Listing::new(&["run id", "status"]);
    listing.headers.extend(varying.iter().cloned());
    if let Some(m) = &args.by {
        listing.headers.push(m.clone());
    }
    for (run_id, values, outcome) in &children {
        let mut row = vec![run_id.clone(), outcome.status.as_str().to_string()];
        row.extend(varying.iter().map(|k| values[k].clone()));
        if let Some(metric) = &args.by {
            let value = store
                .get_run(run_id)?
                .data
                .metrics
                .get(metric)
                .map(|p| p.value);
            row.push(
                value
                    .map(|v| format!("{v:.4}"))
                    .unwrap_or_else(|| "-".into()),
            );
            if let Some(v) = value.filter(|v| !v.is_nan()) {
                let better = best
                    .as_ref()
                    .is_none_or(|(_, b)| if minimize { v < *b } else { v > *b });
                if better {
                    best = Some((run_id.clone(), v));
                }
            }
        }
        listing.rows.push(row);
    }
    let mut batch = Batch::default();
    if let (Some(metric), Some((run_id, value))) = (&args.by, &best) {
        batch.tags.push(("mlx.best_run_id".into(), run_id.clone()));
        batch.metrics.push((
            format!("best_{metric}"),
            MetricPoint {
                timestamp: now_ms(),
                value: *value,
                step: 0,
            },
        ));
        for row in &mut listing.rows {
            if &row[0] == run_id {
                row[1].push_str(" (best)");
            }
        }
    }
    store.log_batch(&parent.run_id, &batch)?;
    let status = if failed == 0 {
        RunStatus::Finished
    } else {
        RunStatus::Failed
    };
    store.update_run(&parent.run_id, status, Some(now_ms()))?;
    let json = serde_json::json!({
        "parent_run_id": parent.run_id,
        "children": children.iter().map(|(id, values, o)| serde_json::json!({
            "run_id": id, "params": values, "status": o.status.as_str()})).collect::<Vec<_>>(),
        "best": best.as_ref().map(|(id, v)| serde_json::json!({"run_id": id, "value": v})),
    });
    output::print(format, &listing, &json)?;
    if let (Some(metric), Some((run_id, value))) = (&args.by, &best) {
        eprintln!("mlx: best by {metric}: run {run_id} ({metric} = {value:.4})");
    } else if let Some(metric) = &args.by {
        bail!("no child run logged the metric '{metric}'");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_CHECK_FAILED)
    })
}
