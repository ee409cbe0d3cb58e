//! `mlx log start` and `mlx log exec -- CMD`: starting a run with MLflow's system tags, and running a
//! command inside one (its exit code passed on; 127/126 when it cannot start).

use super::{experiment_from_env, parse_pairs};
use crate::context;
use crate::settings::Settings;
use crate::store::entities::RunStatus;
use crate::store::{NewRun, TrackingStore, get_or_create_experiment, now_ms};
use anyhow::{Context, Result};
use clap::Args;
use std::process::ExitCode;

// Where and how `mlx log start` (and `mlx log exec`) start a run (a plain comment: a doc comment would
// become the subcommand's help).
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

/// Start a run in the chosen experiment with MLflow's system tags; returns the run id.
pub fn start_run(store: &dyn TrackingStore, args: StartArgs, source: &str) -> Result<String> {
    let experiment_name =
        experiment_from_env(args.experiment).unwrap_or_else(|| "Default".to_string());
    let experiment = get_or_create_experiment(store, &experiment_name)
        .with_context(|| format!("cannot use experiment '{experiment_name}'"))?;
    let mut tags = context::system_tags(source);
    tags.extend(parse_pairs("tag", &args.tags)?);
    if let Some(d) = args.description {
        tags.insert("mlflow.note.content".into(), d);
    }
    let info = store
        .create_run(NewRun {
            run_id: None,
            experiment_id: experiment.experiment_id,
            run_name: args.name,
            user_id: context::user(),
            start_time: now_ms(),
            tags,
        })
        .context("cannot start run")?;
    Ok(info.run_id)
}

/// `mlx log exec`: run a command inside a new run.
pub(super) fn exec_command(
    settings: &Settings,
    store: &dyn TrackingStore,
    start: StartArgs,
    command: &[String],
) -> Result<ExitCode> {
    // Recorded as mlflow.source.name, so without credentials.
    let shown = crate::redact::uris(&command.join(" "));
    let run_id = start_run(store, start, &shown)?;
    eprintln!("mlx: run {run_id} started for `{shown}`");
    let json = settings.json_flag();
    let opts = crate::runner::RunOptions {
        stdout_to_stderr: json,
        ..Default::default()
    };
    let (status, code) = match crate::runner::run_in(
        store,
        &settings.tracking_uri.value,
        &run_id,
        &command[0],
        &command[1..],
        opts,
    ) {
        Ok(o) => (o.status, o.code.clamp(0, 255) as u8),
        // A command that cannot start exits as a shell would (127 not found, 126 not executable).
        Err(e @ crate::runner::RunnerError::Spawn { .. }) => {
            eprintln!("error: {e}");
            (RunStatus::Failed, e.exit_code())
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!("mlx: run {run_id} ended {}", status.as_str());
    if json {
        let doc =
            serde_json::json!({"run_id": run_id, "status": status.as_str(), "exit_code": code});
        crate::output::print_json(&mut std::io::stdout().lock(), &doc)?;
    }
    Ok(ExitCode::from(code))
}
