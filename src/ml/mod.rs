//! Machine learning: data (tables, preprocessing, splits), estimators, the model artifact, foreign models,
//! training, prediction and evaluation. `core` is the leaf every other part may import; the sub-layers
//! are in ARCHITECTURE.md and `scripts/check-layers.sh`.

pub mod boost;
pub mod choice;
pub mod core;
pub mod data;
pub mod estimator;
pub mod eval;
pub mod flat;
pub mod foreign;
pub mod forms;
pub mod import;
pub mod learners;
pub mod loaded;
pub mod model;
pub mod predict;
pub mod pyenv;
pub mod pypredict;
pub mod pyworker;
pub mod train;
pub mod tree;

// The old paths of the modules now in `data/`, for the lines being edited elsewhere right now
// (ops/retrain.rs, foreign/sklearn.rs); repoint them at `data::` and remove this.
pub use data::{fetch, preprocess, split};
