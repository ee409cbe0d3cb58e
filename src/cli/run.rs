//! `mlx run [ENTRY] [-P k=v]...`: run an MLproject.toml (or MLflow's YAML MLproject) entry point inside a
//! run, or a grid of them as child runs of one parent run (see `ops::sweep`).

use super::experiment_from_env;
use crate::ops::sweep::{ProjectReport, ProjectRequest, run_project};
use crate::ops::{OpsError, Outcome};
use crate::output::{self, Listing, OutputFormat};
use crate::runner::RunnerError;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use clap::Args;
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
    let mut params = Vec::new();
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("-P '{p}' is not NAME=VALUE"))?;
        params.push((k.to_string(), v.to_string()));
    }
    let req = ProjectRequest {
        project_dir: std::path::absolute(&args.project).unwrap_or(args.project.clone()),
        entry: args.entry,
        params,
        experiment: experiment_from_env(args.experiment),
        name: args.name,
        by: args.by.clone(),
        minimize: args.minimize,
        tracking_uri: settings.tracking_uri.value.clone(),
    };
    // Our stdout carries one JSON document, so the commands' stdout goes to stderr; a nested mlx would see a
    // pipe and print JSON, so on a terminal it is told to keep to a table.
    let format = settings.output_format();
    let opts = crate::runner::RunOptions {
        stdout_to_stderr: format == OutputFormat::Json,
        child_output: (format == OutputFormat::Table).then_some("table"),
        ..Default::default()
    };
    let report = match run_project(store.as_ref(), &req, opts, &|n| eprintln!("{n}")) {
        Ok(r) => r,
        // As a shell: 127 when the command cannot be started (126 not executable).
        Err(OpsError::Runner(spawn @ RunnerError::Spawn { .. })) => {
            eprintln!("error: {spawn}");
            return Ok(ExitCode::from(spawn.exit_code()));
        }
        Err(e) => return Err(e.into()),
    };
    let outcome = report.outcome();
    match report {
        ProjectReport::Single(run) => {
            let doc = serde_json::json!({
                "run_id": run.run_id,
                "params": run.params,
                "status": run.ended.status.as_str(),
                "exit_code": run.ended.code,
            });
            super::print_value(settings, &run.run_id, doc)?;
            Ok(ExitCode::from(run.ended.code.clamp(0, 255) as u8))
        }
        ProjectReport::Sweep {
            parent_run_id,
            varying,
            children,
            best,
        } => {
            let mut listing = Listing::new(&["run id", "status"]);
            listing.headers.extend(varying.iter().cloned());
            listing.headers.extend(args.by.iter().cloned());
            for c in &children {
                let mut status = c.ended.status.as_str().to_string();
                if best.as_ref().is_some_and(|(id, _)| *id == c.run_id) {
                    status.push_str(" (best)");
                }
                let mut row = vec![c.run_id.clone(), status];
                row.extend(varying.iter().map(|k| c.params[k].clone()));
                if args.by.is_some() {
                    row.push(c.metric.map_or_else(|| "-".into(), |v| format!("{v:.4}")));
                }
                listing.rows.push(row);
            }
            let json = serde_json::json!({
                "parent_run_id": parent_run_id,
                "children": children.iter().map(|c| serde_json::json!({
                    "run_id": c.run_id, "params": c.params, "status": c.ended.status.as_str()})).collect::<Vec<_>>(),
                "best": best.as_ref().map(|(id, v)| serde_json::json!({"run_id": id, "value": v})),
            });
            output::print(format, &listing, &json)?;
            match (&args.by, &best) {
                (Some(metric), Some((run_id, value))) => {
                    eprintln!("mlx: best by {metric}: run {run_id} ({metric} = {value:.4})")
                }
                (Some(metric), None) => bail!("no child run logged the metric '{metric}'"),
                _ => {}
            }
            Ok(match outcome {
                Outcome::Passed => ExitCode::SUCCESS,
                Outcome::Failed => ExitCode::from(super::EXIT_CHECK_FAILED),
            })
        }
    }
}
