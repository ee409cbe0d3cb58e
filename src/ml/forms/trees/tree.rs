//! The tree of mlx's own forests and gradient boosting: nodes in preorder, leaf values as `f32`, the walk
//! that predicts, and the compact `trees.bin` codec (encode, and a decode that checks every index).

pub const LEAF: u16 = u16::MAX;
/// Set in an internal node's `feature` when missing values (NaN) go left (gradient boosting learns the side;
/// forests never see a missing value, and NaN fails `<=`, so it goes right).
pub const NAN_LEFT: u16 = 0x8000;

/// One node in preorder: an internal node's left child is the next node; `next` is its right child.
/// For a leaf, `next` indexes the leaf's values in `Tree::values`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    pub feature: u16,
    pub threshold: f32,
    pub next: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    pub nodes: Vec<Node>,
    /// Leaf outputs: class probabilities (n_outputs per leaf) or the mean (1 per leaf).
    pub values: Vec<f32>,
}

impl Tree {
    pub fn leaf_values(&self, row: &[f64], n_outputs: usize) -> &[f32] {
        let mut i = 0;
        loop {
            let n = self.nodes[i];
            if n.feature == LEAF {
                let at = n.next as usize;
                return &self.values[at..at + n_outputs];
            }
            let v = row[(n.feature & !NAN_LEFT) as usize] as f32;
            i = if v <= n.threshold || (v.is_nan() && n.feature & NAN_LEFT != 0) {
                i + 1
            } else {
                n.next as usize
            };
        }
    }
}

/// Average the trees' outputs for one row into `out` (length n_outputs).
pub fn predict_row(trees: &[Tree], row: &[f64], n_outputs: usize, out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for t in trees {
        for (o, v) in out.iter_mut().zip(t.leaf_values(row, n_outputs)) {
            *o += *v as f64;
        }
    }
    let k = trees.len().max(1) as f64;
    out.iter_mut().for_each(|o| *o /= k);
}

/// Compact little-endian layout: per tree `n_nodes u32, n_values u32`, then nodes (`feature u16,
/// threshold f32, next u32`) and values (`f32`).
pub fn encode(trees: &[Tree]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"MLXT");
    out.extend_from_slice(&(trees.len() as u32).to_le_bytes());
    for t in trees {
        out.extend_from_slice(&(t.nodes.len() as u32).to_le_bytes());
        out.extend_from_slice(&(t.values.len() as u32).to_le_bytes());
        for n in &t.nodes {
            out.extend_from_slice(&n.feature.to_le_bytes());
            out.extend_from_slice(&n.threshold.to_le_bytes());
            out.extend_from_slice(&n.next.to_le_bytes());
        }
        for v in &t.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Decode [`encode`]'s layout, checking every index so a damaged file is an error, not a panic.
pub fn decode(bytes: &[u8], n_features: usize, n_outputs: usize) -> Result<Vec<Tree>, String> {
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
    let mut trees = Vec::with_capacity(n_trees.min(100_000));
    for _ in 0..n_trees {
        let n_nodes = u32_at(take(4)?) as usize;
        let n_values = u32_at(take(4)?) as usize;
        let node_bytes = take(n_nodes.checked_mul(10).ok_or("bad node count")?)?;
        let nodes: Vec<Node> = node_bytes
            .chunks_exact(10)
            .map(|c| Node {
                feature: u16::from_le_bytes([c[0], c[1]]),
                threshold: f32::from_le_bytes([c[2], c[3], c[4], c[5]]),
                next: u32::from_le_bytes([c[6], c[7], c[8], c[9]]),
            })
            .collect();
        let value_bytes = take(n_values.checked_mul(4).ok_or("bad value count")?)?;
        let values: Vec<f32> = value_bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        for (i, n) in nodes.iter().enumerate() {
            let ok = if n.feature == LEAF {
                (n.next as usize) + n_outputs <= values.len()
            } else {
                ((n.feature & !NAN_LEFT) as usize) < n_features
                    && (n.next as usize) < nodes.len()
                    && n.next as usize > i + 1
                    && i + 1 < nodes.len()
            };
            if !ok {
                return Err(format!("node {i} of a tree is invalid"));
            }
        }
        trees.push(Tree { nodes, values });
    }
    Ok(trees)
}
