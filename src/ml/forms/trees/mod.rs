//! The `Trees` form: a random forest or decision tree — the trees' leaves averaged (class shares for
//! classification, values for regression) as [`ensemble::Rules`] say: mlx's own, saved in `trees.bin`
//! (`codec.rs`), or scikit-learn's, read from its skops file. The tree type itself is `ensemble.rs`;
//! `flat.rs` lays boosted trees out for fast prediction.

pub mod codec;
pub mod ensemble;
pub mod flat;
pub mod grown;

use super::LoadCheck;
use crate::ml::core::ModelError;
use ensemble::{Ensemble, Rules};
use flat::FlatTrees;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows predicted (in one call, or a server's single-row requests added up) before a large ensemble's
/// flat layout is built: laying a forest of a million nodes out costs about what walking a few hundred
/// rows through its trees does, so `mlx predict` on a few rows is faster walking the trees as they are,
/// and a server lays them out once its requests have paid for it.
pub(super) const FLAT_MIN_ROWS: usize = 256;

/// Ensembles of at most this many nodes (boosting's hundreds of small trees) are laid out on first use:
/// it takes well under a millisecond.
pub(super) const FLAT_EAGER_NODES: usize = 1 << 16;

/// A tree form's flat layout, built once it pays (see [`FLAT_MIN_ROWS`]), and the rows predicted so far.
#[derive(Debug, Default)]
pub struct Layout {
    flat: OnceLock<Option<FlatTrees>>,
    rows: AtomicUsize,
}

impl Clone for Layout {
    fn clone(&self) -> Layout {
        Layout {
            flat: self.flat.clone(),
            rows: AtomicUsize::new(self.rows.load(Ordering::Relaxed)),
        }
    }
}

impl Layout {
    /// Count a call of `rows` rows, and lay `trees` out if that makes it pay.
    pub(super) fn before_call(&self, trees: &Ensemble, rows: usize) {
        if self.flat.get().is_some() {
            return;
        }
        let seen = self
            .rows
            .fetch_add(rows, Ordering::Relaxed)
            .saturating_add(rows);
        if seen >= FLAT_MIN_ROWS || trees.n_nodes() <= FLAT_EAGER_NODES {
            self.flat.get_or_init(|| FlatTrees::new(trees));
        }
    }

    /// The flat layout, if it is built and computes the ensemble's sums exactly.
    pub fn flat(&self) -> Option<&FlatTrees> {
        self.flat.get().and_then(Option::as_ref)
    }
}

/// Add the trees' combined leaves for `row` to `out`, walked in the flat layout (the row converted into
/// `row32`) when it is built, else as the ensemble walks them: the same sums either way.
pub(super) fn add_scores(
    layout: &Layout,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
    out: &mut [f64],
) {
    match layout.flat() {
        Some(flat) => {
            row32.clear();
            row32.extend(row.iter().map(|&v| v as f32));
            if row32.is_empty() {
                // No features: every tree is one leaf, which reads (and ignores) feature 0.
                row32.push(0.0);
            }
            flat.add_leaf_values(row32, out);
        }
        None => trees.raw_scores(row, out),
    }
}

/// Class probabilities (or class weights' proportions) of one row into `p`.
pub(super) fn proba_row(
    layout: &Layout,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
    p: &mut [f64],
) {
    p.fill(0.0);
    add_scores(layout, trees, row, row32, p);
}

/// The predicted value of one row (regression).
pub(super) fn value_row(
    layout: &Layout,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
) -> f64 {
    // The sum starts at -0.0, as Rust's float sum does: scikit-learn's all -0.0 leaves give -0.0 (mlx's
    // leaves are never -0.0, so for them it is the same as 0.0).
    let mut v = [-0.0];
    add_scores(layout, trees, row, row32, &mut v);
    v[0]
}

/// Read `trees.bin` (`n_outputs` values per leaf, tree `t` adding to group `t % groups`) into `trees`,
/// `n_trees` of them.
pub(super) fn read_trees_bin(
    trees: &mut Ensemble,
    n_trees: usize,
    (n_outputs, groups): (usize, usize),
    rules: Rules,
    cx: &LoadCheck,
) -> Result<(), ModelError> {
    let trees_path = cx.dir.join(super::TREES_BIN);
    let bytes = std::fs::read(&trees_path).map_err(|e| cx.error(&trees_path, e.to_string()))?;
    *trees = codec::decode(&bytes, cx.n_features, n_outputs, groups, rules)
        .map_err(|e| cx.error(&trees_path, e))?;
    if trees.n_trees() != n_trees {
        return Err(cx.error(
            &trees_path,
            format!("{} trees, expected {n_trees}", trees.n_trees()),
        ));
    }
    Ok(())
}

/// Load mlx's trees: one value per output in each leaf, averaged.
pub(super) fn load(trees: &mut Ensemble, n_trees: usize, cx: &LoadCheck) -> Result<(), ModelError> {
    read_trees_bin(trees, n_trees, (cx.outputs, 1), Rules::MLX_MEAN, cx)
}
