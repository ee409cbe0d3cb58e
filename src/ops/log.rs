//! `mlx log param/metric/tag/params/metrics` as one operation ([`log`]): a value, or a JSON document turned
//! into a batch of params (as MLflow stringifies them) or metric points, every entry checked before
//! anything is written, logged to a run in one batch.

use crate::store::entities::MetricPoint;
use crate::store::{Batch, TrackingStore, metric_file, now_ms};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A param value as MLflow stringifies it: strings as they are, numbers and booleans as their JSON text.
fn param_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Null => "None".into(),
        other => other.to_string(),
    }
}

pub fn params_from_json(path: &Path, doc: &serde_json::Value) -> Result<Vec<(String, String)>> {
    let Some(obj) = doc.as_object() else {
        bail!(
            "{}: expected a JSON object {{\"key\": value}}",
            path.display()
        );
    };
    Ok(obj
        .iter()
        .map(|(k, v)| (k.clone(), param_text(v)))
        .collect())
}

fn metric_number(path: &Path, key: &str, v: &serde_json::Value) -> Result<f64> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .with_context(|| format!("{}: metric '{key}' is out of range", path.display())),
        serde_json::Value::String(s) => metric_file::parse_value(s).with_context(|| {
            format!(
                "{}: metric '{key}': value {s:?} is not a number",
                path.display()
            )
        }),
        other => bail!(
            "{}: metric '{key}': value {other} is not a number",
            path.display()
        ),
    }
}

pub fn metrics_from_json(
    path: &Path,
    doc: &serde_json::Value,
    default_step: i64,
    now: i64,
) -> Result<Vec<(String, MetricPoint)>> {
    let point = |value, step, timestamp| MetricPoint {
        timestamp,
        value,
        step,
    };
    match doc {
        serde_json::Value::Object(obj) => obj
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    point(metric_number(path, k, v)?, default_step, now),
                ))
            })
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = item.get("key").and_then(|k| k.as_str()).with_context(|| {
                    format!("{}: entry {i} has no string \"key\"", path.display())
                })?;
                let value = item.get("value").with_context(|| {
                    format!("{}: entry {i} ('{key}') has no \"value\"", path.display())
                })?;
                let int = |name: &str, default: i64| -> Result<i64> {
                    match item.get(name) {
                        None | Some(serde_json::Value::Null) => Ok(default),
                        Some(v) => v.as_i64().with_context(|| {
                            format!(
                                "{}: entry {i} ('{key}'): \"{name}\" is not an integer",
                                path.display()
                            )
                        }),
                    }
                };
                Ok((
                    key.to_string(),
                    point(
                        metric_number(path, key, value)?,
                        int("step", default_step)?,
                        int("timestamp", now)?,
                    ),
                ))
            })
            .collect(),
        _ => bail!(
            "{}: expected a JSON object {{\"key\": number}} or a list of {{\"key\", \"value\", \"step\"}}",
            path.display()
        ),
    }
}

/// One `mlx log` write to a run.
#[derive(Debug, Clone)]
pub enum Write {
    Param {
        key: String,
        value: String,
    },
    /// `value` as typed (MLflow's number text, `nan` and `inf` included); `timestamp` None: now.
    Metric {
        key: String,
        value: String,
        step: i64,
        timestamp: Option<i64>,
    },
    Tag {
        key: String,
        value: String,
    },
    /// A JSON object of params read from `path` (`-`: stdin).
    Params {
        path: PathBuf,
    },
    /// A JSON object or list of metrics read from `path` (`-`: stdin); `step` for entries without one.
    Metrics {
        path: PathBuf,
        step: i64,
    },
}

/// Check `write` whole, log it to `run_id` as one batch, and say what was logged (`{"params": [keys]}`,
/// `{"metrics": [key]}`, `{"tags": [key]}` or `{"metric_points": n}`).
pub fn log(store: &dyn TrackingStore, run_id: &str, write: Write) -> Result<serde_json::Value> {
    let (batch, what, logged) = match write {
        Write::Param { key, value } => (
            Batch {
                params: vec![(key.clone(), value)],
                ..Batch::default()
            },
            format!("log param '{key}'"),
            json!({"params": [key]}),
        ),
        Write::Metric {
            key,
            value,
            step,
            timestamp,
        } => {
            let Some(value) = metric_file::parse_value(value.trim()) else {
                bail!("metric '{key}': value '{value}' is not a number");
            };
            let point = MetricPoint {
                timestamp: timestamp.unwrap_or_else(now_ms),
                value,
                step,
            };
            (
                Batch {
                    metrics: vec![(key.clone(), point)],
                    ..Batch::default()
                },
                format!("log metric '{key}'"),
                json!({"metrics": [key]}),
            )
        }
        Write::Tag { key, value } => (
            Batch {
                tags: vec![(key.clone(), value)],
                ..Batch::default()
            },
            format!("set tag '{key}'"),
            json!({"tags": [key]}),
        ),
        Write::Params { path } => {
            let params = params_from_json(&path, &read_json(&path)?)?;
            let keys: Vec<String> = params.iter().map(|(k, _)| k.clone()).collect();
            (
                Batch {
                    params,
                    ..Batch::default()
                },
                format!("log params from {}", path.display()),
                json!({"params": keys}),
            )
        }
        Write::Metrics { path, step } => {
            let metrics = metrics_from_json(&path, &read_json(&path)?, step, now_ms())?;
            let points = metrics.len();
            (
                Batch {
                    metrics,
                    ..Batch::default()
                },
                format!("log metrics from {}", path.display()),
                json!({"metric_points": points}),
            )
        }
    };
    store
        .log_batch(run_id, &batch)
        .with_context(|| format!("cannot {what}"))?;
    Ok(logged)
}

/// The JSON document in `path`, or on stdin for `-`.
fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read JSON from stdin")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_stringified_like_mlflow() {
        let p = params_from_json(
            Path::new("x"),
            &json!({"a": 1, "b": 0.5, "c": "s", "d": true, "e": 1.0}),
        )
        .unwrap();
        let got: Vec<_> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(got, ["a=1", "b=0.5", "c=s", "d=True", "e=1.0"]);
        assert!(params_from_json(Path::new("x"), &json!([1])).is_err());
    }

    #[test]
    fn metrics_accept_object_and_list() {
        let m = metrics_from_json(Path::new("x"), &json!({"acc": 0.9, "n": "nan"}), 3, 7).unwrap();
        assert_eq!(m[0].1.step, 3);
        assert!(m[1].1.value.is_nan());
        let l = metrics_from_json(
            Path::new("x"),
            &json!([{"key": "loss", "value": 0.5, "step": 2, "timestamp": 9}]),
            0,
            7,
        )
        .unwrap();
        assert_eq!((l[0].1.step, l[0].1.timestamp), (2, 9));
        let err = metrics_from_json(Path::new("f.json"), &json!({"acc": "high"}), 0, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f.json") && err.contains("acc") && err.contains("high"),
            "{err}"
        );
    }
}
