//! `mlx runs list|show|delete|restore`.

use super::report_parse_error;
use super::runs_list::{parse_columns, query_metrics};
use super::runs_show::show;
use crate::ops::experiment_ids;
use crate::output::OutputFormat;
use crate::output::runs::{ListStyle, print_pages};
use crate::search::Query;
use crate::settings::Settings;
use crate::store::entities::ViewType;
use crate::store::{Fields, Projection};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::process::ExitCode;

/// Runs per page when `runs list` streams a server's answer: a small first page (the first rows show
/// sooner), then larger ones (fewer round trips).
const FIRST_PAGE: usize = 100;
const LIST_PAGE: usize = 1000;

#[derive(Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first, or those matching --filter in --order-by order
    #[command(alias = "ls", alias = "search")]
    List {
        /// Experiment name or id (repeatable) [default: every active experiment]
        #[arg(long, short = 'e', alias = "experiment-id")]
        experiment: Vec<String>,
        /// Every active experiment (the default without --experiment)
        #[arg(long, conflicts_with = "experiment")]
        all_experiments: bool,
        /// MLflow search filter, e.g. "metrics.accuracy > 0.8 AND params.model = 'rf'" (also OR, NOT, parentheses)
        #[arg(long)]
        filter: Option<String>,
        /// Sort key, e.g. "metrics.accuracy DESC" (repeatable; the first is the primary key)
        #[arg(long = "order-by", value_name = "KEY [ASC|DESC]")]
        order_by: Vec<String>,
        /// At most N runs
        #[arg(long, value_name = "N", alias = "max-results")]
        max: Option<usize>,
        /// Include deleted runs
        #[arg(long, conflicts_with = "deleted")]
        all: bool,
        /// Only deleted runs
        #[arg(long)]
        deleted: bool,
        /// Table/CSV columns after the run's own, e.g. metrics.roc_auc,params.C,tags.team [default: the
        /// metrics in --filter/--order-by, then the most common metrics]
        #[arg(long, value_delimiter = ',', value_name = "KEYS")]
        columns: Vec<String>,
    },
    /// Show everything about a run
    Show { run_id: String },
    /// Compare runs side by side (deltas against a baseline) and gate CI on a metric
    Compare(super::compare::CompareArgs),
    /// What differs between two runs: params, metrics, tags, dataset digests, artifacts
    Diff(super::runs_diff::DiffArgs),
    /// Plot metric histories (PNG and SVG), or a metric against a param across runs
    Plot(super::plot::PlotArgs),
    /// Mark a run deleted (restorable until garbage-collected)
    Delete { run_id: String },
    /// Restore a deleted run
    Restore { run_id: String },
}

pub fn exec(settings: &Settings, cmd: RunsCommand) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    match cmd {
        RunsCommand::List {
            experiment,
            all_experiments: _,
            filter,
            order_by,
            max,
            all,
            deleted,
            columns,
        } => {
            let columns = parse_columns(&super::trimmed(&columns))?;
            let view = if all {
                ViewType::All
            } else if deleted {
                ViewType::DeletedOnly
            } else {
                ViewType::ActiveOnly
            };
            let ids = experiment_ids(store, &experiment)?;
            let format = settings.output_format();
            let query = match Query::parse(filter.as_deref(), &order_by) {
                Ok(q) => q,
                Err(e) => return Ok(report_parse_error(&e)),
            };
            let queried = query_metrics(&query);
            let style = ListStyle {
                format,
                show_experiment: ids.len() > 1,
                columns,
                queried: &queried,
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            // Without --max, a tracking server's answer is printed page by page as it comes.
            if max.is_none()
                && let Some(mut pages) = query.pages(store, &ids, view, FIRST_PAGE)?
            {
                pages.set_page_size(LIST_PAGE);
                if let Some(note) = print_pages(style, pages, &mut out)? {
                    eprintln!("{note}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let runs = if query.filter.is_some() || !query.order_by.is_empty() {
                query.run(store, &ids, view, max)?
            } else if let Some(runs) = match max {
                // A tracking server sends just that page.
                Some(_) => query.run_on_server(store, &ids, view, max)?,
                None => None,
            } {
                runs
            } else if !style.columns.is_empty() {
                let mut runs = store.list_runs(&ids, view, &Projection::default())?;
                if let Some(max) = max {
                    runs.truncate(max);
                }
                runs
            } else {
                // Load only what the format shows.
                let projection = match format {
                    OutputFormat::Table | OutputFormat::Markdown => Projection {
                        metrics: Fields::MostCommon(4),
                        params: Fields::Nothing,
                        tags: Fields::Nothing,
                        io: false,
                    },
                    OutputFormat::Csv => Projection {
                        metrics: Fields::All,
                        params: Fields::Nothing,
                        tags: Fields::Nothing,
                        io: false,
                    },
                    OutputFormat::Json => Projection::default(),
                };
                let mut runs = store.list_runs(&ids, view, &projection)?;
                if let Some(max) = max {
                    runs.truncate(max);
                }
                runs
            };
            print_pages(style, [Ok(runs)], &mut out)?;
        }
        RunsCommand::Compare(args) => return super::compare::exec(settings, args),
        RunsCommand::Diff(args) => return super::runs_diff::diff(settings, args),
        RunsCommand::Plot(args) => return super::plot::exec(settings, args),
        RunsCommand::Show { run_id } => {
            let run = store.get_run(&run_id)?;
            show(settings.output_format(), store, &run)?;
        }
        RunsCommand::Delete { run_id } => {
            store
                .delete_run(&run_id)
                .with_context(|| format!("cannot delete run {run_id}"))?;
            eprintln!("Deleted run {run_id}");
            super::print_done(
                settings,
                serde_json::json!({"run_id": run_id, "lifecycle_stage": "deleted"}),
            )?;
        }
        RunsCommand::Restore { run_id } => {
            store
                .restore_run(&run_id)
                .with_context(|| format!("cannot restore run {run_id}"))?;
            eprintln!("Restored run {run_id}");
            super::print_done(
                settings,
                serde_json::json!({"run_id": run_id, "lifecycle_stage": "active"}),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
