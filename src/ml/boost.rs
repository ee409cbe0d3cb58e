//! Gradient-boosted trees, histogram-based and grown leaf-wise as LightGBM grows them: features are binned
//! once (LightGBM's greedy bins: at most `max_bins` per feature, at least 3 rows per bin, plus one bin for
//! missing values), each tree keeps the leaf with the largest gain split next, the smaller child's
//! histogram is built from its rows and the larger one's is the parent's minus it. Missing values go to the
//! side that gains more (or, when a node saw none, to the larger child), and that choice is stored in the
//! node, so `--na` is not needed. Threads split the features, and every sum runs over rows in the same
//! order whatever the thread count, so a seed gives the same model bytes with any `--jobs`.
//!
//! Trees are saved in `tree.rs`'s compact layout with the learning rate already applied to the leaf values;
//! the model's raw score is `base_score + sum(leaf values)` (one tree per class per iteration).

use super::data::split::{self, Mt19937};
use super::tree::{LEAF, NAN_LEFT, Node, Tree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

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
    pub trees: Vec<Tree>,
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

const MIN_DATA_IN_BIN: usize = 3;

/// Binned features: `cols[f][row]` is a value bin (`0..cuts[f].len() + 1`) or, for a missing value, the
/// feature's missing bin `cuts[f].len() + 1`. A row is in bin `b` when `f32(x) <= cuts[f][b]` and not in
/// bin `b - 1`, as prediction compares.
pub struct Bins {
    pub cols: Vec<Vec<u8>>,
    pub cuts: Vec<Vec<f32>>,
}

/// Cut points of one feature's values (LightGBM's greedy binning, simplified).
fn find_cuts(values: &mut Vec<f32>, max_bins: usize) -> Vec<f32> {
    values.retain(|v| !v.is_nan());
    // Equal keys are equal bits under total_cmp, so an unstable sort gives the same order.
    values.sort_unstable_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &v in values.iter() {
        match distinct.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() < 2 {
        return Vec::new();
    }
    let n = values.len();
    let max_bins = max_bins.clamp(2, 255);
    // Values at least a bin's worth of rows get a bin of their own; the rest share bins of equal size.
    let mean = n as f64 / max_bins as f64;
    let big: Vec<bool> = distinct.iter().map(|&(_, c)| c as f64 >= mean).collect();
    let n_big = big.iter().filter(|b| **b).count();
    let rest: usize = distinct
        .iter()
        .zip(&big)
        .filter(|(_, b)| !**b)
        .map(|(d, _)| d.1)
        .sum();
    let rest_bins = max_bins.saturating_sub(n_big).max(1);
    let target = if distinct.len() <= max_bins {
        MIN_DATA_IN_BIN as f64
    } else {
        (rest as f64 / rest_bins as f64).max(MIN_DATA_IN_BIN as f64)
    };
    let mut cuts = Vec::new();
    let mut in_bin = 0usize;
    let mut seen = 0usize;
    for i in 0..distinct.len() - 1 {
        in_bin += distinct[i].1;
        seen += distinct[i].1;
        let remaining = n - seen;
        let close = big[i] || big[i + 1] || in_bin as f64 >= target;
        if close && in_bin >= MIN_DATA_IN_BIN && remaining >= MIN_DATA_IN_BIN {
            let (a, b) = (distinct[i].0, distinct[i + 1].0);
            let mid = (a as f64 + (b as f64 - a as f64) / 2.0) as f32;
            cuts.push(if mid >= a && mid < b { mid } else { a });
            in_bin = 0;
        }
    }
    if cuts.len() > max_bins - 1 {
        // Too many: keep evenly spaced ones.
        let k = cuts.len();
        cuts = (1..max_bins)
            .map(|i| cuts[i * k / max_bins])
            .collect::<Vec<f32>>();
        cuts.dedup();
    }
    cuts
}

impl Bins {
    /// Bin the row-major matrix `x` (`nf` columns) with cuts found on its own rows.
    pub fn fit(x: &[f64], nf: usize, max_bins: usize, jobs: usize) -> Bins {
        let n = x.len() / nf.max(1);
        let per_feature = |f: usize| {
            let column: Vec<f32> = (0..n).map(|r| x[r * nf + f] as f32).collect();
            let cuts = find_cuts(&mut column.clone(), max_bins);
            let col = column.iter().map(|&v| bin_of(&cuts, v)).collect();
            (col, cuts)
        };
        let done = parallel_map(nf, jobs, per_feature);
        let (cols, cuts) = done.into_iter().unzip();
        Bins { cols, cuts }
    }

    /// Bin other rows with these cuts (row-major, one `Vec` per feature).
    pub fn apply(&self, x: &[f64], nf: usize) -> Vec<Vec<u8>> {
        let n = x.len() / nf.max(1);
        (0..nf)
            .map(|f| {
                (0..n)
                    .map(|r| bin_of(&self.cuts[f], x[r * nf + f] as f32))
                    .collect()
            })
            .collect()
    }
}

fn bin_of(cuts: &[f32], v: f32) -> u8 {
    if v.is_nan() {
        (cuts.len() + 1) as u8
    } else {
        cuts.partition_point(|&c| c < v) as u8
    }
}

/// `f(i)` for `i in 0..n`, in order, on the fit's thread pool when `jobs` allows.
fn parallel_map<T: Send>(n: usize, jobs: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    parallel_each((0..n).collect(), jobs, f)
}

/// `f` of each item, results in order: on the fit's thread pool (rayon's, sized by `--jobs`) unless
/// `jobs` is 1. Each item is computed alone, so the threads change no result.
fn parallel_each<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    f: impl Fn(T) -> R + Sync + Send,
) -> Vec<R> {
    if jobs <= 1 || items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    items.into_par_iter().map(f).collect()
}

/// Sums of one histogram bin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    g: f64,
    h: f64,
    n: u32,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
    fn minus(&self, o: &Sums) -> Sums {
        Sums {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// A feature's histogram to build and, with histogram subtraction, its sibling's to derive.
type FeatureTask<'h> = (usize, &'h mut [Sums], Option<&'h mut [Sums]>);

/// Rows below which a node's work stays on one thread (a thread's start costs more than it saves).
const PARALLEL_ROWS: usize = 2048;

/// Bins per feature in a histogram (255 value bins and the missing bin at most).
const STRIDE: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    /// Rows with a value bin `<= bin` go left.
    bin: usize,
    nan_left: bool,
    gain: f64,
    left: Sums,
}

/// The tree being grown: nodes in creation order.
enum BNode {
    Leaf {
        value: f32,
    },
    Split {
        feature: usize,
        bin: usize,
        nan_left: bool,
        threshold: f32,
        left: usize,
        right: usize,
    },
}

struct Leaf {
    start: usize,
    end: usize,
    depth: usize,
    sums: Sums,
    hist: Vec<Sums>,
    best: Option<Split>,
    node: usize,
}

/// What every tree of one fit shares.
struct Grower<'a> {
    bins: &'a Bins,
    p: &'a BoostParams,
    /// Value bins per feature (the missing bin follows them).
    n_value_bins: Vec<usize>,
    /// Spare histograms, reused.
    pool: Vec<Vec<Sums>>,
}

fn leaf_output(s: &Sums, p: &BoostParams) -> f64 {
    -s.g / (s.h + p.l2)
}

fn score(g: f64, h: f64, l2: f64) -> f64 {
    g * g / (h + l2)
}

impl Grower<'_> {
    fn hist(&mut self) -> Vec<Sums> {
        self.pool
            .pop()
            .unwrap_or_else(|| vec![Sums::default(); self.bins.cols.len() * STRIDE])
    }

    fn can_split(&self, leaf_n: u32, depth: usize) -> bool {
        leaf_n as usize >= 2 * self.p.min_samples_leaf.max(1)
            && self.p.max_depth.is_none_or(|d| depth < d)
    }

    /// The best split of feature `f` for a node with histogram `h` (that feature's bins) and totals `t`.
    fn best_for_feature(&self, f: usize, h: &[Sums], t: &Sums) -> Option<Split> {
        let nvb = self.n_value_bins[f];
        if nvb < 2 && h[nvb].n == 0 {
            return None;
        }
        let p = self.p;
        let min_n = p.min_samples_leaf.max(1) as u32;
        let parent = score(t.g, t.h, p.l2);
        let nan = h[nvb];
        let mut best: Option<Split> = None;
        for nan_left in [false, true] {
            if nan_left && nan.n == 0 {
                break;
            }
            let mut acc = if nan_left { nan } else { Sums::default() };
            // With missing values on the right, "every value left" is a split too.
            let last = if !nan_left && nan.n > 0 { nvb } else { nvb - 1 };
            for (b, s) in h.iter().enumerate().take(last) {
                acc.add(s);
                if acc.n < min_n || acc.h < p.min_sum_hessian {
                    continue;
                }
                let right = t.minus(&acc);
                if right.n < min_n || right.h < p.min_sum_hessian {
                    break;
                }
                let gain = score(acc.g, acc.h, p.l2) + score(right.g, right.h, p.l2) - parent;
                if gain > 0.0 && best.is_none_or(|b| gain > b.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b,
                        nan_left,
                        gain,
                        left: acc,
                    });
                }
            }
        }
        // A node that saw no missing value sends them where most rows went.
        if let Some(b) = best.as_mut()
            && nan.n == 0
        {
            b.nan_left = 2 * b.left.n >= t.n;
        }
        best
    }

    /// Build histograms of `rows` (with their gradient and hessian pairs in order, `ogh`) for `features`
    /// into `hist`, and when
    /// `parent` is given turn it into the sibling's (parent minus this). Returns the best split per
    /// feature of this node and of the sibling.
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        rows: &[u32],
        ogh: &[[f64; 2]],
        features: &[bool],
        hist: &mut [Sums],
        parent: Option<&mut [Sums]>,
        totals: (Sums, Option<Sums>),
        splittable: (bool, bool),
    ) -> (Option<Split>, Option<Split>) {
        let work = |f: usize, h: &mut [Sums], sib: Option<&mut [Sums]>| {
            let nvb = self.n_value_bins[f];
            h[..=nvb].fill(Sums::default());
            let col = &self.bins.cols[f][..];
            // A fixed-size view: a u8 bin indexes it with no bounds check.
            let fixed: &mut [Sums; STRIDE] = (&mut h[..STRIDE]).try_into().expect("STRIDE bins");
            for (&r, &[g, hh]) in rows.iter().zip(ogh) {
                let s = &mut fixed[col[r as usize] as usize];
                s.g += g;
                s.h += hh;
                s.n += 1;
            }
            let mine = if splittable.0 {
                self.best_for_feature(f, h, &totals.0)
            } else {
                None
            };
            let theirs = match sib {
                Some(sib) => {
                    for (a, b) in sib[..=nvb].iter_mut().zip(h.iter()) {
                        *a = a.minus(b);
                    }
                    match totals.1 {
                        Some(t) if splittable.1 => self.best_for_feature(f, sib, &t),
                        _ => None,
                    }
                }
                None => None,
            };
            (mine, theirs)
        };
        let tasks: Vec<FeatureTask> = match parent {
            Some(parent) => hist
                .chunks_mut(STRIDE)
                .zip(parent.chunks_mut(STRIDE))
                .enumerate()
                .filter(|(f, _)| features[*f])
                .map(|(f, (h, s))| (f, h, Some(s)))
                .collect(),
            None => hist
                .chunks_mut(STRIDE)
                .enumerate()
                .filter(|(f, _)| features[*f])
                .map(|(f, h)| (f, h, None))
                .collect(),
        };
        let jobs = self.p.jobs.clamp(1, tasks.len().max(1));
        let jobs = if rows.len() < PARALLEL_ROWS { 1 } else { jobs };
        let results = parallel_each(tasks, jobs, |(f, h, s)| work(f, h, s));
        // Reduce in feature order: the first of equal gains wins, whatever the threads did.
        let mut best = (None::<Split>, None::<Split>);
        for (a, b) in results {
            if let Some(a) = a
                && best.0.is_none_or(|x| a.gain > x.gain)
            {
                best.0 = Some(a);
            }
            if let Some(b) = b
                && best.1.is_none_or(|x| b.gain > x.gain)
            {
                best.1 = Some(b);
            }
        }
        best
    }

    /// Turn leaf node `at` into `split`'s node with two new leaves; returns their indices.
    fn split_node(&self, nodes: &mut Vec<BNode>, at: usize, split: &Split) -> (usize, usize) {
        // The last value bin splits values from missing ones: every number goes left.
        let threshold = self.bins.cuts[split.feature]
            .get(split.bin)
            .copied()
            .unwrap_or(f32::INFINITY);
        let (left, right) = (nodes.len(), nodes.len() + 1);
        nodes[at] = BNode::Split {
            feature: split.feature,
            bin: split.bin,
            nan_left: split.nan_left,
            threshold,
            left,
            right,
        };
        nodes.push(BNode::Leaf { value: 0.0 });
        nodes.push(BNode::Leaf { value: 0.0 });
        (left, right)
    }

    /// Grow one tree on `rows` (the bag; reordered in place so that each leaf's rows are contiguous).
    /// Returns the tree's nodes, each leaf's row range, and the gain per feature.
    fn grow(
        &mut self,
        rows: &mut [u32],
        g: &[f32],
        h: &[f32],
        features: &[bool],
        scratch: &mut Vec<u32>,
        importance: &mut [f64],
    ) -> (Vec<BNode>, Vec<(usize, usize, usize)>) {
        // Each row's gradient and hessian, widened once, in the node's row order: a histogram's inner
        // loop reads them in sequence.
        let pair = |r: &u32| [g[*r as usize] as f64, h[*r as usize] as f64];
        let mut ogh: Vec<[f64; 2]> = rows.iter().map(pair).collect();
        let mut sums = Sums::default();
        for [a, b] in &ogh {
            sums.g += a;
            sums.h += b;
        }
        sums.n = rows.len() as u32;
        let mut nodes = vec![BNode::Leaf { value: 0.0 }];
        let mut root_hist = self.hist();
        let (best, _) = self.build(
            rows,
            &ogh,
            features,
            &mut root_hist,
            None,
            (sums, None),
            (self.can_split(sums.n, 0), false),
        );
        let mut leaves = vec![Leaf {
            start: 0,
            end: rows.len(),
            depth: 0,
            sums,
            hist: root_hist,
            best,
            node: 0,
        }];
        while leaves.len() < self.p.num_leaves.max(2) {
            let Some(at) = best_leaf(&leaves) else {
                break;
            };
            let leaf = &mut leaves[at];
            let split = leaf.best.take().expect("chosen for its split");
            importance[split.feature] += split.gain;
            let n_left = partition(
                &mut rows[leaf.start..leaf.end],
                &self.bins.cols[split.feature],
                self.n_value_bins[split.feature],
                &split,
                scratch,
                self.p.jobs,
            );
            let left_sums = split.left;
            let right_sums = leaf.sums.minus(&left_sums);
            let depth = leaf.depth + 1;
            let mid = leaf.start + n_left;
            let (l_range, r_range) = ((leaf.start, mid), (mid, leaf.end));
            let (l_node, r_node) = self.split_node(&mut nodes, leaf.node, &split);
            // Build the smaller child's histogram; the parent's becomes the larger child's.
            let small_is_left = left_sums.n <= right_sums.n;
            let (s_range, s_sums, l_sums_big) = if small_is_left {
                (l_range, left_sums, right_sums)
            } else {
                (r_range, right_sums, left_sums)
            };
            let can_small = self.can_split(s_sums.n, depth);
            let can_big = self.can_split(l_sums_big.n, depth);
            let mut parent_hist = std::mem::take(&mut leaves[at].hist);
            let mut small_hist = self.hist();
            let (best_small, best_big) = if can_small || can_big {
                let s_rows = &rows[s_range.0..s_range.1];
                ogh.clear();
                ogh.extend(s_rows.iter().map(pair));
                self.build(
                    s_rows,
                    &ogh,
                    features,
                    &mut small_hist,
                    Some(&mut parent_hist),
                    (s_sums, Some(l_sums_big)),
                    (can_small, can_big),
                )
            } else {
                (None, None)
            };
            let make = |range: (usize, usize), sums: Sums, hist: Vec<Sums>, best, node| Leaf {
                start: range.0,
                end: range.1,
                depth,
                sums,
                hist,
                best,
                node,
            };
            let (left, right) = if small_is_left {
                (
                    make(l_range, left_sums, small_hist, best_small, l_node),
                    make(r_range, right_sums, parent_hist, best_big, r_node),
                )
            } else {
                (
                    make(l_range, left_sums, parent_hist, best_big, l_node),
                    make(r_range, right_sums, small_hist, best_small, r_node),
                )
            };
            leaves[at] = left;
            leaves.push(right);
        }
        let ranges = self.finish(&mut nodes, leaves);
        (nodes, ranges)
    }

    /// Give each leaf its value (shrunk by the learning rate) and return the histograms to the pool.
    /// Returns each leaf's node and row range.
    fn finish(&mut self, nodes: &mut [BNode], leaves: Vec<Leaf>) -> Vec<(usize, usize, usize)> {
        let lr = self.p.learning_rate;
        let mut ranges = Vec::with_capacity(leaves.len());
        for leaf in leaves {
            let value = (leaf_output(&leaf.sums, self.p) * lr) as f32;
            nodes[leaf.node] = BNode::Leaf { value };
            ranges.push((leaf.node, leaf.start, leaf.end));
            self.pool.push(leaf.hist);
        }
        ranges
    }
}

/// The leaf whose best split gains most (the first of equal gains), if any can split.
fn best_leaf(leaves: &[Leaf]) -> Option<usize> {
    let gain = |i: usize| leaves[i].best.map_or(f64::NEG_INFINITY, |b| b.gain);
    (0..leaves.len())
        .filter(|&i| leaves[i].best.is_some())
        .max_by(|&a, &b| gain(a).total_cmp(&gain(b)).then(b.cmp(&a)))
}

/// Stable partition of a leaf's rows by `split` (`col`: the split feature's bins, `nvb` its value bins):
/// left ones first, each side in its old order. Returns the number going left. A large leaf's rows are
/// shared among `jobs` threads, each partitioning a contiguous part; a stable partition has one result,
/// so the threads change nothing in it.
fn partition(
    part: &mut [u32],
    col: &[u8],
    nvb: usize,
    split: &Split,
    scratch: &mut Vec<u32>,
    jobs: usize,
) -> usize {
    let (bin, nan_left) = (split.bin, split.nan_left);
    // Branch-free: which side a row goes is a coin toss the predictor would lose.
    let goes_left = |r: u32| {
        let b = col[r as usize] as usize;
        (b <= bin && b != nvb) | (b == nvb && nan_left)
    };
    let len = part.len();
    if scratch.len() < len {
        scratch.resize(len, 0);
    }
    // A partition costs a few nanoseconds a row: only large ones pay for a thread.
    let jobs = if len < 8 * PARALLEL_ROWS {
        1
    } else {
        jobs.max(1)
    };
    let share = len.div_ceil(jobs).max(1);
    let parts: Vec<_> = part
        .chunks_mut(share)
        .zip(scratch.chunks_mut(share))
        .collect();
    let lefts = parallel_each(parts, jobs, |(p, r)| partition_part(p, r, goes_left));
    // Each part's left rows are at its start and its right ones at the start of its share of `scratch`:
    // gather the left ones to the front, then the right ones after them.
    let mut n_left = 0;
    for (i, &l) in lefts.iter().enumerate() {
        part.copy_within(i * share..i * share + l, n_left);
        n_left += l;
    }
    let mut at = n_left;
    for (i, &l) in lefts.iter().enumerate() {
        let start = i * share;
        let n_right = (start + share).min(len) - start - l;
        part[at..at + n_right].copy_from_slice(&scratch[start..start + n_right]);
        at += n_right;
    }
    n_left
}

/// Move the rows of `part` that go left to its start, in order, and the others to the start of `right`
/// (as long as `part`); returns how many go left.
fn partition_part(part: &mut [u32], right: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let (mut n_left, mut n_right) = (0, 0);
    for i in 0..part.len() {
        let r = part[i];
        let left = goes_left(r);
        // Both writes happen; only the count that moves on keeps its row.
        part[n_left] = r;
        right[n_right] = r;
        n_left += usize::from(left);
        n_right += usize::from(!left);
    }
    n_left
}

/// The value of binned row `r` of `cols` in a grown tree.
fn binned_value(nodes: &[BNode], cols: &[Vec<u8>], n_value_bins: &[usize], r: usize) -> f32 {
    let mut i = 0;
    loop {
        match nodes[i] {
            BNode::Leaf { value } => return value,
            BNode::Split {
                feature,
                bin,
                nan_left,
                left,
                right,
                ..
            } => {
                let b = cols[feature][r] as usize;
                let go_left = if b == n_value_bins[feature] {
                    nan_left
                } else {
                    b <= bin
                };
                i = if go_left { left } else { right };
            }
        }
    }
}

/// The grown tree in `tree.rs`'s preorder layout (one value per leaf).
fn to_tree(nodes: &[BNode]) -> Tree {
    fn walk(nodes: &[BNode], i: usize, t: &mut Tree) {
        match nodes[i] {
            BNode::Leaf { value } => {
                t.nodes.push(Node {
                    feature: LEAF,
                    threshold: 0.0,
                    next: t.values.len() as u32,
                });
                t.values.push(value);
            }
            BNode::Split {
                feature,
                nan_left,
                threshold,
                left,
                right,
                ..
            } => {
                let me = t.nodes.len();
                t.nodes.push(Node {
                    feature: feature as u16 | if nan_left { NAN_LEFT } else { 0 },
                    threshold,
                    next: 0,
                });
                walk(nodes, left, t);
                t.nodes[me].next = t.nodes.len() as u32;
                walk(nodes, right, t);
            }
        }
    }
    let mut t = Tree::default();
    walk(nodes, 0, &mut t);
    t
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Rows per block of gradients: the loss is summed per block, then the blocks in order, so that it comes
/// out the same whatever the thread count.
const GRADIENT_BLOCK: usize = 8192;

/// What one tree's gradients are of: the loss (and Huber's delta), the scores per row (`k`) and the
/// tree's class.
#[derive(Clone, Copy)]
struct GradientsOf {
    obj: Objective,
    delta: f64,
    k: usize,
    class: usize,
}

/// Gradients and hessians of `scores` (row-major, `k` per row) for trees of class `class` into `g`, `h`,
/// on up to `jobs` threads; returns the mean loss of `scores`.
fn gradients(
    of: GradientsOf,
    y: &[f64],
    scores: &[f64],
    g: &mut [f32],
    h: &mut [f32],
    jobs: usize,
) -> f64 {
    let blocks: Vec<_> = y
        .chunks(GRADIENT_BLOCK)
        .zip(scores.chunks(GRADIENT_BLOCK * of.k))
        .zip(
            g.chunks_mut(GRADIENT_BLOCK)
                .zip(h.chunks_mut(GRADIENT_BLOCK)),
        )
        .collect();
    let losses = parallel_each(blocks, jobs, |((y, scores), (g, h))| {
        gradients_block(of, y, scores, g, h)
    });
    losses.iter().sum::<f64>() / y.len().max(1) as f64
}

/// `gradients` of one block of rows; returns the sum of their losses.
fn gradients_block(
    of: GradientsOf,
    y: &[f64],
    scores: &[f64],
    g: &mut [f32],
    h: &mut [f32],
) -> f64 {
    let GradientsOf {
        obj,
        delta,
        k,
        class,
    } = of;
    let mut loss = 0.0;
    match obj {
        Objective::Binary => {
            for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
                let p = sigmoid(s);
                *gi = (p - yi) as f32;
                *hi = (p * (1.0 - p)) as f32;
                // The probability of the true class, from the p already at hand (one log a row).
                let q = if yi > 0.5 { p } else { 1.0 - p };
                loss -= q.max(1e-300).ln();
            }
        }
        Objective::SquaredError => {
            for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
                *gi = (s - yi) as f32;
                *hi = 1.0;
                loss += (s - yi) * (s - yi);
            }
        }
        Objective::AbsoluteError => {
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
        }
        Objective::Huber => {
            for (((gi, hi), &s), &yi) in g.iter_mut().zip(h.iter_mut()).zip(scores).zip(y) {
                let d = s - yi;
                *gi = d.clamp(-delta, delta) as f32;
                *hi = 1.0;
                loss += huber(d, delta);
            }
        }
        Objective::Multiclass => {
            // LightGBM's hessian factor k/(k-1).
            let factor = k as f64 / (k as f64 - 1.0);
            let mut p = vec![0.0; k];
            for (r, &yi) in y.iter().enumerate() {
                softmax(&scores[r * k..(r + 1) * k], &mut p);
                let is = f64::from(yi as usize == class);
                g[r] = (p[class] - is) as f32;
                h[r] = (factor * p[class] * (1.0 - p[class])) as f32;
                loss -= p[yi as usize].max(1e-15).ln();
            }
        }
    }
    loss
}

fn huber(d: f64, delta: f64) -> f64 {
    if d.abs() <= delta {
        0.5 * d * d
    } else {
        delta * (d.abs() - 0.5 * delta)
    }
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

fn log_loss_binary(s: f64, y: f64) -> f64 {
    // log(1 + e^-s) for y = 1, log(1 + e^s) for y = 0, stable for large |s|.
    let z = if y > 0.5 { -s } else { s };
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

pub fn softmax(z: &[f64], out: &mut [f64]) {
    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
    for (o, v) in out.iter_mut().zip(z) {
        *o = (v - m).exp() / s;
    }
}

/// Mean loss and main metric (accuracy or RMSE) of `scores` for `y`.
fn evaluate(obj: Objective, delta: f64, y: &[f64], scores: &[f64], k: usize) -> (f64, f64) {
    let n = y.len().max(1) as f64;
    match obj {
        Objective::Binary => {
            let loss = y
                .iter()
                .zip(scores)
                .map(|(&yi, &s)| log_loss_binary(s, yi))
                .sum::<f64>();
            let right = y
                .iter()
                .zip(scores)
                .filter(|(yi, s)| (**s > 0.0) == (**yi > 0.5))
                .count();
            (loss / n, right as f64 / n)
        }
        Objective::Multiclass => {
            let mut p = vec![0.0; k];
            let (mut loss, mut right) = (0.0, 0usize);
            for (r, &yi) in y.iter().enumerate() {
                let s = &scores[r * k..(r + 1) * k];
                softmax(s, &mut p);
                loss -= p[yi as usize].max(1e-15).ln();
                right += usize::from(super::model::argmax(s) == yi as usize);
            }
            (loss / n, right as f64 / n)
        }
        Objective::SquaredError => {
            let mse = y
                .iter()
                .zip(scores)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n;
            (mse, mse.sqrt())
        }
        Objective::AbsoluteError | Objective::Huber => {
            let loss = y
                .iter()
                .zip(scores)
                .map(|(a, b)| match obj {
                    Objective::Huber => huber(b - a, delta),
                    _ => (a - b).abs(),
                })
                .sum::<f64>();
            let mse = y
                .iter()
                .zip(scores)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n;
            (loss / n, mse.sqrt())
        }
    }
}

/// The starting score: the log-odds of the positive class, the log of each class's share, or the mean.
fn base_scores(obj: Objective, y: &[f64], k: usize) -> Vec<f64> {
    let n = y.len().max(1) as f64;
    match obj {
        Objective::Binary => {
            let p = (y.iter().sum::<f64>() / n).clamp(1e-15, 1.0 - 1e-15);
            vec![(p / (1.0 - p)).ln()]
        }
        Objective::Multiclass => {
            let mut counts = vec![0.0; k];
            for &v in y {
                counts[v as usize] += 1.0;
            }
            counts.iter().map(|c| (c / n).max(1e-15).ln()).collect()
        }
        Objective::SquaredError | Objective::Huber => vec![y.iter().sum::<f64>() / n],
        Objective::AbsoluteError => vec![median(y.to_vec())],
    }
}

/// Check the hyperparameters the booster alone uses.
fn check(nf: usize, p: &BoostParams) -> Result<(), String> {
    if nf >= NAN_LEFT as usize {
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

/// Absolute error: the Newton step on signs is only a direction, so each leaf (`ranges`: node, rows
/// `start..end`) moves its rows by the median of their residuals, shrunk by the learning rate.
fn refit_leaves_to_median(
    nodes: &mut [BNode],
    ranges: &[(usize, usize, usize)],
    rows: &[u32],
    y: &[f64],
    scores: &[f64],
    learning_rate: f64,
) {
    for &(node, start, end) in ranges {
        let residuals = rows[start..end]
            .iter()
            .map(|&r| y[r as usize] - scores[r as usize])
            .collect();
        let value = (median(residuals) * learning_rate) as f32;
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
        return fit_on_threads(x, nf, y, obj, n_classes, p, progress);
    }
    // One pool for the whole fit: a node's features are shared among waiting threads in microseconds,
    // where starting threads a node cost more than small nodes' work.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(p.jobs)
        .build()
        .map_err(|e| format!("cannot start {} threads: {e}", p.jobs))?;
    pool.install(|| fit_on_threads(x, nf, y, obj, n_classes, p, progress))
}

/// [`fit`], on the thread pool installed (if any).
fn fit_on_threads(
    x: &[f64],
    nf: usize,
    y: &[f64],
    obj: Objective,
    n_classes: usize,
    p: &BoostParams,
    progress: &(dyn Fn() + Sync),
) -> Result<Boosted, String> {
    let k = if obj == Objective::Multiclass {
        n_classes
    } else {
        1
    };
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
    let n_value_bins: Vec<usize> = bins.cuts.iter().map(|c| c.len() + 1).collect();
    let base = base_scores(obj, y, k);
    let mut scores: Vec<f64> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let nv = valid_cols.first().map_or(0, Vec::len);
    let mut vscores: Vec<f64> = (0..nv).flat_map(|_| base.iter().copied()).collect();
    let mut grower = Grower {
        bins: &bins,
        p,
        n_value_bins: n_value_bins.clone(),
        pool: Vec::new(),
    };
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
            let of = GradientsOf {
                obj,
                delta: p.huber_delta,
                k,
                class: c,
            };
            let loss = gradients(of, y, &scores, &mut g[c], &mut h[c], p.jobs);
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
            if obj == Objective::AbsoluteError {
                refit_leaves_to_median(&mut nodes, &ranges, &rows, y, &scores, p.learning_rate);
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
            let (loss, metric) = evaluate(obj, p.huber_delta, &yv, &vscores, k);
            out.curves.validation_loss.push(loss);
            out.curves.validation_metric.push(metric);
            if loss < best.0 {
                best = (loss, it + 1);
            } else if it + 1 - best.1 >= patience.max(1) {
                break;
            }
        }
    }
    out.curves
        .train_loss
        .push(evaluate(obj, p.huber_delta, y, &scores, k).0);
    if p.early_stopping.is_some() && best.1 > 0 {
        out.trees.truncate(best.1 * k);
        out.curves.best_iteration = Some(best.1);
    }
    Ok(out)
}

/// Raw scores (`per_iteration` per row) of one row: the trees' values summed in order, then the base.
pub fn raw_scores(
    trees: &[Tree],
    base: &[f64],
    per_iteration: usize,
    row: &[f64],
    out: &mut [f64],
) {
    out.iter_mut().for_each(|o| *o = 0.0);
    // One iteration's trees at a time (no division a tree to find its class).
    for iteration in trees.chunks(per_iteration.max(1)) {
        for (o, tree) in out.iter_mut().zip(iteration) {
            *o += tree.leaf_values(row, 1)[0] as f64;
        }
    }
    for (o, b) in out.iter_mut().zip(base) {
        *o += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        raw_scores(&b.trees, &b.base_score, b.per_iteration, row, &mut out);
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
        assert_eq!(
            (t1.nodes[0].feature, t1.nodes[0].threshold),
            (NAN_LEFT, 2.5)
        );
        assert_eq!(t1.values, vec![-0.75, 0.75]);
        let t2 = &b.trees[1];
        assert_eq!(
            (t2.nodes[0].feature, t2.nodes[0].threshold),
            (NAN_LEFT, 3.5)
        );
        assert_eq!(t2.values, vec![(-5.25f64 / 9.0 * 0.5) as f32, 0.875]);
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

    /// A tree's root: its feature (with the missing-values flag) and threshold.
    fn root(t: &Tree) -> (u16, f32) {
        (t.nodes[0].feature, t.nodes[0].threshold)
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
        assert_eq!(t1.values, vec![-1.5, 0.75]);
        // Iteration 2 (scores 3 for x <= 2, 5.25 beyond): signs sum per x to 3, 1, 1, -3 (total 2); the
        // split at 3.5 gains 5²/9 + 3²/3 - 2²/12 = 49/9 (2.5: 3, 1.5: 2.78). Left residuals
        // -3 -2 -1 -2 -1 6 -1.25 -0.25 0.75, median -1 -> -0.5; right 0.75 1.75 14.75, median 1.75
        // -> 0.875.
        let t2 = &b.trees[1];
        assert_eq!(root(t2), (NAN_LEFT, 3.5));
        assert_eq!(t2.values, vec![-0.5, 0.875]);
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
        assert_eq!(t1.values, vec![-0.25, (11.0f64 / 24.0) as f32]);
        // Iteration 2 (scores 5 for x <= 3, 5.25 + 11/24 = 137/24 at x = 4): gradients per x sum to 3
        // (5, 4, 3 clipped), 1 (4, 3, -4), 0 (1, 0, -1) and -7/24 - 1 - 1 = -55/24. The split at 2.5
        // gains 4²/6 + (55/24)²/6 = 3.542, just ahead of 3.5's 4²/9 + (55/24)²/3 = 3.528 (the parent's
        // score is the same for both); leaves -(4/6)·0.5 = -1/3 and (55/24/6)·0.5 = 55/288.
        let t2 = &b.trees[1];
        assert_eq!(root(t2), (NAN_LEFT, 2.5));
        let near = |a: f64, b: f64| (a - b).abs() < 1e-6;
        assert!(near(t2.values[0] as f64, -1.0 / 3.0), "{:?}", t2.values);
        assert!(near(t2.values[1] as f64, 55.0 / 288.0), "{:?}", t2.values);
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
        let root = b.trees[0].nodes[0];
        assert_eq!(root.feature, NAN_LEFT, "feature 0, missing values left");
        assert_eq!(root.threshold, 3.5);
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
        assert_eq!(b.trees[0].nodes[0].feature, 0);
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
        assert_eq!(
            super::super::tree::encode(&one.trees),
            super::super::tree::encode(&two.trees)
        );
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
                super::super::model::argmax(&s) == y[r] as usize
            })
            .count();
        assert!(right as f64 / y.len() as f64 > 0.7, "{right}"); // the noise caps it near 0.75
        let loss = &b.curves.train_loss;
        assert!(loss[loss.len() - 1] < loss[0] * 0.9, "{loss:?}");
    }

    #[test]
    fn cuts_separate_distinct_values_and_keep_three_rows_a_bin() {
        let mut v: Vec<f32> = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, f32::NAN].to_vec();
        assert_eq!(find_cuts(&mut v, 255), vec![1.5, 2.5]);
        let mut v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = find_cuts(&mut v, 10);
        assert!(cuts.len() <= 9 && cuts.len() >= 8, "{cuts:?}");
        assert_eq!(bin_of(&cuts, f32::NAN) as usize, cuts.len() + 1);
        let mut v = vec![5.0f32; 10];
        assert!(find_cuts(&mut v, 255).is_empty());
    }
}
