//! `trees.bin`, the compact file beside `model.json` that holds mlx's own trees: [`encode`] an
//! [`Ensemble`] mlx grew, and [`decode`] one back, checking every index so a damaged file is an error,
//! not a panic. The Python loader (`ml/mlx_pyfunc.py`) reads the same layout.
//!
//! Little-endian: `MLXT`, the tree count (`u32`), then per tree `n_nodes u32, n_values u32`, its nodes in
//! preorder (`feature u16, threshold f32, next u32`: an internal node's left child is the next node and
//! `next` its right child; a leaf's `next` indexes its values) and its leaf values (`f32`).

use super::ensemble::{Ensemble, F_DEFAULT_LEFT, LEAF as ENSEMBLE_LEAF, Rules};
use super::grown::TreeBuilder;

/// A leaf's `feature`.
const LEAF: u16 = u16::MAX;
/// Set in an internal node's `feature` when missing values (NaN) go left (gradient boosting learns the
/// side; forests never see a missing value, and NaN fails `<=`, so it goes right).
const NAN_LEFT: u16 = 0x8000;
/// The most features a tree in this layout can split on (the feature index shares 16 bits with
/// [`NAN_LEFT`]).
pub const MAX_FEATURES: usize = NAN_LEFT as usize;

/// The trees in the layout above. Only mlx's own trees are encoded: numeric splits, `f32` thresholds
/// and leaf values, missing values by the learned side.
pub fn encode(trees: &Ensemble) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"MLXT");
    out.extend_from_slice(&(trees.roots.len() as u32).to_le_bytes());
    let (mut nodes, mut values) = (Vec::new(), Vec::new());
    for &(root, _) in &trees.roots {
        nodes.clear();
        values.clear();
        preorder(trees, root as usize, &mut nodes, &mut values);
        out.extend_from_slice(&(nodes.len() as u32).to_le_bytes());
        out.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for (feature, threshold, next) in &nodes {
            out.extend_from_slice(&feature.to_le_bytes());
            out.extend_from_slice(&threshold.to_le_bytes());
            out.extend_from_slice(&next.to_le_bytes());
        }
        for v in &values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Append node `i`'s subtree to `nodes` (`feature, threshold, next`) and its leaves' values to `values`,
/// in preorder.
fn preorder(trees: &Ensemble, i: usize, nodes: &mut Vec<(u16, f32, u32)>, values: &mut Vec<f32>) {
    let n = trees.nodes[i];
    if n.feature == ENSEMBLE_LEAF {
        nodes.push((LEAF, 0.0, values.len() as u32));
        if n.len > 0 {
            let leaf = &trees.leaf_values[n.start as usize..][..n.len as usize];
            values.extend(leaf.iter().map(|&v| v as f32));
        } else {
            values.push(n.value as f32);
        }
        return;
    }
    let nan_left = if n.flags & F_DEFAULT_LEFT != 0 {
        NAN_LEFT
    } else {
        0
    };
    let me = nodes.len();
    nodes.push((n.feature as u16 | nan_left, n.value as f32, 0));
    preorder(trees, n.left as usize, nodes, values);
    nodes[me].2 = nodes.len() as u32;
    preorder(trees, n.right as usize, nodes, values);
}

/// Decode [`encode`]'s layout into trees of `n_outputs` values per leaf over `n_features`, predicting by
/// `rules` (tree `t` adds to output group `t % groups`, `groups` being 1 for a forest's mean).
pub fn decode(
    bytes: &[u8],
    n_features: usize,
    n_outputs: usize,
    groups: usize,
    rules: Rules,
) -> Result<Ensemble, String> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let s = bytes
            .get(at..at + n)
            .ok_or_else(|| "the tree file is truncated".to_string())?;
        at += n;
        Ok(s)
    };
    if take(4)? != b"MLXT" {
        return Err("not an mlx tree file".into());
    }
    let u32_at = |s: &[u8]| u32::from_le_bytes(s.try_into().expect("4 bytes"));
    let n_trees = u32_at(take(4)?) as usize;
    // Ten bytes a node: room for every node the file can hold.
    let mut out = Ensemble::empty(
        n_features,
        groups_width(n_outputs, groups),
        rules,
        bytes.len() / 10,
    );
    let mut tree = TreeBuilder::default();
    for t in 0..n_trees {
        let n_nodes = u32_at(take(4)?) as usize;
        let n_values = u32_at(take(4)?) as usize;
        let node_bytes = take(n_nodes.checked_mul(10).ok_or("bad node count")?)?;
        let value_bytes = take(n_values.checked_mul(4).ok_or("bad value count")?)?;
        let values: Vec<f32> = value_bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tree_nodes(&mut tree, node_bytes, &values, n_features, n_outputs)?;
        out.push_grown(&tree, t % groups.max(1))
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The ensemble's output groups: one per leaf value, or `groups` for one-value leaves.
fn groups_width(n_outputs: usize, groups: usize) -> usize {
    if n_outputs > 1 {
        n_outputs
    } else {
        groups.max(1)
    }
}

/// One tree, each node checked: a split's feature in range and its children after it, a leaf's values
/// inside the tree's ([`Ensemble::grown`] then checks the tree is a preorder tree).
fn tree_nodes(
    tree: &mut TreeBuilder,
    node_bytes: &[u8],
    values: &[f32],
    n_features: usize,
    n_outputs: usize,
) -> Result<(), String> {
    let len = node_bytes.len() / 10;
    if len == 0 {
        return Err("a tree has no nodes".into());
    }
    tree.clear();
    for (i, c) in node_bytes.chunks_exact(10).enumerate() {
        let feature = u16::from_le_bytes([c[0], c[1]]);
        let threshold = f32::from_le_bytes([c[2], c[3], c[4], c[5]]);
        let next = u32::from_le_bytes([c[6], c[7], c[8], c[9]]) as usize;
        let invalid = || format!("node {i} of a tree is invalid");
        if feature == LEAF {
            let leaf = values.get(next..next + n_outputs).ok_or_else(invalid)?;
            match leaf {
                [value] => tree.leaf(f64::from(*value)),
                _ => tree.leaves(leaf.iter().map(|&v| f64::from(v))),
            }
            continue;
        }
        let f = (feature & !NAN_LEFT) as usize;
        if !(f < n_features && next < len && next > i + 1 && i + 1 < len) {
            return Err(invalid());
        }
        tree.push_split(f, f64::from(threshold), feature & NAN_LEFT != 0, next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::ensemble::{Missing, RawNode};
    use super::*;

    fn split(feature: usize, threshold: f32, right: usize, at: usize, nan_left: bool) -> RawNode {
        RawNode::Split {
            feature,
            threshold: f64::from(threshold),
            left: at + 1,
            right,
            default_left: nan_left,
            missing: Missing::Nan,
            categories: None,
        }
    }

    #[test]
    fn round_trips_byte_for_byte_and_names_a_bad_node() {
        let leaf = |v: f32| RawNode::Leaf {
            value: f64::from(v),
        };
        let t1 = vec![
            split(0, 1.5, 4, 0, false),
            split(1, -0.25, 3, 1, true),
            leaf(0.5),
            leaf(-1.0),
            leaf(2.0),
        ];
        let t2 = vec![leaf(0.125)];
        let e = Ensemble::new(vec![(t1, 0), (t2, 1)], 2, 2, Rules::MLX_SUM).unwrap();
        let bytes = encode(&e);
        let back = decode(&bytes, 2, 1, 2, Rules::MLX_SUM).unwrap();
        assert_eq!(back, e);
        assert_eq!(encode(&back), bytes);
        // Node 1 of tree 0 says its right child is node 9.
        let mut bad = bytes.clone();
        bad[16 + 10 + 6..16 + 10 + 10].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(
            decode(&bad, 2, 1, 2, Rules::MLX_SUM).unwrap_err(),
            "node 1 of a tree is invalid"
        );
        assert_eq!(
            decode(&bytes[..20], 2, 1, 2, Rules::MLX_SUM).unwrap_err(),
            "the tree file is truncated"
        );
    }

    #[test]
    fn a_node_reached_twice_is_refused() {
        // Nodes 0 and 1 both name node 3 as their right child: every index is in range and after its
        // parent, but the tree is not a tree.
        let mut bytes = b"MLXT".to_vec();
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(5u32.to_le_bytes());
        bytes.extend(3u32.to_le_bytes());
        for (feature, next) in [(0u16, 3u32), (0, 3), (LEAF, 0), (LEAF, 1), (LEAF, 2)] {
            bytes.extend(feature.to_le_bytes());
            bytes.extend(1.0f32.to_le_bytes());
            bytes.extend(next.to_le_bytes());
        }
        for v in [1.0f32, 2.0, 3.0] {
            bytes.extend(v.to_le_bytes());
        }
        assert_eq!(
            decode(&bytes, 1, 1, 1, Rules::MLX_SUM).unwrap_err(),
            "tree 0, node 3: node 4 comes after this leaf where preorder needs node 3 (a split's right \
             child): the nodes are not one tree"
        );
    }

    #[test]
    fn class_share_leaves_round_trip() {
        let shares = |a: f32, b: f32| RawNode::Leaves {
            values: vec![f64::from(a), f64::from(b)],
        };
        let t = vec![
            split(0, 3.0, 2, 0, false),
            shares(0.25, 0.75),
            shares(1.0, 0.0),
        ];
        let e = Ensemble::new(vec![(t, 0)], 1, 2, Rules::MLX_MEAN).unwrap();
        let bytes = encode(&e);
        assert_eq!(decode(&bytes, 1, 2, 1, Rules::MLX_MEAN).unwrap(), e);
        let mut p = [0.0; 2];
        e.raw_scores(&[2.0], &mut p);
        assert_eq!(p, [0.25, 0.75]);
    }
}
