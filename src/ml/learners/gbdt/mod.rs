//! Gradient-boosted trees, histogram-based and grown leaf-wise as LightGBM grows them: features are binned
//! once (LightGBM's greedy bins: at most `max_bins` per feature, at least 3 rows per bin, plus one bin for
//! missing values), each tree keeps the leaf with the largest gain split next, the smaller child's
//! histogram is built from its rows and the larger one's is the parent's minus it. Missing values go to the
//! side that gains more (or, when a node saw none, to the larger child), and that choice is stored in the
//! node, so `--na` is not needed. Threads split the features, and every sum runs over rows in the same
//! order whatever the thread count, so a seed gives the same model bytes with any `--jobs`.
//!
//! Trees are saved in `trees.bin` (`forms/trees/codec.rs`) with the learning rate already applied to the leaf values;
//! the model's raw score is `base_score + sum(leaf values)` (one tree per class per iteration).
//!
//! This file is the public face: the hyperparameters, the fitted booster and [`fit`]. The
//! work is split by job as LightGBM splits it:
//!
//! | file           | job                                                     | LightGBM                |
//! |----------------|---------------------------------------------------------|-------------------------|
//! | `bins.rs`      | cut points per feature, every row's bins                | `src/io/bin.cpp`        |
//! | `grower.rs`    | histograms, split finding, leaf-wise growth, partition  | `src/treelearner/`      |
//! | `objective.rs` | `--loss`, and one `ObjectiveFunction` per objective     | `src/objective/`        |
//! | `metrics.rs`   | losses and metrics of the learning curves               | `src/metric/`           |
//! | `train.rs`     | the boosting loop: sampling, validation, early stopping | `src/boosting/gbdt.cpp` |
//! | `learner.rs`   | the `gradient-boosting` learner: its params, the form   | (the Python API)        |

mod bins;
mod grower;
mod learner;
mod metrics;
mod objective;
mod train;

pub use learner::GradientBoosting;

use crate::ml::forms::trees::codec::MAX_FEATURES;
use crate::ml::forms::trees::grown::TreeBuilder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ml::forms::boosted::Objective;

/// Hyperparameters (LightGBM's defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoostParams {
    pub n_estimators: usize,
    pub learning_rate: f64,
    pub num_leaves: usize,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    pub min_sum_hessian: f64,
    pub l2: f64,
    pub max_bins: usize,
    pub subsample: f64,
    pub colsample: f64,
    /// Stop after this many iterations without a better validation loss.
    pub early_stopping: Option<usize>,
    pub validation_fraction: f64,
    /// Where Huber loss turns from squared to absolute (LightGBM's `alpha` for `huber`).
    pub huber_delta: f64,
    pub seed: u64,
    pub jobs: usize,
}

/// A fitted booster and how it got there.
#[derive(Debug, Clone)]
pub struct Boosted {
    pub trees: Vec<TreeBuilder>,
    pub base_score: Vec<f64>,
    /// Trees per iteration: the number of classes for multi-class, else 1.
    pub per_iteration: usize,
    /// Gain per feature.
    pub importance: Vec<f64>,
    pub curves: Curves,
}

/// Learning curves: per iteration (the first is iteration 1), the training loss, and with a validation
/// part its loss and main metric (accuracy or RMSE).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    pub train_loss: Vec<f64>,
    pub validation_loss: Vec<f64>,
    pub validation_metric: Vec<f64>,
    /// The iteration kept (early stopping).
    pub best_iteration: Option<usize>,
}

/// Check the hyperparameters the booster alone uses.
fn check(nf: usize, p: &BoostParams) -> Result<(), String> {
    if nf >= MAX_FEATURES {
        return Err(format!(
            "{nf} features; gradient boosting takes at most 32767"
        ));
    }
    if !(p.learning_rate > 0.0 && p.learning_rate.is_finite()) {
        return Err(format!(
            "--learning-rate must be above 0, not {}",
            p.learning_rate
        ));
    }
    for (name, v) in [("--subsample", p.subsample), ("--colsample", p.colsample)] {
        if !(v > 0.0 && v <= 1.0) {
            return Err(format!("{name} must be above 0 and at most 1, not {v}"));
        }
    }
    if !(2..=255).contains(&p.max_bins) {
        return Err(format!(
            "--max-bins must be between 2 and 255, not {}",
            p.max_bins
        ));
    }
    if !(p.huber_delta > 0.0 && p.huber_delta.is_finite()) {
        return Err(format!(
            "--huber-delta must be above 0, not {}",
            p.huber_delta
        ));
    }
    if p.num_leaves < 2 {
        return Err(format!(
            "--num-leaves must be at least 2, not {}",
            p.num_leaves
        ));
    }
    Ok(())
}

/// Fit a booster on row-major `x` (`nf` features; NaN for missing values) and targets `y` (class indices
/// or values). With early stopping, `validation_fraction` of the rows is held out (stratified for
/// classification, seeded) to choose the number of iterations. `progress` is called once per iteration.
pub fn fit(
    x: &[f64],
    nf: usize,
    y: &[f64],
    obj: Objective,
    n_classes: usize,
    p: &BoostParams,
    progress: &(dyn Fn() + Sync),
) -> Result<Boosted, String> {
    check(nf, p)?;
    if p.jobs <= 1 {
        return train::boost(x, nf, y, obj, n_classes, p, progress);
    }
    // One pool for the whole fit: a node's features are shared among waiting threads in microseconds,
    // where starting threads a node cost more than small nodes' work.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.jobs)
        .build()
        .map_err(|e| format!("cannot start {} threads: {e}", p.jobs))?;
    pool.install(|| train::boost(x, nf, y, obj, n_classes, p, progress))
}

/// `f(i)` for `i in 0..n`, in order, on the fit's thread pool when `jobs` allows.
pub(super) fn parallel_map<T: Send>(
    n: usize,
    jobs: usize,
    f: impl Fn(usize) -> T + Sync + Send,
) -> Vec<T> {
    parallel_each((0..n).collect(), jobs, f)
}

/// `f` of each item, results in order: on the fit's thread pool (rayon's, sized by `--jobs`) unless
/// `jobs` is 1. Each item is computed alone, so the threads change no result.
pub(super) fn parallel_each<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    if jobs <= 1 || items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    items.into_par_iter().map(f).collect()
}

#[cfg(test)]
mod tests;
