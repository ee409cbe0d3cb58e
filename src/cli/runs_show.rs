//! `mlx runs show`: one run with its metric summaries (and sparklines), params, tags, inputs and artifacts.

use crate::output::fmt_value;
use crate::output::{self, Listing, OutputFormat};
use crate::store::TrackingStore;
use crate::store::entities::{ArtifactEntry, MetricPoint, Run, serialize_float};
use crate::timefmt;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::output::runs::summary;

#[derive(Serialize)]
pub(super) struct MetricSummary {
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

/// Print `run` as JSON (one document) or as tables: its fields, metrics, params, tags and artifacts.
pub(super) fn show(format: OutputFormat, store: &dyn TrackingStore, run: &Run) -> Result<()> {
    let id = &run.info.run_id;
    let metrics = metric_summaries(store, run)?;
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
    let mut tables = vec![info_table(run)];
    if !metrics.is_empty() {
        tables.push(metrics_table(&metrics));
    }
    for (title, map) in [("param", &run.data.params), ("tag", &run.data.tags)] {
        if !map.is_empty() {
            tables.push(key_value_table(title, map));
        }
    }
    if !artifacts.is_empty() {
        tables.push(artifacts_table(&artifacts));
    }
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{}", tables.join("\n\n"))?;
    Ok(())
}

/// Each of the run's metrics summarized over its whole history.
fn metric_summaries(
    store: &dyn TrackingStore,
    run: &Run,
) -> Result<BTreeMap<String, MetricSummary>> {
    let mut metrics = BTreeMap::new();
    for (key, latest) in &run.data.metrics {
        let hist = store.metric_history(&run.info.run_id, key)?;
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
                spark: history_sparkline(&hist),
            },
        );
    }
    Ok(metrics)
}

/// A metric's values in step order as a sparkline of at most 40 characters (sampled evenly); empty for
/// a single point.
fn history_sparkline(hist: &[MetricPoint]) -> String {
    if hist.len() <= 1 {
        return String::new();
    }
    let mut by_step: Vec<(i64, i64, f64)> = hist
        .iter()
        .map(|p| (p.step, p.timestamp, p.value))
        .collect();
    by_step.sort_by_key(|p| (p.0, p.1));
    let values: Vec<f64> = by_step.iter().map(|p| p.2).collect();
    let n = values.len();
    let picked: Vec<f64> = (0..n.min(40)).map(|i| values[i * n / n.min(40)]).collect();
    crate::ml::sparkline(&picked)
}

/// The run's own fields, its datasets and its logged models, one `field  value` row each.
fn info_table(run: &Run) -> String {
    let mut info = Listing::new(&["field", "value"]);
    let mut add = |k: &str, v: String| info.rows.push(vec![k.into(), v]);
    add("run id", run.info.run_id.clone());
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
    output::table(&info.headers, &info.rows)
}

/// One row per metric: latest value and step, points, min, max and the sparkline.
fn metrics_table(metrics: &BTreeMap<String, MetricSummary>) -> String {
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
    output::table(&headers, &rows)
}

/// Params or tags: a `TITLE  value` table.
fn key_value_table(title: &str, map: &BTreeMap<String, String>) -> String {
    let rows: Vec<Vec<String>> = map
        .iter()
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    output::table(&[title.to_string(), "value".into()], &rows)
}

/// The run's artifact files with their sizes.
fn artifacts_table(artifacts: &[ArtifactEntry]) -> String {
    let rows: Vec<Vec<String>> = artifacts
        .iter()
        .map(|a| {
            vec![
                a.path.clone(),
                a.file_size.map(|s| s.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["artifact".into(), "bytes".into()], &rows)
}
