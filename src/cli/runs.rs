//! `mlx runs list|show|delete|restore`.

use crate::output::{self, Listing, OutputFormat};
use crate::search::Query;
use crate::settings::Settings;
use crate::store::entities::{Run, ViewType, serialize_float};
use crate::store::{Fields, Projection, TrackingStore, resolve_experiment};
use crate::timefmt;
use anyhow::{Context, Result};
use clap::Subcommand;
use serde::Serialize;
use std::collections::BTreeMap;
use std::process::ExitCode;

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
    Diff(super::compare::DiffArgs),
    /// Plot metric histories (PNG and SVG), or a metric against a param across runs
    Plot(super::plot::PlotArgs),
    /// Mark a run deleted (restorable until garbage-collected)
    Delete { run_id: String },
    /// Restore a deleted run
    Restore { run_id: String },
}

/// One run in `runs list --output json` (a stable, documented shape).
#[derive(Serialize)]
struct RunSummary<'a> {
    run_id: &'a str,
    run_name: &'a str,
    experiment_id: &'a str,
    status: &'a str,
    lifecycle_stage: &'a str,
    user_id: &'a str,
    start_time: i64,
    end_time: Option<i64>,
    duration_ms: Option<i64>,
    artifact_uri: &'a str,
    metrics: BTreeMap<&'a str, Float>,
    params: &'a BTreeMap<String, String>,
    tags: &'a BTreeMap<String, String>,
}

#[derive(Serialize, Clone, Copy)]
struct Float(#[serde(serialize_with = "serialize_float")] f64);

fn summary(r: &Run) -> RunSummary<'_> {
    RunSummary {
        run_id: &r.info.run_id,
        run_name: &r.info.run_name,
        experiment_id: &r.info.experiment_id,
        status: r.info.status.as_str(),
        lifecycle_stage: r.info.lifecycle_stage.as_str(),
        user_id: &r.info.user_id,
        start_time: r.info.start_time,
        end_time: r.info.end_time,
        duration_ms: r.info.duration_ms(),
        artifact_uri: &r.info.artifact_uri,
        metrics: r
            .data
            .metrics
            .iter()
            .map(|(k, p)| (k.as_str(), Float(p.value)))
            .collect(),
        params: &r.data.params,
        tags: &r.data.tags,
    }
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
            let mut queried = Vec::new();
            let runs = if filter.is_some() || !order_by.is_empty() {
                let query = match Query::parse(filter.as_deref(), &order_by) {
                    Ok(q) => q,
                    Err(e) => return Ok(report_parse_error(&e)),
                };
                queried = query_metrics(&query);
                query.run(store, &ids, view, max)?
            } else if !columns.is_empty() {
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
            let columns = if columns.is_empty() {
                default_columns(format, &runs, &queried)
            } else {
                columns
            };
            print_list(format, &runs, ids.len() > 1, &columns)?;
        }
        RunsCommand::Compare(args) => return super::compare::exec(settings, args),
        RunsCommand::Diff(args) => return super::compare::diff(settings, args),
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

/// Print a filter/order-by error with a caret under the column; exit code 2 (bad input).
pub fn report_parse_error(e: &crate::search::QueryError) -> ExitCode {
    eprintln!("error: invalid {}: {}", e.what, e.error);
    eprintln!("{}", e.error.pointer());
    ExitCode::from(super::EXIT_ERROR)
}

/// The experiments named, or every active one.
pub fn experiment_ids(store: &dyn TrackingStore, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(store
            .list_experiments(ViewType::ActiveOnly)?
            .into_iter()
            .map(|e| e.experiment_id)
            .collect());
    }
    names
        .iter()
        .map(|n| Ok(resolve_experiment(store, n)?.experiment_id))
        .collect()
}

/// A column of `runs list` after the run's own: a metric, a param or a tag.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Metric(String),
    Param(String),
    Tag(String),
}

impl Column {
    fn header(&self) -> String {
        match self {
            // Metric headers stay bare, as before: most listings show only metrics.
            Column::Metric(k) => k.clone(),
            Column::Param(k) => format!("params.{k}"),
            Column::Tag(k) => format!("tags.{k}"),
        }
    }
}

/// `--columns metrics.roc_auc,params.C,tags.team` (MLflow's prefixes, singular forms too).
fn parse_columns(specs: &[String]) -> Result<Vec<Column>> {
    specs
        .iter()
        .map(|spec| {
            let (kind, key) = spec.split_once('.').unwrap_or(("", spec));
            let key = key.trim_matches('`').to_string();
            match kind {
                _ if key.is_empty() => None,
                "metrics" | "metric" => Some(Column::Metric(key)),
                "params" | "param" => Some(Column::Param(key)),
                "tags" | "tag" => Some(Column::Tag(key)),
                _ => None,
            }
            .with_context(|| {
                format!("--columns: '{spec}' is not metrics.KEY, params.KEY or tags.KEY")
            })
        })
        .collect()
}

/// The metrics a query filters or sorts on, sort keys first.
fn query_metrics(query: &Query) -> Vec<String> {
    let mut parts: Vec<crate::search::Needed> = query
        .order_by
        .iter()
        .map(|o| {
            let mut n = crate::search::Needed::default();
            n.add_key(&o.key);
            n
        })
        .collect();
    if let Some(e) = &query.filter {
        let mut n = crate::search::Needed::default();
        n.add_expr(e);
        parts.push(n);
    }
    let mut out: Vec<String> = Vec::new();
    for name in parts.into_iter().flat_map(|n| n.metrics) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Without --columns: the metrics the query names, then the most common ones (four in a table).
fn default_columns(format: OutputFormat, runs: &[Run], queried: &[String]) -> Vec<Column> {
    let n = match format {
        OutputFormat::Table | OutputFormat::Markdown => 4,
        _ => usize::MAX,
    };
    let mut keys = queried.to_vec();
    for k in key_metrics(runs, n) {
        if keys.len() >= n.max(queried.len()) {
            break;
        }
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter().map(Column::Metric).collect()
}

/// Metric keys shown as table columns: the most common ones, at most `n`.
fn key_metrics(runs: &[Run], n: usize) -> Vec<String> {
    let lists = runs
        .iter()
        .map(|r| r.data.metrics.keys().cloned().collect())
        .collect();
    crate::store::most_common(lists, n)
}

pub(super) fn fmt_value(v: f64) -> String {
    if v.is_finite() && v.fract() != 0.0 {
        format!("{v:.4}")
    } else {
        format!("{v}")
    }
}

fn print_list(
    format: OutputFormat,
    runs: &[Run],
    show_experiment: bool,
    columns: &[Column],
) -> Result<()> {
    let mut headers = vec!["run id", "name"];
    if show_experiment || format != OutputFormat::Table {
        headers.push("experiment id");
    }
    headers.extend(["status", "start", "duration"]);
    let mut listing = Listing::new(&headers);
    listing.headers.extend(columns.iter().map(Column::header));
    for r in runs {
        let mut row = vec![r.info.run_id.clone(), r.info.run_name.clone()];
        if show_experiment || format != OutputFormat::Table {
            row.push(r.info.experiment_id.clone());
        }
        row.push(r.info.status.as_str().into());
        row.push(timefmt::datetime(r.info.start_time));
        row.push(
            r.info
                .duration_ms()
                .map(timefmt::duration)
                .unwrap_or_else(|| "-".into()),
        );
        for c in columns {
            row.push(
                match c {
                    Column::Metric(k) => r.data.metrics.get(k).map(|p| match format {
                        OutputFormat::Table => fmt_value(p.value),
                        _ => crate::store::metric_file::format_value(p.value),
                    }),
                    Column::Param(k) => r.data.params.get(k).cloned(),
                    Column::Tag(k) => r.data.tags.get(k).cloned(),
                }
                .unwrap_or_default(),
            );
        }
        listing.rows.push(row);
    }
    let json: Vec<RunSummary> = runs.iter().map(summary).collect();
    output::print(format, &listing, &json)?;
    Ok(())
}

#[derive(Serialize)]
struct MetricSummary {
    #[serde(serialize_with = "serialize_float")]
    latest: f64,
    step: i64,
    points: usize,
    #[serde(serialize_with = "serialize_float")]
    min: f64,
    #[serde(serialize_with = "serialize_float")]
    max: f64,
    first_step: i64,
    last_step: i64,
    #[serde(skip)]
    spark: String,
}

fn show(format: OutputFormat, store: &dyn TrackingStore, run: &Run) -> Result<()> {
    let id = &run.info.run_id;
    let mut metrics = BTreeMap::new();
    for (key, latest) in &run.data.metrics {
        let hist = store.metric_history(id, key)?;
        let values = hist.iter().map(|p| p.value).filter(|v| !v.is_nan());
        metrics.insert(
            key.clone(),
            MetricSummary {
                latest: latest.value,
                step: latest.step,
                points: hist.len(),
                min: values.clone().fold(f64::INFINITY, f64::min),
                max: values.fold(f64::NEG_INFINITY, f64::max),
                first_step: hist.iter().map(|p| p.step).min().unwrap_or(0),
                last_step: hist.iter().map(|p| p.step).max().unwrap_or(0),
                spark: if hist.len() > 1 {
                    let mut by_step: Vec<(i64, i64, f64)> = hist
                        .iter()
                        .map(|p| (p.step, p.timestamp, p.value))
                        .collect();
                    by_step.sort_by_key(|p| (p.0, p.1));
                    let values: Vec<f64> = by_step.iter().map(|p| p.2).collect();
                    // At most 40 characters: sample evenly.
                    let n = values.len();
                    let picked: Vec<f64> =
                        (0..n.min(40)).map(|i| values[i * n / n.min(40)]).collect();
                    crate::ml::plots::sparkline(&picked)
                } else {
                    String::new()
                },
            },
        );
    }
    let artifacts = crate::store::list_artifact_files(store, id)?;
    if format == OutputFormat::Json {
        let doc = serde_json::json!({
            "info": summary(run),
            "metrics": metrics,
            "params": run.data.params,
            "tags": run.data.tags,
            "inputs": run.inputs,
            "outputs": run.outputs,
            "artifacts": artifacts,
        });
        output::print_json(&mut std::io::stdout().lock(), &doc)?;
        return Ok(());
    }
    let mut info = Listing::new(&["field", "value"]);
    let mut add = |k: &str, v: String| info.rows.push(vec![k.into(), v]);
    add("run id", id.clone());
    add("name", run.info.run_name.clone());
    add("experiment id", run.info.experiment_id.clone());
    add("status", run.info.status.as_str().into());
    add("lifecycle", run.info.lifecycle_stage.as_str().into());
    add("user", run.info.user_id.clone());
    add("start", timefmt::datetime(run.info.start_time));
    add(
        "end",
        run.info
            .end_time
            .map(timefmt::datetime)
            .unwrap_or("-".into()),
    );
    add(
        "duration",
        run.info
            .duration_ms()
            .map(timefmt::duration)
            .unwrap_or("-".into()),
    );
    add("artifact uri", run.info.artifact_uri.clone());
    for d in &run.inputs {
        add(
            "dataset",
            format!(
                "{} (digest {}, {}{})",
                d.name,
                d.digest,
                d.source_type,
                d.context
                    .as_deref()
                    .map(|c| format!(", {c}"))
                    .unwrap_or_default()
            ),
        );
    }
    for m in &run.outputs {
        add("logged model", m.clone());
    }
    let mut text = output::table(&info.headers, &info.rows);
    if !metrics.is_empty() {
        let rows: Vec<Vec<String>> = metrics
            .iter()
            .map(|(k, m)| {
                vec![
                    k.clone(),
                    fmt_value(m.latest),
                    m.step.to_string(),
                    m.points.to_string(),
                    fmt_value(m.min),
                    fmt_value(m.max),
                    m.spark.clone(),
                ]
            })
            .collect();
        let headers: Vec<String> = [
            "metric", "latest", "step", "points", "min", "max", "history",
        ]
        .map(String::from)
        .to_vec();
        text.push_str("\n\n");
        text.push_str(&output::table(&headers, &rows));
    }
    for (title, map) in [("param", &run.data.params), ("tag", &run.data.tags)] {
        if map.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = map
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        text.push_str("\n\n");
        text.push_str(&output::table(&[title.to_string(), "value".into()], &rows));
    }
    if !artifacts.is_empty() {
        let rows: Vec<Vec<String>> = artifacts
            .iter()
            .map(|a| {
                vec![
                    a.path.clone(),
                    a.file_size.map(|s| s.to_string()).unwrap_or_default(),
                ]
            })
            .collect();
        text.push_str("\n\n");
        text.push_str(&output::table(&["artifact".into(), "bytes".into()], &rows));
    }
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}
