//! Machine learning: data loading, preprocessing, splits, estimators, metrics and the model artifact.

pub mod boost;
pub mod choice;
pub mod core;
pub mod data;
pub mod estimator;
pub mod fetch;
pub mod flat;
pub mod foreign;
pub mod import;
pub mod loaded;
pub mod metrics;
pub mod model;
pub mod plots;
pub mod predict;
pub mod preprocess;
pub mod pyenv;
pub mod pypredict;
pub mod pyworker;
pub mod split;
pub mod train;
pub mod tree;
