//! How good a model is: `metrics` (accuracy, F1, AUC, RMSE, R², confusion matrices and per-class reports, as
//! scikit-learn computes them) and `plots` (the PNG charts a training run records, and the terminal
//! sparklines of `mlx runs show`).

pub mod metrics;
pub mod plots;
