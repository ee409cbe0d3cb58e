//! What boosting minimises (LightGBM's `src/objective/`, behind one interface as its
//! `include/LightGBM/objective_function.h`): for each `Objective` (named by `--loss`, saved in model.json; the
//! name lives with the `Boosted` form), one [`ObjectiveFunction`] with its gradients and hessians, starting score, leaf refit and
//! evaluation: binary log loss and multi-class softmax (`binary_objective.hpp`, `multiclass_objective.hpp`),
//! squared error, absolute error and Huber loss (`regression_objective.hpp`).

use super::metrics::{self, huber};
use crate::ml::core::{sigmoid, softmax};
use crate::ml::forms::boosted::Objective;

impl Objective {
    /// This objective's arithmetic, for `n_classes` classes (multi-class) or Huber's `huber_delta`.
    pub fn function(self, n_classes: usize, huber_delta: f64) -> Box<dyn ObjectiveFunction> {
        match self {
            Objective::Binary => Box::new(BinaryLogLoss),
            Objective::Multiclass => Box::new(MulticlassSoftmax { k: n_classes }),
            Objective::SquaredError => Box::new(SquaredError),
            Objective::AbsoluteError => Box::new(AbsoluteError),
            Objective::Huber => Box::new(Huber { delta: huber_delta }),
        }
    }
}

/// One objective's arithmetic. Scores are row-major, [`num_scores`](Self::num_scores) per row.
pub trait ObjectiveFunction: Sync {
    /// Raw scores per row, and trees per iteration: the number of classes for multi-class, else 1
    /// (LightGBM's `NumModelPerIteration`).
    fn num_scores(&self) -> usize {
        1
    }

    /// The starting raw scores (LightGBM's `BoostFromScore`), one per score of a row.
    fn initial_scores(&self, y: &[f64]) -> Vec<f64>;

    /// Gradients and hessians of one block of rows' `scores` for the trees of class `class` (0 but for
    /// multi-class) into `g` and `h` (LightGBM's `GetGradients`); returns the sum of the rows' losses.
    fn gradients(
        &self,
        y: &[f64],
        scores: &[f64],
        class: usize,
        g: &mut [f32],
        h: &mut [f32],
    ) -> f64;

    /// When a leaf's value is not the Newton step of its sums but a statistic of its rows' residuals
    /// (`y - score`), that statistic (LightGBM's `RenewTreeOutput`); the learning rate applies after it.
    fn leaf_output_from_residuals(&self) -> Option<fn(Vec<f64>) -> f64> {
        None
    }

    /// Mean loss and main metric (accuracy or RMSE) of `scores` for `y`.
    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64);
}

/// Binary log loss on the positive class's log-odds.
struct BinaryLogLoss;

impl ObjectiveFunction for BinaryLogLoss {
    fn initial_scores(&self, y: &[f64]) -> Vec<f64> {
        let n = y.len().max(1) as f64;
        let p = (y.iter().sum::<f64>() / n).clamp(1e-15, 1.0 - 1e-15);
        vec![(p / (1.0 - p)).ln()]
    }

    fn gradients(&self, y: &[f64], scores: &[f64], _: usize, g: &mut [f32], h: &mut [f32]) -> f64 {
        let mut loss = 0.0;
        for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
            let p = sigmoid(s);
            *gi = (p - yi) as f32;
            *hi = (p * (1.0 - p)) as f32;
            // The probability of the true class, from the p already at hand (one log a row).
            let q = if yi > 0.5 { p } else { 1.0 - p };
            loss -= q.max(1e-300).ln();
        }
        loss
    }

    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64) {
        (
            metrics::binary_log_loss(y, scores),
            metrics::binary_accuracy(y, scores),
        )
    }
}

/// Softmax cross-entropy over `k` classes.
struct MulticlassSoftmax {
    k: usize,
}

impl ObjectiveFunction for MulticlassSoftmax {
    fn num_scores(&self) -> usize {
        self.k
    }

    /// The log of each class's share.
    fn initial_scores(&self, y: &[f64]) -> Vec<f64> {
        let n = y.len().max(1) as f64;
        let mut counts = vec![0.0; self.k];
        for &v in y {
            counts[v as usize] += 1.0;
        }
        counts.iter().map(|c| (c / n).max(1e-15).ln()).collect()
    }

    fn gradients(
        &self,
        y: &[f64],
        scores: &[f64],
        class: usize,
        g: &mut [f32],
        h: &mut [f32],
    ) -> f64 {
        let k = self.k;
        // LightGBM's hessian factor k/(k-1).
        let factor = k as f64 / (k as f64 - 1.0);
        let mut p = vec![0.0; k];
        let mut loss = 0.0;
        for (r, &yi) in y.iter().enumerate() {
            softmax(&scores[r * k..(r + 1) * k], &mut p);
            let is = f64::from(yi as usize == class);
            g[r] = (p[class] - is) as f32;
            h[r] = (factor * p[class] * (1.0 - p[class])) as f32;
            loss -= p[yi as usize].max(1e-15).ln();
        }
        loss
    }

    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64) {
        (
            metrics::multi_log_loss(y, scores, self.k),
            metrics::multi_accuracy(y, scores, self.k),
        )
    }
}

/// Squared error; the start is the targets' mean.
struct SquaredError;

impl ObjectiveFunction for SquaredError {
    fn initial_scores(&self, y: &[f64]) -> Vec<f64> {
        vec![mean(y)]
    }

    fn gradients(&self, y: &[f64], scores: &[f64], _: usize, g: &mut [f32], h: &mut [f32]) -> f64 {
        let mut loss = 0.0;
        for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
            *gi = (s - yi) as f32;
            *hi = 1.0;
            loss += (s - yi) * (s - yi);
        }
        loss
    }

    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64) {
        let mse = metrics::mean_squared_error(y, scores);
        (mse, mse.sqrt())
    }
}

/// Absolute error: trees split on the residuals' signs, leaves are refit to their residuals' medians.
struct AbsoluteError;

impl ObjectiveFunction for AbsoluteError {
    fn initial_scores(&self, y: &[f64]) -> Vec<f64> {
        vec![median(y.to_vec())]
    }

    fn gradients(&self, y: &[f64], scores: &[f64], _: usize, g: &mut [f32], h: &mut [f32]) -> f64 {
        let mut loss = 0.0;
        for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
            let d = s - yi;
            *gi = if d > 0.0 {
                1.0
            } else if d < 0.0 {
                -1.0
            } else {
                0.0
            };
            *hi = 1.0;
            loss += d.abs();
        }
        loss
    }

    /// The Newton step on signs is only a direction: each leaf moves its rows by their residuals' median.
    fn leaf_output_from_residuals(&self) -> Option<fn(Vec<f64>) -> f64> {
        Some(median)
    }

    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64) {
        (
            metrics::mean_absolute_error(y, scores),
            metrics::mean_squared_error(y, scores).sqrt(),
        )
    }
}

/// Huber loss (LightGBM's): gradients clipped to `delta`, hessian 1; the start is the targets' mean.
struct Huber {
    delta: f64,
}

impl ObjectiveFunction for Huber {
    fn initial_scores(&self, y: &[f64]) -> Vec<f64> {
        vec![mean(y)]
    }

    fn gradients(&self, y: &[f64], scores: &[f64], _: usize, g: &mut [f32], h: &mut [f32]) -> f64 {
        let delta = self.delta;
        let mut loss = 0.0;
        for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
            let d = s - yi;
            *gi = d.clamp(-delta, delta) as f32;
            *hi = 1.0;
            loss += huber(d, delta);
        }
        loss
    }

    fn evaluate(&self, y: &[f64], scores: &[f64]) -> (f64, f64) {
        (
            metrics::mean_huber_loss(y, scores, self.delta),
            metrics::mean_squared_error(y, scores).sqrt(),
        )
    }
}

/// The mean of `y` (0 for none).
fn mean(y: &[f64]) -> f64 {
    y.iter().sum::<f64>() / y.len().max(1) as f64
}

/// The median (the mean of the middle two for an even count); 0 for none.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        v[m - 1] + (v[m] - v[m - 1]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gradients, hessians and the loss sum of `scores` for `y` (class 0).
    fn grad(f: &dyn ObjectiveFunction, y: &[f64], scores: &[f64]) -> (Vec<f32>, Vec<f32>, f64) {
        let (mut g, mut h) = (vec![0f32; y.len()], vec![0f32; y.len()]);
        let loss = f.gradients(y, scores, 0, &mut g, &mut h);
        (g, h, loss)
    }

    #[test]
    fn each_objective_gives_its_gradients_start_and_refit() {
        let y = [0.0, 1.0, 1.0, 1.0];
        let binary = Objective::Binary.function(2, 0.9);
        assert_eq!(binary.num_scores(), 1);
        assert_eq!(binary.initial_scores(&y), vec![3f64.ln()]);
        let (g, h, loss) = grad(&*binary, &y, &[0.0; 4]);
        assert_eq!((g, h), (vec![0.5, -0.5, -0.5, -0.5], vec![0.25; 4]));
        assert!((loss - 4.0 * 2f64.ln()).abs() < 1e-12);
        assert!(binary.leaf_output_from_residuals().is_none());

        let y = [1.0, 2.0, 6.0];
        let l1 = Objective::AbsoluteError.function(0, 0.9);
        assert_eq!(l1.initial_scores(&y), vec![2.0]);
        assert_eq!(
            grad(&*l1, &y, &[2.0; 3]),
            (vec![1.0, 0.0, -1.0], vec![1.0; 3], 5.0)
        );
        let refit = l1
            .leaf_output_from_residuals()
            .expect("absolute error refits");
        assert_eq!(refit(vec![4.0, -1.0, 0.5, 3.0]), 1.75);

        let huber = Objective::Huber.function(0, 1.0);
        assert_eq!(huber.initial_scores(&y), vec![3.0]);
        // Residuals 2, 1, -3: squared within the delta, clipped beyond it.
        assert_eq!(
            grad(&*huber, &y, &[3.0; 3]),
            (vec![1.0, 1.0, -1.0], vec![1.0; 3], 1.5 + 0.5 + 2.5)
        );

        let l2 = Objective::SquaredError.function(0, 0.9);
        assert_eq!(
            grad(&*l2, &y, &[3.0; 3]),
            (vec![2.0, 1.0, -3.0], vec![1.0; 3], 14.0)
        );
        assert_eq!(
            l2.evaluate(&y, &[3.0; 3]),
            (14.0 / 3.0, (14.0f64 / 3.0).sqrt())
        );
    }

    #[test]
    fn multiclass_has_a_score_per_class_and_lightgbms_hessian_factor() {
        let f = Objective::Multiclass.function(3, 0.9);
        assert_eq!(f.num_scores(), 3);
        let y = [0.0, 2.0, 2.0, 2.0];
        let start = f.initial_scores(&y);
        assert_eq!(start, vec![0.25f64.ln(), 1e-15f64.ln(), 0.75f64.ln()]);
        // Equal scores: p = 1/3 for each class; the hessian is 3/2 * 1/3 * 2/3 = 1/3.
        let (mut g, mut h) = (vec![0f32; 2], vec![0f32; 2]);
        let loss = f.gradients(&[0.0, 2.0], &[0.0; 6], 2, &mut g, &mut h);
        assert_eq!(g, vec![(1.0f64 / 3.0) as f32, (1.0f64 / 3.0 - 1.0) as f32]);
        assert_eq!(h, vec![(1.5 * (1.0f64 / 3.0) * (2.0 / 3.0)) as f32; 2]);
        assert!((loss - 2.0 * 3f64.ln()).abs() < 1e-12);
    }
}
