//! `mlx runs list`: the columns (queried metrics, the most common ones, `--columns`) and the listing in
//! every output format, and the JSON shape of one run.

use crate::ops::compare::fmt_value;
use crate::output::{self, Listing, OutputFormat};
use crate::search::Query;
use crate::store::entities::{Run, serialize_float};
use crate::timefmt;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// One run in `runs list --output json` (a stable, documented shape).
#[derive(Serialize)]
pub(super) struct RunSummary<'a> {
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
pub(super) struct Float(#[serde(serialize_with = "serialize_float")] f64);

pub(super) fn summary(r: &Run) -> RunSummary<'_> {
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

/// A column of `runs list` after the run's own: a metric, a param or a tag.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Column {
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
pub(super) fn parse_columns(specs: &[String]) -> Result<Vec<Column>> {
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
pub(super) fn query_metrics(query: &Query) -> Vec<String> {
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
pub(super) fn default_columns(
    format: OutputFormat,
    runs: &[Run],
    queried: &[String],
) -> Vec<Column> {
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
pub(super) fn key_metrics(runs: &[Run], n: usize) -> Vec<String> {
    let lists = runs
        .iter()
        .map(|r| r.data.metrics.keys().cloned().collect())
        .collect();
    crate::store::most_common(lists, n)
}

pub(super) fn print_list(
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
