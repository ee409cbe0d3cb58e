//! A fitted model scored on the held-out rows: the metrics, `reports/evaluation.json` and `.txt` (confusion
//! matrix, per-class report, feature importance) and the test rows' predictions.

use super::Prepared;
use crate::ml::core::{Predictions, Task, argmax};
use crate::ml::eval::metrics;
use crate::ml::model::SavedModel;
use std::collections::BTreeMap;

/// A fitted model scored on the test part: what the run logs as metrics and reports.
pub struct Evaluation {
    /// The test metrics (`training_*` when nothing was held out) and `training_time`.
    pub metrics: BTreeMap<String, f64>,
    /// `reports/evaluation.json`.
    pub report: serde_json::Map<String, serde_json::Value>,
    /// `reports/evaluation.txt`.
    pub text: String,
    /// `reports/test_predictions.csv`: the test rows' predictions, kept so anyone can check a reloaded
    /// model against them.
    pub test_predictions: Vec<u8>,
    /// Rows held out (0 with --test-size 0).
    pub n_test: usize,
}

/// Score `model` on the test part of `p` (`fit_seconds` is recorded as `training_time`).
pub fn evaluate(
    p: &Prepared,
    model: &SavedModel,
    x_test: &[f64],
    y_test: &[f64],
    n_train: usize,
    fit_seconds: f64,
) -> anyhow::Result<Evaluation> {
    let predictions = model.predict_matrix(x_test);
    let mut test_csv = csv::Writer::from_writer(Vec::new());
    test_csv.write_record(["row", "actual", "prediction"])?;
    for (i, &r) in p.split.test.iter().enumerate() {
        let actual = match p.task {
            Task::Classification => p.classes[y_test[i] as usize].clone(),
            Task::Regression => y_test[i].to_string(),
        };
        let predicted = match &predictions.values[i] {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        test_csv.write_record([p.source_rows[r].to_string(), actual, predicted])?;
    }
    let test_predictions = test_csv.into_inner().map_err(|e| e.into_error())?;
    let mut report = serde_json::Map::new();
    let mut per_class_text = None;
    let mut values = test_metrics(p.task, p.classes.len(), &predictions, y_test);
    if let Some(proba) = &predictions.proba {
        let k = p.classes.len();
        let y: Vec<usize> = y_test.iter().map(|v| *v as usize).collect();
        let pred: Vec<usize> = proba.chunks_exact(k).map(argmax).collect();
        let cm = metrics::confusion_matrix(&y, &pred, k);
        report.insert("labels".into(), serde_json::json!(p.classes));
        report.insert("confusion_matrix".into(), serde_json::json!(cm));
        let per_class = metrics::classification_report(&y, &pred, k);
        report.insert(
            "classification_report".into(),
            per_class.to_json(&p.classes),
        );
        per_class_text = Some(per_class.to_text(&p.classes));
    }
    if !p.held_out {
        // MLflow autologging's names for metrics on the training rows.
        values = values
            .into_iter()
            .map(|(k, v)| (format!("training_{k}"), v))
            .collect();
    }
    values.insert("training_time".into(), fit_seconds);
    report.insert("metrics".into(), serde_json::json!(values));
    report.insert("n_train".into(), serde_json::json!(n_train));
    let n_test = if p.held_out { y_test.len() } else { 0 };
    report.insert("n_test".into(), serde_json::json!(n_test));
    let text = text_report(
        model,
        &values,
        &report,
        per_class_text.as_deref(),
        p.held_out,
    );
    Ok(Evaluation {
        metrics: values,
        report,
        text,
        test_predictions,
        n_test,
    })
}

/// The test metrics of `predictions` (accuracy, f1, ... or rmse, mae, r2).
pub(super) fn test_metrics(
    task: Task,
    n_classes: usize,
    predictions: &Predictions,
    y_test: &[f64],
) -> BTreeMap<String, f64> {
    match task {
        Task::Classification => {
            let proba = predictions
                .proba
                .as_ref()
                .expect("classifiers give probabilities");
            let y: Vec<usize> = y_test.iter().map(|v| *v as usize).collect();
            let pred: Vec<usize> = proba.chunks_exact(n_classes).map(argmax).collect();
            metrics::classification(&y, &pred, proba, n_classes)
        }
        Task::Regression => {
            let pred: Vec<f64> = predictions
                .values
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            metrics::regression(y_test, &pred)
        }
    }
}

pub(super) fn text_report(
    model: &SavedModel,
    values: &BTreeMap<String, f64>,
    report: &serde_json::Map<String, serde_json::Value>,
    per_class: Option<&str>,
    held_out: bool,
) -> String {
    let mut out = format!(
        "model: {}\ntask: {}\n\nmetrics ({}):\n",
        model.kind.name(),
        format!("{:?}", model.task).to_lowercase(),
        if held_out {
            "test split"
        } else {
            "training rows: --test-size 0 held none out"
        }
    );
    for (k, v) in values {
        out.push_str(&format!("  {k:<14} {v:.6}\n"));
    }
    if let Some(cm) = report.get("confusion_matrix").and_then(|c| c.as_array()) {
        out.push_str("\nconfusion matrix (rows: true, columns: predicted):\n");
        out.push_str(&format!("  {:>10}", ""));
        for c in &model.classes {
            out.push_str(&format!(" {c:>10}"));
        }
        out.push('\n');
        for (label, row) in model.classes.iter().zip(cm) {
            out.push_str(&format!("  {label:>10}"));
            for v in row.as_array().into_iter().flatten() {
                out.push_str(&format!(" {:>10}", v.as_u64().unwrap_or(0)));
            }
            out.push('\n');
        }
    }
    if let Some(text) = per_class {
        out.push_str("\nper class (scikit-learn's classification_report):\n");
        out.push_str(text);
    }
    if let Some(imp) = &model.feature_importance {
        out.push_str("\nfeature importance:\n");
        let mut pairs: Vec<(&String, &f64)> =
            model.preprocessor.feature_names.iter().zip(imp).collect();
        pairs.sort_by(|a, b| b.1.total_cmp(a.1));
        for (n, v) in pairs {
            out.push_str(&format!("  {n:<20} {v:.4}\n"));
        }
    }
    out
}
