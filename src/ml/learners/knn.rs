//! k-nearest neighbours (`knn`): keeps the training rows; predictions come from the `k` nearest (the `Knn`
//! form finds them exactly as scikit-learn's brute-force search does).

use super::{Fit, FitError, Learner, Shape, TrainSet};
use crate::ml::core::Task;
use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::forms::Fitted;
use std::collections::BTreeMap;

pub struct Knn;

static PARAMS: &[ParamSpec] = &[ParamSpec::new(
    "n_neighbors",
    "k",
    Kind::Count { max: 100_000 },
    Value::Count(5),
    "Neighbours for k-nearest neighbours",
)];

impl Learner for Knn {
    fn name(&self) -> &'static str {
        "knn"
    }
    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }
    fn supports(&self, _: Task) -> bool {
        true
    }
    fn fit(&self, data: &TrainSet, p: &Params, _: &(dyn Fn() + Sync)) -> Result<Fit, FitError> {
        let (k, n) = (p.count("n_neighbors"), data.y.len());
        if k == 0 || k > n {
            return Err(FitError::new(
                self,
                format!("k={k} must be between 1 and the {n} training rows"),
            ));
        }
        Ok(Fit::form(Fitted::knn(k, data.x.to_vec(), data.y.to_vec())))
    }
    fn record(&self, _: &Params, _: &Shape, out: &mut BTreeMap<String, String>) {
        out.insert("weights".into(), "uniform".into());
        out.insert("metric".into(), "euclidean".into());
    }
}
