//! Learners: how mlx fits each model it can train. A [`Learner`] has a name (`--model`, and what
//! `model.json` and the run's `model` param say), its hyperparameters as [`ParamSpec`]s, the tasks it
//! does, and a fit that turns a [`TrainSet`] into a fitted form (`ml::forms`). [`LEARNERS`] is the one
//! registry: `mlx train`'s flags and help, the params a run records and `serve`'s retrain parsing all come
//! from it. A learner that produces an existing form is one file here plus one line in [`LEARNERS`].

mod cart;
mod cholesky;
pub mod forest;
pub mod gbdt;
pub mod knn;
pub mod linear;
pub mod logistic;
pub mod naive_bayes;

use super::core::Task;
use super::core::params::{Kind, ParamSpec, Params, Value};
use super::forms::Fitted;
use gbdt::Curves;
use std::collections::BTreeMap;

/// Every learner, in the order `--model`'s help lists them.
pub static LEARNERS: &[&dyn Learner] = &[
    &logistic::LogisticRegression,
    &forest::RandomForest,
    &gbdt::GradientBoosting,
    &forest::DecisionTree,
    &knn::Knn,
    &naive_bayes::GaussianNb,
    &linear::LinearRegression,
    &linear::Ridge,
    &linear::Lasso,
];

/// How one kind of model is fitted.
pub trait Learner: Sync {
    /// `--model`'s value, model.json's `kind` and the run's `model` param.
    fn name(&self) -> &'static str;
    /// The hyperparameters it takes (its flags, recorded params and their defaults).
    fn params(&self) -> &'static [ParamSpec];
    fn supports(&self, task: Task) -> bool;
    /// Fit on `data` with `params` (every spec of [`Learner::params`] has a value). `progress` is called
    /// once per tree or boosting iteration.
    fn fit(
        &self,
        data: &TrainSet,
        params: &Params,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Fit, FitError>;
    /// What a run records besides the values of [`Learner::params`] (fixed settings such as
    /// `penalty=l2`, values worked out from the data); may replace or remove those values too.
    fn record(&self, _params: &Params, _data: &Shape, _out: &mut BTreeMap<String, String>) {}
    /// Learns where missing values go (`--na keep` is then allowed, and its default).
    fn keeps_missing(&self) -> bool {
        false
    }
    /// What `progress` counts, for a progress bar ("trees", "iterations"); None: no bar.
    fn progress_unit(&self) -> Option<&'static str> {
        None
    }
}

/// The training data in the shape learners want.
pub struct TrainSet<'a> {
    /// Row-major, `n_features` per row.
    pub x: &'a [f64],
    pub n_features: usize,
    /// Class indices (classification) as f64, or target values (regression).
    pub y: &'a [f64],
    pub n_classes: usize,
    pub task: Task,
}

/// The shape of the data, for what a run records.
pub struct Shape {
    pub n_features: usize,
    pub task: Task,
    pub n_classes: usize,
}

/// What a fit makes: the fitted form, feature importances where the learner has them, and (gradient
/// boosting) learning curves.
pub struct Fit {
    pub form: Fitted,
    pub importance: Option<Vec<f64>>,
    pub curves: Option<Curves>,
}

impl Fit {
    /// A form with no importances or curves.
    pub fn form(form: Fitted) -> Fit {
        Fit {
            form,
            importance: None,
            curves: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("fitting {model} failed: {why}")]
pub struct FitError {
    pub model: String,
    pub why: String,
}

impl FitError {
    pub fn new(learner: &dyn Learner, why: impl Into<String>) -> FitError {
        FitError {
            model: learner.name().into(),
            why: why.into(),
        }
    }
}

/// A learner by name (`--model`, model.json, the run's `model` param).
pub fn find(name: &str) -> Option<&'static dyn Learner> {
    LEARNERS.iter().copied().find(|l| l.name() == name)
}

/// Every learner's name, for errors: `a, b, c`.
pub fn names() -> String {
    let names: Vec<&str> = LEARNERS.iter().map(|l| l.name()).collect();
    names.join(", ")
}

/// Every hyperparameter of every learner, each name once (the first learner's spec), in registry order;
/// with each, the learners that take it and their defaults.
pub fn all_params() -> Vec<(ParamSpec, Vec<(&'static str, Value)>)> {
    let mut out: Vec<(ParamSpec, Vec<(&'static str, Value)>)> = Vec::new();
    for learner in LEARNERS {
        for spec in learner.params() {
            let by = (learner.name(), spec.default);
            match out.iter_mut().find(|(s, _)| s.name == spec.name) {
                Some((_, users)) => users.push(by),
                None => out.push((*spec, vec![by])),
            }
        }
    }
    out
}

/// Fit `learner` on `data`: `given` filled with the learner's defaults, checked first.
pub fn fit(
    learner: &dyn Learner,
    given: &Params,
    data: &TrainSet,
    progress: &(dyn Fn() + Sync),
) -> Result<Fit, FitError> {
    check_given(learner, data.task, given).map_err(|why| FitError::new(learner, why))?;
    learner.fit(data, &given.with_defaults(learner.params()), progress)
}

/// A value given for a task-bound param (`--loss`) that this learner and task do not take is refused, as
/// before a run is created.
pub fn check_given(learner: &dyn Learner, task: Task, given: &Params) -> Result<(), String> {
    for (spec, users) in all_params() {
        let (Some(only), Some(Value::Name(Some(value)))) = (spec.task, given.get(spec.name)) else {
            continue;
        };
        let takes = learner.params().iter().any(|s| s.name == spec.name);
        if !takes || task != only {
            let who: Vec<&str> = users.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "--{} {value} is for {} {}",
                spec.flag,
                who.join(" or "),
                format!("{only:?}").to_lowercase()
            ));
        }
    }
    Ok(())
}

/// The params a run of `learner` records: every hyperparameter it takes (defaults included), its own
/// extras, and `random_state`.
pub fn recorded(learner: &dyn Learner, given: &Params, data: &Shape) -> BTreeMap<String, String> {
    let params = given.with_defaults(learner.params());
    let mut out = BTreeMap::new();
    for spec in learner.params() {
        if let Some(v) = params.get(spec.name) {
            out.insert(spec.name.to_string(), v.recorded());
        }
    }
    learner.record(&params, data, &mut out);
    out.insert("random_state".into(), params.seed.to_string());
    out
}

/// The `mlx train` flags for `learner`'s hyperparameters with these values (none left out).
pub fn arguments(learner: &dyn Learner, given: &Params) -> Vec<(String, String)> {
    let params = given.with_defaults(learner.params());
    learner
        .params()
        .iter()
        .filter_map(|spec| {
            let v = params.get(spec.name)?.argument()?;
            Some((format!("--{}", spec.flag), v))
        })
        .collect()
}

/// Features tried per split: `max_features`, else scikit-learn's default (sqrt for forest classifiers,
/// all otherwise).
pub(crate) fn features_per_split(params: &Params, n_features: usize, sqrt: bool) -> usize {
    params.opt_count("max_features").unwrap_or(if sqrt {
        ((n_features as f64).sqrt() as usize).max(1)
    } else {
        n_features
    })
}

/// Kinds whose flag value is optional on the command line (no default shown by clap).
pub fn is_optional(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::OptCount { .. } | Kind::OptChoice { .. } | Kind::Threads
    )
}

/// Importances scaled to sum to 1 (all 0 when none).
pub(crate) fn normalised(importance: &[f64]) -> Vec<f64> {
    let total: f64 = importance.iter().sum();
    importance
        .iter()
        .map(|v| if total > 0.0 { v / total } else { 0.0 })
        .collect()
}

/// The learner handle the rest of mlx holds (`--model`, model.json's `kind`): a registry entry, written
/// and read as its name.
#[derive(Clone, Copy)]
pub struct ModelKind(pub &'static dyn Learner);

impl ModelKind {
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn from_name(name: &str) -> Option<ModelKind> {
        find(name).map(ModelKind)
    }

    /// The learner for `name`; a name not in the registry is a bug.
    pub fn named(name: &str) -> ModelKind {
        ModelKind::from_name(name).unwrap_or_else(|| panic!("no learner named {name}"))
    }

    pub fn supports(self, task: Task) -> bool {
        self.0.supports(task)
    }
}

impl std::ops::Deref for ModelKind {
    type Target = dyn Learner;
    fn deref(&self) -> &(dyn Learner + 'static) {
        self.0
    }
}

impl PartialEq for ModelKind {
    fn eq(&self, other: &ModelKind) -> bool {
        self.name() == other.name()
    }
}

impl std::fmt::Debug for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for ModelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModelKind, D::Error> {
        static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let name = String::deserialize(d)?;
        ModelKind::from_name(&name).ok_or_else(|| {
            let names = NAMES.get_or_init(|| LEARNERS.iter().map(|l| l.name()).collect());
            serde::de::Error::unknown_variant(&name, names)
        })
    }
}

#[cfg(test)]
mod tests;
