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

/// Rows one prediction call must have for a big ensemble's flat layout to be built: laying a large forest
/// out (a million nodes) costs about what walking a few hundred rows through its trees does, and a call
/// of a few rows (`mlx predict` on one row, a single-row request) is faster walking the trees as they
/// are. Once built, the layout serves every later call.
pub(super) const FLAT_MIN_ROWS: usize = 256;

/// Ensembles of at most this many nodes (boosting's hundreds of small trees) are laid out on first use
/// whatever the call: it takes well under a millisecond, and single-row requests then walk them fast.
pub(super) const FLAT_EAGER_NODES: usize = 1 << 16;

/// Build the flat layout of `trees` if it pays for a call of `rows` rows (see [`FLAT_MIN_ROWS`]).
pub(super) fn lay_out(flat: &OnceLock<Option<FlatTrees>>, trees: &Ensemble, rows: usize) {
    if rows >= FLAT_MIN_ROWS || trees.n_nodes() <= FLAT_EAGER_NODES {
        flat.get_or_init(|| FlatTrees::new(trees));
    }
}

/// Add the trees' combined leaves for `row` to `out`, walked in the flat layout (the row converted into
/// `row32`) when it is built, else as the ensemble walks them: the same sums either way.
pub(super) fn add_scores(
    flat: &OnceLock<Option<FlatTrees>>,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
    out: &mut [f64],
) {
    match flat.get().and_then(Option::as_ref) {
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
    flat: &OnceLock<Option<FlatTrees>>,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
    p: &mut [f64],
) {
    p.fill(0.0);
    add_scores(flat, trees, row, row32, p);
}

/// The predicted value of one row (regression).
pub(super) fn value_row(
    flat: &OnceLock<Option<FlatTrees>>,
    trees: &Ensemble,
    row: &[f64],
    row32: &mut Vec<f32>,
) -> f64 {
    // The sum starts at -0.0, as Rust's float sum does: scikit-learn's all -0.0 leaves give -0.0 (mlx's
    // leaves are never -0.0, so for them it is the same as 0.0).
    let mut v = [-0.0];
    add_scores(flat, trees, row, row32, &mut v);
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
