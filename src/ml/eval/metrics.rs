//! Evaluation metrics, as scikit-learn defines them: accuracy, precision/recall/F1 (binary: of the positive
//! class; multi-class: macro averages), ROC AUC, log loss, confusion matrix; RMSE, MAE, R².

use std::collections::BTreeMap;

/// Classification metrics from true class indices, predicted indices and predicted probabilities
/// (row-major, `n_classes` per row).
pub fn classification(
    y: &[usize],
    pred: &[usize],
    proba: &[f64],
    n_classes: usize,
) -> BTreeMap<String, f64> {
    let n = y.len() as f64;
    let cm = confusion_matrix(y, pred, n_classes);
    let mut m = BTreeMap::new();
    let correct: usize = (0..n_classes).map(|c| cm[c][c]).sum();
    m.insert("accuracy".into(), correct as f64 / n);
    let per_class: Vec<(f64, f64, f64)> = (0..n_classes)
        .map(|c| {
            let tp = cm[c][c] as f64;
            let predicted: f64 = (0..n_classes).map(|t| cm[t][c] as f64).sum();
            let actual: f64 = cm[c].iter().sum::<usize>() as f64;
            let p = if predicted > 0.0 { tp / predicted } else { 0.0 };
            let r = if actual > 0.0 { tp / actual } else { 0.0 };
            let f = if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
            (p, r, f)
        })
        .collect();
    let (p, r, f) = if n_classes == 2 {
        per_class[1]
    } else {
        let k = n_classes as f64;
        (
            per_class.iter().map(|x| x.0).sum::<f64>() / k,
            per_class.iter().map(|x| x.1).sum::<f64>() / k,
            per_class.iter().map(|x| x.2).sum::<f64>() / k,
        )
    };
    m.insert("precision".into(), p);
    m.insert("recall".into(), r);
    m.insert("f1".into(), f);
    let auc = if n_classes == 2 {
        let scores: Vec<f64> = (0..y.len()).map(|i| proba[i * 2 + 1]).collect();
        let labels: Vec<bool> = y.iter().map(|&c| c == 1).collect();
        roc_auc(&labels, &scores)
    } else {
        // Macro one-vs-rest.
        let aucs: Vec<f64> = (0..n_classes)
            .filter_map(|c| {
                let scores: Vec<f64> = (0..y.len()).map(|i| proba[i * n_classes + c]).collect();
                let labels: Vec<bool> = y.iter().map(|&t| t == c).collect();
                roc_auc(&labels, &scores)
            })
            .collect();
        (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
    };
    if let Some(auc) = auc {
        m.insert("roc_auc".into(), auc);
    }
    let eps = 1e-15;
    let ll = (0..y.len())
        .map(|i| -(proba[i * n_classes + y[i]].clamp(eps, 1.0 - eps)).ln())
        .sum::<f64>()
        / n;
    m.insert("log_loss".into(), ll);
    m
}

/// One line of scikit-learn's `classification_report`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    #[serde(rename = "f1-score")]
    pub f1: f64,
    pub support: usize,
}

/// scikit-learn's `classification_report`: a line per class present in the true or predicted labels
/// (zero_division = 0), the accuracy, and macro and support-weighted averages of those lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// (class index, scores), in class order.
    pub classes: Vec<(usize, ClassScores)>,
    pub accuracy: f64,
    pub macro_avg: ClassScores,
    pub weighted_avg: ClassScores,
}

pub fn classification_report(
    y: &[usize],
    pred: &[usize],
    n_classes: usize,
) -> ClassificationReport {
    let cm = confusion_matrix(y, pred, n_classes);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let classes: Vec<(usize, ClassScores)> = (0..n_classes)
        .filter_map(|c| {
            let tp = cm[c][c] as f64;
            let predicted: usize = (0..n_classes).map(|t| cm[t][c]).sum();
            let support: usize = cm[c].iter().sum();
            if predicted == 0 && support == 0 {
                return None;
            }
            let precision = ratio(tp, predicted as f64);
            let recall = ratio(tp, support as f64);
            let f1 = ratio(2.0 * precision * recall, precision + recall);
            Some((
                c,
                ClassScores {
                    precision,
                    recall,
                    f1,
                    support,
                },
            ))
        })
        .collect();
    let total: usize = classes.iter().map(|(_, s)| s.support).sum();
    let average = |weight: &dyn Fn(&ClassScores) -> f64| {
        let w: f64 = classes.iter().map(|(_, s)| weight(s)).sum();
        let avg = |f: fn(&ClassScores) -> f64| {
            ratio(
                classes.iter().map(|(_, s)| f(s) * weight(s)).sum::<f64>(),
                w,
            )
        };
        ClassScores {
            precision: avg(|s| s.precision),
            recall: avg(|s| s.recall),
            f1: avg(|s| s.f1),
            support: total,
        }
    };
    let correct: usize = (0..n_classes).map(|c| cm[c][c]).sum();
    ClassificationReport {
        accuracy: ratio(correct as f64, y.len() as f64),
        macro_avg: average(&|_| 1.0),
        weighted_avg: average(&|s| s.support as f64),
        classes,
    }
}

impl ClassificationReport {
    /// As `classification_report(output_dict=True)`: class label → scores, "accuracy", "macro avg",
    /// "weighted avg".
    pub fn to_json(&self, labels: &[String]) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (c, s) in &self.classes {
            m.insert(labels[*c].clone(), serde_json::json!(s));
        }
        m.insert("accuracy".into(), serde_json::json!(self.accuracy));
        m.insert("macro avg".into(), serde_json::json!(self.macro_avg));
        m.insert("weighted avg".into(), serde_json::json!(self.weighted_avg));
        serde_json::Value::Object(m)
    }

    /// scikit-learn's text layout, to the character (2 digits).
    pub fn to_text(&self, labels: &[String]) -> String {
        let width = self
            .classes
            .iter()
            .map(|(c, _)| labels[*c].chars().count())
            .max()
            .unwrap_or(0)
            .max("weighted avg".len());
        let line = |name: &str, s: &ClassScores| {
            format!(
                "{name:>width$}  {:>9.2} {:>9.2} {:>9.2} {:>9}\n",
                s.precision, s.recall, s.f1, s.support
            )
        };
        let mut out = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        for (c, s) in &self.classes {
            out.push_str(&line(&labels[*c], s));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:>width$}  {:>9} {:>9} {:>9.2} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        ));
        out.push_str(&line("macro avg", &self.macro_avg));
        out.push_str(&line("weighted avg", &self.weighted_avg));
        out
    }
}

pub fn confusion_matrix(y: &[usize], pred: &[usize], n_classes: usize) -> Vec<Vec<usize>> {
    let mut cm = vec![vec![0usize; n_classes]; n_classes];
    for (&t, &p) in y.iter().zip(pred) {
        cm[t][p] += 1;
    }
    cm
}

/// Area under the ROC curve (ties averaged, as scikit-learn); None when only one class is present.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Mann-Whitney U with average ranks.
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// ROC curve points (false positive rate, true positive rate), from the highest threshold down.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let pos = labels.iter().filter(|&&l| l).count().max(1) as f64;
    let neg = (labels.len() as f64 - pos).max(1.0);
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in idx.iter().enumerate() {
        if labels[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if k + 1 == idx.len() || scores[idx[k + 1]] != scores[i] {
            points.push((fp / neg, tp / pos));
        }
    }
    points
}

pub fn regression(y: &[f64], pred: &[f64]) -> BTreeMap<String, f64> {
    let n = y.len() as f64;
    let mse = y
        .iter()
        .zip(pred)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n;
    let mae = y.iter().zip(pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
    let mean = y.iter().sum::<f64>() / n;
    let ss_tot = y.iter().map(|a| (a - mean).powi(2)).sum::<f64>();
    let r2 = if ss_tot > 0.0 {
        1.0 - mse * n / ss_tot
    } else {
        0.0
    };
    BTreeMap::from([
        ("rmse".to_string(), mse.sqrt()),
        ("mae".to_string(), mae),
        ("r2".to_string(), r2),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn classification_report_skips_absent_classes_and_divides_by_zero_as_zero() {
        // Class 2 is neither true nor predicted; class 1 is never predicted (precision 0/0 = 0).
        let r = super::classification_report(&[0, 0, 1, 1], &[0, 0, 0, 0], 3);
        assert_eq!(
            r.classes.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [0, 1]
        );
        let c0 = r.classes[0].1;
        assert_eq!((c0.precision, c0.recall, c0.support), (0.5, 1.0, 2));
        assert!((c0.f1 - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!((r.classes[1].1.precision, r.classes[1].1.f1), (0.0, 0.0));
        assert_eq!(
            (r.accuracy, r.macro_avg.precision, r.macro_avg.recall),
            (0.5, 0.25, 0.5)
        );
        assert_eq!(r.weighted_avg.support, 4);
        let labels = ["no".to_string(), "yes".to_string(), "maybe".to_string()];
        let text = r.to_text(&labels);
        assert!(
            text.starts_with("              precision    recall  f1-score   support\n\n"),
            "{text}"
        );
        assert!(
            text.contains("\n          no       0.50      1.00      0.67         2\n"),
            "{text}"
        );
        assert!(
            text.contains("\n    accuracy                           0.50         4\n"),
            "{text}"
        );
    }

    use super::*;

    #[test]
    fn binary_metrics_match_sklearn() {
        // sklearn: y=[0,0,1,1], scores=[0.1,0.4,0.35,0.8] -> roc_auc 0.75
        assert_eq!(
            roc_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]),
            Some(0.75)
        );
        let y = [0, 1, 1, 0, 1];
        let pred = [0, 1, 0, 0, 1];
        let proba = [0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.7, 0.3, 0.1, 0.9];
        let m = classification(&y, &pred, &proba, 2);
        assert_eq!(m["accuracy"], 0.8);
        assert_eq!(m["precision"], 1.0);
        assert!((m["recall"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["f1"] - 0.8).abs() < 1e-12);
        assert_eq!(m["roc_auc"], 1.0);
        // mean of -ln(p of the true class) = -(ln .9 + ln .8 + ln .4 + ln .7 + ln .9) / 5
        assert!(
            (m["log_loss"] - 0.341366052).abs() < 1e-6,
            "{}",
            m["log_loss"]
        );
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn regression_metrics() {
        let m = regression(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0]);
        assert!((m["rmse"] - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m["mae"] - 1.0 / 3.0).abs() < 1e-12);
        assert!((m["r2"] - 0.5).abs() < 1e-12);
    }
}
