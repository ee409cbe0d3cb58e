//! `mlx log ...`: logging to runs from shell scripts and CI, one value or one batch per call.

use super::active_run_id;
use crate::settings::Settings;
use crate::store::entities::{MetricPoint, RunStatus};
use crate::store::{Batch, TrackingStore, metric_file, now_ms};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArg {
    /// Run id [default: $MLX_RUN_ID, then $MLFLOW_RUN_ID]
    #[arg(long = "run", value_name = "ID")]
    run: Option<String>,
}

#[derive(Args)]
pub struct StartArgs {
    /// Experiment name, created if missing [default: $MLX_EXPERIMENT_NAME, $MLFLOW_EXPERIMENT_NAME, Default]
    #[arg(long, short = 'e')]
    pub(super) experiment: Option<String>,
    /// Run name [default: a random name such as bold-fox-123]
    #[arg(long, short = 'n')]
    pub(super) name: Option<String>,
    /// Run tag KEY=VALUE (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub(super) tags: Vec<String>,
    /// Description (the mlflow.note.content tag)
    #[arg(long)]
    pub(super) description: Option<String>,
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Start a run and print its id (nothing else) on stdout
    Start(StartArgs),
    /// Log a param (params are immutable: a different value for the same key is an error)
    Param {
        #[command(flatten)]
        run: RunArg,
        key: String,
        value: String,
    },
    /// Append a metric point
    Metric {
        #[command(flatten)]
        run: RunArg,
        key: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        step: i64,
        /// Milliseconds since the epoch [default: now]
        #[arg(long)]
        timestamp: Option<i64>,
    },
    /// Set a tag (tags can be overwritten)
    Tag {
        #[command(flatten)]
        run: RunArg,
        key: String,
        value: String,
    },
    /// Log many params from a JSON object {"key": value, ...}
    Params {
        #[command(flatten)]
        run: RunArg,
        /// JSON file, or - for stdin
        #[arg(long, value_name = "FILE")]
        json: PathBuf,
    },
    /// Log many metrics from a JSON object {"key": number} or a list of {"key","value","step","timestamp"}
    Metrics {
        #[command(flatten)]
        run: RunArg,
        /// JSON file, or - for stdin
        #[arg(long, value_name = "FILE")]
        json: PathBuf,
        /// Step for entries that do not give one
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        step: i64,
    },
    /// Copy a file or directory into the run's artifacts
    Artifact {
        #[command(flatten)]
        run: RunArg,
        path: PathBuf,
        /// Folder inside the run's artifacts
        #[arg(long)]
        dest: Option<String>,
    },
    /// End a run
    End {
        #[command(flatten)]
        run: RunArg,
        #[arg(long, default_value = "FINISHED", value_parser = parse_status)]
        status: RunStatus,
    },
    /// Run a command inside a new run: MLX_RUN_ID is set for it, its output is kept as artifacts, and the
    /// run ends FINISHED or FAILED from its exit code (which mlx exits with)
    Exec {
        #[command(flatten)]
        start: StartArgs,
        #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

fn parse_status(s: &str) -> Result<RunStatus, String> {
    RunStatus::parse(s)
        .filter(|s| s.is_terminated())
        .ok_or_else(|| format!("'{s}' is not one of FINISHED, FAILED, KILLED"))
}

pub fn exec(settings: &Settings, cmd: LogCommand) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    match cmd {
        LogCommand::Start(args) => {
            let run_id = super::log_run::start_run(store, args, "mlx")?;
            super::print_value(settings, &run_id, serde_json::json!({ "run_id": run_id }))?;
        }
        LogCommand::Param { run, key, value } => {
            let batch = Batch {
                params: vec![(key.clone(), value)],
                ..Batch::default()
            };
            let what = format!("log param '{key}'");
            log(
                settings,
                store,
                active_run_id(run.run)?,
                batch,
                &what,
                json!({"params": [key]}),
            )?;
        }
        LogCommand::Metric {
            run,
            key,
            value,
            step,
            timestamp,
        } => {
            let run_id = active_run_id(run.run)?;
            let Some(value) = metric_file::parse_value(value.trim()) else {
                bail!("metric '{key}': value '{value}' is not a number");
            };
            let point = MetricPoint {
                timestamp: timestamp.unwrap_or_else(now_ms),
                value,
                step,
            };
            let batch = Batch {
                metrics: vec![(key.clone(), point)],
                ..Batch::default()
            };
            let what = format!("log metric '{key}'");
            log(
                settings,
                store,
                run_id,
                batch,
                &what,
                json!({"metrics": [key]}),
            )?;
        }
        LogCommand::Tag { run, key, value } => {
            let batch = Batch {
                tags: vec![(key.clone(), value)],
                ..Batch::default()
            };
            let what = format!("set tag '{key}'");
            log(
                settings,
                store,
                active_run_id(run.run)?,
                batch,
                &what,
                json!({"tags": [key]}),
            )?;
        }
        LogCommand::Params { run, json } => {
            let run_id = active_run_id(run.run)?;
            let doc = read_json(&json)?;
            let params = crate::ops::log::params_from_json(&json, &doc)?;
            let keys: Vec<String> = params.iter().map(|(k, _)| k.clone()).collect();
            let batch = Batch {
                params,
                ..Batch::default()
            };
            let what = format!("log params from {}", json.display());
            log(
                settings,
                store,
                run_id,
                batch,
                &what,
                json!({"params": keys}),
            )?;
        }
        LogCommand::Metrics { run, json, step } => {
            let run_id = active_run_id(run.run)?;
            let doc = read_json(&json)?;
            let metrics = crate::ops::log::metrics_from_json(&json, &doc, step, now_ms())?;
            let points = metrics.len();
            let batch = Batch {
                metrics,
                ..Batch::default()
            };
            let what = format!("log metrics from {}", json.display());
            log(
                settings,
                store,
                run_id,
                batch,
                &what,
                json!({"metric_points": points}),
            )?;
        }
        LogCommand::Artifact { run, path, dest } => {
            let run_id = active_run_id(run.run)?;
            store
                .log_artifact(&run_id, &path, dest.as_deref())
                .with_context(|| format!("cannot log artifact {}", path.display()))?;
            super::print_done(
                settings,
                json!({"run_id": run_id, "logged": {"artifact": path.display().to_string(), "dest": dest}}),
            )?;
        }
        LogCommand::End { run, status } => {
            let run_id = active_run_id(run.run)?;
            store
                .update_run(&run_id, status, Some(now_ms()))
                .with_context(|| format!("cannot end run {run_id}"))?;
            super::print_done(
                settings,
                json!({"run_id": run_id, "status": status.as_str()}),
            )?;
        }
        LogCommand::Exec { start, command } => {
            return super::log_run::exec_command(settings, store, start, &command);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Log one batch to a run, then say what was logged (one JSON document under `-o json`).
fn log(
    settings: &Settings,
    store: &dyn TrackingStore,
    run_id: String,
    batch: Batch,
    what: &str,
    logged: serde_json::Value,
) -> Result<()> {
    store
        .log_batch(&run_id, &batch)
        .with_context(|| format!("cannot {what}"))?;
    super::print_done(settings, json!({"run_id": run_id, "logged": logged}))
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read JSON from stdin")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}
