//! mlx's own trees (`learners/cart.rs`): a `random-forest` (bootstrap samples, features sampled per split, grown in
//! parallel) or one `decision-tree`, on binned features, with normalised feature importances. Produce the
//! `Trees` form.

use super::cart::{self, Binned, Target, TreeParams};
use super::{Fit, FitError, Learner, Shape, TrainSet, features_per_split, normalised};
use crate::ml::core::Task;
use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::forms::Fitted;
use crate::ml::forms::trees::ensemble::{Ensemble, Rules};
use std::collections::BTreeMap;

pub struct RandomForest;
pub struct DecisionTree;

/// Upper bounds on values read back from a store: generous for real use, finite for a hostile value.
pub(super) const MAX_TREES: usize = 10_000;
pub(super) const MAX_DEPTH: usize = 1_000;
pub(super) const MAX_SAMPLES: usize = 100_000_000;

pub(super) const N_ESTIMATORS: ParamSpec = ParamSpec::new(
    "n_estimators",
    "n-estimators",
    Kind::Count { max: MAX_TREES },
    Value::Count(100),
    "Trees in a random forest, boosting iterations in gradient boosting",
);
pub(super) const MAX_DEPTH_SPEC: ParamSpec = ParamSpec::new(
    "max_depth",
    "max-depth",
    Kind::OptCount { max: MAX_DEPTH },
    Value::OptCount(None),
    "Maximum tree depth [default: unlimited]",
);
const MIN_SAMPLES_SPLIT: ParamSpec = ParamSpec::new(
    "min_samples_split",
    "min-samples-split",
    Kind::Count { max: MAX_SAMPLES },
    Value::Count(2),
    "",
);
/// `min_samples_leaf` with scikit-learn's default (gradient boosting has LightGBM's).
pub(super) const fn min_samples_leaf(default: usize) -> ParamSpec {
    ParamSpec::new(
        "min_samples_leaf",
        "min-samples-leaf",
        Kind::Count { max: MAX_SAMPLES },
        Value::Count(default),
        "Fewest rows in a leaf",
    )
}
const MAX_FEATURES: ParamSpec = ParamSpec::new(
    "max_features",
    "max-features",
    Kind::OptCount { max: MAX_SAMPLES },
    Value::OptCount(None),
    "Features tried per split [default: sqrt(features) for forest classifiers, all otherwise]",
);
pub(super) const JOBS: ParamSpec = ParamSpec::new(
    "n_jobs",
    "jobs",
    Kind::Threads,
    Value::Count(1),
    "Threads for forests and gradient boosting [default: all cores]",
);

static FOREST_PARAMS: &[ParamSpec] = &[
    N_ESTIMATORS,
    MAX_DEPTH_SPEC,
    MIN_SAMPLES_SPLIT,
    min_samples_leaf(1),
    MAX_FEATURES,
    JOBS,
];
static TREE_PARAMS: &[ParamSpec] = &[
    MAX_DEPTH_SPEC,
    MIN_SAMPLES_SPLIT,
    min_samples_leaf(1),
    MAX_FEATURES,
];

impl Learner for RandomForest {
    fn name(&self) -> &'static str {
        "random-forest"
    }
    fn params(&self) -> &'static [ParamSpec] {
        FOREST_PARAMS
    }
    fn supports(&self, _: Task) -> bool {
        true
    }
    fn fit(
        &self,
        data: &TrainSet,
        p: &Params,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Fit, FitError> {
        fit_trees(true, p, data, progress).map_err(|why| FitError::new(self, why))
    }
    fn record(&self, p: &Params, data: &Shape, out: &mut BTreeMap<String, String>) {
        out.insert("bootstrap".into(), "True".into());
        record_tree(true, p, data, out);
    }
    fn progress_unit(&self) -> Option<&'static str> {
        Some("trees")
    }
}

impl Learner for DecisionTree {
    fn name(&self) -> &'static str {
        "decision-tree"
    }
    fn params(&self) -> &'static [ParamSpec] {
        TREE_PARAMS
    }
    fn supports(&self, _: Task) -> bool {
        true
    }
    fn fit(
        &self,
        data: &TrainSet,
        p: &Params,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Fit, FitError> {
        fit_trees(false, p, data, progress).map_err(|why| FitError::new(self, why))
    }
    fn record(&self, p: &Params, data: &Shape, out: &mut BTreeMap<String, String>) {
        record_tree(false, p, data, out);
    }
}

/// What both record beside their params: the features per split worked out, and the split criterion.
fn record_tree(forest: bool, p: &Params, data: &Shape, out: &mut BTreeMap<String, String>) {
    let sqrt = forest && data.task == Task::Classification;
    let features = features_per_split(p, data.n_features, sqrt);
    out.insert("max_features".into(), features.to_string());
    let criterion = match data.task {
        Task::Classification => "gini",
        Task::Regression => "squared_error",
    };
    out.insert("criterion".into(), criterion.into());
}

/// A random forest or one decision tree on binned features, with normalised feature importance.
fn fit_trees(
    forest: bool,
    p: &Params,
    data: &TrainSet,
    progress: &(dyn Fn() + Sync),
) -> Result<Fit, String> {
    let n = data.y.len();
    let nf = data.n_features;
    let binned = Binned::new(data.x, nf);
    let classes: Vec<u32>;
    let target = match data.task {
        Task::Classification => {
            classes = data.y.iter().map(|&v| v as u32).collect();
            Target::Classes {
                y: &classes,
                n_classes: data.n_classes,
            }
        }
        Task::Regression => Target::Values(data.y),
    };
    let sqrt = forest && data.task == Task::Classification;
    let params = TreeParams {
        max_depth: p.opt_count("max_depth"),
        min_samples_split: p.count("min_samples_split").max(2),
        min_samples_leaf: p.count("min_samples_leaf").max(1),
        max_features: Some(features_per_split(p, nf, sqrt)),
    };
    let (trees, importance) = if forest {
        cart::fit_forest(
            &binned,
            target,
            params,
            p.count("n_estimators").max(1),
            p.seed,
            p.count("n_jobs"),
            progress,
        )
    } else {
        let (t, imp) = cart::fit_tree(&binned, target, params, &vec![1; n], p.seed as u32);
        (vec![t], imp)
    };
    let n_outputs = match data.task {
        Task::Classification => data.n_classes,
        Task::Regression => 1,
    };
    let trees = trees.into_iter().map(|t| (t, 0)).collect();
    // Checks what `trees.bin` will be read back with: a leaf value out of `f32`'s range is refused here.
    let trees = Ensemble::grown(trees, nf, n_outputs.max(1), Rules::MLX_MEAN)
        .map_err(|e| format!("the grown trees: {e}"))?;
    Ok(Fit {
        form: Fitted::forest(trees),
        importance: Some(normalised(&importance)),
        curves: None,
    })
}
