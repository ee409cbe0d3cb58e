//! Growing one tree (LightGBM's `src/treelearner/serial_tree_learner.cpp` and `feature_histogram.hpp`):
//! histograms of gradients and hessians per feature bin, the best split of each feature (missing values
//! tried on either side), leaf-wise growth (the leaf whose split gains most splits next), the smaller
//! child's histogram built from its rows and the larger one's as the parent's minus it, the stable
//! partition of a leaf's rows, and the grown tree as a `forms::trees::grown::TreeBuilder` (preorder).
//!
//! Threads split a node's features (and a large leaf's partition); every sum runs over rows in the same
//! order whatever the thread count, so the tree does not depend on `--jobs`.

use super::bins::Bins;
use super::{BoostParams, parallel_each};
use crate::ml::forms::trees::grown::TreeBuilder;

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

/// A node of the tree being grown (nodes in creation order).
pub(super) enum BNode {
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
pub(super) struct Grower<'a> {
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

impl<'a> Grower<'a> {
    /// A grower of trees on `bins` with hyperparameters `p`.
    pub(super) fn new(bins: &'a Bins, p: &'a BoostParams) -> Grower<'a> {
        Grower {
            bins,
            p,
            n_value_bins: bins.n_value_bins(),
            pool: Vec::new(),
        }
    }

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
    pub(super) fn grow(
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
pub(super) fn binned_value(
    nodes: &[BNode],
    cols: &[Vec<u8>],
    n_value_bins: &[usize],
    r: usize,
) -> f32 {
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

/// The grown tree in the one tree type's layout, in preorder (a split's left child is the next node).
pub(super) fn to_tree(nodes: &[BNode]) -> TreeBuilder {
    fn walk(nodes: &[BNode], i: usize, t: &mut TreeBuilder) {
        match nodes[i] {
            BNode::Leaf { value } => t.leaf(f64::from(value)),
            BNode::Split {
                feature,
                nan_left,
                threshold,
                left,
                right,
                ..
            } => {
                let me = t.split(feature, f64::from(threshold), nan_left);
                walk(nodes, left, t);
                t.right_child_here(me);
                walk(nodes, right, t);
            }
        }
    }
    let mut t = TreeBuilder::default();
    walk(nodes, 0, &mut t);
    t
}
