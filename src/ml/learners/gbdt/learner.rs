//! Gradient boosting (`gradient-boosting`): LightGBM-style histogram boosting (this folder), with
//! LightGBM's defaults. Log loss for classification (binary or softmax), a choice of losses for
//! regression. Produces the `Boosted` form, with feature importances and learning curves.

use super::super::forest::{
    JOBS, MAX_DEPTH_SPEC, MAX_SAMPLES, MAX_TREES, N_ESTIMATORS, min_samples_leaf,
};
use super::{BoostParams, fit};
use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::core::{Choice, Task};
use crate::ml::forms::Fitted;
use crate::ml::forms::Link;
use crate::ml::forms::boosted::Objective;
use crate::ml::forms::trees::ensemble::{Ensemble, Rules};
use crate::ml::learners::{Fit, FitError, Learner, Shape, TrainSet, normalised};
use std::collections::BTreeMap;

pub struct GradientBoosting;

static PARAMS: &[ParamSpec] = &[
    N_ESTIMATORS,
    ParamSpec::new(
        "learning_rate",
        "learning-rate",
        Kind::Positive,
        Value::Number(0.1),
        "Gradient boosting: shrinkage of each tree's values",
    ),
    ParamSpec::new(
        "num_leaves",
        "num-leaves",
        Kind::Count { max: MAX_SAMPLES },
        Value::Count(31),
        "Gradient boosting: leaves per tree (grown leaf-wise, best split first)",
    ),
    MAX_DEPTH_SPEC,
    min_samples_leaf(20),
    ParamSpec::new(
        "l2_regularization",
        "l2-regularization",
        Kind::NonNegative,
        Value::Number(0.0),
        "Gradient boosting: L2 penalty on leaf values",
    ),
    ParamSpec::new(
        "max_bins",
        "max-bins",
        Kind::Count { max: 255 },
        Value::Count(255),
        "Gradient boosting: most bins per feature (2-255; missing values get a bin of their own)",
    ),
    ParamSpec::new(
        "subsample",
        "subsample",
        Kind::Positive,
        Value::Number(1.0),
        "Gradient boosting: share of rows each iteration fits on (seeded sample)",
    ),
    ParamSpec::new(
        "colsample",
        "colsample",
        Kind::Positive,
        Value::Number(1.0),
        "Gradient boosting: share of features each tree may split on (seeded sample)",
    ),
    ParamSpec {
        value_name: Some("N"),
        ..ParamSpec::new(
            "early_stopping",
            "early-stopping",
            Kind::OptCount { max: MAX_TREES },
            Value::OptCount(None),
            "Gradient boosting: hold out --validation-fraction of the training part and stop after N \
             iterations without a better validation loss, keeping the best iteration",
        )
    },
    ParamSpec::new(
        "validation_fraction",
        "validation-fraction",
        Kind::Positive,
        Value::Number(0.1),
        "Gradient boosting: share of the training part held out for early stopping",
    ),
    ParamSpec {
        task: Some(Task::Regression),
        ..ParamSpec::new(
            "loss",
            "loss",
            Kind::OptChoice {
                values: || {
                    Objective::ALL
                        .iter()
                        .map(|o| (o.name(), o.help()))
                        .collect()
                },
                // What classification records under the same key.
                also_none: &["log_loss", "softmax"],
            },
            Value::Name(None),
            "Gradient boosting regression: the loss [default: squared_error]",
        )
    },
    // LightGBM's `alpha` for `huber`.
    ParamSpec::new(
        "huber_delta",
        "huber-delta",
        Kind::Positive,
        Value::Number(0.9),
        "Gradient boosting with --loss huber: residuals beyond it count as absolute error",
    ),
    JOBS,
];

/// The objective boosted: log loss for classification, `--loss` (else squared error) for regression.
fn objective(p: &Params, task: Task, n_classes: usize) -> Objective {
    match (task, n_classes) {
        (Task::Regression, _) => p
            .name("loss")
            .and_then(Objective::from_name)
            .unwrap_or(Objective::SquaredError),
        (_, 2) => Objective::Binary,
        _ => Objective::Multiclass,
    }
}

impl Learner for GradientBoosting {
    fn name(&self) -> &'static str {
        "gradient-boosting"
    }
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
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
        let objective = objective(p, data.task, data.n_classes);
        let learning_rate = p.number("learning_rate");
        let params = BoostParams {
            n_estimators: p.count("n_estimators"),
            learning_rate,
            num_leaves: p.count("num_leaves"),
            max_depth: p.opt_count("max_depth"),
            min_samples_leaf: p.count("min_samples_leaf"),
            min_sum_hessian: 1e-3,
            l2: p.number("l2_regularization"),
            max_bins: p.count("max_bins"),
            subsample: p.number("subsample"),
            colsample: p.number("colsample"),
            early_stopping: p.opt_count("early_stopping"),
            validation_fraction: p.number("validation_fraction"),
            huber_delta: p.number("huber_delta"),
            seed: p.seed,
            jobs: p.count("n_jobs"),
        };
        let b = fit(
            data.x,
            data.n_features,
            data.y,
            objective,
            data.n_classes,
            &params,
            progress,
        )
        .map_err(|why| FitError::new(self, why))?;
        let n_trees = b.trees.len();
        let groups = b.per_iteration.max(1);
        let trees = b.trees.into_iter().enumerate();
        let trees = trees.map(|(t, nodes)| (nodes, t % groups)).collect();
        // Checks what `trees.bin` will be read back with: a leaf value out of `f32`'s range is refused here.
        let trees = Ensemble::grown(trees, data.n_features, groups, Rules::MLX_SUM)
            .map_err(|e| FitError::new(self, format!("the grown trees: {e}")))?;
        Ok(Fit {
            importance: Some(normalised(&b.importance)),
            form: Fitted::Boosted {
                n_trees,
                trees,
                base_score: b.base_score,
                per_iteration: b.per_iteration,
                learning_rate: Some(learning_rate),
                objective: Some(objective),
                best_iteration: b.curves.best_iteration,
                flat: Default::default(),
                link: Link::Mlx,
            },
            curves: Some(b.curves),
        })
    }
    fn record(&self, p: &Params, data: &Shape, out: &mut BTreeMap<String, String>) {
        if p.opt_count("early_stopping").is_none() {
            out.remove("validation_fraction");
        }
        let loss = match objective(p, data.task, data.n_classes) {
            Objective::Binary => "log_loss",
            Objective::Multiclass => "softmax",
            regression => regression.name(),
        };
        out.insert("loss".into(), loss.into());
        if !(data.task == Task::Regression
            && objective(p, data.task, data.n_classes) == Objective::Huber)
        {
            out.remove("huber_delta");
        }
    }
    fn keeps_missing(&self) -> bool {
        true
    }
    fn progress_unit(&self) -> Option<&'static str> {
        Some("iterations")
    }
}
