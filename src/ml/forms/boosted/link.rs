//! A boosted model's output arithmetic, one place for every source: where the base score joins the trees'
//! sum, and how the raw scores become a value (regression) or a class and its probabilities
//! (classification). mlx's own boosting is the default; models read from LightGBM, XGBoost and
//! scikit-learn keep their library's exact steps (the order of the sums, `f32` or `f64`, the label rule),
//! so their predictions stay bit-identical to the library's.

use crate::ml::core::{argmax, sigmoid, softmax, softmax_in_place};
use serde::{Deserialize, Serialize};

/// Whose arithmetic turns a boosted model's raw scores (one per output: one for regression and binary
/// classification, one per class otherwise) into its prediction.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// mlx's own gradient boosting: the trees summed from 0, then the base score added; regression
    /// predicts the raw score, classification the logistic function (binary: P(class 1), and
    /// P(class 0) = 1 - P(class 1)) or softmax, the class being the most probable (the first on ties).
    #[default]
    Mlx,
    /// LightGBM (`Booster.predict`, `LGBMClassifier.predict_proba`): no base score (the sum starts at 0),
    /// a random forest's sum divided by its iterations, then the objective's transform in `f64`; binary
    /// classification stacks `1 - p` and `p` and takes the most probable class.
    #[serde(rename = "lightgbm")]
    LightGbm {
        transform: LightGbmTransform,
        /// `average_output` (random forest mode): the number of iterations the sum is divided by.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        average_over: Option<usize>,
    },
    /// XGBoost's CPU predictor: the sum starts at the base margin (in `f32`: the trees' sum is `f32`),
    /// then the objective's transform in `f32`; binary classification stacks `1 - p` (in `f32`) and `p`
    /// and takes the most probable class.
    #[serde(rename = "xgboost")]
    XgBoost { transform: XgBoostTransform },
    /// scikit-learn's `GradientBoosting*` and `HistGradientBoosting*`: the sum starts at the initial raw
    /// prediction, then the inverse of the loss's link in `f64`; the class comes from the raw score, not the
    /// probabilities (binary: its sign; multi-class: the largest raw score).
    ScikitLearn {
        transform: ScikitLearnTransform,
        /// Binary: class 1 when the raw score is >= 0 (`GradientBoostingClassifier`), not only > 0
        /// (`HistGradientBoostingClassifier`).
        ties_to_positive: bool,
    },
}

/// The output transform of a LightGBM objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightGbmTransform {
    /// Regression objectives and raw scores (`custom`, ranking).
    Identity,
    /// `regression` with `sqrt`: the model predicts the signed square root.
    SignedSquare,
    /// `poisson`, `gamma`, `tweedie`.
    Exp,
    /// `binary` (with its `sigmoid:` parameter) and `cross_entropy` (1.0): `sigmoid(s * raw)`.
    Sigmoid(f64),
    /// `multiclass`.
    Softmax,
    /// `multiclassova`: an independent sigmoid per class.
    OvaSigmoid(f64),
}

/// The output transform of an XGBoost objective, computed in `f32` as XGBoost does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XgBoostTransform {
    Identity,
    /// `binary:logistic`, `reg:logistic`: XGBoost's `common::Sigmoid`.
    Sigmoid,
    /// `count:poisson`, `reg:gamma`, `reg:tweedie`.
    Exp,
    /// `multi:softprob` (probabilities) and `multi:softmax` (XGBoost itself returns the argmax).
    Softmax,
    /// `binary:hinge`: 1 when the margin is positive.
    Hinge,
}

/// How scikit-learn turns a gradient-boosting raw score into its prediction (the inverse of the loss's
/// link object: `IdentityLink`, `LogLink`, `LogitLink`, `HalfLogitLink`, `MultinomialLogit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScikitLearnTransform {
    Identity,
    /// `exp` (Poisson and gamma losses).
    Log,
    /// P(class 1) = expit(raw) (log loss, two classes).
    Logit,
    /// P(class 1) = expit(2 raw) (the exponential loss).
    HalfLogit,
    /// Softmax over one raw score per class.
    Multinomial,
}

impl Link {
    /// True for mlx's own arithmetic (left out of a saved model).
    pub fn is_default(&self) -> bool {
        *self == Link::Mlx
    }

    /// Whether the sum of the trees starts at the base score (XGBoost, scikit-learn; LightGBM, which has
    /// no base score, starts at zeros) or the base score is added after the trees' sum (mlx).
    pub fn base_first(&self) -> bool {
        !matches!(self, Link::Mlx)
    }

    /// The raw scores of one row into `raw`: `add_trees` adds each tree's leaf value to its output, and
    /// `base` (one per output) goes where [`Link::base_first`] says.
    pub fn raw_scores(&self, base: &[f64], raw: &mut [f64], add_trees: impl FnOnce(&mut [f64])) {
        if self.base_first() {
            raw.copy_from_slice(base);
            add_trees(raw);
        } else {
            raw.fill(0.0);
            add_trees(raw);
            for (r, b) in raw.iter_mut().zip(base) {
                *r += b;
            }
        }
    }

    /// A regression's prediction from its one raw score (for LightGBM and XGBoost: what the library's
    /// `predict` gives for a one-output model, a binary classifier's P(class 1) included).
    pub fn value(&self, raw: &[f64]) -> f64 {
        let z = raw[0];
        match *self {
            Link::Mlx => z,
            Link::LightGbm {
                transform,
                average_over,
            } => {
                let mut v = [z];
                lightgbm(transform, average_over, &mut v);
                v[0]
            }
            Link::XgBoost { transform } => {
                let mut v = [z];
                xgboost(transform, &mut v);
                v[0]
            }
            Link::ScikitLearn { transform, .. } => scikit_learn_value(transform, z),
        }
    }

    /// A classifier's prediction from its raw scores: the class probabilities into `proba` (two for one
    /// raw score, else one per raw score), and the index of the predicted class.
    pub fn classify(&self, raw: &[f64], proba: &mut [f64]) -> usize {
        match *self {
            Link::Mlx => {
                if let [z] = raw {
                    proba[1] = sigmoid(*z);
                    proba[0] = 1.0 - proba[1];
                } else {
                    softmax(raw, proba);
                }
                argmax(proba)
            }
            Link::LightGbm {
                transform,
                average_over,
            } => {
                if let [z] = raw {
                    let mut p = [*z];
                    lightgbm(transform, average_over, &mut p);
                    proba.copy_from_slice(&[1.0 - p[0], p[0]]);
                } else {
                    proba.copy_from_slice(raw);
                    lightgbm(transform, average_over, proba);
                }
                argmax(proba)
            }
            Link::XgBoost { transform } => {
                if let [z] = raw {
                    let mut p = [*z];
                    xgboost(transform, &mut p);
                    proba.copy_from_slice(&[f64::from(1.0f32 - p[0] as f32), p[0]]);
                } else {
                    proba.copy_from_slice(raw);
                    xgboost(transform, proba);
                }
                argmax(proba)
            }
            Link::ScikitLearn {
                transform,
                ties_to_positive,
            } => scikit_learn_classify(transform, ties_to_positive, raw, proba),
        }
    }
}

/// LightGBM's output for the raw scores `v`, in place: the average (random forest mode), then the
/// transform.
fn lightgbm(transform: LightGbmTransform, average_over: Option<usize>, v: &mut [f64]) {
    if let Some(n) = average_over {
        for x in v.iter_mut() {
            *x /= n as f64;
        }
    }
    match transform {
        LightGbmTransform::Identity => {}
        LightGbmTransform::SignedSquare => {
            for x in v.iter_mut() {
                *x = x.signum() * *x * *x;
            }
        }
        LightGbmTransform::Exp => {
            for x in v.iter_mut() {
                *x = x.exp();
            }
        }
        LightGbmTransform::Sigmoid(s) | LightGbmTransform::OvaSigmoid(s) => {
            for x in v.iter_mut() {
                *x = sigmoid(s * *x);
            }
        }
        LightGbmTransform::Softmax => softmax_in_place(v),
    }
}

/// XGBoost's output for the margins `v`, in place, each an `f32` widened.
fn xgboost(transform: XgBoostTransform, v: &mut [f64]) {
    match transform {
        XgBoostTransform::Identity => {}
        XgBoostTransform::Sigmoid => {
            for x in v.iter_mut() {
                *x = f64::from(sigmoid_f32(*x as f32));
            }
        }
        XgBoostTransform::Exp => {
            for x in v.iter_mut() {
                *x = f64::from((*x as f32).exp());
            }
        }
        XgBoostTransform::Hinge => {
            for x in v.iter_mut() {
                *x = if *x > 0.0 { 1.0 } else { 0.0 };
            }
        }
        XgBoostTransform::Softmax => softmax_f32(v),
    }
}

/// XGBoost's `common::Sigmoid`: `1 / (1 + exp(-x))` in `f32`, the exponent capped to avoid overflow.
pub fn sigmoid_f32(x: f32) -> f32 {
    let e = (-x).min(88.7).exp();
    1.0 / (e + 1.0 + 1e-16)
}

/// XGBoost's `common::Softmax`: `f32` exponentials of `x - max`, their sum in `f64`, divided in `f32`.
pub fn softmax_f32(v: &mut [f64]) {
    let max = v
        .iter()
        .map(|&x| x as f32)
        .fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for x in v.iter_mut() {
        let e = (*x as f32 - max).exp();
        *x = f64::from(e);
        sum += f64::from(e);
    }
    let sum = sum as f32;
    for x in v.iter_mut() {
        *x = f64::from(*x as f32 / sum);
    }
}

/// scikit-learn's P(class 1) of a binary link, or the value of a regression's (a multinomial link has no
/// one-score value: its softmax over one score, 1).
fn scikit_learn_value(transform: ScikitLearnTransform, z: f64) -> f64 {
    match transform {
        ScikitLearnTransform::Identity => z,
        ScikitLearnTransform::Log => z.exp(),
        ScikitLearnTransform::Logit => sigmoid(z),
        ScikitLearnTransform::HalfLogit => sigmoid(2.0 * z),
        ScikitLearnTransform::Multinomial => {
            let mut v = [z];
            softmax_in_place(&mut v);
            v[0]
        }
    }
}

/// scikit-learn's `predict_proba` and `predict`: multi-class by softmax and the largest raw score; binary
/// by P(class 1) and the raw score's sign.
fn scikit_learn_classify(
    transform: ScikitLearnTransform,
    ties_to_positive: bool,
    raw: &[f64],
    proba: &mut [f64],
) -> usize {
    if raw.len() > 1 {
        proba.copy_from_slice(raw);
        softmax_in_place(proba);
        return argmax(raw);
    }
    let p1 = scikit_learn_value(transform, raw[0]);
    proba.copy_from_slice(&[1.0 - p1, p1]);
    let positive = if ties_to_positive {
        raw[0] >= 0.0
    } else {
        raw[0] > 0.0
    };
    usize::from(positive)
}

#[cfg(test)]
mod tests;
