//! Machine learning: data (tables, preprocessing, splits), learners, the model artifact, foreign models,
//! training, prediction and evaluation. `core` is the leaf every other part may import; the sub-layers
//! are in ARCHITECTURE.md and `scripts/check-layers.sh`.
//!
//! This file is the door the rest of mlx comes through: five namespaces used as a whole (`core`, `data`,
//! `learners`, `train`, `import`) and, below, the few items of the other modules that code outside `ml/`
//! uses. Every other module is private to `ml/`.

// Namespaces used as a whole: the leaf types (Task, Choice, params, errors), tables and CSV with their
// preprocessing and fetching, the learner registry, the steps of `mlx train`, `mlx models import`.
pub mod core;
pub mod data;
pub mod import;
pub mod learners;
pub mod train;

mod choice;
mod eval;
mod foreign;
mod forms;
mod loaded;
mod model;
mod predict;
mod pyenv;
mod pypredict;
mod pyworker;

// Loading and predicting: a model folder (mlx's own or foreign), CSV in, predictions out.
pub use loaded::{Answer, LoadedModel, python_request};
pub use model::SavedModel;
pub use model::add_pyfunc::add_to_folder as add_pyfunc_to_folder;
pub use predict::{PredictFormat, PredictOptions, predict_csv};
pub use pypredict::predict_csv_python;

// Python workers: the environment a model asks for, and the pool that runs its predict.
pub use pyenv::{EnvManager, cache_root as python_env_cache_root, prepare as prepare_python_env};
pub use pyworker::{DEFAULT_MAX_BATCH_ROWS, PoolOptions, PyError, Request as PyRequest};

// Evaluation: the plots a training run logs, and charts of logged metrics.
pub use eval::plots::{Series, sparkline, write_chart, write_plots};

// Foreign readers, for the fuzz tests (tests/it/fuzz.rs) and the numpy fixtures of the import tests; the
// fitted form they read into.
pub use foreign::ForeignModel;
pub use foreign::lightgbm::parse as parse_lightgbm;
pub use foreign::npy::write as write_npy;
pub use foreign::sklearn::from_skops;
pub use foreign::xgboost::parse as parse_xgboost;
pub use forms::Fitted;
