//! The `Linear` form: coefficients and intercepts. Binary classification is one row through the logistic
//! function, multi-class one row per class through softmax (or, for scikit-learn's one-vs-rest models,
//! each class's logistic function normalised), regression one row. How the label is picked is an option:
//! mlx takes the most probable class, scikit-learn reads it off the decision values.

use super::LoadCheck;
use crate::ml::core::{Task, argmax, sigmoid, softmax};
use serde::{Deserialize, Serialize};

/// How a linear classifier picks its label.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelRule {
    /// mlx: the most probable class (the first of equal probabilities).
    #[default]
    Probability,
    /// scikit-learn (`LogisticRegression.predict`): class 1 when the decision value is positive (binary),
    /// else the class with the largest decision value. Differs from `Probability` only where probabilities
    /// round equal or 0 < z ≲ 1e-16.
    Decision,
}

/// How a classifier of more than two classes turns its decision values into probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Multi {
    /// mlx and scikit-learn's multinomial models: softmax of the decision values.
    #[default]
    Softmax,
    /// scikit-learn's one-vs-rest models (`multi_class="ovr"`, liblinear): each class's logistic
    /// function, normalised to sum to one (uniform when all are zero).
    OneVsRest,
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Class probabilities of one row into `p` (`p.len()` classes); returns the label's class index.
pub(super) fn classify_row(
    coef: &[Vec<f64>],
    intercept: &[f64],
    (label, multi): (LabelRule, Multi),
    row: &[f64],
    p: &mut [f64],
) -> usize {
    let n_classes = p.len();
    if coef.len() == 1 && n_classes == 2 {
        let z = dot(&coef[0], row) + intercept[0];
        p[1] = sigmoid(z);
        p[0] = 1.0 - p[1];
        return match label {
            LabelRule::Probability => argmax(p),
            LabelRule::Decision => usize::from(z > 0.0),
        };
    }
    let z: Vec<f64> = (0..n_classes)
        .map(|c| dot(&coef[c], row) + intercept[c])
        .collect();
    match multi {
        Multi::Softmax => softmax(&z, p),
        Multi::OneVsRest => {
            p.iter_mut().zip(&z).for_each(|(p, z)| *p = sigmoid(*z));
            let s: f64 = p.iter().sum();
            if s == 0.0 {
                p.iter_mut().for_each(|v| *v = 1.0 / n_classes as f64);
            } else {
                p.iter_mut().for_each(|v| *v /= s);
            }
        }
    }
    match label {
        LabelRule::Probability => argmax(p),
        LabelRule::Decision => argmax(&z),
    }
}

/// The predicted value of one row (regression).
pub(super) fn value_row(coef: &[Vec<f64>], intercept: &[f64], row: &[f64]) -> f64 {
    dot(&coef[0], row) + intercept[0]
}

/// One row per class for multi-class classification, else one; each as long as the features.
pub(super) fn check(
    coef: &[Vec<f64>],
    intercept: &[f64],
    cx: &LoadCheck,
) -> Result<(), crate::ml::core::ModelError> {
    let rows = if cx.task == Task::Classification && cx.outputs > 2 {
        cx.outputs
    } else {
        1
    };
    if coef.len() != rows
        || intercept.len() != rows
        || coef.iter().any(|c| c.len() != cx.n_features)
    {
        return Err(cx.json_error("coefficients do not match the features"));
    }
    Ok(())
}
