//! `mlx log ...`: logging to runs from shell scripts and CI, one value or one batch per call.

use super::active_run_id;
use super::log_run::StartArgs;
use crate::ops::log::{Write, log};
use crate::settings::Settings;
use crate::store::entities::RunStatus;
use crate::store::now_ms;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArg {
    /// Run id [default: $MLX_RUN_ID, then $MLFLOW_RUN_ID]
    #[arg(long = "run", value_name = "ID")]
    run: Option<String>,
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
    let (run, write) = match cmd {
        LogCommand::Start(args) => {
            let run_id = super::log_run::start_run(store, args, "mlx")?;
            super::print_value(settings, &run_id, json!({ "run_id": run_id }))?;
            return Ok(ExitCode::SUCCESS);
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
            return Ok(ExitCode::SUCCESS);
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
            return Ok(ExitCode::SUCCESS);
        }
        LogCommand::Exec { start, command } => {
            return super::log_run::exec_command(settings, store, start, &command);
        }
        LogCommand::Param { run, key, value } => (run, Write::Param { key, value }),
        LogCommand::Metric {
            run,
            key,
            value,
            step,
            timestamp,
        } => (
            run,
            Write::Metric {
                key,
                value,
                step,
                timestamp,
            },
        ),
        LogCommand::Tag { run, key, value } => (run, Write::Tag { key, value }),
        LogCommand::Params { run, json } => (run, Write::Params { path: json }),
        LogCommand::Metrics { run, json, step } => (run, Write::Metrics { path: json, step }),
    };
    let run_id = active_run_id(run.run)?;
    let logged = log(store, &run_id, write)?;
    super::print_done(settings, json!({"run_id": run_id, "logged": logged}))?;
    Ok(ExitCode::SUCCESS)
}
