//! Boosting as a whole: hand-computed iterations per objective, missing values, thread counts, early
//! stopping and multi-class.

use super::*;
use crate::ml::forms::trees::ensemble::RawNode;

fn params(n: usize, leaves: usize, lr: f64, min_leaf: usize) -> BoostParams {
    BoostParams {
        n_estimators: n,
        learning_rate: lr,
        num_leaves: leaves,
        max_depth: None,
        min_samples_leaf: min_leaf,
        min_sum_hessian: 1e-3,
        l2: 0.0,
        max_bins: 255,
        subsample: 1.0,
        colsample: 1.0,
        early_stopping: None,
        validation_fraction: 0.1,
        huber_delta: 0.9,
        seed: 1,
        jobs: 1,
    }
}

fn predict(b: &Boosted, row: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; b.per_iteration];
    raw_scores(b, row, &mut out);
    out
}

/// A noisy two-feature problem (a small deterministic generator).
fn noisy(n: usize, classes: usize) -> (Vec<f64>, Vec<f64>) {
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (a, b) = (next(), next());
        let noise = next();
        x.extend([a, if noise < 0.05 { f64::NAN } else { b }]);
        let z = a + 0.5 * b + 0.6 * (next() - 0.5);
        y.push(((z / 1.5 * classes as f64) as usize).min(classes - 1) as f64);
    }
    (x, y)
}

#[test]
fn two_iterations_match_a_hand_computation() {
    // x = 1, 2, 3, 4 three times each (three rows a bin), y = 1, 1, 3, 5; lr 0.5, two leaves.
    let x: Vec<f64> = (0..12).map(|i| (i / 3 + 1) as f64).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|v| [1.0, 1.0, 3.0, 5.0][*v as usize - 1])
        .collect();
    let b = fit(
        &x,
        1,
        &y,
        Objective::SquaredError,
        0,
        &params(2, 2, 0.5, 1),
        &|| {},
    )
    .unwrap();
    // Base 2.5. Iteration 1: gradients 1.5, 1.5, -0.5, -2.5 (x3); the split at 2.5 gains
    // 9²/6 + 9²/6 = 27 (1.5: 9, 3.5: 25); leaves -(9/6)·0.5 = -0.75 and +0.75.
    // Iteration 2: gradients 0.75, 0.75, 0.25, -1.75; the split at 3.5 gains 5.25²/9 + 5.25²/3
    // = 12.25 (1.5: 2.25, 2.5: 6.75); leaves -(5.25/9)·0.5 and (5.25/3)·0.5 = 0.875.
    assert_eq!(b.base_score, vec![2.5]);
    assert_eq!(b.trees.len(), 2);
    let t1 = &b.trees[0];
    // No missing value at training: missing ones would go with the larger (here: left) side.
    assert_eq!(root(t1), (NAN_LEFT, 2.5));
    assert_eq!(values(t1), vec![-0.75, 0.75]);
    let t2 = &b.trees[1];
    assert_eq!(root(t2), (NAN_LEFT, 3.5));
    assert_eq!(values(t2), vec![(-5.25f64 / 9.0 * 0.5) as f32, 0.875]);
    let third = (-5.25f64 / 9.0 * 0.5) as f32 as f64;
    for (v, want) in [
        (1.0, 2.5 - 0.75 + third),
        (2.0, 2.5 - 0.75 + third),
        (3.0, 2.5 + 0.75 + third),
        (4.0, 2.5 + 0.75 + 0.875),
    ] {
        assert!((predict(&b, &[v])[0] - want).abs() < 1e-12, "x={v}");
    }
    assert_eq!(b.importance, vec![27.0 + 12.25]);
    // Training loss (MSE) after each iteration: 1.0625 (scores 1.75, 3.25 vs 1, 1, 3, 5), then lower.
    assert_eq!(b.curves.train_loss.len(), 2);
    assert!((b.curves.train_loss[0] - (0.5625 * 2.0 + 0.0625 + 3.0625) / 4.0).abs() < 1e-12);
    assert!(b.curves.train_loss[1] < b.curves.train_loss[0]);
}

/// A regression fit on one feature.
fn fit_one(x: &[f64], y: &[f64], obj: Objective, p: &BoostParams) -> Result<Boosted, String> {
    fit(x, 1, y, obj, 0, p, &|| {})
}

/// x = 1, 2, 3, 4 three times each; y spread within each x (an outlier at 20).
fn robust_case() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..12).map(|i| (i / 3 + 1) as f64).collect();
    let y = vec![0.0, 1.0, 2.0, 1.0, 2.0, 9.0, 4.0, 5.0, 6.0, 6.0, 7.0, 20.0];
    (x, y)
}

/// In [`root`]'s feature: missing values go left (as `trees.bin` writes it).
const NAN_LEFT: u16 = 0x8000;

/// A tree's root: its feature (with [`NAN_LEFT`]) and threshold.
fn root(t: &TreeBuilder) -> (u16, f32) {
    match t.raw_nodes()[0] {
        RawNode::Split {
            feature,
            threshold,
            default_left,
            ..
        } => (
            feature as u16 | if default_left { NAN_LEFT } else { 0 },
            threshold as f32,
        ),
        _ => panic!("the root is a leaf"),
    }
}

/// A tree's leaf values, in preorder.
fn values(t: &TreeBuilder) -> Vec<f32> {
    let nodes = t.raw_nodes();
    let leaves = nodes.iter().filter_map(|n| match n {
        RawNode::Leaf { value } => Some(*value as f32),
        _ => None,
    });
    leaves.collect()
}

#[test]
fn absolute_error_two_iterations_split_on_signs_and_refit_leaves_to_medians() {
    let (x, y) = robust_case();
    let p = params(2, 2, 0.5, 1);
    let b = fit_one(&x, &y, Objective::AbsoluteError, &p).unwrap();
    // Base: the median of y, (4 + 5) / 2 = 4.5. Iteration 1: gradients sign(4.5 - y) sum per x to
    // 3, 1, -1, -3 (hessian 1, three rows each); the split at 2.5 gains 4²/6 + 4²/6 = 16/3 (1.5 and
    // 3.5: 4). Left residuals y - 4.5: -4.5 -3.5 -2.5 -3.5 -2.5 4.5, median -3, times 0.5 = -1.5 (the
    // Newton step would be -(4/6)·0.5); right -0.5 0.5 1.5 1.5 2.5 15.5, median 1.5 -> 0.75.
    assert_eq!(b.base_score, vec![4.5]);
    assert_eq!(b.trees.len(), 2);
    let t1 = &b.trees[0];
    assert_eq!(root(t1), (NAN_LEFT, 2.5));
    assert_eq!(values(t1), vec![-1.5, 0.75]);
    // Iteration 2 (scores 3 for x <= 2, 5.25 beyond): signs sum per x to 3, 1, 1, -3 (total 2); the
    // split at 3.5 gains 5²/9 + 3²/3 - 2²/12 = 49/9 (2.5: 3, 1.5: 2.78). Left residuals
    // -3 -2 -1 -2 -1 6 -1.25 -0.25 0.75, median -1 -> -0.5; right 0.75 1.75 14.75, median 1.75
    // -> 0.875.
    let t2 = &b.trees[1];
    assert_eq!(root(t2), (NAN_LEFT, 3.5));
    assert_eq!(values(t2), vec![-0.5, 0.875]);
    for (v, want) in [(1.0, 2.5), (2.0, 2.5), (3.0, 4.75), (4.0, 6.125)] {
        assert_eq!(predict(&b, &[v]), vec![want], "x={v}");
    }
    assert!((b.importance[0] - 97.0 / 9.0).abs() < 1e-12);
    // Mean absolute error after each iteration: (6 + 9 + 2.25 + 17.25) / 12, then
    // (4.5 + 8.5 + 2.25 + 14.875) / 12.
    assert_eq!(b.curves.train_loss, vec![34.5 / 12.0, 30.125 / 12.0]);
}

#[test]
fn huber_two_iterations_clip_gradients_at_the_delta() {
    let (x, y) = robust_case();
    let mut p = params(2, 2, 0.5, 1);
    p.huber_delta = 1.0;
    let b = fit_one(&x, &y, Objective::Huber, &p).unwrap();
    // Base: the mean, 63/12 = 5.25. Iteration 1: gradients 5.25 - y clipped to [-1, 1] sum per x to
    // 3, 1, 0.5 (1, 0.25, -0.75), -2.75 (-0.75, -1, -1: the outlier's -14.75 counts as -1); total
    // 1.75. The split at 3.5 gains 4.5²/9 + 2.75²/3 - 1.75²/12 = 4.52 (1.5: 2.92, 2.5: 3.26);
    // leaves -(4.5/9)·0.5 = -0.25 and (2.75/3)·0.5 = 11/24 (unclipped it would be (17.25/3)·0.5).
    assert_eq!(b.base_score, vec![5.25]);
    let t1 = &b.trees[0];
    assert_eq!(root(t1), (NAN_LEFT, 3.5));
    assert_eq!(values(t1), vec![-0.25, (11.0f64 / 24.0) as f32]);
    // Iteration 2 (scores 5 for x <= 3, 5.25 + 11/24 = 137/24 at x = 4): gradients per x sum to 3
    // (5, 4, 3 clipped), 1 (4, 3, -4), 0 (1, 0, -1) and -7/24 - 1 - 1 = -55/24. The split at 2.5
    // gains 4²/6 + (55/24)²/6 = 3.542, just ahead of 3.5's 4²/9 + (55/24)²/3 = 3.528 (the parent's
    // score is the same for both); leaves -(4/6)·0.5 = -1/3 and (55/24/6)·0.5 = 55/288.
    let t2 = &b.trees[1];
    assert_eq!(root(t2), (NAN_LEFT, 2.5));
    let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(near(values(t2)[0] as f64, -1.0 / 3.0), "{:?}", values(t2));
    assert!(near(values(t2)[1] as f64, 55.0 / 288.0), "{:?}", values(t2));
    let x4 = 5.25 + 11.0 / 24.0 + 55.0 / 288.0;
    for (v, want) in [
        (1.0, 5.0 - 1.0 / 3.0),
        (2.0, 5.0 - 1.0 / 3.0),
        (3.0, 5.0 + 55.0 / 288.0),
        (4.0, x4),
    ] {
        assert!(near(predict(&b, &[v])[0], want), "x={v}");
    }
    // Huber loss after iteration 1, per x: 4.5 + 3.5 + 2.5, 3.5 + 2.5 + 3.5, 0.5 + 0 + 0.5, and at
    // x = 4 residuals -7/24 (squared: 49/1152), -31/24 and -343/24 (|d| - 0.5 each).
    let first = (10.5 + 9.5 + 1.0 + 49.0 / 1152.0 + 350.0 / 24.0) / 12.0;
    assert_eq!(b.curves.train_loss.len(), 2);
    assert!(near(b.curves.train_loss[0], first), "{:?}", b.curves);
    assert!(b.curves.train_loss[1] < first);
    p.huber_delta = 0.0;
    assert!(fit_one(&x, &y, Objective::Huber, &p).is_err());
}

#[test]
fn missing_values_go_to_the_side_learned_at_training() {
    // Missing values behave like the small ones: the split sends them left.
    let mut x = Vec::new();
    let mut y = Vec::new();
    for v in 1..=6 {
        for _ in 0..3 {
            x.push(v as f64);
            y.push(if v <= 3 { 0.0 } else { 10.0 });
        }
    }
    for _ in 0..3 {
        x.push(f64::NAN);
        y.push(0.0);
    }
    let b = fit(
        &x,
        1,
        &y,
        Objective::SquaredError,
        0,
        &params(1, 2, 1.0, 1),
        &|| {},
    )
    .unwrap();
    assert_eq!(
        root(&b.trees[0]),
        (NAN_LEFT, 3.5),
        "feature 0, missing values left"
    );
    assert!((predict(&b, &[f64::NAN])[0] - 0.0).abs() < 1e-6);
    assert!((predict(&b, &[5.0])[0] - 10.0).abs() < 1e-6);
    // With the missing rows among the large ones they go right (the flag is clear).
    let y2: Vec<f64> = y
        .iter()
        .zip(&x)
        .map(|(t, v)| if v.is_nan() { 10.0 } else { *t })
        .collect();
    let b = fit(
        &x,
        1,
        &y2,
        Objective::SquaredError,
        0,
        &params(1, 2, 1.0, 1),
        &|| {},
    )
    .unwrap();
    assert_eq!(root(&b.trees[0]).0, 0);
    assert!((predict(&b, &[f64::NAN])[0] - 10.0).abs() < 1e-6);
    // A feature with no missing value at training: missing goes with the larger side.
    let x3: Vec<f64> = (0..30).map(|i| i as f64).collect();
    let y3: Vec<f64> = (0..30).map(|i| if i < 20 { 0.0 } else { 1.0 }).collect();
    let b = fit(
        &x3,
        1,
        &y3,
        Objective::SquaredError,
        0,
        &params(1, 2, 1.0, 1),
        &|| {},
    )
    .unwrap();
    assert!((predict(&b, &[f64::NAN])[0] - predict(&b, &[0.0])[0]).abs() < 1e-12);
}

#[test]
fn the_same_model_whatever_the_thread_count() {
    // Enough rows that partitions and gradient blocks are shared among threads too.
    let (x, y) = noisy(40_000, 2);
    let mut p = params(6, 31, 0.1, 20);
    p.subsample = 0.8;
    p.colsample = 0.5;
    let one = fit(&x, 2, &y, Objective::Binary, 2, &p, &|| {}).unwrap();
    p.jobs = 2;
    let two = fit(&x, 2, &y, Objective::Binary, 2, &p, &|| {}).unwrap();
    assert_eq!(one.trees, two.trees);
    assert_eq!(one.curves, two.curves);
}

#[test]
fn early_stopping_keeps_the_best_iteration() {
    let (x, y) = noisy(3000, 2);
    let mut p = params(400, 31, 0.5, 5);
    p.early_stopping = Some(5);
    p.validation_fraction = 0.2;
    let b = fit(&x, 2, &y, Objective::Binary, 2, &p, &|| {}).unwrap();
    let best = b.curves.best_iteration.expect("early stopping records it");
    let v = &b.curves.validation_loss;
    assert!(v.len() < 400, "it stopped ({} iterations)", v.len());
    assert_eq!(v.len(), best + 5, "five iterations without improvement");
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(v[best - 1], min);
    assert_eq!(b.trees.len(), best);
    assert_eq!(b.curves.validation_metric.len(), v.len());
}

#[test]
fn three_classes_one_tree_each_per_iteration() {
    let (x, y) = noisy(3000, 3);
    let b = fit(
        &x,
        2,
        &y,
        Objective::Multiclass,
        3,
        &params(30, 15, 0.1, 20),
        &|| {},
    )
    .unwrap();
    assert_eq!((b.per_iteration, b.trees.len()), (3, 90));
    let right = (0..y.len())
        .filter(|&r| {
            let s = predict(&b, &x[r * 2..r * 2 + 2]);
            crate::ml::core::argmax(&s) == y[r] as usize
        })
        .count();
    assert!(right as f64 / y.len() as f64 > 0.7, "{right}"); // the noise caps it near 0.75
    let loss = &b.curves.train_loss;
    assert!(loss[loss.len() - 1] < loss[0] * 0.9, "{loss:?}");
}

/// Raw scores (`per_iteration` per row) of one row: the trees' values summed in order, then the base.
fn raw_scores(b: &Boosted, row: &[f64], out: &mut [f64]) {
    use crate::ml::forms::trees::ensemble::{Ensemble, Rules};
    let k = b.per_iteration.max(1);
    let trees = b.trees.iter().cloned().enumerate();
    let trees = trees.map(|(t, nodes)| (nodes, t % k)).collect();
    let trees = Ensemble::grown(trees, row.len(), k, Rules::MLX_SUM).unwrap();
    out.fill(0.0);
    trees.raw_scores(row, out);
    for (o, b) in out.iter_mut().zip(&b.base_score) {
        *o += b;
    }
}
