//! The estimator hyperparameter flags of `mlx train` (scikit-learn's names and defaults), flattened into
//! `TrainArgs`, and how they become `ml::estimator::Hyper`.

use crate::ml::boost::Objective;
use crate::ml::estimator::{GbHyper, Hyper, ModelKind, default_min_samples_leaf};
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct HyperArgs {
    /// Trees in a random forest, boosting iterations in gradient boosting
    #[arg(long, default_value_t = 100)]
    pub n_estimators: usize,
    /// Maximum tree depth [default: unlimited]
    #[arg(long)]
    pub max_depth: Option<usize>,
    #[arg(long, default_value_t = 2)]
    pub min_samples_split: usize,
    /// Fewest rows in a leaf [default: 20 for gradient-boosting, else 1]
    #[arg(long)]
    pub min_samples_leaf: Option<usize>,
    /// Features tried per split [default: sqrt(features) for forest classifiers, all otherwise]
    #[arg(long)]
    pub max_features: Option<usize>,
    /// Inverse regularisation strength of logistic regression
    #[arg(long = "c", default_value_t = 1.0)]
    pub c: f64,
    /// Regularisation strength of ridge and lasso
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Neighbours for k-nearest neighbours
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    #[arg(long, default_value_t = 1000)]
    pub max_iter: usize,
    /// Gradient boosting: shrinkage of each tree's values
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Gradient boosting: leaves per tree (grown leaf-wise, best split first)
    #[arg(long, default_value_t = 31)]
    pub num_leaves: usize,
    /// Gradient boosting: L2 penalty on leaf values
    #[arg(long, default_value_t = 0.0)]
    pub l2_regularization: f64,
    /// Gradient boosting: most bins per feature (2-255; missing values get a bin of their own)
    #[arg(long, default_value_t = 255)]
    pub max_bins: usize,
    /// Gradient boosting: share of rows each iteration fits on (seeded sample)
    #[arg(long, default_value_t = 1.0)]
    pub subsample: f64,
    /// Gradient boosting: share of features each tree may split on (seeded sample)
    #[arg(long, default_value_t = 1.0)]
    pub colsample: f64,
    /// Gradient boosting: hold out --validation-fraction of the training part and stop after N iterations
    /// without a better validation loss, keeping the best iteration
    #[arg(long, value_name = "N")]
    pub early_stopping: Option<usize>,
    /// Gradient boosting: share of the training part held out for early stopping
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Gradient boosting regression: the loss [default: squared_error]
    #[arg(long, value_parser = super::choice::<Objective>())]
    pub loss: Option<Objective>,
    /// Gradient boosting with --loss huber: residuals beyond it count as absolute error
    #[arg(long, default_value_t = 0.9)]
    pub huber_delta: f64,
    /// Threads for forests and gradient boosting [default: all cores]
    #[arg(long)]
    pub jobs: Option<usize>,
}

impl HyperArgs {
    /// The hyperparameters for `model` (None: the task's default estimator), seeded with `seed`.
    pub fn hyper(&self, model: Option<ModelKind>, seed: u64) -> Hyper {
        let jobs = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        Hyper {
            n_estimators: self.n_estimators,
            max_depth: self.max_depth,
            min_samples_split: self.min_samples_split,
            min_samples_leaf: self
                .min_samples_leaf
                .unwrap_or_else(|| default_min_samples_leaf(model)),
            max_features: self.max_features,
            c: self.c,
            alpha: self.alpha,
            k: self.k,
            max_iter: self.max_iter,
            seed,
            jobs,
            gb: GbHyper {
                learning_rate: self.learning_rate,
                num_leaves: self.num_leaves,
                l2_regularization: self.l2_regularization,
                max_bins: self.max_bins,
                subsample: self.subsample,
                colsample: self.colsample,
                early_stopping: self.early_stopping,
                validation_fraction: self.validation_fraction,
                loss: self.loss,
                huber_delta: self.huber_delta,
            },
        }
    }
}
