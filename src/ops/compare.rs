//! Comparing runs and the CI gates: which runs, ranked how, each metric against the baseline, and the
//! verdicts of `--fail-if-worse` and `--require` (whose `METRIC OP NUMBER` is the search grammar's
//! comparison, evaluated by `search`). Also `runs diff A B`.

use super::{OpsError, Outcome, Result, experiment_ids, resolve_run};
use crate::search::{Comparison, Expr, KeyKind, Op, Query, Value};
use crate::store::TrackingStore;
use crate::store::entities::{Run, ViewType};
use std::collections::{BTreeMap, BTreeSet};

/// What to compare, resolved from the command line.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    /// Runs (ids or model URIs) in this order; empty: the top runs by `by`.
    pub runs: Vec<String>,
    pub experiments: Vec<String>,
    pub filter: Option<String>,
    /// The metric that ranks runs and decides the gate.
    pub by: Option<String>,
    pub top: usize,
    /// Lower is better for `by` (else judged by its name).
    pub asc: bool,
    pub baseline: Option<String>,
    pub candidate: Option<String>,
    pub fail_if_worse: bool,
    pub tolerance: f64,
    /// `METRIC OP NUMBER` thresholds the candidate must meet.
    pub require: Vec<String>,
}

/// One metric across the runs.
#[derive(Debug, Clone)]
pub struct MetricRow {
    pub key: String,
    /// One per run; None where a run lacks the metric.
    pub values: Vec<Option<f64>>,
    /// The best value (NaN never wins).
    pub best: Option<f64>,
}

/// The result of one gate.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub passed: bool,
    /// `PASS: ...` or `FAIL: ...`, one line.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct CompareReport {
    /// The baseline first.
    pub runs: Vec<Run>,
    /// Metrics, `by` first.
    pub metrics: Vec<MetricRow>,
    pub verdicts: Vec<Verdict>,
}

impl CompareReport {
    pub fn outcome(&self) -> Outcome {
        if self.verdicts.iter().all(|v| v.passed) {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }
}

use crate::output::fmt_value;

pub fn compare(store: &dyn TrackingStore, req: &CompareRequest) -> Result<CompareReport> {
    let minimize = req.asc
        || req
            .by
            .as_deref()
            .is_some_and(crate::search::lower_is_better);
    // Requirements are checked before any run is read: bad input is an error, whatever the runs say.
    let requirements = req
        .require
        .iter()
        .map(|r| parse_requirement(r))
        .collect::<Result<Vec<_>>>()?;
    let baseline = req
        .baseline
        .as_deref()
        .map(|b| resolve_run(store, b))
        .transpose()?;
    let mut runs: Vec<Run> = if let Some(c) = &req.candidate {
        vec![resolve_run(store, c)?]
    } else if !req.runs.is_empty() {
        req.runs
            .iter()
            .map(|r| resolve_run(store, r))
            .collect::<Result<_>>()?
    } else {
        let order: Vec<String> = req
            .by
            .iter()
            .map(|m| format!("metrics.`{m}` {}", if minimize { "ASC" } else { "DESC" }))
            .collect();
        let query = Query::parse(req.filter.as_deref(), &order).map_err(OpsError::Query)?;
        let ids = experiment_ids(store, &req.experiments)?;
        query.run(store, &ids, ViewType::ActiveOnly, Some(req.top))?
    };
    if let Some(b) = &baseline {
        runs.retain(|r| r.info.run_id != b.info.run_id);
        runs.insert(0, b.clone());
    }
    if runs.is_empty() {
        return Err(OpsError::Invalid("no runs to compare".into()));
    }
    let metrics = metric_rows(&runs, req.by.as_deref(), minimize);
    let candidate = if req.candidate.is_some() {
        runs.last()
    } else {
        runs.get(1).or(runs.first())
    };
    let mut verdicts = Vec::new();
    if req.fail_if_worse {
        let metric = req
            .by
            .as_deref()
            .ok_or_else(|| OpsError::Invalid("--fail-if-worse needs --by METRIC".into()))?;
        let cand = candidate
            .filter(|c| c.info.run_id != runs[0].info.run_id)
            .ok_or_else(|| {
                OpsError::Invalid(
                    "--fail-if-worse needs a candidate and a different baseline (--candidate RUN --baseline RUN|URI)"
                        .into(),
                )
            })?;
        verdicts.push(worse_gate(&runs[0], cand, metric, minimize, req.tolerance)?);
    }
    for (metric, expr) in &requirements {
        let cand = candidate.ok_or_else(|| OpsError::Invalid("--require needs a run".into()))?;
        verdicts.push(requirement(cand, metric, expr));
    }
    Ok(CompareReport {
        runs,
        metrics,
        verdicts,
    })
}

/// Every metric of the runs, `by` first, with the best value by each metric's direction.
fn metric_rows(runs: &[Run], by: Option<&str>, minimize: bool) -> Vec<MetricRow> {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.data.metrics.keys()).collect();
    let mut order: Vec<&String> = keys.into_iter().collect();
    if let Some(i) = by.and_then(|b| order.iter().position(|k| k.as_str() == b)) {
        let k = order.remove(i);
        order.insert(0, k);
    }
    order
        .into_iter()
        .map(|key| {
            let values: Vec<Option<f64>> = runs
                .iter()
                .map(|r| r.data.metrics.get(key).map(|p| p.value))
                .collect();
            let lower = if by == Some(key.as_str()) {
                minimize
            } else {
                crate::search::lower_is_better(key)
            };
            let best = values
                .iter()
                .flatten()
                .filter(|v| !v.is_nan())
                .copied()
                .reduce(|b, v| {
                    if (lower && v < b) || (!lower && v > b) {
                        v
                    } else {
                        b
                    }
                });
            MetricRow {
                key: key.clone(),
                values,
                best,
            }
        })
        .collect()
}

/// `--fail-if-worse`: the candidate may be worse than the baseline on `metric` by at most `tolerance`. A
/// baseline without the metric cannot be compared against: an error, not a failed check.
fn worse_gate(
    base: &Run,
    cand: &Run,
    metric: &str,
    minimize: bool,
    tolerance: f64,
) -> Result<Verdict> {
    let get = |r: &Run| r.data.metrics.get(metric).map(|p| p.value);
    let Some(b) = get(base) else {
        return Err(OpsError::Invalid(format!(
            "the baseline run {} has no metric '{metric}'",
            base.info.run_id
        )));
    };
    let Some(c) = get(cand) else {
        return Ok(Verdict {
            passed: false,
            text: format!("FAIL: run {} has no metric '{metric}'", cand.info.run_id),
        });
    };
    let worse_by = if minimize { c - b } else { b - c };
    Ok(if worse_by > tolerance || c.is_nan() {
        Verdict {
            passed: false,
            text: format!(
                "FAIL: {metric} {} of run {} is worse than the baseline's {} (run {}) by {worse_by:.4} (tolerance {tolerance})",
                fmt_value(c),
                cand.info.run_id,
                fmt_value(b),
                base.info.run_id
            ),
        }
    } else {
        Verdict {
            passed: true,
            text: format!(
                "PASS: {metric} {} of run {} vs the baseline's {} (run {})",
                fmt_value(c),
                cand.info.run_id,
                fmt_value(b),
                base.info.run_id
            ),
        }
    })
}

/// `accuracy>=0.8` as the search grammar's comparison `metrics.accuracy >= 0.8`.
fn parse_requirement(text: &str) -> Result<(String, Expr)> {
    let bad = |why: String| {
        OpsError::Invalid(format!(
            "--require '{text}' is not METRIC OP NUMBER (e.g. accuracy>=0.8): {why}"
        ))
    };
    let trimmed = text.trim();
    let filter = if trimmed.starts_with("metrics.") {
        trimmed.to_string()
    } else {
        format!("metrics.{trimmed}")
    };
    let expr = crate::search::parse_filter(&filter)
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("it is empty".into()))?;
    match &expr {
        Expr::Cmp(Comparison { key, op, values })
            if key.kind == KeyKind::Metric
                && matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
                && matches!(values.as_slice(), [Value::Num(_)]) =>
        {
            Ok((key.name.clone(), expr))
        }
        _ => Err(bad("one metric, one of = != < <= > >=, one number".into())),
    }
}

fn requirement(cand: &Run, metric: &str, expr: &Expr) -> Verdict {
    let Expr::Cmp(Comparison { op, values, .. }) = expr else {
        unreachable!("parse_requirement keeps comparisons only")
    };
    let threshold = match values.first() {
        Some(Value::Num(n)) => *n,
        _ => f64::NAN,
    };
    let op = match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        _ => ">=",
    };
    match cand.data.metrics.get(metric).map(|p| p.value) {
        None => Verdict {
            passed: false,
            text: format!("FAIL: run {} has no metric '{metric}'", cand.info.run_id),
        },
        Some(v) if crate::search::matches(cand, expr) => Verdict {
            passed: true,
            text: format!(
                "PASS: {metric} {} {op} {threshold} (run {})",
                fmt_value(v),
                cand.info.run_id
            ),
        },
        Some(v) => Verdict {
            passed: false,
            text: format!(
                "FAIL: {metric} {} is not {op} {threshold} (run {})",
                fmt_value(v),
                cand.info.run_id
            ),
        },
    }
}

/// One kind of difference between two runs: `(key, value in A, value in B)` where they differ.
pub type Section = Vec<(String, Option<String>, Option<String>)>;

/// `runs diff A B`: params, metrics, tags, dataset digests and artifacts that differ, by section.
pub struct DiffReport {
    pub a: Run,
    pub b: Run,
    pub sections: Vec<(&'static str, Section)>,
}

pub fn diff(store: &dyn TrackingStore, a: &str, b: &str) -> Result<DiffReport> {
    let a = resolve_run(store, a)?;
    let b = resolve_run(store, b)?;
    let section = |ma: BTreeMap<String, String>, mb: BTreeMap<String, String>| -> Section {
        let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
        keys.into_iter()
            .filter(|k| ma.get(*k) != mb.get(*k))
            .map(|k| (k.clone(), ma.get(k).cloned(), mb.get(k).cloned()))
            .collect()
    };
    let metrics = |r: &Run| -> BTreeMap<String, String> {
        r.data
            .metrics
            .iter()
            .map(|(k, p)| (k.clone(), crate::store::metric_file::format_value(p.value)))
            .collect()
    };
    let tags = |r: &Run| -> BTreeMap<String, String> {
        r.data
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != "mlflow.runName")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let datasets = |r: &Run| -> BTreeMap<String, String> {
        r.inputs
            .iter()
            .map(|d| (d.name.clone(), d.digest.clone()))
            .collect()
    };
    let artifacts = |r: &Run| -> Result<BTreeMap<String, String>> {
        Ok(crate::store::list_artifact_files(store, &r.info.run_id)?
            .into_iter()
            .map(|e| (e.path, format!("{} bytes", e.file_size.unwrap_or(0))))
            .collect())
    };
    let sections = vec![
        (
            "param",
            section(a.data.params.clone(), b.data.params.clone()),
        ),
        ("metric", section(metrics(&a), metrics(&b))),
        ("tag", section(tags(&a), tags(&b))),
        ("dataset digest", section(datasets(&a), datasets(&b))),
        ("artifact", section(artifacts(&a)?, artifacts(&b)?)),
    ];
    Ok(DiffReport { a, b, sections })
}

#[cfg(test)]
mod tests {
    use super::parse_requirement;

    #[test]
    fn requirements_are_search_comparisons() {
        for (text, metric) in [
            ("accuracy>=0.8", "accuracy"),
            ("metrics.f1 < 0.5", "f1"),
            ("loss == 0.1", "loss"),
            ("auc != 1", "auc"),
        ] {
            assert_eq!(parse_requirement(text).unwrap().0, metric, "{text}");
        }
        for text in [
            "accuracy about 0.8",
            "accuracy >= 'high'",
            "accuracy IS NULL",
            "",
        ] {
            let err = parse_requirement(text).unwrap_err().to_string();
            assert!(err.contains("METRIC OP NUMBER"), "{text}: {err}");
        }
    }
}
