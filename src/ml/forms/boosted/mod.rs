//! The `Boosted` form: gradient boosting's trees, each adding its (learning-rate-scaled) leaf value to one
//! class's raw score, with the base score; the raw scores become the prediction by the form's [`Link`]:
//! mlx's own (the logistic function or softmax) or the library's a model was read from (`link.rs`).
//! Prediction walks the trees in the flat layout (`trees/flat.rs`) when it computes them exactly.

pub mod link;
use super::LoadCheck;
use super::trees::Layout;
use super::trees::ensemble::{Ensemble, Rules};
use crate::ml::core::{ModelError, Task};
use link::Link;
use serde::{Deserialize, Serialize};

/// Buffers a boosted model's predictions reuse from row to row: the row as `f32`, the raw scores.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) row: Vec<f32>,
    z: Vec<f64>,
}

/// What a boosted model predicts from: its trees (and their flat layout, once built), base scores
/// and link.
pub(super) struct Model<'a> {
    pub(super) layout: &'a Layout,
    pub(super) trees: &'a Ensemble,
    pub(super) base: &'a [f64],
    pub(super) link: Link,
}

impl Model<'_> {
    /// The raw scores of `row` (one per base score): the trees' values summed in order, the base where
    /// the link puts it.
    pub(super) fn raw_scores<'s>(&self, row: &[f64], s: &'s mut Scratch) -> &'s [f64] {
        s.z.clear();
        s.z.resize(self.base.len(), 0.0);
        let (row32, z) = (&mut s.row, &mut s.z);
        self.link.raw_scores(self.base, z, |out| {
            super::trees::add_scores(self.layout, self.trees, row, row32, out)
        });
        &s.z
    }

    /// Class probabilities of one row into `p`, and the predicted class.
    pub(super) fn classify_row(&self, row: &[f64], s: &mut Scratch, p: &mut [f64]) -> usize {
        let link = self.link;
        link.classify(self.raw_scores(row, s), p)
    }

    /// The predicted value of one row (regression).
    pub(super) fn value_row(&self, row: &[f64], s: &mut Scratch) -> f64 {
        let link = self.link;
        link.value(self.raw_scores(row, s))
    }
}

/// Check the boosting state against the classes, then read `trees.bin` (one value per leaf: each tree
/// scores one class).
pub(super) fn load(
    trees: &mut Ensemble,
    n_trees: usize,
    base_score: &[f64],
    per_iteration: usize,
    cx: &LoadCheck,
) -> Result<(), ModelError> {
    let want = match cx.task {
        Task::Classification if cx.outputs > 2 => cx.outputs,
        _ => 1,
    };
    if per_iteration != want || base_score.len() != want {
        return Err(cx.json_error("boosting state does not match the classes"));
    }
    super::trees::read_trees_bin(trees, n_trees, (1, want), Rules::MLX_SUM, cx)?;
    if !n_trees.is_multiple_of(want) {
        let trees_path = cx.dir.join(super::TREES_BIN);
        return Err(cx.error(
            &trees_path,
            format!("{} trees, expected {n_trees}", trees.n_trees()),
        ));
    }
    Ok(())
}

/// What is minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Binary log loss on one raw score (the positive class's log-odds).
    Binary,
    /// Softmax cross-entropy, one raw score and one tree per class per iteration.
    Multiclass,
    SquaredError,
    /// Absolute error (regression): trees split on the gradients' signs, then each leaf's value is the
    /// median of its rows' residuals (LightGBM's and scikit-learn's refit), the start the targets' median.
    AbsoluteError,
    /// Huber loss with LightGBM's definition: squared error for residuals within `huber_delta`, absolute
    /// beyond (gradient clipped to the delta, hessian 1); the start is the targets' mean.
    Huber,
}

impl Objective {
    pub fn is_regression(self) -> bool {
        !matches!(self, Objective::Binary | Objective::Multiclass)
    }
}
