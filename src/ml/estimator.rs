//! The old home of the estimators, kept as re-exports while other modules move to the new paths: fitting
//! is in `ml::learners` (one file per learner), the fitted state in `ml::forms`, the task in `ml::core`.

pub use super::core::Task;
pub use super::forms::{Fitted, nearest};
pub use super::learners::{FitError, ModelKind, TrainSet};
