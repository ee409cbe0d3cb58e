//! The `Trees` form: mlx's own random forest or decision tree — the trees' leaf values averaged (class
//! shares for classification, values for regression). The trees themselves are in `trees.bin`.

pub mod ensemble;
pub mod flat;
pub mod tree;

use super::LoadCheck;
use crate::ml::core::ModelError;
use tree::Tree;

/// Class probabilities of one row into `p`.
pub(super) fn proba_row(trees: &[Tree], row: &[f64], p: &mut [f64]) {
    tree::predict_row(trees, row, p.len(), p)
}

/// The predicted value of one row (regression).
pub(super) fn value_row(trees: &[Tree], row: &[f64]) -> f64 {
    let mut v = [0.0];
    tree::predict_row(trees, row, 1, &mut v);
    v[0]
}

/// Read `trees.bin` (`n_outputs` values per leaf) into `trees`, `n_trees` of them.
pub(super) fn read_trees_bin(
    trees: &mut Vec<Tree>,
    n_trees: usize,
    n_outputs: usize,
    cx: &LoadCheck,
) -> Result<(), ModelError> {
    let trees_path = cx.dir.join(super::TREES_BIN);
    let bytes = std::fs::read(&trees_path).map_err(|e| cx.error(&trees_path, e.to_string()))?;
    *trees =
        tree::decode(&bytes, cx.n_features, n_outputs).map_err(|e| cx.error(&trees_path, e))?;
    if trees.len() != n_trees {
        return Err(cx.error(
            &trees_path,
            format!("{} trees, expected {n_trees}", trees.len()),
        ));
    }
    Ok(())
}

/// Load the trees: one value per output in each leaf.
pub(super) fn load(
    trees: &mut Vec<Tree>,
    n_trees: usize,
    cx: &LoadCheck,
) -> Result<(), ModelError> {
    read_trees_bin(trees, n_trees, cx.outputs, cx)
}
