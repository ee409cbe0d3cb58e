//! mlx's trees laid out for prediction: every tree's nodes in one contiguous array, thresholds compared
//! in `f32` against a row converted once, and several trees walked side by side without branches.
//!
//! A boosted model is a hundred or more small trees whose every split is a coin toss for the branch
//! predictor, so a plain walk spends most of its time on mispredictions. Here each step picks the child
//! with a select, not a jump; leaves point at themselves, so the trees of a block are stepped in lockstep
//! for as many levels as the deepest of them has, and the out-of-order core overlaps their independent
//! walks. The leaf values are then added in tree order, so the sums are bit for bit those of
//! `Ensemble::raw_scores`.
//!
//! Only ensembles this layout computes exactly are flattened (mlx's own forests and boosting always are):
//! `f32` features compared `<=` with thresholds and leaf values that are `f32`s, numeric splits sending
//! missing values the learned way, leaves summed in `f64` — a boosted tree `t` adding to group
//! `t % groups`, or a forest's leaves (one value per group) added then divided by the number of trees —
//! each split's children after it.

use super::ensemble::{Combine, Ensemble, F_CATEGORICAL, F_DEFAULT_LEFT, LEAF, Missing};

/// Trees walked side by side.
const BLOCK: usize = 8;

/// The high bit of `FlatNode::feature`: missing values go left.
const FLAT_NAN_LEFT: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, Default)]
struct FlatNode {
    threshold: f32,
    /// The feature index, with [`FLAT_NAN_LEFT`]; 0 for a leaf (any valid index: both children are the
    /// leaf itself).
    feature: u32,
    left: u32,
    right: u32,
}

/// The trees of a model, flattened.
#[derive(Debug, Clone, Default)]
pub struct FlatTrees {
    nodes: Vec<FlatNode>,
    /// The leaf values of each node, `width` a node (0 for a split).
    values: Vec<f32>,
    /// Values per leaf: 1, or a forest's number of groups (class shares).
    width: usize,
    /// The trees' mean (a forest), not their sum per group (boosting).
    mean: bool,
    /// Each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Per block of [`BLOCK`] trees, the depth of its deepest leaf.
    depths: Vec<u32>,
}

impl FlatTrees {
    /// Flatten `trees`, or `None` when this layout would not compute its sums exactly.
    pub fn new(trees: &Ensemble) -> Option<FlatTrees> {
        if !flattens(trees) {
            return None;
        }
        let mean = trees.rules().combine == Combine::Mean;
        let width = if mean { trees.n_groups().max(1) } else { 1 };
        let mut flat = FlatTrees {
            width,
            mean,
            ..FlatTrees::default()
        };
        let mut tree_depths = Vec::with_capacity(trees.roots.len());
        let ends = trees.roots.iter().skip(1).map(|r| r.0 as usize);
        let ends = ends.chain([trees.nodes.len()]);
        for (&(root, _), end) in trees.roots.iter().zip(ends) {
            let offset = root as usize;
            let nodes = &trees.nodes[offset..end];
            flat.roots.push(root);
            let mut depth = vec![0u32; nodes.len()];
            let mut deepest = 0;
            for (i, n) in nodes.iter().enumerate() {
                let me = (offset + i) as u32;
                if n.feature == LEAF {
                    flat.nodes.push(FlatNode {
                        threshold: 0.0,
                        feature: 0,
                        left: me,
                        right: me,
                    });
                    if n.len > 0 {
                        let leaf = &trees.leaf_values[n.start as usize..][..n.len as usize];
                        flat.values.extend(leaf.iter().map(|&v| v as f32));
                    } else {
                        flat.values.push(n.value as f32);
                    }
                    deepest = deepest.max(depth[i]);
                } else {
                    let (l, r) = (n.left as usize - offset, n.right as usize - offset);
                    depth[l] = depth[l].max(depth[i] + 1);
                    depth[r] = depth[r].max(depth[i] + 1);
                    let nan_left = if n.flags & F_DEFAULT_LEFT != 0 {
                        FLAT_NAN_LEFT
                    } else {
                        0
                    };
                    flat.nodes.push(FlatNode {
                        threshold: n.value as f32,
                        feature: n.feature | nan_left,
                        left: n.left,
                        right: n.right,
                    });
                    flat.values.extend(std::iter::repeat_n(0.0, width));
                }
            }
            tree_depths.push(deepest);
        }
        flat.depths = tree_depths
            .chunks(BLOCK)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect();
        Some(flat)
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Add the trees' leaves for `row` (features as `f32`, not empty) to `out`, in tree order: a boosted
    /// tree `t`'s value to `out[t % out.len()]`, or a forest's values (one per group) to every group, then
    /// divided once by the number of trees when there are several.
    pub fn add_leaf_values(&self, row: &[f32], out: &mut [f64]) {
        let k = out.len();
        let nodes = &self.nodes[..];
        let mut class = 0;
        for (b, roots) in self.roots.chunks(BLOCK).enumerate() {
            // A short last block is padded with the first tree's root: stepped, never added. A whole
            // block of fixed width lets the compiler unroll the lockstep.
            let mut at = [roots[0]; BLOCK];
            at[..roots.len()].copy_from_slice(roots);
            for _ in 0..self.depths[b] {
                for a in &mut at {
                    *a = step(&nodes[*a as usize], row);
                }
            }
            for a in at.iter().take(roots.len()) {
                if self.mean {
                    let leaf = &self.values[*a as usize * self.width..][..self.width];
                    for (o, v) in out.iter_mut().zip(leaf) {
                        *o += *v as f64;
                    }
                    continue;
                }
                out[class] += self.values[*a as usize] as f64;
                // The next tree's class, without a division.
                class += 1;
                if class == k {
                    class = 0;
                }
            }
        }
        if self.mean && self.roots.len() > 1 {
            let n = self.roots.len() as f64;
            out.iter_mut().for_each(|v| *v /= n);
        }
    }
}

/// Whether [`FlatTrees`] computes `trees`' sums bit for bit (see the module's doc).
fn flattens(trees: &Ensemble) -> bool {
    let rules = trees.rules();
    let f32_exact = |v: f64| f64::from(v as f32).to_bits() == v.to_bits();
    let groups = trees.n_groups().max(1);
    // A forest's leaves hold one value per group when there are several.
    let group_of = match rules.combine {
        Combine::Sum => groups,
        Combine::Mean => 1,
        Combine::MeanOfProportions => return false,
    };
    let leaf_len = rules.leaf_width(groups).unwrap_or(0);
    let leaf_ok = |n: &super::ensemble::Node| {
        let leaf = &trees.leaf_values[n.start as usize..][..n.len as usize];
        n.len as usize == leaf_len && f32_exact(n.value) && leaf.iter().all(|&v| f32_exact(v))
    };
    rules.f32_features
        && !rules.strict_less
        && !rules.f32_sum
        && trees.n_features() < FLAT_NAN_LEFT as usize
        && trees
            .roots
            .iter()
            .enumerate()
            .all(|(t, r)| r.1 as usize == t % group_of)
        && trees.nodes.iter().enumerate().all(|(i, n)| {
            if n.feature == LEAF {
                return leaf_ok(n);
            }
            n.flags & F_CATEGORICAL == 0
                && n.missing == Missing::Nan
                && f32_exact(n.value)
                && n.left as usize > i
                && n.right as usize > i
        })
}

/// The child of `n` that `row` goes to (a leaf's is itself), chosen without a branch.
#[inline(always)]
fn step(n: &FlatNode, row: &[f32]) -> u32 {
    let v = row[(n.feature & !FLAT_NAN_LEFT) as usize];
    let left = (v <= n.threshold) | (v.is_nan() & (n.feature & FLAT_NAN_LEFT != 0));
    // All ones when left: picks `left`, else `right`.
    let mask = 0u32.wrapping_sub(u32::from(left));
    n.right ^ ((n.left ^ n.right) & mask)
}

#[cfg(test)]
mod tests {
    use super::super::ensemble::{RawNode, Rules};
    use super::*;

    fn split(feature: usize, threshold: f32, left: usize, right: usize, nan_left: bool) -> RawNode {
        RawNode::Split {
            feature,
            threshold: f64::from(threshold),
            left,
            right,
            default_left: nan_left,
            missing: Missing::Nan,
            categories: None,
        }
    }

    fn leaf(value: f32) -> RawNode {
        RawNode::Leaf {
            value: f64::from(value),
        }
    }

    /// Trees of uneven depth, missing values sent both ways.
    fn trees() -> Vec<Vec<RawNode>> {
        // x0 <= 1 ? (x1 <= 0, NaN left ? a : b) : c
        let t1 = vec![
            split(0, 1.0, 1, 4, false),
            split(1, 0.0, 2, 3, true),
            leaf(0.25),
            leaf(-0.5),
            leaf(1.0),
        ];
        // a single leaf
        let t2 = vec![leaf(0.125)];
        // x1 <= 2 (NaN right) ? d : (x0 <= -1 ? e : (x0 <= 3 ? f : g))
        let t3 = vec![
            split(1, 2.0, 1, 2, false),
            leaf(-2.0),
            split(0, -1.0, 3, 4, false),
            leaf(3.0),
            split(0, 3.0, 5, 6, false),
            leaf(0.75),
            leaf(1e-3),
        ];
        vec![t1, t2, t3]
    }

    fn ensemble(k: usize) -> Ensemble {
        // Twenty copies of the three trees: several blocks, the last one partial.
        let trees = (0..20).flat_map(|_| trees()).enumerate();
        let trees = trees.map(|(t, nodes)| (nodes, t % k)).collect();
        Ensemble::new(trees, 2, k, Rules::MLX_SUM).unwrap()
    }

    #[test]
    fn the_same_sums_as_walking_each_tree() {
        let values = [f64::NAN, -5.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 1e9];
        for k in [1, 3] {
            let trees = ensemble(k);
            let flat = FlatTrees::new(&trees).unwrap();
            assert_eq!(flat.len(), 60);
            for &a in &values {
                for &b in &values {
                    let row = [a, b];
                    let mut got = vec![0.0; k];
                    flat.add_leaf_values(&[a as f32, b as f32], &mut got);
                    let mut want = vec![0.0; k];
                    trees.raw_scores(&row, &mut want);
                    assert_eq!(
                        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "row {row:?}, k {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_forests_mean_is_the_ensembles_bit_for_bit() {
        // Class shares in every leaf (two groups), then one value a leaf (regression).
        let shares = |nodes: Vec<RawNode>| -> Vec<RawNode> {
            let to_shares = |n: RawNode| match n {
                RawNode::Leaf { value } => RawNode::Leaves {
                    values: vec![value, f64::from(1.0 - value as f32)],
                },
                split => split,
            };
            nodes.into_iter().map(to_shares).collect()
        };
        let values = [f64::NAN, -5.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 1e9];
        for k in [2, 1] {
            let trees = (0..7).flat_map(|_| trees());
            let trees = trees.map(|t| (if k == 2 { shares(t) } else { t }, 0));
            let trees = Ensemble::new(trees.collect(), 2, k, Rules::MLX_MEAN).unwrap();
            let flat = FlatTrees::new(&trees).unwrap();
            for &a in &values {
                for &b in &values {
                    let mut got = vec![0.0; k];
                    flat.add_leaf_values(&[a as f32, b as f32], &mut got);
                    let mut want = vec![0.0; k];
                    trees.raw_scores(&[a, b], &mut want);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "row {a}, {b}; k {k}");
                }
            }
        }
    }

    #[test]
    fn only_what_it_computes_exactly_is_flattened() {
        let with = |rules: Rules, threshold: f64| {
            let tree = vec![
                RawNode::Split {
                    feature: 0,
                    threshold,
                    left: 1,
                    right: 2,
                    default_left: false,
                    missing: Missing::Nan,
                    categories: None,
                },
                leaf(1.0),
                leaf(2.0),
            ];
            FlatTrees::new(&Ensemble::new(vec![(tree, 0)], 1, 1, rules).unwrap()).is_some()
        };
        assert!(with(Rules::MLX_SUM, 0.5));
        // A threshold no f32 holds, XGBoost's `<`, LightGBM's doubles, a forest's mean: walked as they are.
        assert!(!with(Rules::MLX_SUM, 0.1));
        let strict = Rules {
            strict_less: true,
            ..Rules::MLX_SUM
        };
        assert!(!with(strict, 0.5));
        let doubles = Rules {
            f32_features: false,
            ..Rules::MLX_SUM
        };
        assert!(!with(doubles, 0.5));
    }

    #[test]
    fn no_trees_add_nothing() {
        let flat =
            FlatTrees::new(&Ensemble::new(Vec::new(), 1, 1, Rules::MLX_SUM).unwrap()).unwrap();
        let mut out = [1.5];
        flat.add_leaf_values(&[0.0], &mut out);
        assert_eq!(out, [1.5]);
        assert!(flat.is_empty());
    }
}
