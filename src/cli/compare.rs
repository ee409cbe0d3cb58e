//! `mlx runs compare` (also `mlx compare`): runs side by side with deltas against a baseline, and CI gates
//! (`--fail-if-worse`, `--require`); `mlx runs diff A B`.

use super::runs::{experiment_ids, fmt_value, report_parse_error};
use crate::output::{self, Listing, OutputFormat};
use crate::search::Query;
use crate::settings::Settings;
use crate::store::TrackingStore;
use crate::store::entities::float_json;
use crate::store::entities::{Run, ViewType};
use crate::timefmt;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

#[derive(Args)]
pub struct CompareArgs {
    /// Runs to compare, in this order [default: the top runs of the experiments by --by]
    runs: Vec<String>,
    /// Experiment name or id (repeatable) [default: every active experiment]
    #[arg(long, short = 'e')]
    experiment: Vec<String>,
    /// Only runs matching this filter (MLflow's grammar)
    #[arg(long)]
    filter: Option<String>,
    /// The metric that ranks runs and decides the gate
    #[arg(long, value_name = "METRIC")]
    by: Option<String>,
    /// How many runs to pick when none are named
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Lower is better for --by [default: yes for names like loss, error, rmse, mae, mse]
    #[arg(long)]
    asc: bool,
    /// The run others are compared with: a run id or a model URI such as models:/NAME@Champion
    /// [default: the first run]
    #[arg(long)]
    baseline: Option<String>,
    /// The run under test (with --baseline; for --fail-if-worse and --require)
    #[arg(long)]
    candidate: Option<String>,
    /// Exit 1 when the candidate is worse than the baseline on --by (beyond --tolerance)
    #[arg(long, requires = "by")]
    fail_if_worse: bool,
    /// How much worse the candidate may be before --fail-if-worse fails
    #[arg(long, default_value_t = 0.0)]
    tolerance: f64,
    /// A threshold the candidate must meet, e.g. "accuracy>=0.8" (repeatable)
    #[arg(long, value_name = "METRIC OP NUMBER")]
    require: Vec<String>,
    /// Show every param, not only those that differ
    #[arg(long)]
    all_params: bool,
}

/// A run id, or the run behind a model URI (`models:/NAME@ALIAS`, `models:/NAME/3`, `runs:/ID/...`).
fn resolve_run(store: &dyn TrackingStore, spec: &str) -> Result<Run> {
    let run_id = if let Some(rest) = spec.strip_prefix("runs:/") {
        rest.split('/').next().unwrap_or(rest).to_string()
    } else if spec.starts_with("models:/") {
        let v = store
            .resolve_model_version(spec)
            .with_context(|| format!("cannot resolve {spec}"))?;
        v.run_id
            .with_context(|| format!("{spec} (version {}) has no source run", v.version))?
    } else {
        spec.to_string()
    };
    Ok(store.get_run(&run_id)?)
}

/// A threshold: `accuracy>=0.8`.
fn parse_requirement(text: &str) -> Result<(String, &'static str, f64)> {
    for op in [">=", "<=", "!=", "==", ">", "<", "="] {
        if let Some((metric, value)) = text.split_once(op) {
            let value: f64 = value.trim().parse().with_context(|| {
                format!("--require '{text}': '{}' is not a number", value.trim())
            })?;
            let op = match op {
                "==" => "=",
                ">=" => ">=",
                "<=" => "<=",
                "!=" => "!=",
                ">" => ">",
                "<" => "<",
                _ => "=",
            };
            return Ok((
                metric.trim().trim_start_matches("metrics.").to_string(),
                op,
                value,
            ));
        }
    }
    bail!("--require '{text}' is not METRIC OP NUMBER (e.g. accuracy>=0.8)")
}

fn holds(value: f64, op: &str, threshold: f64) -> bool {
    match op {
        ">=" => value >= threshold,
        "<=" => value <= threshold,
        ">" => value > threshold,
        "<" => value < threshold,
        "!=" => value != threshold,
        _ => value == threshold,
    }
}

fn label(r: &Run) -> String {
    format!(
        "{} ({})",
        &r.info.run_id[..8.min(r.info.run_id.len())],
        r.info.run_name
    )
}

pub fn exec(settings: &Settings, args: CompareArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let minimize = args.asc
        || args
            .by
            .as_deref()
            .is_some_and(crate::search::lower_is_better);
    let baseline = args
        .baseline
        .as_deref()
        .map(|b| resolve_run(store, b))
        .transpose()?;
    let mut runs: Vec<Run> = if let Some(c) = &args.candidate {
        vec![resolve_run(store, c)?]
    } else if !args.runs.is_empty() {
        args.runs
            .iter()
            .map(|r| resolve_run(store, r))
            .collect::<Result<_>>()?
    } else {
        let order: Vec<String> = args
            .by
            .iter()
            .map(|m| format!("metrics.`{m}` {}", if minimize { "ASC" } else { "DESC" }))
            .collect();
        let query = match Query::parse(args.filter.as_deref(), &order) {
            Ok(q) => q,
            Err(e) => return Ok(report_parse_error(&e)),
        };
        let ids = experiment_ids(store, &args.experiment)?;
        query.run(store, &ids, ViewType::ActiveOnly, Some(args.top))?
    };
    if let Some(b) = &baseline {
        runs.retain(|r| r.info.run_id != b.info.run_id);
        runs.insert(0, b.clone());
    }
    if runs.is_empty() {
        bail!("no runs to compare");
    }
    let base = &runs[0];

    // Rows: metrics, then differing params, tags of interest, status and duration.
    let metric_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.metrics.keys()).collect();
    let mut metric_order: Vec<&String> = metric_keys.into_iter().collect();
    if let Some(by) = &args.by
        && let Some(i) = metric_order.iter().position(|k| *k == by)
    {
        let k = metric_order.remove(i);
        metric_order.insert(0, k);
    }
    let mut headers = vec!["".to_string()];
    headers.extend(runs.iter().map(label));
    let mut listing = Listing {
        headers,
        rows: Vec::new(),
    };
    let mut json_metrics = BTreeMap::new();
    for key in &metric_order {
        let values: Vec<Option<f64>> = runs
            .iter()
            .map(|r| r.data.metrics.get(*key).map(|p| p.value))
            .collect();
        let lower = if args.by.as_deref() == Some(key.as_str()) {
            minimize
        } else {
            crate::search::lower_is_better(key)
        };
        let best = values
            .iter()
            .flatten()
            .filter(|v| !v.is_nan())
            .copied()
            .fold(None::<f64>, |b, v| {
                Some(match b {
                    None => v,
                    Some(b) if (lower && v < b) || (!lower && v > b) => v,
                    Some(b) => b,
                })
            });
        let base_v = values[0];
        let mut row = vec![format!("metric {key}")];
        for (i, v) in values.iter().enumerate() {
            row.push(match v {
                None => "-".into(),
                Some(v) => {
                    let mut s = fmt_value(*v);
                    if i > 0
                        && let Some(b) = base_v
                    {
                        s.push_str(&format!(" ({:+.4})", v - b));
                    }
                    if best == Some(*v) && runs.len() > 1 {
                        s.push_str(" *");
                    }
                    s
                }
            });
        }
        listing.rows.push(row);
        json_metrics.insert(key.to_string(), serde_json::json!({
            // Numbers as numbers (NaN and infinities as MLflow's strings), alike in values, deltas and best.
            "values": values.iter().map(|v| v.map(float_json)).collect::<Vec<_>>(),
            "deltas": values.iter().map(|v| match (v, base_v) { (Some(v), Some(b)) => Some(float_json(v - b)), _ => None }).collect::<Vec<_>>(),
            "best": best.map(float_json),
        }));
    }
    let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.params.keys()).collect();
    for key in param_keys {
        let values: Vec<Option<&String>> = runs.iter().map(|r| r.data.params.get(key)).collect();
        if !args.all_params && values.iter().all(|v| *v == values[0]) {
            continue;
        }
        let mut row = vec![format!("param {key}")];
        row.extend(
            values
                .iter()
                .map(|v| v.cloned().unwrap_or_else(|| "-".into())),
        );
        listing.rows.push(row);
    }
    for tag in ["estimator", "mlflow.source.git.commit", "mlflow.user"] {
        if runs.iter().any(|r| r.data.tags.contains_key(tag)) {
            let mut row = vec![format!("tag {tag}")];
            row.extend(
                runs.iter()
                    .map(|r| r.data.tags.get(tag).cloned().unwrap_or_else(|| "-".into())),
            );
            listing.rows.push(row);
        }
    }
    let mut row = vec!["status".to_string()];
    row.extend(runs.iter().map(|r| r.info.status.as_str().to_string()));
    listing.rows.push(row);
    let mut row = vec!["duration".to_string()];
    row.extend(runs.iter().map(|r| {
        r.info
            .duration_ms()
            .map(timefmt::duration)
            .unwrap_or("-".into())
    }));
    listing.rows.push(row);

    // Gates.
    let mut verdicts = Vec::new();
    let mut failed = false;
    let candidate = if args.candidate.is_some() {
        runs.last()
    } else {
        runs.get(1).or(runs.first())
    };
    if args.fail_if_worse {
        let metric = args.by.as_deref().expect("clap requires --by");
        let Some(cand) = candidate.filter(|c| c.info.run_id != base.info.run_id) else {
            bail!(
                "--fail-if-worse needs a candidate and a different baseline (--candidate RUN --baseline RUN|URI)"
            );
        };
        let get = |r: &Run| r.data.metrics.get(metric).map(|p| p.value);
        match (get(cand), get(base)) {
            (Some(c), Some(b)) => {
                let worse_by = if minimize { c - b } else { b - c };
                if worse_by > args.tolerance || c.is_nan() {
                    failed = true;
                    verdicts.push(format!(
                        "FAIL: {metric} {} of run {} is worse than the baseline's {} (run {}) by {:.4} (tolerance {})",
                        fmt_value(c), cand.info.run_id, fmt_value(b), base.info.run_id, worse_by, args.tolerance
                    ));
                } else {
                    verdicts.push(format!(
                        "PASS: {metric} {} of run {} vs the baseline's {} (run {})",
                        fmt_value(c),
                        cand.info.run_id,
                        fmt_value(b),
                        base.info.run_id
                    ));
                }
            }
            (None, _) => {
                failed = true;
                verdicts.push(format!(
                    "FAIL: run {} has no metric '{metric}'",
                    cand.info.run_id
                ));
            }
            (_, None) => bail!(
                "the baseline run {} has no metric '{metric}'",
                base.info.run_id
            ),
        }
    }
    for req in &args.require {
        let (metric, op, threshold) = parse_requirement(req)?;
        let Some(cand) = candidate else {
            bail!("--require needs a run")
        };
        match cand.data.metrics.get(&metric).map(|p| p.value) {
            Some(v) if holds(v, op, threshold) => {
                verdicts.push(format!(
                    "PASS: {metric} {} {op} {threshold} (run {})",
                    fmt_value(v),
                    cand.info.run_id
                ));
            }
            Some(v) => {
                failed = true;
                verdicts.push(format!(
                    "FAIL: {metric} {} is not {op} {threshold} (run {})",
                    fmt_value(v),
                    cand.info.run_id
                ));
            }
            None => {
                failed = true;
                verdicts.push(format!(
                    "FAIL: run {} has no metric '{metric}'",
                    cand.info.run_id
                ));
            }
        }
    }

    let json = serde_json::json!({
        "runs": runs.iter().map(|r| serde_json::json!({
            "run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status.as_str(),
            "params": r.data.params, "duration_ms": r.info.duration_ms()})).collect::<Vec<_>>(),
        "baseline": base.info.run_id,
        "metrics": json_metrics,
        "verdicts": verdicts,
        "passed": !failed,
    });
    output::print(settings.output_format(), &listing, &json)?;
    for v in &verdicts {
        eprintln!("{v}");
    }
    Ok(if failed {
        ExitCode::from(super::EXIT_CHECK_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args)]
pub struct DiffArgs {
    a: String,
    b: String,
}

/// `mlx runs diff A B`: what differs between two runs.
pub fn diff(settings: &Settings, args: DiffArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let a = resolve_run(store, &args.a)?;
    let b = resolve_run(store, &args.b)?;
    let mut listing = Listing::new(&["what", "key", "A", "B"]);
    let mut json = serde_json::Map::new();
    let mut section = |what: &str, ma: BTreeMap<String, String>, mb: BTreeMap<String, String>| {
        let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
        let mut changes = Vec::new();
        for k in keys {
            let (va, vb) = (ma.get(k), mb.get(k));
            if va != vb {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".into());
                listing
                    .rows
                    .push(vec![what.into(), k.clone(), show(va), show(vb)]);
                changes.push(serde_json::json!({"key": k, "a": va, "b": vb}));
            }
        }
        json.insert(what.to_string(), serde_json::Value::Array(changes));
    };
    let metrics = |r: &Run| -> BTreeMap<String, String> {
        r.data
            .metrics
            .iter()
            .map(|(k, p)| (k.clone(), crate::store::metric_file::format_value(p.value)))
            .collect()
    };
    section("param", a.data.params.clone(), b.data.params.clone());
    section("metric", metrics(&a), metrics(&b));
    let tags = |r: &Run| -> BTreeMap<String, String> {
        r.data
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != "mlflow.runName")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    section("tag", tags(&a), tags(&b));
    let datasets = |r: &Run| -> BTreeMap<String, String> {
        r.inputs
            .iter()
            .map(|d| (d.name.clone(), d.digest.clone()))
            .collect()
    };
    section("dataset digest", datasets(&a), datasets(&b));
    let artifacts = |r: &Run| -> Result<BTreeMap<String, String>> {
        Ok(crate::store::list_artifact_files(store, &r.info.run_id)?
            .into_iter()
            .map(|e| (e.path, format!("{} bytes", e.file_size.unwrap_or(0))))
            .collect())
    };
    section("artifact", artifacts(&a)?, artifacts(&b)?);
    let format = settings.output_format();
    if format == OutputFormat::Table {
        // Long values (commands, notes) would make the table unreadable; JSON has them whole.
        for row in &mut listing.rows {
            for cell in row.iter_mut().skip(2) {
                if cell.chars().count() > 60 {
                    *cell = cell.chars().take(57).collect::<String>() + "...";
                }
            }
        }
    }
    if listing.rows.is_empty() && format == OutputFormat::Table {
        println!("runs {} and {} do not differ", a.info.run_id, b.info.run_id);
        return Ok(ExitCode::SUCCESS);
    }
    output::print(format, &listing, &json)?;
    Ok(ExitCode::SUCCESS)
}
