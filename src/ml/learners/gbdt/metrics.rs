//! Evaluation of raw scores (LightGBM's `src/metric/`): the mean losses and main metrics (accuracy, RMSE)
//! that the learning curves record and early stopping compares, each a mean over the rows. Scores are
//! row-major, `k` per row for multi-class.

use crate::ml::core::argmax;

/// The mean binary log loss of log-odds `scores`.
pub(super) fn binary_log_loss(y: &[f64], scores: &[f64]) -> f64 {
    let loss = y
        .iter()
        .zip(scores)
        .map(|(&yi, &s)| log_loss_binary(s, yi))
        .sum::<f64>();
    loss / rows(y)
}

/// The share of rows whose log-odds are on their class's side of 0.
pub(super) fn binary_accuracy(y: &[f64], scores: &[f64]) -> f64 {
    let right = y
        .iter()
        .zip(scores)
        .filter(|(yi, s)| (**s > 0.0) == (**yi > 0.5))
        .count();
    right as f64 / rows(y)
}

/// The mean softmax cross-entropy.
pub(super) fn multi_log_loss(y: &[f64], scores: &[f64], k: usize) -> f64 {
    let mut p = vec![0.0; k];
    let mut loss = 0.0;
    for (r, &yi) in y.iter().enumerate() {
        crate::ml::core::softmax(&scores[r * k..(r + 1) * k], &mut p);
        loss -= p[yi as usize].max(1e-15).ln();
    }
    loss / rows(y)
}

/// The share of rows whose largest score is their class's.
pub(super) fn multi_accuracy(y: &[f64], scores: &[f64], k: usize) -> f64 {
    let mut right = 0usize;
    for (r, &yi) in y.iter().enumerate() {
        right += usize::from(argmax(&scores[r * k..(r + 1) * k]) == yi as usize);
    }
    right as f64 / rows(y)
}

pub(super) fn mean_squared_error(y: &[f64], scores: &[f64]) -> f64 {
    y.iter()
        .zip(scores)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / rows(y)
}

pub(super) fn mean_absolute_error(y: &[f64], scores: &[f64]) -> f64 {
    let loss = y
        .iter()
        .zip(scores)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>();
    loss / rows(y)
}

pub(super) fn mean_huber_loss(y: &[f64], scores: &[f64], delta: f64) -> f64 {
    let loss = y
        .iter()
        .zip(scores)
        .map(|(a, b)| huber(b - a, delta))
        .sum::<f64>();
    loss / rows(y)
}

/// Huber loss of residual `d`: squared within `delta`, absolute beyond.
pub(super) fn huber(d: f64, delta: f64) -> f64 {
    if d.abs() <= delta {
        0.5 * d * d
    } else {
        delta * (d.abs() - 0.5 * delta)
    }
}

fn log_loss_binary(s: f64, y: f64) -> f64 {
    // log(1 + e^-s) for y = 1, log(1 + e^s) for y = 0, stable for large |s|.
    let z = if y > 0.5 { -s } else { s };
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// The row count as the divisor of a mean (1 for none).
fn rows(y: &[f64]) -> f64 {
    y.len().max(1) as f64
}
