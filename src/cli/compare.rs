//! `mlx runs compare` (also `mlx compare`): runs side by side with deltas against a baseline, and CI gates
//! (`--fail-if-worse`, `--require`), as `ops::compare` decides them.

use crate::ops::compare::{CompareReport, CompareRequest};
use crate::ops::{OpsError, Outcome};
use crate::output::fmt_value;
use crate::output::{self, Listing};
use crate::settings::Settings;
use crate::store::entities::{Run, float_json};
use crate::timefmt;
use anyhow::Result;
use clap::Args;
use std::collections::BTreeSet;
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

fn label(r: &Run) -> String {
    format!(
        "{} ({})",
        &r.info.run_id[..8.min(r.info.run_id.len())],
        r.info.run_name
    )
}

pub fn exec(settings: &Settings, args: CompareArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let req = CompareRequest {
        runs: args.runs,
        experiments: args.experiment,
        filter: args.filter,
        by: args.by,
        top: args.top,
        asc: args.asc,
        baseline: args.baseline,
        candidate: args.candidate,
        fail_if_worse: args.fail_if_worse,
        tolerance: args.tolerance,
        require: args.require,
    };
    let report = match crate::ops::compare::compare(store.as_ref(), &req) {
        Ok(r) => r,
        Err(OpsError::Query(e)) => return Ok(super::report_parse_error(&e)),
        Err(e) => return Err(e.into()),
    };
    let (listing, json) = render(&report, args.all_params);
    output::print(settings.output_format(), &listing, &json)?;
    for v in &report.verdicts {
        eprintln!("{}", v.text);
    }
    Ok(match report.outcome() {
        Outcome::Passed => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::from(super::EXIT_CHECK_FAILED),
    })
}

/// The table (metrics with deltas and the best marked `*`, differing params, a few tags, status,
/// duration) and the JSON document of a comparison.
fn render(report: &CompareReport, all_params: bool) -> (Listing, serde_json::Value) {
    let runs = &report.runs;
    let mut headers = vec!["".to_string()];
    headers.extend(runs.iter().map(label));
    let mut listing = Listing {
        headers,
        rows: Vec::new(),
    };
    let mut json_metrics = serde_json::Map::new();
    for m in &report.metrics {
        let base_v = m.values[0];
        let mut row = vec![format!("metric {}", m.key)];
        for (i, v) in m.values.iter().enumerate() {
            row.push(match v {
                None => "-".into(),
                Some(v) => {
                    let mut s = fmt_value(*v);
                    if i > 0
                        && let Some(b) = base_v
                    {
                        s.push_str(&format!(" ({:+.4})", v - b));
                    }
                    if m.best == Some(*v) && runs.len() > 1 {
                        s.push_str(" *");
                    }
                    s
                }
            });
        }
        listing.rows.push(row);
        json_metrics.insert(m.key.clone(), serde_json::json!({
            // Numbers as numbers (NaN and infinities as MLflow's strings), alike in values, deltas and best.
            "values": m.values.iter().map(|v| v.map(float_json)).collect::<Vec<_>>(),
            "deltas": m.values.iter().map(|v| match (v, base_v) { (Some(v), Some(b)) => Some(float_json(v - b)), _ => None }).collect::<Vec<_>>(),
            "best": m.best.map(float_json),
        }));
    }
    let param_keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.params.keys()).collect();
    for key in param_keys {
        let values: Vec<Option<&String>> = runs.iter().map(|r| r.data.params.get(key)).collect();
        if !all_params && values.iter().all(|v| *v == values[0]) {
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
    let json = serde_json::json!({
        "runs": runs.iter().map(|r| serde_json::json!({
            "run_id": r.info.run_id, "run_name": r.info.run_name, "status": r.info.status.as_str(),
            "params": r.data.params, "duration_ms": r.info.duration_ms()})).collect::<Vec<_>>(),
        "baseline": runs[0].info.run_id,
        "metrics": json_metrics,
        "verdicts": report.verdicts.iter().map(|v| &v.text).collect::<Vec<_>>(),
        "passed": report.outcome() == Outcome::Passed,
    });
    (listing, json)
}
