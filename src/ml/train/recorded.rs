//! What a training run records besides params and test metrics: the data's location and MLflow dataset
//! input, cross-validation and learning curves as metric points.

use super::TrainOptions;
use crate::ml::core::Task;
use crate::ml::data::{self, Table};
use crate::store::entities::{Dataset, MetricPoint};
use std::collections::BTreeMap;

/// Where the data is, as recorded: a URL without its credentials (userinfo and secret-looking query
/// values, see `redact::uris`; the dataset's digest still tells the data apart), a path made absolute.
pub fn data_location(data: &std::path::Path) -> String {
    let text = data.to_string_lossy();
    if data::fetch::is_url(&text) {
        return crate::redact::uris(&text);
    }
    std::path::absolute(data)
        .unwrap_or_else(|_| data.to_path_buf())
        .display()
        .to_string()
}

/// The training data as MLflow's dataset input: name, digest, source, schema and profile.
pub fn dataset(opts: &TrainOptions, table: &Table) -> Dataset {
    let schema = serde_json::json!({"mlflow_colspec": data::colspec(table, &table.names)});
    let location = data_location(&opts.data);
    let is_url = data::fetch::is_url(&location);
    // A URL's name is its last path segment (of the redacted URL: never a query value).
    let named = if is_url {
        let path = location.split(['?', '#']).next().unwrap_or_default();
        std::path::PathBuf::from(path.rsplit('/').next().unwrap_or_default())
    } else {
        opts.data.clone()
    };
    Dataset {
        name: named
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into()),
        digest: data::digest(table),
        source_type: if is_url { "http" } else { "local" }.into(),
        source: if is_url {
            serde_json::json!({"url": location})
        } else {
            serde_json::json!({"uri": location})
        }
        .to_string(),
        schema: schema.to_string(),
        profile: serde_json::json!({"num_rows": table.n_rows, "num_elements": table.n_rows * table.names.len()}).to_string(),
    }
}

/// Cross-validation as metric points: `cv_<metric>` per fold (step = fold), `cv_<metric>_mean` and
/// `cv_<metric>_std` (population standard deviation, numpy's default), stamped `now`.
pub fn cv_points(cv: &BTreeMap<String, Vec<f64>>, now: i64) -> Vec<(String, MetricPoint)> {
    let point = |value: f64, step: i64| MetricPoint {
        timestamp: now,
        value,
        step,
    };
    let mut points = Vec::new();
    for (name, values) in cv {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        for (fold, v) in values.iter().enumerate() {
            points.push((format!("cv_{name}"), point(*v, fold as i64)));
        }
        points.push((format!("cv_{name}_mean"), point(mean, 0)));
        points.push((format!("cv_{name}_std"), point(std, 0)));
    }
    points
}

/// Gradient boosting's learning curves as metric histories (step = iteration), stamped `now`.
pub fn curve_points(
    task: Task,
    curves: &crate::ml::learners::gbdt::Curves,
    now: i64,
) -> Vec<(String, MetricPoint)> {
    let main = match task {
        Task::Classification => "validation_accuracy",
        Task::Regression => "validation_rmse",
    };
    let mut points = Vec::new();
    for (name, values) in [
        ("train_loss", &curves.train_loss),
        ("validation_loss", &curves.validation_loss),
        (main, &curves.validation_metric),
    ] {
        points.extend(values.iter().enumerate().map(|(i, v)| {
            (
                name.to_string(),
                MetricPoint {
                    timestamp: now,
                    value: *v,
                    step: i as i64 + 1,
                },
            )
        }));
    }
    if let Some(best) = curves.best_iteration {
        points.push((
            "best_iteration".into(),
            MetricPoint {
                timestamp: now,
                value: best as f64,
                step: 0,
            },
        ));
    }
    points
}
