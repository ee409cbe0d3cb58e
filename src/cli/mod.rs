//! Command-line definitions (clap) and dispatch. Each subcommand's file turns arguments into calls on the
//! library; errors are wrapped with context here and printed as one line. Exit codes: 0 ok, 1 a check that ran
//! and failed (a command returns that code itself), 2 an error (bad input, store or server unreachable, usage).

mod args;
mod bench;
mod compare;
mod config;
mod experiments;
mod hyper;
mod log;
mod log_run;
mod maintenance;
mod models;
mod models_import;
mod models_show;
mod plot;
mod predict;
mod registry;
mod run;
mod runs;
mod runs_diff;
mod runs_list;
mod runs_show;
mod serve;
mod sync;
mod train;
mod ui;

use crate::settings::Settings;
use anyhow::Result;
use args::*;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mlx",
    version,
    about = "Track, compare, register, predict and serve ML models in an MLflow-compatible store",
    args_override_self = true
)]
pub struct Cli {
    /// Tracking store: a folder, a file: URI, an MLflow SQLite database sqlite:///mlflow.db or an MLflow server http(s)://host:port [default: $MLX_TRACKING_URI, $MLFLOW_TRACKING_URI, config, ./mlruns with experiments, ./mlflow.db, ./mlruns]
    #[arg(long, global = true, value_name = "URI")]
    tracking_uri: Option<String>,

    /// Output format: table, json, csv or markdown [default: $MLX_OUTPUT, config, table on a terminal, json
    /// otherwise]
    #[arg(long, short = 'o', global = true, value_name = "FORMAT", value_parser = parse_output)]
    output: Option<OutputArg>,

    /// PEM file of the CA certificates to trust for an https:// tracking server, instead of the built-in
    /// roots [default: $MLFLOW_TRACKING_SERVER_CERT_PATH]
    #[arg(long, global = true, value_name = "PEM")]
    ca_cert: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, list, rename, delete and restore experiments
    #[command(subcommand, alias = "experiment", alias = "exp")]
    Experiments(experiments::ExperimentsCommand),
    /// Log to runs from shell scripts and CI: start, param, metric, tag, artifact, end, exec
    #[command(subcommand)]
    Log(log::LogCommand),
    /// List, show, delete and restore runs
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Run an MLproject.toml entry point inside a run (or a parameter grid as child runs)
    Run(run::RunArgs),
    /// Train a model on a CSV file and record everything as a run
    Train(Box<train::TrainArgs>),
    /// Predict a CSV file with a model (runs:/ID/model, models:/NAME@ALIAS, a folder, ...)
    Predict(predict::PredictArgs),
    /// Register a model version (from a run, a logged model or a folder)
    Register(registry::RegisterArgs),
    /// Registered models and their versions, tags and descriptions
    #[command(subcommand, alias = "model")]
    Models(models::ModelsCommand),
    /// Aliases of a registered model (set, list, delete, history)
    #[command(subcommand)]
    Alias(registry::AliasCommand),
    /// Move an alias back to the version it pointed at before (or --to a version)
    Rollback(registry::RollbackArgs),
    /// Serve a model over HTTP (MLflow's scoring protocol plus predict/retrain/rollback endpoints)
    Serve(Box<serve::ServeArgs>),
    /// A web page to browse experiments, compare runs with charts and manage the registry
    Ui(ui::UiArgs),
    /// Copy experiments, runs and registered models between stores (e.g. ./mlruns to an MLflow server)
    Sync(sync::SyncArgs),
    /// Check a store for what would break MLflow or mlx, and repair what is safe with --fix
    Doctor(maintenance::DoctorArgs),
    /// Permanently remove deleted runs and experiments (as `mlflow gc`)
    Gc(maintenance::GcArgs),
    /// Same as `mlx runs compare`
    Compare(compare::CompareArgs),
    /// Show the settings in effect and where each came from
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Workloads for the benchmark scripts in bench/
    #[command(subcommand, hide = true)]
    Bench(bench::BenchCommand),
}

/// A check ran and failed: a CI gate, `--require`, `doctor` findings, a failed sweep child.
pub const EXIT_CHECK_FAILED: u8 = 1;
/// An error: bad input, a store or server that cannot be read, a usage error (clap's own code is 2 too).
pub const EXIT_ERROR: u8 = 2;

/// Entry point of the binary: parse, run, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let (format, predict_output) = match (&cli.command, cli.output) {
        (Command::Predict(_), o) => (None, o),
        (_, None) => (None, None),
        (_, Some(OutputArg::Format(f))) => (Some(f), None),
        (_, Some(OutputArg::File(p))) => {
            use clap::CommandFactory;
            Cli::command()
                .error(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "--output: '{}' is a file name, not a format; only `mlx predict` writes to a file (--output-file)",
                        p.display()
                    ),
                )
                .exit();
        }
    };
    if let Some(path) = cli.ca_cert {
        crate::store::rest::http::set_ca_cert(path);
    }
    let settings = Settings::resolve(cli.tracking_uri, format)?;
    match cli.command {
        Command::Experiments(c) => experiments::exec(&settings, c),
        Command::Log(c) => log::exec(&settings, c),
        Command::Runs(c) => runs::exec(&settings, c),
        Command::Config(c) => config::exec(&settings, c),
        Command::Train(args) => train::exec(&settings, *args),
        Command::Run(args) => run::exec(&settings, args),
        Command::Compare(args) => compare::exec(&settings, args),
        Command::Register(args) => registry::register(&settings, args),
        Command::Doctor(args) => maintenance::doctor(&settings, args),
        Command::Gc(args) => maintenance::gc(&settings, args),
        Command::Serve(args) => serve::exec(&settings, *args),
        Command::Models(c) => models::exec(&settings, c),
        Command::Alias(c) => registry::alias(&settings, c),
        Command::Rollback(args) => registry::rollback_cmd(&settings, args),
        Command::Predict(args) => predict::exec(&settings, args, predict_output),
        Command::Bench(c) => bench::exec(&settings, c),
        Command::Sync(args) => sync::exec(&settings, args),
        Command::Ui(args) => ui::exec(&settings, args),
    }
}

/// The error and its causes on one line: `what: why: root cause`.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let io = match c.downcast_ref::<crate::output::runs::ListError>() {
            Some(crate::output::runs::ListError::Io(io)) => Some(io),
            _ => c.downcast_ref::<std::io::Error>(),
        };
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
