//! Decision trees and random forests on a fast learner of our own (CART): features are binned once (at most
//! 256 bins per feature, exact thresholds when a feature has few distinct values), each node builds per-bin
//! histograms and scans them for the best Gini (classification) or variance (regression) split. Trees are
//! grown in parallel; each is a `forms::trees::grown::TreeBuilder` (preorder), and a forest is their
//! `Ensemble` (`learners/forest.rs`).
//!
//! smartcore's tree scans every row at every node (quadratic in practice), which made a 100-tree forest on
//! 80,000 rows take minutes; this learner is O(rows × features) per tree level.

use crate::ml::data::split::Mt19937;
use crate::ml::forms::trees::grown::TreeBuilder;

const MAX_BINS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TreeParams {
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features tried at each split (None: all).
    pub max_features: Option<usize>,
}

/// Features binned column by column: `bins[f][row]`, with the threshold for "bin <= b" in `edges[f][b]`.
pub struct Binned {
    bins: Vec<Vec<u8>>,
    edges: Vec<Vec<f32>>,
}

impl Binned {
    /// Bin a row-major matrix of `n_features` columns.
    pub fn new(x: &[f64], n_features: usize) -> Binned {
        let n = x.len() / n_features.max(1);
        let mut bins = Vec::with_capacity(n_features);
        let mut edges = Vec::with_capacity(n_features);
        for f in 0..n_features {
            let mut values: Vec<f32> = (0..n).map(|r| x[r * n_features + f] as f32).collect();
            values.sort_by(f32::total_cmp);
            values.dedup();
            // Thresholds: midpoints between distinct values, or between quantiles when there are many.
            let cuts: Vec<f32> = if values.len() <= MAX_BINS {
                values
                    .windows(2)
                    .map(|w| w[0] + (w[1] - w[0]) / 2.0)
                    .collect()
            } else {
                let mut c: Vec<f32> = (1..MAX_BINS)
                    .map(|i| {
                        let at = i * values.len() / MAX_BINS;
                        values[at - 1] + (values[at] - values[at - 1]) / 2.0
                    })
                    .collect();
                c.dedup();
                c
            };
            let col: Vec<u8> = (0..n)
                .map(|r| {
                    let v = x[r * n_features + f] as f32;
                    cuts.partition_point(|&c| c < v) as u8
                })
                .collect();
            bins.push(col);
            edges.push(cuts);
        }
        Binned { bins, edges }
    }

    fn n_features(&self) -> usize {
        self.bins.len()
    }
}

/// What a tree predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target<'a> {
    Classes { y: &'a [u32], n_classes: usize },
    Values(&'a [f64]),
}

struct Builder<'a> {
    data: &'a Binned,
    target: Target<'a>,
    params: TreeParams,
    rng: Mt19937,
    /// The tree grown so far, in preorder.
    tree: TreeBuilder,
    /// Impurity decrease per feature, weighted by samples (feature importance).
    importance: Vec<f64>,
    // Scratch buffers reused at every node.
    hist: Vec<f64>,
    total: Vec<f64>,
    left: Vec<f64>,
    features: Vec<usize>,
}

struct SplitChoice {
    feature: usize,
    bin: usize,
    gain: f64,
}

impl Builder<'_> {
    /// Weighted sample statistics of `rows` (weights = bootstrap counts).
    fn leaf(&mut self, rows: &[u32], weights: &[u32]) {
        match self.target {
            Target::Classes { y, n_classes } => {
                let mut counts = vec![0f64; n_classes];
                let mut total = 0.0;
                for &r in rows {
                    let w = weights[r as usize] as f64;
                    counts[y[r as usize] as usize] += w;
                    total += w;
                }
                // Class shares as `f32`, the precision `trees.bin` keeps.
                let mut values = counts
                    .iter()
                    .map(|c| f64::from((c / total.max(1.0)) as f32));
                match n_classes {
                    1 => self.tree.leaf(values.next().unwrap_or(0.0)),
                    _ => self.tree.leaves(values),
                }
            }
            Target::Values(v) => {
                let (mut s, mut n) = (0.0, 0.0);
                for &r in rows {
                    let w = weights[r as usize] as f64;
                    s += v[r as usize] * w;
                    n += w;
                }
                self.tree.leaf(f64::from((s / n.max(1.0)) as f32));
            }
        }
    }

    fn best_split(
        &mut self,
        rows: &[u32],
        weights: &[u32],
        n_weighted: f64,
    ) -> Option<SplitChoice> {
        let n_features = self.data.n_features();
        let mut features = std::mem::take(&mut self.features);
        features.clear();
        features.extend(0..n_features);
        let k = self
            .params
            .max_features
            .unwrap_or(n_features)
            .clamp(1, n_features);
        // Partial Fisher-Yates: a random subset of k features.
        for i in 0..k {
            let j = i + self.rng.interval((n_features - 1 - i) as u64) as usize;
            features.swap(i, j);
        }
        let min_leaf = self.params.min_samples_leaf as f64;
        let mut best: Option<SplitChoice> = None;
        for &f in &features[..k] {
            let n_bins = self.data.edges[f].len() + 1;
            if n_bins < 2 {
                continue;
            }
            let col = &self.data.bins[f];
            match self.target {
                Target::Classes { y, n_classes } => {
                    // hist[bin * n_classes + class] = weighted count; buffers are reused across nodes.
                    let hist = &mut self.hist;
                    hist.clear();
                    hist.resize(n_bins * n_classes, 0.0);
                    for &r in rows {
                        let r = r as usize;
                        hist[col[r] as usize * n_classes + y[r] as usize] += weights[r] as f64;
                    }
                    let total = &mut self.total;
                    total.clear();
                    total.resize(n_classes, 0.0);
                    for b in 0..n_bins {
                        for c in 0..n_classes {
                            total[c] += hist[b * n_classes + c];
                        }
                    }
                    let parent = gini_sum(total, n_weighted);
                    let left = &mut self.left;
                    left.clear();
                    left.resize(n_classes, 0.0);
                    let mut n_left = 0.0;
                    for b in 0..n_bins - 1 {
                        let mut moved = 0.0;
                        for c in 0..n_classes {
                            let h = hist[b * n_classes + c];
                            left[c] += h;
                            moved += h;
                        }
                        if moved == 0.0 {
                            continue; // an empty bin splits the rows as the previous one did
                        }
                        n_left += moved;
                        let n_right = n_weighted - n_left;
                        if n_left < min_leaf || n_right < min_leaf {
                            continue;
                        }
                        let mut sq_left = 0.0;
                        let mut sq_right = 0.0;
                        for c in 0..n_classes {
                            sq_left += left[c] * left[c];
                            let r = total[c] - left[c];
                            sq_right += r * r;
                        }
                        let gain =
                            parent - (n_left - sq_left / n_left) - (n_right - sq_right / n_right);
                        if gain > -1e-9 && best.as_ref().is_none_or(|s| gain > s.gain) {
                            best = Some(SplitChoice {
                                feature: f,
                                bin: b,
                                gain,
                            });
                        }
                    }
                }
                Target::Values(v) => {
                    let mut sum = vec![0f64; n_bins];
                    let mut cnt = vec![0f64; n_bins];
                    for &r in rows {
                        let r = r as usize;
                        let w = weights[r] as f64;
                        sum[col[r] as usize] += v[r] * w;
                        cnt[col[r] as usize] += w;
                    }
                    let total_sum: f64 = sum.iter().sum();
                    let parent = total_sum * total_sum / n_weighted;
                    let (mut ls, mut ln) = (0.0, 0.0);
                    for b in 0..n_bins - 1 {
                        ls += sum[b];
                        ln += cnt[b];
                        let rn = n_weighted - ln;
                        if ln < min_leaf || rn < min_leaf || ln == 0.0 || rn == 0.0 {
                            continue;
                        }
                        let rs = total_sum - ls;
                        // Decrease of the sum of squared errors.
                        let gain = ls * ls / ln + rs * rs / rn - parent;
                        if gain > -1e-9 && best.as_ref().is_none_or(|s| gain > s.gain) {
                            best = Some(SplitChoice {
                                feature: f,
                                bin: b,
                                gain,
                            });
                        }
                    }
                }
            }
        }
        self.features = features;
        best
    }

    fn grow(&mut self, rows: &mut [u32], weights: &[u32], depth: usize) {
        let n_weighted: f64 = rows.iter().map(|&r| weights[r as usize] as f64).sum();
        let pure = match self.target {
            Target::Classes { y, .. } => rows.iter().all(|&r| y[r as usize] == y[rows[0] as usize]),
            Target::Values(v) => rows.iter().all(|&r| v[r as usize] == v[rows[0] as usize]),
        };
        let stop = pure
            || n_weighted < self.params.min_samples_split as f64
            || self.params.max_depth.is_some_and(|d| depth >= d);
        let split = if stop {
            None
        } else {
            self.best_split(rows, weights, n_weighted)
        };
        let Some(split) = split else {
            self.leaf(rows, weights);
            return;
        };
        self.importance[split.feature] += split.gain;
        let col = &self.data.bins[split.feature];
        // Partition rows in place: left = bin <= split.bin.
        let mut i = 0;
        for j in 0..rows.len() {
            if col[rows[j] as usize] as usize <= split.bin {
                rows.swap(i, j);
                i += 1;
            }
        }
        // Forests never see a missing value; NaN fails `<=` and goes right.
        let threshold = f64::from(self.data.edges[split.feature][split.bin]);
        let me = self.tree.split(split.feature, threshold, false);
        let (left, right) = rows.split_at_mut(i);
        self.grow(left, weights, depth + 1);
        self.tree.right_child_here(me);
        self.grow(right, weights, depth + 1);
    }
}

/// Gini impurity times the weight: n - sum(c²)/n.
fn gini_sum(counts: &[f64], n: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    n - counts.iter().map(|c| c * c).sum::<f64>() / n
}

/// Grow one tree on `weights` (bootstrap counts; all ones for a plain tree). Returns the tree and the
/// impurity decrease per feature.
pub fn fit_tree(
    data: &Binned,
    target: Target,
    params: TreeParams,
    weights: &[u32],
    seed: u32,
) -> (TreeBuilder, Vec<f64>) {
    let mut rows: Vec<u32> = (0..weights.len() as u32)
        .filter(|&r| weights[r as usize] > 0)
        .collect();
    let mut b = Builder {
        data,
        target,
        params,
        rng: Mt19937::new(seed),
        tree: TreeBuilder::default(),
        importance: vec![0.0; data.n_features()],
        hist: Vec::new(),
        total: Vec::new(),
        left: Vec::new(),
        features: Vec::new(),
    };
    b.grow(&mut rows, weights, 0);
    (b.tree, b.importance)
}

/// A forest of `n_trees` bootstrap trees grown on `jobs` threads; `progress` is called after each tree.
pub fn fit_forest(
    data: &Binned,
    target: Target,
    params: TreeParams,
    n_trees: usize,
    seed: u64,
    jobs: usize,
    progress: &(dyn Fn() + Sync),
) -> (Vec<TreeBuilder>, Vec<f64>) {
    let n = match target {
        Target::Classes { y, .. } => y.len(),
        Target::Values(v) => v.len(),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(n_trees));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, n_trees.max(1)) {
            scope.spawn(|| {
                loop {
                    let t = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if t >= n_trees {
                        break;
                    }
                    // Each tree has its own generator, so results do not depend on the thread count.
                    let tree_seed = (seed as u32)
                        .wrapping_mul(2_654_435_761)
                        .wrapping_add(t as u32);
                    let mut rng = Mt19937::new(tree_seed);
                    let mut weights = vec![0u32; n];
                    for _ in 0..n {
                        weights[rng.interval(n as u64 - 1) as usize] += 1;
                    }
                    let (tree, imp) =
                        fit_tree(data, target, params, &weights, tree_seed ^ 0x5bd1_e995);
                    results
                        .lock()
                        .expect("no panics while holding")
                        .push((t, tree, imp));
                    progress();
                }
            });
        }
    });
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by_key(|(t, _, _)| *t);
    let mut importance = vec![0.0; data.n_features()];
    let trees = results
        .into_iter()
        .map(|(_, tree, imp)| {
            for (a, b) in importance.iter_mut().zip(imp) {
                *a += b;
            }
            tree
        })
        .collect();
    (trees, importance)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::forms::trees::codec::{decode, encode};
    use crate::ml::forms::trees::ensemble::{Ensemble, Rules};

    /// The forest of `trees` as mlx predicts it: leaves of `n_outputs` values averaged.
    fn forest(trees: Vec<TreeBuilder>, n_features: usize, n_outputs: usize) -> Ensemble {
        let trees = trees.into_iter().map(|t| (t, 0)).collect();
        Ensemble::grown(trees, n_features, n_outputs, Rules::MLX_MEAN).unwrap()
    }

    fn xor_data() -> (Vec<f64>, Vec<u32>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..400 {
            let a = (i % 20) as f64;
            let b = (i / 20) as f64;
            x.extend([a, b]);
            y.push(u32::from((a < 10.0) != (b < 10.0)));
        }
        (x, y)
    }

    #[test]
    fn a_full_tree_fits_xor_exactly() {
        let (x, y) = xor_data();
        let data = Binned::new(&x, 2);
        let params = TreeParams {
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
        };
        let (tree, imp) = fit_tree(
            &data,
            Target::Classes {
                y: &y,
                n_classes: 2,
            },
            params,
            &vec![1; y.len()],
            1,
        );
        let tree = forest(vec![tree], 2, 2);
        for r in 0..y.len() {
            let p = tree.leaf_values(0, &x[r * 2..r * 2 + 2]);
            assert_eq!((p[1] > 0.5) as u32, y[r]);
        }
        assert!(imp[0] > 0.0 && imp[1] > 0.0);
    }

    #[test]
    fn forests_are_reproducible_and_round_trip() {
        let (x, y) = xor_data();
        let data = Binned::new(&x, 2);
        let params = TreeParams {
            max_depth: Some(6),
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: Some(1),
        };
        let t = Target::Classes {
            y: &y,
            n_classes: 2,
        };
        let (a, _) = fit_forest(&data, t, params, 8, 42, 2, &|| {});
        let (b, _) = fit_forest(&data, t, params, 8, 42, 1, &|| {});
        assert_eq!(a, b, "same seed, same forest, whatever the thread count");
        let a = forest(a, 2, 2);
        let bytes = encode(&a);
        let decode = |bytes: &[u8]| decode(bytes, 2, 2, 1, Rules::MLX_MEAN);
        assert_eq!(decode(&bytes).unwrap(), a);
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(decode(b"nope").is_err());
        let mut bad = bytes.clone();
        bad[8 + 8] = 9; // first node's feature index out of range
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn regression_tree_predicts_means() {
        let x: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let v: Vec<f64> = (0..100).map(|i| if i < 50 { 1.0 } else { 3.0 }).collect();
        let data = Binned::new(&x, 1);
        let params = TreeParams {
            max_depth: Some(1),
            min_samples_split: 2,
            min_samples_leaf: 1,
            max_features: None,
        };
        let (tree, _) = fit_tree(&data, Target::Values(&v), params, &vec![1; 100], 0);
        let tree = forest(vec![tree], 1, 1);
        assert_eq!(tree.leaf_values(0, &[10.0]), [1.0]);
        assert_eq!(tree.leaf_values(0, &[90.0]), [3.0]);
    }
}
