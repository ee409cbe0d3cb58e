//! Boosted trees laid out for prediction: every tree's nodes in one contiguous array, thresholds compared
//! in `f32` against a row converted once, and several trees walked side by side without branches.
//!
//! A boosted model is a hundred or more small trees whose every split is a coin toss for the branch
//! predictor, so a plain walk spends most of its time on mispredictions. Here each step picks the child
//! with a select, not a jump; leaves point at themselves, so the trees of a block are stepped in lockstep
//! for as many levels as the deepest of them has, and the out-of-order core overlaps their independent
//! walks. The leaf values are then added in tree order, so the sums are bit for bit those of
//! `Tree::leaf_values` summed tree by tree.

use super::tree::{LEAF, NAN_LEFT, Tree};

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

/// The trees of a boosted model (one value per leaf), flattened.
#[derive(Debug, Clone, Default)]
pub struct FlatTrees {
    nodes: Vec<FlatNode>,
    /// The leaf value of each node (0 for a split).
    values: Vec<f32>,
    /// Each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Per block of [`BLOCK`] trees, the depth of its deepest leaf.
    depths: Vec<u32>,
}

impl FlatTrees {
    /// Flatten `trees` (preorder, as `tree::decode` checked them: a split's children come after it).
    pub fn new(trees: &[Tree]) -> FlatTrees {
        let mut flat = FlatTrees::default();
        let mut tree_depths = Vec::with_capacity(trees.len());
        for t in trees {
            let offset = flat.nodes.len() as u32;
            flat.roots.push(offset);
            let mut depth = vec![0u32; t.nodes.len()];
            let mut deepest = 0;
            for (i, n) in t.nodes.iter().enumerate() {
                let me = offset + i as u32;
                if n.feature == LEAF {
                    flat.nodes.push(FlatNode {
                        threshold: 0.0,
                        feature: 0,
                        left: me,
                        right: me,
                    });
                    flat.values.push(t.values[n.next as usize]);
                    deepest = deepest.max(depth[i]);
                } else {
                    let (l, r) = (i + 1, n.next as usize);
                    depth[l] = depth[l].max(depth[i] + 1);
                    depth[r] = depth[r].max(depth[i] + 1);
                    let nan_left = if n.feature & NAN_LEFT != 0 {
                        FLAT_NAN_LEFT
                    } else {
                        0
                    };
                    flat.nodes.push(FlatNode {
                        threshold: n.threshold,
                        feature: u32::from(n.feature & !NAN_LEFT) | nan_left,
                        left: offset + l as u32,
                        right: offset + r as u32,
                    });
                    flat.values.push(0.0);
                }
            }
            tree_depths.push(deepest);
        }
        flat.depths = tree_depths
            .chunks(BLOCK)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect();
        flat
    }

    pub fn len(&self) -> usize {
        self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Add each tree's leaf value for `row` (features as `f32`, not empty) to `out[t % out.len()]`, in
    /// tree order.
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
                out[class] += self.values[*a as usize] as f64;
                // The next tree's class, without a division.
                class += 1;
                if class == k {
                    class = 0;
                }
            }
        }
    }
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
    use super::super::tree::Node;
    use super::*;

    fn split(feature: u16, threshold: f32, next: u32) -> Node {
        Node {
            feature,
            threshold,
            next,
        }
    }

    fn leaf(at: u32) -> Node {
        split(LEAF, 0.0, at)
    }

    /// Trees of uneven depth, missing values sent both ways.
    fn trees() -> Vec<Tree> {
        // x0 <= 1 ? (x1 <= 0, NaN left ? a : b) : c
        let t1 = Tree {
            nodes: vec![
                split(0, 1.0, 4),
                split(1 | NAN_LEFT, 0.0, 3),
                leaf(0),
                leaf(1),
                leaf(2),
            ],
            values: vec![0.25, -0.5, 1.0],
        };
        // a single leaf
        let t2 = Tree {
            nodes: vec![leaf(0)],
            values: vec![0.125],
        };
        // x1 <= 2 (NaN right) ? d : (x0 <= -1 ? e : (x0 <= 3 ? f : g))
        let t3 = Tree {
            nodes: vec![
                split(1, 2.0, 2),
                leaf(0),
                split(0, -1.0, 4),
                leaf(1),
                split(0, 3.0, 6),
                leaf(2),
                leaf(3),
            ],
            values: vec![-2.0, 3.0, 0.75, 1e-3],
        };
        vec![t1, t2, t3]
    }

    /// Every tree's value summed in order, as `Tree::leaf_values` gives them.
    fn plain(trees: &[Tree], row: &[f64], k: usize) -> Vec<f64> {
        let mut out = vec![0.0; k];
        for (t, tree) in trees.iter().enumerate() {
            out[t % k] += tree.leaf_values(row, 1)[0] as f64;
        }
        out
    }

    #[test]
    fn the_same_sums_as_walking_each_tree() {
        // Twenty copies of the three trees: several blocks, the last one partial.
        let trees: Vec<Tree> = (0..20).flat_map(|_| trees()).collect();
        let flat = FlatTrees::new(&trees);
        assert_eq!(flat.len(), 60);
        let values = [f64::NAN, -5.0, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 1e9];
        for &a in &values {
            for &b in &values {
                let row = [a, b];
                let row32 = [a as f32, b as f32];
                for k in [1, 3] {
                    let mut got = vec![0.0; k];
                    flat.add_leaf_values(&row32, &mut got);
                    let want = plain(&trees, &row, k);
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
    fn no_trees_add_nothing() {
        let flat = FlatTrees::new(&[]);
        let mut out = [1.5];
        flat.add_leaf_values(&[0.0], &mut out);
        assert_eq!(out, [1.5]);
        assert!(flat.is_empty());
    }
}
