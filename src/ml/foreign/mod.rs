//! Models mlx did not train, read natively from MLflow flavors (never executed).

pub mod lightgbm;
pub mod trees;
pub mod xgboost;
