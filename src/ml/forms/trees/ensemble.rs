//! The one tree type: a bounds-checked ensemble of binary decision trees, grown by mlx's own learners
//! (forests, decision trees, gradient boosting) or read from other libraries' model files (LightGBM,
//! XGBoost, scikit-learn's gradient boosting, trees and forests). Every tree model predicts through it;
//! mlx's own are saved by `codec.rs` (`trees.bin`) and boosted ones walked fast by `flat.rs`.
//!
//! Growers and readers describe each tree as a list of [`RawNode`]s with child indices local to that tree;
//! [`Ensemble::new`] checks every child index, feature index and categorical bitset range, and that every
//! tree is a proper tree (each node reached once from the root: no cycles, no shared subtrees), so
//! [`Ensemble::raw_scores`] can never index out of bounds or loop, whatever the file said.
//!
//! Libraries differ in how they compare a feature with a threshold and how they combine the trees;
//! [`Rules`] holds those choices (`<=` or `<`, double or single precision features and sums, a sum of
//! leaf values or a forest's mean) so one evaluator replicates each exactly.

/// How a split treats a missing (NaN) or zero value; LightGBM's three missing types, which cover the
/// others (XGBoost and scikit-learn send NaN the default way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// NaN is read as 0.0 and compared (LightGBM `None`).
    AsZero,
    /// NaN is read as 0.0; a (near) zero value goes the default way (LightGBM `Zero`).
    Zero,
    /// NaN goes the default way.
    Nan,
}

/// One node as a reader found it. Children index the same tree's node list.
#[derive(Debug, Clone, PartialEq)]
pub enum RawNode {
    Leaf {
        value: f64,
    },
    /// A leaf with one value per output group (scikit-learn's class weights), for
    /// [`Combine::MeanOfProportions`].
    Leaves {
        values: Vec<f64>,
    },
    Split {
        feature: usize,
        /// Numeric threshold; ignored for a categorical split.
        threshold: f64,
        left: usize,
        right: usize,
        default_left: bool,
        missing: Missing,
        /// Categorical split: the categories that go left, as a bitset of 32-bit words (bit `c % 32` of
        /// word `c / 32` set for category `c`).
        categories: Option<Vec<u32>>,
    },
}

/// How the source library compares and sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// Go left when `x < threshold` (XGBoost) instead of `x <= threshold` (LightGBM, scikit-learn).
    pub strict_less: bool,
    /// Features are rounded to `f32` before comparing (XGBoost, scikit-learn's GradientBoosting).
    pub f32_features: bool,
    /// Leaf values are summed in `f32` (XGBoost).
    pub f32_sum: bool,
    /// A category below zero or past the bitset goes the missing-value way (scikit-learn's
    /// HistGradientBoosting, which treats unknown categories as missing), not right (LightGBM, XGBoost).
    pub unknown_category_missing: bool,
    /// How the trees' leaves make the output.
    pub combine: Combine,
}

impl Rules {
    /// mlx's own forests and decision trees: features rounded to `f32` and compared `<=` with `f32`
    /// thresholds, missing values to the side the tree learned, the leaves' (class shares or values)
    /// mean in `f64`.
    pub const MLX_MEAN: Rules = Rules {
        strict_less: false,
        f32_features: true,
        f32_sum: false,
        unknown_category_missing: false,
        combine: Combine::Mean,
    };
    /// The values a leaf holds in an ensemble of `n_groups` output groups combined by these rules: one per
    /// group (class weights for proportions, a forest's class shares), or `None` for one value.
    pub fn leaf_width(&self, n_groups: usize) -> Option<usize> {
        match self.combine {
            Combine::MeanOfProportions => Some(n_groups),
            Combine::Mean if n_groups > 1 => Some(n_groups),
            _ => None,
        }
    }

    /// mlx's own gradient boosting: as [`Rules::MLX_MEAN`], the leaves summed per class in `f64`.
    pub const MLX_SUM: Rules = Rules {
        combine: Combine::Sum,
        ..Rules::MLX_MEAN
    };
}

/// How an ensemble combines its trees' leaves into its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Combine {
    /// Each tree's leaf value is added to its output group's score, in tree order (boosting).
    #[default]
    Sum,
    /// The trees' leaf values are added in tree order, then divided once by the number of trees when
    /// there are several (scikit-learn's forest regressors; one tree gives its leaf). With several
    /// output groups each leaf holds one value per group ([`RawNode::Leaves`], mlx's forests' class
    /// shares), added as they are.
    Mean,
    /// Each tree's leaf holds one weight per output group ([`RawNode::Leaves`]); each tree adds its
    /// weights divided by their total (by 1 if the total is 0) in tree order, and the sums are divided
    /// once by the number of trees when there are several (scikit-learn's tree and forest classifiers).
    /// The trees' output groups are ignored.
    MeanOfProportions,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tree {tree}, node {node}: {why}")]
pub struct TreeError {
    pub tree: usize,
    pub node: usize,
    pub why: String,
}

pub(super) const LEAF: u32 = u32::MAX;
pub(super) const F_DEFAULT_LEFT: u8 = 1;
pub(super) const F_CATEGORICAL: u8 = 2;

/// A node in the flat, validated layout: children are global indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Node {
    /// Feature index, or [`LEAF`].
    pub(super) feature: u32,
    pub(super) flags: u8,
    pub(super) missing: Missing,
    /// Threshold, or the leaf value.
    pub(super) value: f64,
    pub(super) left: u32,
    pub(super) right: u32,
    /// A categorical split's bitset, as a range of `Ensemble::bits`; a vector leaf's values, as a range
    /// of `Ensemble::leaf_values`.
    pub(super) start: u32,
    pub(super) len: u32,
}

/// Trees whose outputs are combined per output group, as [`Rules::combine`] says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ensemble {
    pub(super) nodes: Vec<Node>,
    bits: Vec<u32>,
    /// The values of the vector leaves ([`RawNode::Leaves`]), `n_groups` each.
    pub(super) leaf_values: Vec<f64>,
    /// Per tree: its root's index and the output group it adds to.
    pub(super) roots: Vec<(u32, u32)>,
    n_features: usize,
    n_groups: usize,
    rules: Rules,
}

impl Ensemble {
    /// Checks and flattens `trees` (each with the output group it adds to) over `n_features` inputs.
    pub fn new(
        trees: Vec<(Vec<RawNode>, usize)>,
        n_features: usize,
        n_groups: usize,
        rules: Rules,
    ) -> Result<Ensemble, TreeError> {
        let mut out = Ensemble {
            nodes: Vec::with_capacity(trees.iter().map(|t| t.0.len()).sum()),
            bits: Vec::new(),
            leaf_values: Vec::new(),
            roots: Vec::with_capacity(trees.len()),
            n_features,
            n_groups,
            rules,
        };
        for (t, (nodes, group)) in trees.into_iter().enumerate() {
            let err = |node: usize, why: String| TreeError { tree: t, node, why };
            if group >= n_groups {
                return Err(err(0, format!("output group {group} >= {n_groups} groups")));
            }
            if nodes.is_empty() {
                return Err(err(0, "the tree has no nodes".into()));
            }
            check_tree(&nodes, n_features, rules.leaf_width(n_groups))
                .map_err(|(node, why)| err(node, why))?;
            let base = out.nodes.len();
            let too_many = || err(0, "too many nodes in the model".into());
            if base + nodes.len() >= LEAF as usize {
                return Err(too_many());
            }
            out.roots.push((base as u32, group as u32));
            for node in nodes {
                out.nodes.push(match node {
                    RawNode::Leaf { value } => Node {
                        feature: LEAF,
                        flags: 0,
                        missing: Missing::Nan,
                        value,
                        left: 0,
                        right: 0,
                        start: 0,
                        len: 0,
                    },
                    RawNode::Leaves { values } => {
                        let start = u32::try_from(out.leaf_values.len()).map_err(|_| too_many())?;
                        let len = u32::try_from(values.len()).map_err(|_| too_many())?;
                        out.leaf_values.extend_from_slice(&values);
                        Node {
                            feature: LEAF,
                            flags: 0,
                            missing: Missing::Nan,
                            value: 0.0,
                            left: 0,
                            right: 0,
                            start,
                            len,
                        }
                    }
                    RawNode::Split {
                        feature,
                        threshold,
                        left,
                        right,
                        default_left,
                        missing,
                        categories,
                    } => {
                        let mut flags = if default_left { F_DEFAULT_LEFT } else { 0 };
                        let (start, len) = match categories {
                            Some(words) => {
                                flags |= F_CATEGORICAL;
                                let start = out.bits.len();
                                out.bits.extend_from_slice(&words);
                                let start = u32::try_from(start).map_err(|_| too_many())?;
                                let len = u32::try_from(words.len()).map_err(|_| too_many())?;
                                (start, len)
                            }
                            None => (0, 0),
                        };
                        Node {
                            feature: feature as u32,
                            flags,
                            missing,
                            value: threshold,
                            left: (base + left) as u32,
                            right: (base + right) as u32,
                            start,
                            len,
                        }
                    }
                });
            }
        }
        Ok(out)
    }

    /// No trees yet, room for `nodes` nodes (`grown.rs` fills it).
    pub(super) fn empty(
        n_features: usize,
        n_groups: usize,
        rules: Rules,
        nodes: usize,
    ) -> Ensemble {
        Ensemble {
            nodes: Vec::with_capacity(nodes),
            n_features,
            n_groups,
            rules,
            ..Ensemble::default()
        }
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_groups(&self) -> usize {
        self.n_groups
    }

    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Nodes in all the trees.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The values of the leaf `row` reaches in tree `t` (one, or one per group for a vector leaf).
    pub fn leaf_values(&self, t: usize, row: &[f64]) -> &[f64] {
        let leaf = &self.nodes[self.leaf(self.roots[t].0, row)];
        if leaf.len > 0 {
            &self.leaf_values[leaf.start as usize..][..leaf.len as usize]
        } else {
            std::slice::from_ref(&leaf.value)
        }
    }

    /// Adds the trees' leaves for `row` (`n_features` values, NaN = missing) to `out` (`n_groups`
    /// values, holding the start scores), in tree order as the libraries do, combined as
    /// [`Rules::combine`] says.
    pub fn raw_scores(&self, row: &[f64], out: &mut [f64]) {
        debug_assert_eq!(row.len(), self.n_features);
        debug_assert_eq!(out.len(), self.n_groups);
        match self.rules.combine {
            Combine::Sum => self.sum_leaves(row, out),
            Combine::Mean => {
                self.sum_leaves(row, out);
                self.divide_by_trees(out);
            }
            Combine::MeanOfProportions => {
                for &(root, _) in &self.roots {
                    let leaf = &self.nodes[self.leaf(root, row)];
                    let weights = &self.leaf_values[leaf.start as usize..][..leaf.len as usize];
                    let total: f64 = weights.iter().sum();
                    let total = if total == 0.0 { 1.0 } else { total };
                    for (o, w) in out.iter_mut().zip(weights) {
                        *o += w / total;
                    }
                }
                self.divide_by_trees(out);
            }
        }
    }

    /// Each tree's leaf value added to its group's score (a vector leaf's values to every group), in
    /// tree order.
    fn sum_leaves(&self, row: &[f64], out: &mut [f64]) {
        for &(root, group) in &self.roots {
            let leaf = &self.nodes[self.leaf(root, row)];
            if leaf.len > 0 {
                let values = &self.leaf_values[leaf.start as usize..][..leaf.len as usize];
                for (o, v) in out.iter_mut().zip(values) {
                    *o += v;
                }
                continue;
            }
            let leaf = leaf.value;
            let acc = &mut out[group as usize];
            *acc = if self.rules.f32_sum {
                f64::from(*acc as f32 + leaf as f32)
            } else {
                *acc + leaf
            };
        }
    }

    /// A forest's mean: one division by the number of trees, when there are several.
    fn divide_by_trees(&self, out: &mut [f64]) {
        if self.roots.len() > 1 {
            let n = self.roots.len() as f64;
            out.iter_mut().for_each(|v| *v /= n);
        }
    }

    /// The index of the leaf `row` reaches from `root`.
    fn leaf(&self, root: u32, row: &[f64]) -> usize {
        let mut i = root as usize;
        loop {
            let n = &self.nodes[i];
            if n.feature == LEAF {
                return i;
            }
            let mut x = row[n.feature as usize];
            if self.rules.f32_features {
                x = f64::from(x as f32);
            }
            let left = if n.flags & F_CATEGORICAL != 0 {
                self.categorical_left(n, x)
            } else {
                self.numeric_left(n, x)
            };
            i = if left { n.left } else { n.right } as usize;
        }
    }

    fn numeric_left(&self, n: &Node, mut x: f64) -> bool {
        let default_left = n.flags & F_DEFAULT_LEFT != 0;
        if x.is_nan() {
            if n.missing == Missing::Nan {
                return default_left;
            }
            x = 0.0;
        }
        // LightGBM's kZeroThreshold.
        if n.missing == Missing::Zero && (-1e-35f32 as f64..=1e-35f32 as f64).contains(&x) {
            return default_left;
        }
        if self.rules.strict_less {
            x < n.value
        } else {
            x <= n.value
        }
    }

    fn categorical_left(&self, n: &Node, x: f64) -> bool {
        let default_left = n.flags & F_DEFAULT_LEFT != 0;
        if x.is_nan() {
            return default_left;
        }
        let outside = self.rules.unknown_category_missing && default_left;
        // scikit-learn checks the sign before truncating (-0.5 is outside, not category 0).
        if self.rules.unknown_category_missing && x < 0.0 {
            return outside;
        }
        // Categories are non-negative `int`s; the libraries truncate toward zero, and anything
        // outside `int` goes right (or the missing way).
        let t = x.trunc();
        if !(0.0..2_147_483_648.0).contains(&t) {
            return outside;
        }
        let c = t as u32;
        let word = (c / 32) as usize;
        if word >= n.len as usize {
            return outside;
        }
        let bits = self.bits[n.start as usize + word];
        (bits >> (c % 32)) & 1 == 1
    }
}

/// Checks one leaf of `values` (a vector leaf, or one value when not `vector`): of the width the ensemble
/// combines (`leaf_width`, see [`Rules::leaf_width`]) and finite.
pub(super) fn check_leaf(
    values: &[f64],
    vector: bool,
    leaf_width: Option<usize>,
) -> Result<(), String> {
    match (vector, leaf_width) {
        (false, Some(_)) => {
            return Err("a single-value leaf where one value per class is expected".into());
        }
        (true, width) if width != Some(values.len()) => {
            return Err(format!(
                "a leaf of {} values where {} expected",
                values.len(),
                width.map_or("one value is".into(), |w| format!("{w} are"))
            ));
        }
        _ => {}
    }
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("leaf value {v} is not finite")),
        None => Ok(()),
    }
}

/// Checks one tree: indices in range, every node reached exactly once from node 0, and every leaf
/// finite and of the kind the ensemble combines (`leaf_width`: vector leaves of that many values, or
/// `None` for single values).
fn check_tree(
    nodes: &[RawNode],
    n_features: usize,
    leaf_width: Option<usize>,
) -> Result<(), (usize, String)> {
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(i) = stack.pop() {
        match &nodes[i] {
            RawNode::Leaf { value } => check_leaf(std::slice::from_ref(value), false, leaf_width)
                .map_err(|why| (i, why))?,
            RawNode::Leaves { values } => {
                check_leaf(values, true, leaf_width).map_err(|why| (i, why))?
            }
            RawNode::Split {
                feature,
                threshold,
                left,
                right,
                categories,
                ..
            } => {
                if *feature >= n_features {
                    return Err((
                        i,
                        format!(
                            "feature index {feature} out of range (the model has {n_features} features)"
                        ),
                    ));
                }
                if categories.is_none() && threshold.is_nan() {
                    return Err((i, "threshold is NaN".into()));
                }
                for child in [*left, *right] {
                    if child >= nodes.len() {
                        return Err((
                            i,
                            format!(
                                "child index {child} out of range (the tree has {} nodes)",
                                nodes.len()
                            ),
                        ));
                    }
                    if seen[child] {
                        return Err((
                            i,
                            format!("child {child} is reached twice (a cycle or a shared node)"),
                        ));
                    }
                    seen[child] = true;
                    stack.push(child);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LE: Rules = Rules {
        strict_less: false,
        f32_features: false,
        f32_sum: false,
        unknown_category_missing: false,
        combine: Combine::Sum,
    };

    fn split(feature: usize, threshold: f64, left: usize, right: usize) -> RawNode {
        RawNode::Split {
            feature,
            threshold,
            left,
            right,
            default_left: true,
            missing: Missing::Nan,
            categories: None,
        }
    }

    fn leaf(value: f64) -> RawNode {
        RawNode::Leaf { value }
    }

    fn stump() -> Vec<RawNode> {
        vec![split(0, 1.0, 1, 2), leaf(-1.0), leaf(2.0)]
    }

    fn score(e: &Ensemble, row: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; e.n_groups()];
        e.raw_scores(row, &mut out);
        out
    }

    #[test]
    fn sums_trees_per_group_and_compares_as_told() {
        let e = Ensemble::new(vec![(stump(), 0), (stump(), 1), (stump(), 0)], 1, 2, LE).unwrap();
        assert_eq!(score(&e, &[1.0]), vec![-2.0, -1.0]);
        assert_eq!(score(&e, &[1.5]), vec![4.0, 2.0]);
        assert_eq!(score(&e, &[f64::NAN]), vec![-2.0, -1.0]);
        let strict = Rules {
            strict_less: true,
            ..LE
        };
        let e = Ensemble::new(vec![(stump(), 0)], 1, 1, strict).unwrap();
        assert_eq!(score(&e, &[1.0]), vec![2.0]);
        assert_eq!(score(&e, &[0.5]), vec![-1.0]);
    }

    #[test]
    fn f32_features_round_before_comparing() {
        // 1.00000001 rounds to 1.0f32, which is not < 1.0.
        let tree = vec![split(0, 1.0, 1, 2), leaf(-1.0), leaf(2.0)];
        let rules = Rules {
            f32_features: true,
            ..LE
        };
        let e = Ensemble::new(vec![(tree, 0)], 1, 1, rules).unwrap();
        assert_eq!(score(&e, &[1.000_000_01]), vec![-1.0]);
        let e = Ensemble::new(vec![(stump(), 0)], 1, 1, LE).unwrap();
        assert_eq!(score(&e, &[1.000_000_01]), vec![2.0]);
    }

    #[test]
    fn lightgbm_missing_types() {
        let node = |missing, default_left| RawNode::Split {
            feature: 0,
            threshold: -0.5,
            left: 1,
            right: 2,
            default_left,
            missing,
            categories: None,
        };
        let e = |m, d| {
            Ensemble::new(vec![(vec![node(m, d), leaf(1.0), leaf(2.0)], 0)], 1, 1, LE).unwrap()
        };
        // None: NaN is 0.0, which is > -0.5.
        assert_eq!(score(&e(Missing::AsZero, true), &[f64::NAN]), vec![2.0]);
        // Zero: 0 and NaN take the default way.
        assert_eq!(score(&e(Missing::Zero, true), &[0.0]), vec![1.0]);
        assert_eq!(score(&e(Missing::Zero, true), &[f64::NAN]), vec![1.0]);
        assert_eq!(score(&e(Missing::Zero, false), &[-1.0]), vec![1.0]);
        // NaN: only NaN takes the default way.
        assert_eq!(score(&e(Missing::Nan, false), &[f64::NAN]), vec![2.0]);
        assert_eq!(score(&e(Missing::Nan, false), &[0.0]), vec![2.0]);
    }

    #[test]
    fn categorical_bitsets() {
        // Categories 1 and 33 go left.
        let tree = vec![
            RawNode::Split {
                feature: 0,
                threshold: 0.0,
                left: 1,
                right: 2,
                default_left: false,
                missing: Missing::Nan,
                categories: Some(vec![0b10, 0b10]),
            },
            leaf(1.0),
            leaf(2.0),
        ];
        let e = Ensemble::new(vec![(tree, 0)], 1, 1, LE).unwrap();
        for (x, want) in [
            (1.0, 1.0),
            (33.0, 1.0),
            (1.7, 1.0),
            (2.0, 2.0),
            (-1.0, 2.0),
            (-0.5, 2.0),
            (0.0, 2.0),
            (65.0, 2.0),
            (f64::NAN, 2.0),
            (1e300, 2.0),
        ] {
            assert_eq!(score(&e, &[x]), vec![want], "x = {x}");
        }
    }

    #[test]
    fn unknown_categories_can_go_the_missing_way() {
        let tree = |default_left| {
            vec![
                RawNode::Split {
                    feature: 0,
                    threshold: 0.0,
                    left: 1,
                    right: 2,
                    default_left,
                    missing: Missing::Nan,
                    categories: Some(vec![0b10]),
                },
                leaf(1.0),
                leaf(2.0),
            ]
        };
        let rules = Rules {
            unknown_category_missing: true,
            ..LE
        };
        let e = Ensemble::new(vec![(tree(true), 0)], 1, 1, rules).unwrap();
        for (x, want) in [
            (1.0, 1.0),
            (2.0, 2.0),
            (-0.5, 1.0),
            (40.0, 1.0),
            (f64::NAN, 1.0),
        ] {
            assert_eq!(score(&e, &[x]), vec![want], "x = {x}");
        }
        let e = Ensemble::new(vec![(tree(false), 0)], 1, 1, rules).unwrap();
        for (x, want) in [(1.0, 1.0), (-0.5, 2.0), (40.0, 2.0), (f64::NAN, 2.0)] {
            assert_eq!(score(&e, &[x]), vec![want], "x = {x}");
        }
    }

    #[test]
    fn rejects_bad_trees() {
        let check = |tree: Vec<RawNode>, n_features: usize| {
            Ensemble::new(vec![(stump(), 0), (tree, 0)], n_features, 1, LE)
                .unwrap_err()
                .to_string()
        };
        let e = check(vec![split(0, 1.0, 1, 7), leaf(0.0), leaf(1.0)], 1);
        assert!(
            e.contains("tree 1, node 0: child index 7 out of range"),
            "{e}"
        );
        let e = check(vec![split(3, 1.0, 1, 2), leaf(0.0), leaf(1.0)], 2);
        assert!(e.contains("feature index 3 out of range"), "{e}");
        let e = check(vec![split(0, 1.0, 1, 2), split(0, 1.0, 0, 2), leaf(1.0)], 1);
        assert!(e.contains("reached twice"), "{e}");
        let e = check(vec![split(0, 1.0, 0, 1), leaf(1.0)], 1);
        assert!(e.contains("reached twice"), "{e}");
        let e = check(vec![split(0, f64::NAN, 1, 2), leaf(0.0), leaf(1.0)], 1);
        assert!(e.contains("threshold is NaN"), "{e}");
        let e = check(vec![leaf(f64::INFINITY)], 1);
        assert!(e.contains("not finite"), "{e}");
        let e = check(vec![], 1);
        assert!(e.contains("no nodes"), "{e}");
        let e = Ensemble::new(vec![(stump(), 2)], 1, 2, LE)
            .unwrap_err()
            .to_string();
        assert!(e.contains("output group 2"), "{e}");
    }

    #[test]
    fn forests_average_their_trees() {
        let mean = Rules {
            combine: Combine::Mean,
            ..LE
        };
        let e = Ensemble::new(vec![(stump(), 0), (stump(), 0)], 1, 1, mean).unwrap();
        assert_eq!(score(&e, &[1.5]), vec![2.0]);
        let other = vec![split(0, 2.0, 1, 2), leaf(4.0), leaf(8.0)];
        let e = Ensemble::new(vec![(stump(), 0), (other, 0)], 1, 1, mean).unwrap();
        // (2 + 4) / 2; one tree is its leaf.
        assert_eq!(score(&e, &[1.5]), vec![3.0]);
        let e = Ensemble::new(vec![(stump(), 0)], 1, 1, mean).unwrap();
        assert_eq!(score(&e, &[0.0]), vec![-1.0]);
    }

    #[test]
    fn class_weights_become_proportions_then_their_mean() {
        let rules = Rules {
            combine: Combine::MeanOfProportions,
            ..LE
        };
        let weights = |a: f64, b: f64| RawNode::Leaves { values: vec![a, b] };
        let t1 = vec![split(0, 1.0, 1, 2), weights(3.0, 1.0), weights(0.0, 0.0)];
        let t2 = vec![split(0, 0.5, 1, 2), weights(1.0, 1.0), weights(0.0, 2.0)];
        let e = Ensemble::new(vec![(t1.clone(), 0), (t2, 0)], 1, 2, rules).unwrap();
        // Left, right: (0.75 + 0, 0.25 + 1) / 2.
        assert_eq!(score(&e, &[0.8]), vec![0.375, 0.625]);
        // All-zero weights add nothing (their total counts as 1).
        assert_eq!(score(&e, &[2.0]), vec![0.0, 0.5]);
        let one = Ensemble::new(vec![(t1, 0)], 1, 2, rules).unwrap();
        assert_eq!(score(&one, &[0.0]), vec![0.75, 0.25]);
        // Leaves must match the combine: a vector of the group count, or a single value.
        let e = Ensemble::new(vec![(stump(), 0)], 1, 2, rules)
            .unwrap_err()
            .to_string();
        assert!(e.contains("one value per class is expected"), "{e}");
        let short = vec![split(0, 1.0, 1, 2), weights(1.0, 0.0), leaf_of(&[1.0])];
        let e = Ensemble::new(vec![(short, 0)], 1, 2, rules)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("node 2: a leaf of 1 values where 2 are expected"),
            "{e}"
        );
        let e = Ensemble::new(vec![(vec![weights(1.0, 0.0)], 0)], 1, 2, LE)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("a leaf of 2 values where one value is expected"),
            "{e}"
        );
        let e = Ensemble::new(vec![(vec![weights(1.0, f64::NAN)], 0)], 1, 2, rules)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }

    fn leaf_of(values: &[f64]) -> RawNode {
        RawNode::Leaves {
            values: values.to_vec(),
        }
    }
}
