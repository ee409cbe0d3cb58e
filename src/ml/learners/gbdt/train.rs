//! The boosting loop (LightGBM's `src/boosting/gbdt.cpp`): the validation part held out for early
//! stopping, each iteration's gradients (in blocks of rows, on the fit's threads), its sample of rows and
//! features, one tree per score grown on them, the scores moved by the tree, and the learning curves.

use super::bins::Bins;
use super::grower::{BNode, Grower, binned_value, to_tree};
use super::objective::ObjectiveFunction;
use super::{BoostParams, Boosted, Curves, parallel_each};
use crate::ml::data::split::{self, Mt19937};
use crate::ml::forms::boosted::Objective;

/// Rows per block of gradients: the loss is summed per block, then the blocks in order, so that it comes
/// out the same whatever the thread count.
const GRADIENT_BLOCK: usize = 8192;

/// Gradients and hessians of `scores` (row-major, `obj.num_scores()` per row) for trees of class `class`
/// into `g`, `h`, on up to `jobs` threads; returns the mean loss of `scores`.
fn gradients(
    obj: &dyn ObjectiveFunction,
    class: usize,
    y: &[f64],
    scores: &[f64],
    (g, h): (&mut [f32], &mut [f32]),
    jobs: usize,
) -> f64 {
    let blocks: Vec<_> = y
        .chunks(GRADIENT_BLOCK)
        .zip(scores.chunks(GRADIENT_BLOCK * obj.num_scores()))
        .zip(
            g.chunks_mut(GRADIENT_BLOCK)
                .zip(h.chunks_mut(GRADIENT_BLOCK)),
        )
        .collect();
    let losses = parallel_each(blocks, jobs, |((y, scores), (g, h))| {
        obj.gradients(y, scores, class, g, h)
    });
    losses.iter().sum::<f64>() / y.len().max(1) as f64
}

/// The rows to fit on and the rows held out for early stopping (stratified for classification, seeded), each
/// in ascending order; without early stopping every row fits and none is held out.
fn validation_split(
    y: &[f64],
    obj: Objective,
    p: &BoostParams,
) -> Result<(Vec<usize>, Vec<usize>), String> {
    Ok(match p.early_stopping {
        Some(_) => {
            if !(p.validation_fraction > 0.0 && p.validation_fraction < 1.0) {
                return Err(format!(
                    "--validation-fraction must be above 0 and below 1, not {}",
                    p.validation_fraction
                ));
            }
            let s = if obj.is_regression() {
                split::train_test_split(y.len(), p.validation_fraction, p.seed)
            } else {
                let labels: Vec<usize> = y.iter().map(|v| *v as usize).collect();
                split::stratified_split(&labels, p.validation_fraction, p.seed)
            };
            let (mut t, mut v) = (s.train, s.test);
            t.sort_unstable();
            v.sort_unstable();
            if t.is_empty() || v.is_empty() {
                return Err(format!(
                    "--validation-fraction {} leaves no rows to fit or to validate on",
                    p.validation_fraction
                ));
            }
            (t, v)
        }
        None => ((0..y.len()).collect(), Vec::new()),
    })
}

/// One iteration's sample: the bag's rows into `rows` (every row, or a seeded sample without replacement,
/// marked in `in_bag`), and the features its trees may split on.
fn sample(
    rng: &mut Mt19937,
    p: &BoostParams,
    n: usize,
    nf: usize,
    rows: &mut Vec<u32>,
    in_bag: &mut [bool],
) -> Vec<bool> {
    // The bag: every row, or a seeded sample without replacement.
    rows.clear();
    if p.subsample < 1.0 {
        let want = ((n as f64 * p.subsample).round() as usize).max(1);
        let perm = rng.permutation(n);
        in_bag.iter_mut().for_each(|b| *b = false);
        for &r in &perm[..want] {
            in_bag[r] = true;
        }
        rows.extend((0..n as u32).filter(|&r| in_bag[r as usize]));
    } else {
        rows.extend(0..n as u32);
    }
    if p.colsample < 1.0 {
        let want = ((nf as f64 * p.colsample).round() as usize).clamp(1, nf);
        let perm = rng.permutation(nf);
        let mut f = vec![false; nf];
        for &i in &perm[..want] {
            f[i] = true;
        }
        f
    } else {
        vec![true; nf]
    }
}

/// Copies of `rows` of row-major `x` (`nf` features) and of their targets `y`.
fn take_rows(x: &[f64], nf: usize, y: &[f64], rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let mut xs = Vec::with_capacity(rows.len() * nf);
    for &r in rows {
        xs.extend_from_slice(&x[r * nf..(r + 1) * nf]);
    }
    (xs, rows.iter().map(|&r| y[r]).collect())
}

/// For objectives whose leaves are a statistic of their rows' residuals (absolute error: the median),
/// each leaf (`ranges`: node, rows `start..end`) moves its rows by that statistic, shrunk by the
/// learning rate.
fn renew_leaves(
    statistic: fn(Vec<f64>) -> f64,
    nodes: &mut [BNode],
    ranges: &[(usize, usize, usize)],
    rows: &[u32],
    (y, scores): (&[f64], &[f64]),
    learning_rate: f64,
) {
    for &(node, start, end) in ranges {
        let residuals = rows[start..end]
            .iter()
            .map(|&r| y[r as usize] - scores[r as usize])
            .collect();
        let value = (statistic(residuals) * learning_rate) as f32;
        nodes[node] = BNode::Leaf { value };
    }
}

/// Copies of the rows boosting fits on (None: all of them) and of the rows held out for early stopping.
#[allow(clippy::type_complexity)]
fn hold_out(
    x: &[f64],
    nf: usize,
    y: &[f64],
    obj: Objective,
    p: &BoostParams,
) -> Result<(Option<(Vec<f64>, Vec<f64>)>, (Vec<f64>, Vec<f64>)), String> {
    let (train_rows, valid_rows) = validation_split(y, obj, p)?;
    if valid_rows.is_empty() {
        return Ok((None, (Vec::new(), Vec::new())));
    }
    Ok((
        Some(take_rows(x, nf, y, &train_rows)),
        take_rows(x, nf, y, &valid_rows),
    ))
}

/// Boost on the thread pool installed (if any): [`fit`](super::fit) once its parameters are checked.
pub(super) fn boost(
    x: &[f64],
    nf: usize,
    y: &[f64],
    obj: Objective,
    n_classes: usize,
    p: &BoostParams,
    progress: &(dyn Fn() + Sync),
) -> Result<Boosted, String> {
    let function = obj.function(n_classes, p.huber_delta);
    let f: &dyn ObjectiveFunction = &*function;
    let k = f.num_scores();
    let (fitted, (xv, yv)) = hold_out(x, nf, y, obj, p)?;
    let (x, y) = fitted
        .as_ref()
        .map_or((x, y), |(xt, yt)| (&xt[..], &yt[..]));
    let n = y.len();
    if n == 0 {
        return Err("no rows to fit".into());
    }
    let bins = Bins::fit(x, nf, p.max_bins, p.jobs);
    let valid_cols = if yv.is_empty() {
        Vec::new()
    } else {
        bins.apply(&xv, nf)
    };
    let n_value_bins = bins.n_value_bins();
    let base = f.initial_scores(y);
    let mut scores: Vec<f64> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let nv = valid_cols.first().map_or(0, Vec::len);
    let mut vscores: Vec<f64> = (0..nv).flat_map(|_| base.iter().copied()).collect();
    let mut grower = Grower::new(&bins, p);
    let mut out = Boosted {
        trees: Vec::new(),
        base_score: base,
        per_iteration: k,
        importance: vec![0.0; nf],
        curves: Curves::default(),
    };
    let mut rng = Mt19937::new((p.seed as u32) ^ 0x9e37_79b9);
    let mut g = vec![vec![0f32; n]; k];
    let mut h = vec![vec![0f32; n]; k];
    let mut rows: Vec<u32> = Vec::with_capacity(n);
    let mut scratch = Vec::with_capacity(n);
    let mut in_bag = vec![false; n];
    let mut best = (f64::INFINITY, 0usize);
    for it in 0..p.n_estimators.max(1) {
        for c in 0..k {
            let loss = gradients(f, c, y, &scores, (&mut g[c], &mut h[c]), p.jobs);
            if c == 0 && it > 0 {
                out.curves.train_loss.push(loss);
            }
        }
        let features = sample(&mut rng, p, n, nf, &mut rows, &mut in_bag);
        for c in 0..k {
            let (mut nodes, ranges) = grower.grow(
                &mut rows,
                &g[c],
                &h[c],
                &features,
                &mut scratch,
                &mut out.importance,
            );
            if let Some(statistic) = f.leaf_output_from_residuals() {
                let (y, scores) = (y, &scores[..]);
                renew_leaves(
                    statistic,
                    &mut nodes,
                    &ranges,
                    &rows,
                    (y, scores),
                    p.learning_rate,
                );
            }
            for &(node, start, end) in &ranges {
                let BNode::Leaf { value } = nodes[node] else {
                    unreachable!("ranges are leaves")
                };
                for &r in &rows[start..end] {
                    scores[r as usize * k + c] += value as f64;
                }
            }
            if p.subsample < 1.0 {
                for r in (0..n).filter(|&r| !in_bag[r]) {
                    scores[r * k + c] += binned_value(&nodes, &bins.cols, &n_value_bins, r) as f64;
                }
            }
            for r in 0..nv {
                vscores[r * k + c] += binned_value(&nodes, &valid_cols, &n_value_bins, r) as f64;
            }
            out.trees.push(to_tree(&nodes));
        }
        progress();
        if let Some(patience) = p.early_stopping {
            let (loss, metric) = f.evaluate(&yv, &vscores);
            out.curves.validation_loss.push(loss);
            out.curves.validation_metric.push(metric);
            if loss < best.0 {
                best = (loss, it + 1);
            } else if it + 1 - best.1 >= patience.max(1) {
                break;
            }
        }
    }
    out.curves.train_loss.push(f.evaluate(y, &scores).0);
    if p.early_stopping.is_some() && best.1 > 0 {
        out.trees.truncate(best.1 * k);
        out.curves.best_iteration = Some(best.1);
    }
    Ok(out)
}
