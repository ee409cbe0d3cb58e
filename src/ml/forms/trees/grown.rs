//! mlx's own trees built node by node, straight into the ensemble's layout: what the growers
//! (`learners/cart.rs`, `learners/gbdt/grower.rs`) make and `codec.rs` reads back from `trees.bin`. A
//! [`TreeBuilder`] holds one tree in preorder (a split's left child is the node after it) with no
//! allocation per node or leaf, and [`Ensemble::grown`] checks each tree in one pass and joins them.
//! Trees from other libraries come in as [`RawNode`] lists through [`Ensemble::new`] instead.

use super::ensemble::{
    Ensemble, F_DEFAULT_LEFT, LEAF, Missing, Node, RawNode, Rules, TreeError, check_leaf,
};

/// One tree in preorder, in the ensemble's node layout with indices local to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeBuilder {
    nodes: Vec<Node>,
    leaf_values: Vec<f64>,
}

impl TreeBuilder {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Empty again, keeping the room (one builder serves every tree of a file).
    pub(super) fn clear(&mut self) {
        self.nodes.clear();
        self.leaf_values.clear();
    }

    /// Add a numeric split (`x <= threshold` goes left; missing values left when `default_left`): its
    /// left child is the next node added, its right child the node added after
    /// [`TreeBuilder::right_child_here`]. Returns its index.
    pub fn split(&mut self, feature: usize, threshold: f64, default_left: bool) -> usize {
        let at = self.nodes.len();
        self.push_split(feature, threshold, default_left, 0);
        at
    }

    /// The next node added is split `at`'s right child.
    pub fn right_child_here(&mut self, at: usize) {
        let next = self.nodes.len() as u32;
        self.nodes[at].right = next;
    }

    /// A split whose right child is node `right` (as `trees.bin` says; [`Ensemble::grown`] checks it).
    pub(super) fn push_split(
        &mut self,
        feature: usize,
        threshold: f64,
        default_left: bool,
        right: usize,
    ) {
        let at = self.nodes.len();
        self.nodes.push(Node {
            feature: feature as u32,
            flags: if default_left { F_DEFAULT_LEFT } else { 0 },
            missing: Missing::Nan,
            value: threshold,
            left: (at + 1) as u32,
            right: right as u32,
            start: 0,
            len: 0,
        });
    }

    /// A leaf of one value.
    pub fn leaf(&mut self, value: f64) {
        self.nodes.push(Node {
            feature: LEAF,
            flags: 0,
            missing: Missing::Nan,
            value,
            left: 0,
            right: 0,
            start: 0,
            len: 0,
        });
    }

    /// A leaf of one value per output group (a forest's class shares).
    pub fn leaves(&mut self, values: impl IntoIterator<Item = f64>) {
        let start = self.leaf_values.len();
        self.leaf_values.extend(values);
        self.leaf(0.0);
        let leaf = self.nodes.last_mut().expect("just pushed");
        leaf.start = start as u32;
        leaf.len = (self.leaf_values.len() - start) as u32;
    }

    /// The tree as [`RawNode`]s (what a reader would have described).
    pub fn raw_nodes(&self) -> Vec<RawNode> {
        let raw = |n: &Node| {
            if n.feature != LEAF {
                return RawNode::Split {
                    feature: n.feature as usize,
                    threshold: n.value,
                    left: n.left as usize,
                    right: n.right as usize,
                    default_left: n.flags & F_DEFAULT_LEFT != 0,
                    missing: n.missing,
                    categories: None,
                };
            }
            if n.len == 0 {
                return RawNode::Leaf { value: n.value };
            }
            let values = &self.leaf_values[n.start as usize..][..n.len as usize];
            RawNode::Leaves {
                values: values.to_vec(),
            }
        };
        self.nodes.iter().map(raw).collect()
    }
}

impl Ensemble {
    /// Checks and joins mlx's trees (each with the output group it adds to) over `n_features` inputs.
    pub fn grown(
        trees: Vec<(TreeBuilder, usize)>,
        n_features: usize,
        n_groups: usize,
        rules: Rules,
    ) -> Result<Ensemble, TreeError> {
        let total = trees.iter().map(|t| t.0.len()).sum();
        let mut out = Ensemble::empty(n_features, n_groups, rules, total);
        for (tree, group) in &trees {
            out.push_grown(tree, *group)?;
        }
        Ok(out)
    }

    /// Check one of mlx's trees and add it, adding to output group `group`.
    pub(super) fn push_grown(&mut self, tree: &TreeBuilder, group: usize) -> Result<(), TreeError> {
        let err = |node: usize, why: String| TreeError {
            tree: self.roots.len(),
            node,
            why,
        };
        let n_groups = self.n_groups();
        if group >= n_groups {
            return Err(err(0, format!("output group {group} >= {n_groups} groups")));
        }
        let leaf_width = self.rules().leaf_width(n_groups);
        check_preorder(tree, self.n_features(), leaf_width)
            .map_err(|(node, why)| err(node, why))?;
        let base = self.nodes.len();
        let values = self.leaf_values.len();
        if base + tree.nodes.len() >= LEAF as usize
            || u32::try_from(values + tree.leaf_values.len()).is_err()
        {
            return Err(err(0, "too many nodes in the model".into()));
        }
        let (base, values) = (base as u32, values as u32);
        self.roots.push((base, group as u32));
        self.nodes
            .extend(tree.nodes.iter().map(|n| match n.feature {
                LEAF if n.len > 0 => Node {
                    start: n.start + values,
                    ..*n
                },
                LEAF => *n,
                _ => Node {
                    left: n.left + base,
                    right: n.right + base,
                    ..*n
                },
            }));
        self.leaf_values.extend_from_slice(&tree.leaf_values);
        Ok(())
    }
}

/// Checks one tree in one pass: every index in range and where preorder puts it (so every node is
/// reached exactly once from node 0), thresholds not NaN, and every leaf finite and of the width the
/// ensemble combines (`leaf_width`: one value per group, or `None` for one value).
fn check_preorder(
    tree: &TreeBuilder,
    n_features: usize,
    leaf_width: Option<usize>,
) -> Result<(), (usize, String)> {
    let n = tree.nodes.len();
    if n == 0 {
        return Err((0, "the tree has no nodes".into()));
    }
    // The right children still to come, innermost last.
    let mut pending: Vec<usize> = Vec::new();
    for (i, node) in tree.nodes.iter().enumerate() {
        if node.feature == LEAF {
            let values = match node.len {
                0 => std::slice::from_ref(&node.value),
                len => &tree.leaf_values[node.start as usize..][..len as usize],
            };
            check_leaf(values, node.len > 0, leaf_width).map_err(|why| (i, why))?;
            match pending.pop() {
                Some(right) if right == i + 1 => {}
                Some(right) => {
                    return Err((
                        i,
                        format!(
                            "node {} comes after this leaf where preorder needs node {right} (a split's \
                             right child): the nodes are not one tree",
                            i + 1
                        ),
                    ));
                }
                None if i + 1 == n => return Ok(()),
                None => return Err((i, format!("{} nodes after the tree's last leaf", n - i - 1))),
            }
            continue;
        }
        let (feature, right) = (node.feature as usize, node.right as usize);
        if feature >= n_features {
            return Err((
                i,
                format!(
                    "feature index {feature} out of range (the model has {n_features} features)"
                ),
            ));
        }
        if node.value.is_nan() {
            return Err((i, "threshold is NaN".into()));
        }
        if !(right > i + 1 && right < n) {
            return Err((
                i,
                format!("right child {right} out of range (the tree has {n} nodes)"),
            ));
        }
        pending.push(right);
    }
    Err((n - 1, "the tree ends inside a split".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 <= 1 ? (x1 <= 0, NaN left ? 0.25 : -0.5) : 1.0
    fn tree() -> TreeBuilder {
        let mut t = TreeBuilder::default();
        let root = t.split(0, 1.0, false);
        let inner = t.split(1, 0.0, true);
        t.leaf(0.25);
        t.right_child_here(inner);
        t.leaf(-0.5);
        t.right_child_here(root);
        t.leaf(1.0);
        t
    }

    #[test]
    fn the_same_ensemble_as_its_raw_nodes_give() {
        let rules = Rules::MLX_SUM;
        let trees = vec![(tree(), 0), (tree(), 1)];
        let raw = trees.iter().map(|(t, g)| (t.raw_nodes(), *g)).collect();
        assert_eq!(
            Ensemble::grown(trees, 2, 2, rules).unwrap(),
            Ensemble::new(raw, 2, 2, rules).unwrap()
        );
        let mut shares = TreeBuilder::default();
        let root = shares.split(0, 2.5, false);
        shares.leaves([0.25, 0.75]);
        shares.right_child_here(root);
        shares.leaves([1.0, 0.0]);
        let raw = vec![(shares.raw_nodes(), 0)];
        let grown = Ensemble::grown(vec![(shares, 0)], 1, 2, Rules::MLX_MEAN).unwrap();
        assert_eq!(grown, Ensemble::new(raw, 1, 2, Rules::MLX_MEAN).unwrap());
        let mut p = [0.0; 2];
        grown.raw_scores(&[3.0], &mut p);
        assert_eq!(p, [1.0, 0.0]);
    }

    #[test]
    fn trees_that_are_not_preorder_trees_are_refused() {
        let check = |t: TreeBuilder, nf: usize| {
            let mut one_leaf = TreeBuilder::default();
            one_leaf.leaf(1.0);
            Ensemble::grown(vec![(one_leaf, 0), (t, 0)], nf, 1, Rules::MLX_SUM)
                .unwrap_err()
                .to_string()
        };
        // Both splits name node 3 as their right child.
        let mut shared = TreeBuilder::default();
        shared.push_split(0, 1.0, false, 3);
        shared.push_split(0, 1.0, false, 3);
        shared.leaf(1.0);
        shared.leaf(2.0);
        shared.leaf(3.0);
        assert_eq!(
            check(shared, 1),
            "tree 1, node 3: node 4 comes after this leaf where preorder needs node 3 (a split's right \
             child): the nodes are not one tree"
        );
        let mut far = TreeBuilder::default();
        far.push_split(0, 1.0, false, 9);
        far.leaf(1.0);
        far.leaf(2.0);
        assert_eq!(
            check(far, 1),
            "tree 1, node 0: right child 9 out of range (the tree has 3 nodes)"
        );
        assert!(check(tree(), 1).contains("feature index 1 out of range"));
        let mut open = TreeBuilder::default();
        open.push_split(0, 1.0, false, 2);
        open.leaf(1.0);
        open.push_split(0, 1.0, false, 4);
        assert!(check(open, 1).contains("right child 4 out of range"));
        let mut extra = TreeBuilder::default();
        extra.leaf(1.0);
        extra.leaf(2.0);
        assert_eq!(
            check(extra, 1),
            "tree 1, node 0: 1 nodes after the tree's last leaf"
        );
        let mut nan = TreeBuilder::default();
        nan.leaf(f64::NAN);
        assert!(check(nan, 1).contains("leaf value NaN is not finite"));
        assert!(check(TreeBuilder::default(), 1).contains("no nodes"));
        let mut wide = TreeBuilder::default();
        wide.leaves([0.5, 0.5]);
        assert!(check(wide, 1).contains("a leaf of 2 values where one value is expected"));
    }
}
