//! scikit-learn models from MLflow's `sklearn` flavor in skops format, rebuilt from the object tree
//! (`skops.rs`) into plain Rust: transformers (scalers, imputer, encoders, `ColumnTransformer`) in front
//! of one estimator, each predicting as scikit-learn does (same formulas, same order of operations where
//! it shows in the last bits, the same float32 comparison in trees). Classes outside this file's list are
//! refused by name.

mod boosting;

use super::skops::{self, Node, SkopsError};
use super::trees::{sigmoid, softmax};
use super::{ForeignInput, ForeignModel};
use crate::ml::data::{Column, Table};
use crate::ml::estimator::Task;
use crate::ml::model::{ModelError, Predictions, argmax};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;

/// Rows in flight between steps: one entry per column, numbers (NaN = missing) or text.
#[derive(Debug, Clone)]
enum Col {
    Num(Vec<f64>),
    Text(Vec<Option<String>>),
}

type Frame = Vec<Col>;

fn n_rows(frame: &Frame) -> usize {
    frame.first().map_or(0, |c| match c {
        Col::Num(v) => v.len(),
        Col::Text(v) => v.len(),
    })
}

/// Why a prediction failed, naming the step.
fn predict_err(why: String) -> ModelError {
    ModelError::Input(crate::ml::preprocess::PreprocessError::Invalid(why))
}

/// A fitted transformer.
#[derive(Debug, Clone)]
enum Transform {
    Identity,
    Standard {
        mean: Option<Vec<f64>>,
        scale: Option<Vec<f64>>,
    },
    MinMax {
        scale: Vec<f64>,
        min: Vec<f64>,
        clip: Option<(f64, f64)>,
    },
    Imputer {
        missing: Cat,
        /// Per input column: the fill value, or None for a column dropped (all missing at fit time).
        fill: Vec<Option<Cat>>,
    },
    OneHot {
        categories: Vec<Vec<Cat>>,
        drop: Vec<Option<usize>>,
        ignore_unknown: bool,
    },
    Ordinal {
        categories: Vec<Vec<Cat>>,
        /// `use_encoded_value`'s number for unknown categories (None: unknown is an error).
        unknown: Option<f64>,
        /// Per column: the index of the missing-value category, if one was seen at fit time.
        missing_index: Vec<Option<usize>>,
        encoded_missing: f64,
    },
    Columns(Vec<(Part, Vec<usize>)>),
    Pipeline(Vec<Transform>),
}

#[derive(Debug, Clone)]
enum Part {
    Drop,
    Apply(Transform),
}

/// A category, a fill value or a cell, compared as scikit-learn compares them.
#[derive(Debug, Clone, PartialEq)]
enum Cat {
    Num(f64),
    Text(String),
    Missing,
}

impl Cat {
    fn from_json(v: &Value) -> Option<Cat> {
        match v {
            Value::Null => Some(Cat::Missing),
            Value::String(s) if s == "NaN" => Some(Cat::Missing),
            Value::String(s) => Some(Cat::Text(s.clone())),
            Value::Number(_) | Value::Bool(_) => skops::json_f64(v).map(|x| {
                if x.is_nan() {
                    Cat::Missing
                } else {
                    Cat::Num(x)
                }
            }),
            _ => None,
        }
    }

    fn label(&self) -> String {
        match self {
            Cat::Num(x) => crate::ml::data::format_number(*x),
            Cat::Text(s) => crate::redact::brief(s),
            Cat::Missing => "a missing value".into(),
        }
    }
}

fn cell(col: &Col, r: usize) -> Cat {
    match col {
        Col::Num(v) if v[r].is_nan() => Cat::Missing,
        Col::Num(v) => Cat::Num(v[r]),
        Col::Text(v) => v[r].clone().map_or(Cat::Missing, Cat::Text),
    }
}

/// A list of categories (`categories_[i]`, `statistics_`).
fn cats(node: &Node, what: &str) -> Result<Vec<Cat>, SkopsError> {
    let values = node
        .as_values()
        .ok_or_else(|| bad(format!("{what} is not a list of values")))?;
    values
        .iter()
        .map(|v| Cat::from_json(v).ok_or_else(|| bad(format!("{what} holds {v}"))))
        .collect()
}

fn cat_lists(node: &Node) -> Result<Vec<Vec<Cat>>, SkopsError> {
    let class = node.class_name().to_string();
    node.attr("categories_")?
        .items()
        .ok_or_else(|| bad(format!("{class}.categories_ is not a list")))?
        .iter()
        .map(|c| cats(c, &format!("{class}.categories_")))
        .collect()
}

fn no_infrequent(node: &Node) -> Result<(), SkopsError> {
    if matches!(
        node.get("_infrequent_enabled"),
        Some(Node::Json(Value::Bool(true)))
    ) {
        return Err(bad(format!(
            "{} with infrequent categories (min_frequency/max_categories) is not supported",
            node.class_name()
        )));
    }
    Ok(())
}

/// Positions (in the frame a `ColumnTransformer` gets) of one transformer's columns.
fn column_indices(ct: &Node, name: &str, spec: &Node) -> Result<Vec<usize>, SkopsError> {
    let to_usize = |x: f64| -> Result<usize, SkopsError> {
        if x >= 0.0 && x.fract() == 0.0 && x < 1e9 {
            Ok(x as usize)
        } else {
            Err(bad(format!("ColumnTransformer: bad column index {x}")))
        }
    };
    if let Some(idx) = ct
        .get("_transformer_to_input_indices")
        .and_then(|d| d.get(name))
        .and_then(Node::as_f64s)
    {
        return idx.into_iter().map(to_usize).collect();
    }
    // Older scikit-learn: resolve the column spec (names or positions) against the fitted names.
    let names = ct
        .get("feature_names_in_")
        .and_then(Node::as_values)
        .unwrap_or_default();
    let specs = spec.as_values().or_else(|| match spec {
        Node::Json(v) => Some(vec![v.clone()]),
        _ => None,
    });
    let Some(specs) = specs else {
        return Err(bad(format!(
            "ColumnTransformer: columns of {name:?} are not names or positions"
        )));
    };
    specs
        .iter()
        .map(|v| match v {
            Value::String(s) => names
                .iter()
                .position(|n| n.as_str() == Some(s))
                .ok_or_else(|| bad(format!("ColumnTransformer: no column {s:?}"))),
            other => to_usize(skops::json_f64(other).unwrap_or(-1.0)),
        })
        .collect()
}

/// A fitted estimator.
#[derive(Debug, Clone)]
enum Estimator {
    /// `coef` is `k × nf` row-major: one row for regression and binary classification.
    Linear {
        coef: Vec<f64>,
        intercept: Vec<f64>,
        logistic: Option<Logistic>,
    },
    /// A tree or a forest: classification averages each tree's normalised class weights.
    Trees(Vec<Tree>),
    Knn {
        x: Vec<f64>,
        /// Class indices (classification) or targets (regression).
        y: Vec<f64>,
        k: usize,
        distance_weights: bool,
    },
    GaussianNb {
        theta: Vec<f64>,
        var: Vec<f64>,
        prior: Vec<f64>,
    },
    /// `GradientBoosting*` and `HistGradientBoosting*`.
    Boosted(boosting::Boosted),
}

/// One of scikit-learn's fitted trees (`tree_`), checked so that every walk ends at a leaf.
#[derive(Debug, Clone)]
struct Tree {
    left: Vec<usize>,
    right: Vec<usize>,
    feature: Vec<usize>,
    threshold: Vec<f64>,
    missing_left: Vec<bool>,
    /// Per node, `width` values: class weights (classification) or the prediction (regression).
    value: Vec<f64>,
    width: usize,
}

/// Marks a leaf in `left` (scikit-learn's `TREE_LEAF` is -1).
const LEAF: usize = usize::MAX;

impl Tree {
    fn from_node(est: &Node, nf: usize, width: usize) -> Result<Tree, SkopsError> {
        let class = est.class_name().to_string();
        let t = est.attr("tree_")?;
        let Node::Array(nodes) = t.attr("nodes")? else {
            return Err(bad(format!("{class}.tree_.nodes is not an array")));
        };
        let n = nodes.len();
        let field = |f: &str| {
            nodes
                .field_i64(f)
                .map_err(|e| bad(format!("{class}.tree_.nodes: {e}")))
        };
        let (left, right, feature) = (
            field("left_child")?,
            field("right_child")?,
            field("feature")?,
        );
        let missing_left = match nodes.field_i64("missing_go_to_left") {
            Ok(m) => m.into_iter().map(|v| v != 0).collect(),
            Err(_) => vec![false; n],
        };
        let threshold = nodes
            .field_f64("threshold")
            .map_err(|e| bad(format!("{class}.tree_.nodes: {e}")))?;
        let (value, shape) = t.array("values")?;
        if shape.len() != 3 || shape[0] != n || shape[1] != 1 || shape[2] < width {
            return Err(bad(format!(
                "{class}.tree_.values has shape {shape:?} for {n} nodes (one output of {width} values expected)"
            )));
        }
        let stride = shape[2];
        let value: Vec<f64> = (0..n)
            .flat_map(|i| value[i * stride..i * stride + width].to_vec())
            .collect();
        let mut tree = Tree {
            left: vec![LEAF; n],
            right: vec![LEAF; n],
            feature: vec![0; n],
            threshold,
            missing_left,
            value,
            width,
        };
        if n == 0 {
            return Err(bad(format!("{class}.tree_ has no nodes")));
        }
        for i in 0..n {
            if left[i] == -1 && right[i] == -1 {
                continue;
            }
            // Children come after their parent (scikit-learn builds depth first), which also rules out
            // cycles: every walk moves forward and ends.
            let child = |c: i64| usize::try_from(c).ok().filter(|&c| c > i && c < n);
            match (
                child(left[i]),
                child(right[i]),
                usize::try_from(feature[i]).ok().filter(|&f| f < nf),
            ) {
                (Some(l), Some(r), Some(f)) => {
                    tree.left[i] = l;
                    tree.right[i] = r;
                    tree.feature[i] = f;
                }
                _ => {
                    return Err(bad(format!(
                        "{class}.tree_: node {i} has children {} and {} and feature {} (out of range for {n} nodes and {nf} features)",
                        left[i], right[i], feature[i]
                    )));
                }
            }
        }
        Ok(tree)
    }

    /// The leaf `row` falls in: features compared as float32, as scikit-learn casts its input.
    fn leaf(&self, row: &[f64]) -> usize {
        let mut i = 0;
        while self.left[i] != LEAF {
            let x = row[self.feature[i]];
            let go_left = if x.is_nan() {
                self.missing_left[i]
            } else {
                f64::from(x as f32) <= self.threshold[i]
            };
            i = if go_left { self.left[i] } else { self.right[i] };
        }
        i
    }

    fn leaf_values(&self, row: &[f64]) -> &[f64] {
        let i = self.leaf(row);
        &self.value[i * self.width..(i + 1) * self.width]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Logistic {
    /// Binary, or multinomial (softmax) for more classes.
    Multinomial,
    /// One-vs-rest: each class's sigmoid, normalised (old `multi_class="ovr"` / liblinear models).
    OneVsRest,
}

#[derive(Debug)]
pub struct SklearnModel {
    class: String,
    inputs: Vec<ForeignInput>,
    /// The columns the first step sees, in its order (names of `inputs`).
    columns: Vec<String>,
    classes: Vec<Value>,
    task: Task,
    steps: Vec<Transform>,
    estimator: Estimator,
    n_features: usize,
    sklearn_version: String,
}

fn bad(why: impl Into<String>) -> SkopsError {
    SkopsError(why.into())
}

/// The objects of a `Pipeline`'s steps, in order.
fn pipeline_steps(node: &Node) -> Result<Vec<&Node>, SkopsError> {
    let steps = node
        .attr("steps")?
        .items()
        .ok_or_else(|| bad("Pipeline.steps is not a list"))?;
    steps
        .iter()
        .map(|s| {
            s.items()
                .filter(|p| p.len() == 2)
                .map(|p| &p[1])
                .ok_or_else(|| bad("a Pipeline step is not a (name, estimator) pair"))
        })
        .collect()
}

/// A (steps, final estimator) split of a `Pipeline`, or the estimator alone.
fn pipeline_parts(node: &Node) -> Result<(Vec<&Node>, &Node), SkopsError> {
    if node.class_name() != "Pipeline" {
        return Ok((Vec::new(), node));
    }
    let mut objs = pipeline_steps(node)?;
    let last = objs.pop().ok_or_else(|| bad("an empty Pipeline"))?;
    if last.class_name() == "Pipeline" {
        let (inner, est) = pipeline_parts(last)?;
        objs.extend(inner);
        return Ok((objs, est));
    }
    Ok((objs, last))
}

fn transform(node: &Node) -> Result<Transform, SkopsError> {
    let flag = |key: &str| matches!(node.get(key), Some(Node::Json(Value::Bool(true))) | None);
    Ok(match node {
        Node::Json(Value::String(s)) if s == "passthrough" => Transform::Identity,
        Node::Json(Value::Null) => Transform::Identity,
        _ => match node.class_name() {
            "StandardScaler" => Transform::Standard {
                mean: if flag("with_mean") {
                    node.get("mean_").and_then(Node::as_f64s)
                } else {
                    None
                },
                scale: if flag("with_std") {
                    node.get("scale_").and_then(Node::as_f64s)
                } else {
                    None
                },
            },
            "MinMaxScaler" => {
                let (scale, _) = node.array("scale_")?;
                let (min, _) = node.array("min_")?;
                check_len("MinMaxScaler.min_", &min, scale.len())?;
                let clip = match node.get("clip") {
                    Some(Node::Json(Value::Bool(true))) => {
                        let r = node
                            .attr("feature_range")?
                            .as_f64s()
                            .filter(|r| r.len() == 2)
                            .ok_or_else(|| bad("MinMaxScaler.feature_range is not a pair"))?;
                        Some((r[0], r[1]))
                    }
                    _ => None,
                };
                Transform::MinMax { scale, min, clip }
            }
            "SimpleImputer" => simple_imputer(node)?,
            "OneHotEncoder" => one_hot_encoder(node)?,
            "OrdinalEncoder" => ordinal_encoder(node)?,
            "ColumnTransformer" => column_transformer(node)?,
            "FunctionTransformer" => {
                match node.get("func") {
                    None | Some(Node::Json(Value::Null)) => {}
                    // HistGradientBoosting's own check of its numeric columns: converts to float64,
                    // missing values allowed; the estimator's input is numbers anyway.
                    Some(f) if is_numeric_check(f) => {}
                    Some(_) => {
                        return Err(bad("FunctionTransformer with a function is not supported"));
                    }
                }
                Transform::Identity
            }
            "Pipeline" => {
                let steps = pipeline_steps(node)?;
                Transform::Pipeline(steps.into_iter().map(transform).collect::<Result<_, _>>()?)
            }
            other => return Err(bad(format!("unsupported transformer {other}"))),
        },
    })
}

/// `SimpleImputer`: the fill value per column (None: the column is dropped, as scikit-learn does).
fn simple_imputer(node: &Node) -> Result<Transform, SkopsError> {
    if matches!(
        node.get("add_indicator"),
        Some(Node::Json(Value::Bool(true)))
    ) {
        return Err(bad(
            "SimpleImputer with add_indicator=True is not supported",
        ));
    }
    let missing = match node.get("missing_values") {
        Some(Node::Json(v)) => {
            Cat::from_json(v).ok_or_else(|| bad("SimpleImputer.missing_values is not a value"))?
        }
        _ => Cat::Missing,
    };
    let keep_all = node.text("strategy").is_ok_and(|s| s == "constant")
        || matches!(
            node.get("keep_empty_features"),
            Some(Node::Json(Value::Bool(true)))
        );
    let fill = cats(node.attr("statistics_")?, "SimpleImputer.statistics_")?
        .into_iter()
        .map(|c| (keep_all || c != Cat::Missing).then_some(c))
        .collect();
    Ok(Transform::Imputer { missing, fill })
}

/// `OneHotEncoder`: categories per column, the dropped one, and what an unknown value does.
fn one_hot_encoder(node: &Node) -> Result<Transform, SkopsError> {
    no_infrequent(node)?;
    let categories = cat_lists(node)?;
    let drop = match node.get("drop_idx_") {
        None | Some(Node::Json(Value::Null)) => vec![None; categories.len()],
        Some(d) => d
            .as_values()
            .ok_or_else(|| bad("OneHotEncoder.drop_idx_ is not a list"))?
            .iter()
            .map(|v| match v.as_f64() {
                None => Ok(None),
                Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e9 => Ok(Some(x as usize)),
                Some(x) => Err(bad(format!("OneHotEncoder.drop_idx_ has a bad index {x}"))),
            })
            .collect::<Result<_, _>>()?,
    };
    if drop.len() != categories.len()
        || drop
            .iter()
            .zip(&categories)
            .any(|(d, c)| d.is_some_and(|d| d >= c.len()))
    {
        return Err(bad("OneHotEncoder.drop_idx_ does not match its categories"));
    }
    let ignore_unknown = node.text("handle_unknown").is_ok_and(|h| h != "error");
    Ok(Transform::OneHot {
        categories,
        drop,
        ignore_unknown,
    })
}

/// `OrdinalEncoder`: categories per column, and the codes of unknown and missing values.
fn ordinal_encoder(node: &Node) -> Result<Transform, SkopsError> {
    no_infrequent(node)?;
    let categories = cat_lists(node)?;
    let unknown = if node
        .text("handle_unknown")
        .is_ok_and(|h| h == "use_encoded_value")
    {
        Some(node.number("unknown_value")?)
    } else {
        None
    };
    let encoded_missing = node.number("encoded_missing_value").unwrap_or(f64::NAN);
    let missing_index = categories
        .iter()
        .map(|c| c.iter().position(|x| *x == Cat::Missing))
        .collect();
    Ok(Transform::Ordinal {
        categories,
        unknown,
        missing_index,
        encoded_missing,
    })
}

/// `ColumnTransformer`: each part's transform (or drop) and the columns it takes.
fn column_transformer(node: &Node) -> Result<Transform, SkopsError> {
    if !matches!(
        node.get("transformer_weights"),
        None | Some(Node::Json(Value::Null))
    ) {
        return Err(bad(
            "ColumnTransformer with transformer_weights is not supported",
        ));
    }
    let list = node
        .attr("transformers_")?
        .items()
        .ok_or_else(|| bad("ColumnTransformer.transformers_ is not a list"))?;
    let mut parts = Vec::new();
    for t in list {
        let Some([name, trans, cols]) = t.items() else {
            return Err(bad(
                "ColumnTransformer: a transformer is not (name, transformer, columns)",
            ));
        };
        let name = match name {
            Node::Json(Value::String(n)) => n.clone(),
            _ => return Err(bad("ColumnTransformer: a transformer name is not text")),
        };
        let idx = column_indices(node, &name, cols)?;
        let part = match trans {
            Node::Json(Value::String(s)) if s == "drop" => Part::Drop,
            other => Part::Apply(transform(other)?),
        };
        parts.push((part, idx));
    }
    Ok(Transform::Columns(parts))
}

/// `functools.partial(check_array, ..., ensure_all_finite=False)`.
fn is_numeric_check(f: &Node) -> bool {
    f.class_name() == "partial"
        && matches!(f.get("func"), Some(Node::Function(name)) if name == "sklearn.utils.validation.check_array")
        && matches!(
            f.get("kwds").and_then(|k| k.get("ensure_all_finite")),
            Some(Node::Json(Value::Bool(false)))
        )
}

fn check_len(what: &str, v: &[f64], n: usize) -> Result<(), SkopsError> {
    if v.len() != n {
        return Err(bad(format!("{what} has {} values, expected {n}", v.len())));
    }
    Ok(())
}

fn labels(node: &Node) -> Result<Vec<Value>, SkopsError> {
    node.attr("classes_")?.as_values().ok_or_else(|| {
        bad(format!(
            "{}.classes_ is not a list of labels",
            node.class_name()
        ))
    })
}

/// The estimator, its task, classes and number of features.
fn estimator(node: &Node) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let class = node.class_name();
    match class {
        "LogisticRegression" | "LinearRegression" | "Ridge" | "Lasso" | "ElasticNet" => {
            linear_estimator(node, class)
        }
        "DecisionTreeClassifier"
        | "ExtraTreeClassifier"
        | "RandomForestClassifier"
        | "ExtraTreesClassifier"
        | "DecisionTreeRegressor"
        | "ExtraTreeRegressor"
        | "RandomForestRegressor"
        | "ExtraTreesRegressor" => tree_estimator(node, class),
        "KNeighborsClassifier" | "KNeighborsRegressor" => knn_estimator(node, class),
        "GaussianNB" => {
            let classes = labels(node)?;
            let k = classes.len();
            let (theta, shape) = node.array("theta_")?;
            let (var, vshape) = node.array("var_")?;
            let prior = node
                .attr("class_prior_")?
                .as_f64s()
                .ok_or_else(|| bad("GaussianNB.class_prior_ is not numeric"))?;
            let nf = shape.get(1).copied().unwrap_or(0);
            if shape != [k, nf] || vshape != shape || prior.len() != k {
                return Err(bad(format!(
                    "GaussianNB: theta_ {shape:?}, var_ {vshape:?} and {} priors for {k} classes",
                    prior.len()
                )));
            }
            Ok((
                Estimator::GaussianNb { theta, var, prior },
                Task::Classification,
                classes,
                nf,
            ))
        }
        "GradientBoostingClassifier" | "GradientBoostingRegressor" => {
            let (b, task, classes, nf) = boosting::gradient_boosting(node)?;
            Ok((Estimator::Boosted(b), task, classes, nf))
        }
        "HistGradientBoostingClassifier" | "HistGradientBoostingRegressor" => {
            let (b, task, classes, nf) = boosting::hist_gradient_boosting(node)?;
            Ok((Estimator::Boosted(b), task, classes, nf))
        }
        other => Err(bad(format!(
            "unsupported estimator {other}: mlx predicts with {}",
            SUPPORTED.join(", ")
        ))),
    }
}

/// A linear model: coefficients and intercepts, and for `LogisticRegression` its classes and multi-class scheme.
fn linear_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let (coef, shape) = node.array("coef_")?;
    let intercept = node
        .attr("intercept_")?
        .as_f64s()
        .ok_or_else(|| bad(format!("{class}.intercept_ is not numeric")))?;
    let (rows, nf) = match shape.as_slice() {
        [nf] => (1, *nf),
        [rows, nf] => (*rows, *nf),
        _ => return Err(bad(format!("{class}.coef_ has shape {shape:?}"))),
    };
    check_len(&format!("{class}.intercept_"), &intercept, rows)?;
    if class == "LogisticRegression" {
        let classes = labels(node)?;
        let k = classes.len();
        if k < 2 || !(rows == 1 && k == 2 || rows == k) {
            return Err(bad(format!(
                "LogisticRegression has {rows} coefficient rows for {k} classes"
            )));
        }
        let ovr = match node.get("multi_class") {
            Some(Node::Json(Value::String(m))) if m == "ovr" => true,
            Some(Node::Json(Value::String(m))) if m == "auto" => {
                node.text("solver").is_ok_and(|s| s == "liblinear")
            }
            _ => false,
        };
        let logistic = if ovr && k > 2 {
            Logistic::OneVsRest
        } else {
            Logistic::Multinomial
        };
        Ok((
            Estimator::Linear {
                coef,
                intercept,
                logistic: Some(logistic),
            },
            Task::Classification,
            classes,
            nf,
        ))
    } else {
        if rows != 1 {
            return Err(bad(format!(
                "{class} with {rows} targets is not supported (one target only)"
            )));
        }
        Ok((
            Estimator::Linear {
                coef,
                intercept,
                logistic: None,
            },
            Task::Regression,
            Vec::new(),
            nf,
        ))
    }
}

/// A decision tree, or a forest of them (`estimators_`).
fn tree_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let classification = class.ends_with("Classifier");
    let nf = node.number("n_features_in_")?;
    if !(nf >= 0.0 && nf.fract() == 0.0 && nf < 1e9) {
        return Err(bad(format!("{class}.n_features_in_ is {nf}")));
    }
    let nf = nf as usize;
    if node
        .get("n_outputs_")
        .and_then(Node::as_f64s)
        .is_some_and(|v| v != [1.0])
    {
        return Err(bad(format!(
            "{class} with several outputs is not supported"
        )));
    }
    let classes = if classification {
        labels(node)?
    } else {
        Vec::new()
    };
    let width = if classification { classes.len() } else { 1 };
    let members: Vec<&Node> = match node.get("estimators_") {
        Some(list) => list
            .items()
            .ok_or_else(|| bad(format!("{class}.estimators_ is not a list")))?
            .iter()
            .collect(),
        None => vec![node],
    };
    if members.is_empty() {
        return Err(bad(format!("{class} has no trees")));
    }
    let trees = members
        .iter()
        .map(|m| {
            if !m.class_name().contains("Tree") {
                return Err(bad(format!("{class} holds a {}", m.class_name())));
            }
            Tree::from_node(m, nf, width)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let task = if classification {
        Task::Classification
    } else {
        Task::Regression
    };
    Ok((Estimator::Trees(trees), task, classes, nf))
}

/// k-nearest neighbours: the training rows and targets, k and the weighting (Euclidean distance only).
fn knn_estimator(
    node: &Node,
    class: &str,
) -> Result<(Estimator, Task, Vec<Value>, usize), SkopsError> {
    let metric = node.text("effective_metric_").unwrap_or("");
    let p2 = node
        .get("p")
        .and_then(Node::as_f64s)
        .is_some_and(|p| p == [2.0]);
    if !(metric == "euclidean" || metric == "minkowski" && p2) {
        return Err(bad(format!(
            "{class} with metric {metric:?} is not supported (euclidean only)"
        )));
    }
    let distance_weights = match node.text("weights") {
        Ok("uniform") => false,
        Ok("distance") => true,
        _ => {
            return Err(bad(format!(
                "{class}: only weights 'uniform' or 'distance' are supported"
            )));
        }
    };
    let (x, shape) = node.array("_fit_X")?;
    let [n, nf] = shape[..] else {
        return Err(bad(format!("{class}._fit_X has shape {shape:?}")));
    };
    let (y, yshape) = node.array("_y")?;
    if yshape != [n] {
        return Err(bad(format!(
            "{class}._y has shape {yshape:?} for {n} rows (one output only)"
        )));
    }
    let k = node.number("n_neighbors")?;
    if !(k >= 1.0 && k <= n as f64 && k.fract() == 0.0) {
        return Err(bad(format!("{class}.n_neighbors is {k} for {n} rows")));
    }
    let (classes, task) = if class == "KNeighborsClassifier" {
        let classes = labels(node)?;
        if y.iter()
            .any(|&c| !(c >= 0.0 && (c as usize) < classes.len()))
        {
            return Err(bad(format!("{class}._y has a class index out of range")));
        }
        (classes, Task::Classification)
    } else {
        (Vec::new(), Task::Regression)
    };
    Ok((
        Estimator::Knn {
            x,
            y,
            k: k as usize,
            distance_weights,
        },
        task,
        classes,
        nf,
    ))
}

/// Estimators mlx predicts with (for messages and the README).
pub const SUPPORTED: &[&str] = &[
    "LogisticRegression",
    "LinearRegression",
    "Ridge",
    "Lasso",
    "ElasticNet",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "KNeighborsClassifier",
    "KNeighborsRegressor",
    "GaussianNB",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
];

/// Load the `sklearn` flavor of the model in `dir`.
pub fn load(dir: &Path, flavor: &Yaml, mlmodel: &Yaml) -> Result<SklearnModel, ModelError> {
    let field = |k: &str| flavor.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mlmodel_path = dir.join("MLmodel");
    let load_err = |path: &Path, why: String| ModelError::Load {
        path: path.display().to_string(),
        why,
    };
    let format = field("serialization_format");
    if format != "skops" {
        return Err(load_err(
            &mlmodel_path,
            format!(
                "a scikit-learn model in {} format: mlx reads only the skops format (MLflow 3's default), \
                 never pickles; {}",
                if format.is_empty() { "pickle" } else { format },
                super::IMPORT_UNPICKLES
            ),
        ));
    }
    let file = field("pickled_model");
    if file.is_empty()
        || !file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        || file.starts_with('.')
    {
        return Err(load_err(
            &mlmodel_path,
            format!("bad pickled_model {file:?}"),
        ));
    }
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|e| load_err(&path, e.to_string()))?;
    let inputs = super::signature_inputs(dir, mlmodel)?;
    from_skops(&bytes, inputs).map_err(|e| load_err(&path, e.0))
}

/// Build a model from the bytes of a skops file; `inputs` from the signature (else the fitted feature names).
pub fn from_skops(
    bytes: &[u8],
    inputs: Option<Vec<ForeignInput>>,
) -> Result<SklearnModel, SkopsError> {
    from_tree(&skops::read(bytes)?, inputs)
}

/// Build the model from its object tree; `inputs` from the signature (else the fitted feature names).
fn from_tree(tree: &Node, inputs: Option<Vec<ForeignInput>>) -> Result<SklearnModel, SkopsError> {
    let (step_nodes, est_node) = pipeline_parts(tree)?;
    let (estimator, task, classes, n_features) = estimator(est_node)?;
    let mut steps = step_nodes
        .iter()
        .map(|n| transform(n))
        .collect::<Result<Vec<_>, _>>()?;
    // A HistGradientBoosting* fitted with categorical features encodes them itself (an OrdinalEncoder
    // in a ColumnTransformer, categorical columns first): run it as the last step.
    if matches!(est_node, Node::Object { class, .. } if class.contains("HistGradientBoosting")) {
        match est_node.get("_preprocessor") {
            None | Some(Node::Json(Value::Null)) => {}
            Some(pre) => steps.push(transform(pre)?),
        }
    }
    let first = step_nodes.first().copied().unwrap_or(est_node);
    let feature_names = first
        .get("feature_names_in_")
        .and_then(Node::as_values)
        .map(|v| {
            v.into_iter()
                .map(|n| match n {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect::<Vec<String>>()
        });
    let inputs = match (inputs, &feature_names) {
        (Some(i), _) => i,
        (None, Some(names)) => names
            .iter()
            .map(|n| ForeignInput {
                name: n.clone(),
                kind: "double".into(),
            })
            .collect(),
        (None, None) => {
            return Err(bad(
                "the model has neither an MLflow signature nor feature names; log it with a signature \
                 (mlflow.models.infer_signature on a DataFrame)",
            ));
        }
    };
    // scikit-learn matches columns by the names it was fitted with, in that order.
    let columns = match feature_names {
        Some(names) => {
            for n in &names {
                if !inputs.iter().any(|i| i.name == *n) {
                    return Err(bad(format!(
                        "the model was fitted on column {n:?}, which its signature does not have"
                    )));
                }
            }
            names
        }
        None => inputs.iter().map(|i| i.name.clone()).collect(),
    };
    if steps.is_empty() && columns.len() != n_features {
        return Err(bad(format!(
            "{} expects {n_features} features, the signature has {}",
            est_node.class_name(),
            columns.len()
        )));
    }
    let sklearn_version = match tree.get("_sklearn_version") {
        Some(Node::Json(Value::String(v))) => v.clone(),
        _ => String::new(),
    };
    Ok(SklearnModel {
        class: if tree.class_name() == "Pipeline" {
            format!("Pipeline({})", est_node.class_name())
        } else {
            tree.class_name().to_string()
        },
        inputs,
        columns,
        classes,
        task,
        steps,
        estimator,
        n_features,
        sklearn_version,
    })
}

/// Run `steps` in order. `names` are the frame's column names, for messages; a step that changes the
/// number of columns leaves them unnamed (`feature <j>`).
fn run_steps(steps: &[Transform], frame: Frame, names: &[String]) -> Result<Frame, String> {
    let mut frame = frame;
    let mut names = names.to_vec();
    for s in steps {
        let width = frame.len();
        frame = s.apply(frame, &names)?;
        if frame.len() != width {
            names.clear();
        }
    }
    Ok(frame)
}

fn column_name(names: &[String], j: usize) -> String {
    names
        .get(j)
        .map(|n| crate::redact::brief(n))
        .unwrap_or_else(|| format!("feature {j}"))
}

impl Transform {
    fn apply(&self, frame: Frame, names: &[String]) -> Result<Frame, String> {
        Ok(match self {
            Transform::Identity => frame,
            Transform::Pipeline(steps) => run_steps(steps, frame, names)?,
            Transform::MinMax { scale, min, clip } => {
                let cols = numeric(frame, "MinMaxScaler")?;
                if cols.len() != scale.len() {
                    return Err(format!(
                        "MinMaxScaler: {} columns in, fitted for {}",
                        cols.len(),
                        scale.len()
                    ));
                }
                cols.into_iter()
                    .enumerate()
                    .map(|(j, mut c)| {
                        for x in c.iter_mut() {
                            *x *= scale[j];
                            *x += min[j];
                            if let Some((lo, hi)) = clip {
                                *x = x.clamp(*lo, *hi);
                            }
                        }
                        Col::Num(c)
                    })
                    .collect()
            }
            Transform::Imputer { missing, fill } => impute(frame, missing, fill)?,
            Transform::OneHot {
                categories,
                drop,
                ignore_unknown,
            } => one_hot(&frame, names, categories, drop, *ignore_unknown)?,
            Transform::Ordinal {
                categories,
                unknown,
                missing_index,
                encoded_missing,
            } => ordinal(
                &frame,
                names,
                categories,
                *unknown,
                missing_index,
                *encoded_missing,
            )?,
            Transform::Columns(parts) => {
                let mut out = Vec::new();
                for (part, idx) in parts {
                    let Part::Apply(t) = part else { continue };
                    let sub = idx
                        .iter()
                        .map(|&i| {
                            frame.get(i).cloned().ok_or_else(|| {
                                format!(
                                    "ColumnTransformer: column {i} of {} asked for",
                                    frame.len()
                                )
                            })
                        })
                        .collect::<Result<Frame, String>>()?;
                    let sub_names: Vec<String> = idx
                        .iter()
                        .map(|&i| {
                            names
                                .get(i)
                                .cloned()
                                .unwrap_or_else(|| format!("feature {i}"))
                        })
                        .collect();
                    out.extend(t.apply(sub, &sub_names)?);
                }
                out
            }
            Transform::Standard { mean, scale } => {
                let cols = numeric(frame, "StandardScaler")?;
                let width = cols.len();
                for (what, v) in [("mean", mean), ("scale", scale)] {
                    if let Some(v) = v
                        && v.len() != width
                    {
                        return Err(format!(
                            "StandardScaler: {width} columns in, fitted {what} has {}",
                            v.len()
                        ));
                    }
                }
                cols.into_iter()
                    .enumerate()
                    .map(|(j, mut c)| {
                        for x in c.iter_mut() {
                            if let Some(m) = mean {
                                *x -= m[j];
                            }
                            if let Some(s) = scale {
                                *x /= s[j];
                            }
                        }
                        Col::Num(c)
                    })
                    .collect()
            }
        })
    }
}

/// `SimpleImputer`: each kept column with its missing values filled.
fn impute(frame: Frame, missing: &Cat, fill: &[Option<Cat>]) -> Result<Frame, String> {
    width("SimpleImputer", &frame, fill.len())?;
    let n = n_rows(&frame);
    frame
        .into_iter()
        .zip(fill)
        .filter_map(|(col, f)| f.as_ref().map(|f| (col, f)))
        .map(|(col, f)| {
            let is_missing =
                |c: &Cat| c == missing || (*missing == Cat::Missing && *c == Cat::Missing);
            match (col, f) {
                (Col::Num(mut v), Cat::Num(fv)) => {
                    for x in v.iter_mut() {
                        let c = if x.is_nan() {
                            Cat::Missing
                        } else {
                            Cat::Num(*x)
                        };
                        if is_missing(&c) {
                            *x = *fv;
                        }
                    }
                    Ok(Col::Num(v))
                }
                (col, f) => {
                    let out = (0..n)
                        .map(|r| {
                            let c = cell(&col, r);
                            let c = if is_missing(&c) { f.clone() } else { c };
                            match c {
                                Cat::Text(s) => Some(s),
                                Cat::Num(x) => Some(crate::ml::data::format_number(x)),
                                Cat::Missing => None,
                            }
                        })
                        .collect();
                    Ok(Col::Text(out))
                }
            }
        })
        .collect::<Result<_, String>>()
}

/// `OneHotEncoder`: a 0/1 column per category of each column (less the dropped one).
fn one_hot(
    frame: &Frame,
    names: &[String],
    categories: &[Vec<Cat>],
    drop: &[Option<usize>],
    ignore_unknown: bool,
) -> Result<Frame, String> {
    width("OneHotEncoder", frame, categories.len())?;
    let n = n_rows(frame);
    let mut out = Vec::new();
    for (j, col) in frame.iter().enumerate() {
        let cats = &categories[j];
        let hits = (0..n)
            .map(|r| {
                let c = cell(col, r);
                match cats.iter().position(|x| *x == c) {
                    Some(i) => Ok(Some(i)),
                    None if ignore_unknown => Ok(None),
                    None => Err(format!(
                        "OneHotEncoder: unknown category {} in column {} (the model was fitted on {})",
                        c.label(),
                        column_name(names, j),
                        cats.iter().map(Cat::label).collect::<Vec<_>>().join(", ")
                    )),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut block = vec![vec![0.0; n]; cats.len()];
        for (r, hit) in hits.iter().enumerate() {
            if let Some(i) = hit {
                block[*i][r] = 1.0;
            }
        }
        out.extend(
            block
                .into_iter()
                .enumerate()
                .filter(|(i, _)| drop[j] != Some(*i))
                .map(|(_, v)| Col::Num(v)),
        );
    }
    Ok(out)
}

/// `OrdinalEncoder`: each column's categories as their codes.
fn ordinal(
    frame: &Frame,
    names: &[String],
    categories: &[Vec<Cat>],
    unknown: Option<f64>,
    missing_index: &[Option<usize>],
    encoded_missing: f64,
) -> Result<Frame, String> {
    width("OrdinalEncoder", frame, categories.len())?;
    let n = n_rows(frame);
    frame
        .iter()
        .enumerate()
        .map(|(j, col)| {
            let cats = &categories[j];
            (0..n)
                .map(|r| {
                    let c = cell(col, r);
                    match cats.iter().position(|x| *x == c) {
                        Some(i) if missing_index[j] == Some(i) => Ok(encoded_missing),
                        Some(i) => Ok(i as f64),
                        None => unknown.ok_or_else(|| {
                            format!(
                                "OrdinalEncoder: unknown category {} in column {} (the model was fitted on {})",
                                c.label(),
                                column_name(names, j),
                                cats.iter().map(Cat::label).collect::<Vec<_>>().join(", ")
                            )
                        }),
                    }
                })
                .collect::<Result<Vec<f64>, String>>()
                .map(Col::Num)
        })
        .collect::<Result<_, String>>()
}

fn width(step: &str, frame: &Frame, fitted: usize) -> Result<(), String> {
    if frame.len() != fitted {
        return Err(format!(
            "{step}: {} columns in, fitted for {fitted}",
            frame.len()
        ));
    }
    Ok(())
}

/// Every column as numbers (text that parses as a number is accepted, as numpy's conversion does).
fn numeric(frame: Frame, step: &str) -> Result<Vec<Vec<f64>>, String> {
    frame
        .into_iter()
        .map(|c| match c {
            Col::Num(v) => Ok(v),
            Col::Text(v) => v
                .iter()
                .map(|s| match s {
                    None => Ok(f64::NAN),
                    Some(s) => s.trim().parse::<f64>().map_err(|_| {
                        format!("{step}: {:?} is not a number", crate::redact::brief(s))
                    }),
                })
                .collect(),
        })
        .collect()
}

impl SklearnModel {
    fn frame(&self, table: &Table, row_offset: usize) -> Result<Frame, ModelError> {
        self.columns
            .iter()
            .map(|name| {
                let input = self
                    .inputs
                    .iter()
                    .find(|i| i.name == *name)
                    .expect("checked at load");
                let col = super::column(table, name)?;
                Ok(match (input.kind.as_str(), col) {
                    ("string", Column::Text(v)) => Col::Text(v.clone()),
                    ("string", Column::Numeric(v)) => Col::Text(
                        v.iter()
                            .map(|x| x.map(crate::ml::data::format_number))
                            .collect(),
                    ),
                    _ => Col::Num(
                        (0..table.n_rows)
                            .map(|r| {
                                super::cell_f64(col, r)
                                    .map_err(|why| super::cell_err(input, r + row_offset, why))
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                })
            })
            .collect()
    }

    /// The features the estimator sees, row-major.
    fn features(&self, table: &Table, row_offset: usize) -> Result<Vec<f64>, ModelError> {
        let frame = self.frame(table, row_offset)?;
        let frame = run_steps(&self.steps, frame, &self.columns).map_err(predict_err)?;
        let n = n_rows(&frame).max(if frame.is_empty() { table.n_rows } else { 0 });
        let cols = numeric(frame, self.estimator_name()).map_err(predict_err)?;
        if cols.len() != self.n_features {
            return Err(predict_err(format!(
                "{} expects {} features, the steps before it give {}",
                self.estimator_name(),
                self.n_features,
                cols.len()
            )));
        }
        let nf = self.n_features;
        let mut x = vec![0.0; n * nf];
        for (j, c) in cols.iter().enumerate() {
            for (r, v) in c.iter().enumerate() {
                x[r * nf + j] = *v;
            }
        }
        Ok(x)
    }

    fn estimator_name(&self) -> &str {
        self.class
            .strip_prefix("Pipeline(")
            .and_then(|c| c.strip_suffix(')'))
            .unwrap_or(&self.class)
    }

    /// Refuse missing values the estimator cannot take, as scikit-learn does.
    fn check_finite(&self, x: &[f64], row_offset: usize) -> Result<(), ModelError> {
        let nf = self.n_features.max(1);
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(predict_err(format!(
                "row {}: {} got a missing value in feature {} (add a SimpleImputer to the pipeline)",
                i / nf + row_offset,
                self.estimator_name(),
                i % nf
            )));
        }
        Ok(())
    }

    fn predict_matrix(&self, x: &[f64], row_offset: usize) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        match &self.estimator {
            Estimator::Linear {
                coef,
                intercept,
                logistic,
            } => self.predict_linear(x, row_offset, coef, intercept, *logistic),
            Estimator::Trees(trees) => {
                let rows = x.chunks_exact(nf.max(1)).take(n);
                if self.task == Task::Regression {
                    let values = rows
                        .map(|row| {
                            // A forest sums its trees in order and divides once, as scikit-learn does.
                            let sum: f64 = trees.iter().map(|t| t.leaf_values(row)[0]).sum();
                            Value::from(if trees.len() == 1 {
                                sum
                            } else {
                                sum / trees.len() as f64
                            })
                        })
                        .collect();
                    return Ok(Predictions {
                        values,
                        proba: None,
                    });
                }
                let k = self.classes.len();
                let mut proba = vec![0.0; n * k];
                for (r, row) in rows.enumerate() {
                    let p = &mut proba[r * k..(r + 1) * k];
                    for t in trees {
                        let v = t.leaf_values(row);
                        let total: f64 = v.iter().sum();
                        let total = if total == 0.0 { 1.0 } else { total };
                        for (o, w) in p.iter_mut().zip(v) {
                            *o += w / total;
                        }
                    }
                    if trees.len() > 1 {
                        p.iter_mut().for_each(|v| *v /= trees.len() as f64);
                    }
                }
                Ok(self.classified(proba))
            }
            Estimator::Knn {
                x: tx,
                y,
                k,
                distance_weights,
            } => self.predict_knn(x, row_offset, tx, y, *k, *distance_weights),
            Estimator::Boosted(b) => {
                if !b.allow_missing() {
                    self.check_finite(x, row_offset)?;
                }
                Ok(b.predict(x, nf, &self.classes))
            }
            Estimator::GaussianNb { theta, var, prior } => {
                self.check_finite(x, row_offset)?;
                let k = self.classes.len();
                let mut proba = vec![0.0; n * k];
                let mut values = Vec::with_capacity(n);
                for (r, row) in x.chunks_exact(nf.max(1)).take(n).enumerate() {
                    let jll = &mut proba[r * k..(r + 1) * k];
                    for c in 0..k {
                        let (th, v) = (&theta[c * nf..(c + 1) * nf], &var[c * nf..(c + 1) * nf]);
                        let norm: f64 = v
                            .iter()
                            .map(|s| (2.0 * std::f64::consts::PI * s).ln())
                            .sum();
                        let sq: f64 = row
                            .iter()
                            .zip(th)
                            .zip(v)
                            .map(|((x, t), s)| (x - t).powi(2) / s)
                            .sum();
                        jll[c] = prior[c].ln() + (-0.5 * norm - 0.5 * sq);
                    }
                    values.push(self.classes[argmax(jll)].clone());
                    // scipy's logsumexp, then exp(jll - lse).
                    let m = jll.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = jll.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
                    jll.iter_mut().for_each(|v| *v = (*v - lse).exp());
                }
                Ok(Predictions {
                    values,
                    proba: Some(proba),
                })
            }
        }
    }

    /// A linear model's values, through the logistic link (binary, multinomial or one-vs-rest) for
    /// classification.
    fn predict_linear(
        &self,
        x: &[f64],
        row_offset: usize,
        coef: &[f64],
        intercept: &[f64],
        logistic: Option<Logistic>,
    ) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        self.check_finite(x, row_offset)?;
        let rows = intercept.len();
        let mut z = vec![0.0; n * rows];
        for r in 0..n {
            let row = &x[r * nf..(r + 1) * nf];
            for c in 0..rows {
                let w = &coef[c * nf..(c + 1) * nf];
                z[r * rows + c] = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + intercept[c];
            }
        }
        match logistic {
            None => Ok(Predictions {
                values: z.into_iter().map(Value::from).collect(),
                proba: None,
            }),
            Some(kind) => {
                let k = self.classes.len();
                let mut proba = vec![0.0; n * k];
                let mut values = Vec::with_capacity(n);
                for r in 0..n {
                    let d = &z[r * rows..(r + 1) * rows];
                    let p = &mut proba[r * k..(r + 1) * k];
                    if rows == 1 {
                        p[1] = sigmoid(d[0]);
                        p[0] = 1.0 - p[1];
                        values.push(self.classes[usize::from(d[0] > 0.0)].clone());
                        continue;
                    }
                    p.copy_from_slice(d);
                    match kind {
                        Logistic::Multinomial => softmax(p),
                        Logistic::OneVsRest => {
                            p.iter_mut().for_each(|v| *v = sigmoid(*v));
                            let s: f64 = p.iter().sum();
                            if s == 0.0 {
                                p.iter_mut().for_each(|v| *v = 1.0 / k as f64);
                            } else {
                                p.iter_mut().for_each(|v| *v /= s);
                            }
                        }
                    }
                    values.push(self.classes[argmax(d)].clone());
                }
                Ok(Predictions {
                    values,
                    proba: Some(proba),
                })
            }
        }
    }

    /// k-nearest neighbours (Euclidean): the (distance-weighted) mean of their targets, or their
    /// (weighted) class shares.
    fn predict_knn(
        &self,
        x: &[f64],
        row_offset: usize,
        tx: &[f64],
        y: &[f64],
        k: usize,
        distance_weights: bool,
    ) -> Result<Predictions, ModelError> {
        let nf = self.n_features;
        let n = x.len().checked_div(nf).unwrap_or(0);
        self.check_finite(x, row_offset)?;
        let classes = self.classes.len();
        let mut values = Vec::with_capacity(n);
        let mut proba = vec![0.0; n * classes];
        for (r, row) in x.chunks_exact(nf.max(1)).take(n).enumerate() {
            let mut found: Vec<(f64, usize)> = crate::ml::forms::nearest(tx, nf, row, k)
                .into_iter()
                .map(|i| {
                    let t = &tx[i * nf..(i + 1) * nf];
                    let d2: f64 = t.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d2.sqrt(), i)
                })
                .collect();
            // scikit-learn hands neighbours on nearest first.
            found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let weights: Vec<f64> = if !distance_weights {
                vec![1.0; found.len()]
            } else if found.iter().any(|(d, _)| *d == 0.0) {
                found
                    .iter()
                    .map(|(d, _)| f64::from(u8::from(*d == 0.0)))
                    .collect()
            } else {
                found.iter().map(|(d, _)| 1.0 / d).collect()
            };
            if self.task == Task::Regression {
                let v = if distance_weights {
                    found
                        .iter()
                        .zip(&weights)
                        .map(|((_, i), w)| y[*i] * w)
                        .sum::<f64>()
                        / weights.iter().sum::<f64>()
                } else {
                    found.iter().map(|(_, i)| y[*i]).sum::<f64>() / found.len() as f64
                };
                values.push(Value::from(v));
                continue;
            }
            let p = &mut proba[r * classes..(r + 1) * classes];
            for ((_, i), w) in found.iter().zip(&weights) {
                p[y[*i] as usize] += w;
            }
            let total: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= total);
        }
        if self.task == Task::Regression {
            return Ok(Predictions {
                values,
                proba: None,
            });
        }
        Ok(self.classified(proba))
    }

    /// Labels (the first most probable class) beside the probabilities.
    fn classified(&self, proba: Vec<f64>) -> Predictions {
        let k = self.classes.len().max(1);
        let values = proba
            .chunks_exact(k)
            .map(|p| self.classes[argmax(p)].clone())
            .collect();
        Predictions {
            values,
            proba: Some(proba),
        }
    }
}

impl ForeignModel for SklearnModel {
    fn task(&self) -> Task {
        self.task
    }
    fn classes(&self) -> &[Value] {
        &self.classes
    }
    fn inputs(&self) -> &[ForeignInput] {
        &self.inputs
    }
    fn predict(&self, table: &Table, row_offset: usize) -> Result<Predictions, ModelError> {
        let x = self.features(table, row_offset)?;
        self.predict_matrix(&x, row_offset)
    }
    fn describe(&self) -> Value {
        serde_json::json!({
            "flavor": "sklearn",
            "format": "skops",
            "class": self.class,
            "sklearn_version": self.sklearn_version,
            "n_features": self.n_features,
            "classes": self.classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::foreign::npy;

    fn json(v: Value) -> Node {
        Node::Json(v)
    }

    fn object(class: &str, attrs: Vec<(&str, Node)>) -> Node {
        Node::Object {
            class: format!("sklearn.x.{class}"),
            state: Box::new(Node::Dict(
                attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            )),
            args: Vec::new(),
        }
    }

    fn array(descr: &str, shape: &[usize], data: Vec<u8>) -> Node {
        Node::Array(npy::parse(&npy::write(descr, false, shape, &data)).unwrap())
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A one-split regression tree on feature 0 at `threshold`: 1.0 on the left, 2.0 on the right.
    fn stump(threshold: f64, children: (i64, i64)) -> Node {
        let mut rec = Vec::new();
        for (l, r, f, t) in [
            (children.0, children.1, 0i64, threshold),
            (-1, -1, -2, -2.0),
            (-1, -1, -2, -2.0),
        ] {
            for v in [l, r, f] {
                rec.extend(v.to_le_bytes());
            }
            rec.extend(t.to_le_bytes());
            rec.push(0);
            rec.extend([0u8; 7]);
        }
        let nodes = array(
            "[('left_child', '<i8'), ('right_child', '<i8'), ('feature', '<i8'), ('threshold', '<f8'), ('missing_go_to_left', '|u1'), ('', '|V7')]",
            &[3],
            rec,
        );
        let tree = object(
            "Tree",
            vec![
                ("nodes", nodes),
                ("values", array("'<f8'", &[3, 1, 1], f64s(&[0.0, 1.0, 2.0]))),
            ],
        );
        object(
            "DecisionTreeRegressor",
            vec![("n_features_in_", json(1.into())), ("tree_", tree)],
        )
    }

    fn predict(model: &SklearnModel, xs: &[f64]) -> Vec<Value> {
        model.predict_matrix(xs, 0).unwrap().values
    }

    #[test]
    fn trees_compare_features_cast_to_float32_with_the_float64_threshold() {
        // 0.1 as float32 is 0.100000001490116..., above a float64 threshold of 0.1, so it goes right
        // although 0.1 <= 0.1; so does anything that rounds to the same float32.
        let input = Some(vec![ForeignInput {
            name: "x".into(),
            kind: "double".into(),
        }]);
        let model = from_tree(&stump(0.1, (1, 2)), input).unwrap();
        assert_eq!(
            predict(&model, &[0.1, 0.09, 0.1 - 1e-10, 0.1 - 1e-8]),
            vec![2.0, 1.0, 2.0, 1.0]
                .into_iter()
                .map(Value::from)
                .collect::<Vec<_>>()
        );
        // A missing value follows missing_go_to_left (0 here: right).
        assert_eq!(predict(&model, &[f64::NAN]), vec![Value::from(2.0)]);
    }

    #[test]
    fn trees_with_children_out_of_range_or_backwards_are_refused() {
        let input = || {
            Some(vec![ForeignInput {
                name: "x".into(),
                kind: "double".into(),
            }])
        };
        for children in [(1, 3), (0, 2), (-2, 2), (1, -1)] {
            let e = from_tree(&stump(0.5, children), input()).unwrap_err();
            assert!(e.0.contains("out of range"), "{children:?}: {}", e.0);
        }
    }

    #[test]
    fn encoders_follow_unknown_and_drop_rules() {
        let cats = |v: &[&str]| {
            v.iter()
                .map(|s| Cat::Text(s.to_string()))
                .collect::<Vec<_>>()
        };
        let frame = vec![Col::Text(vec![Some("b".into()), Some("zzz".into()), None])];
        let onehot = Transform::OneHot {
            categories: vec![cats(&["a", "b", "c"])],
            drop: vec![Some(0)],
            ignore_unknown: true,
        };
        let out = onehot.apply(frame.clone(), &[]).unwrap();
        let cols: Vec<Vec<f64>> = out
            .into_iter()
            .map(|c| match c {
                Col::Num(v) => v,
                Col::Text(_) => panic!("numbers expected"),
            })
            .collect();
        // "a" dropped; "b" -> [1, 0]; unknown and missing -> zeros.
        assert_eq!(cols, vec![vec![1.0, 0.0, 0.0], vec![0.0, 0.0, 0.0]]);
        let strict = Transform::Ordinal {
            categories: vec![cats(&["a", "b"])],
            unknown: None,
            missing_index: vec![None],
            encoded_missing: f64::NAN,
        };
        let e = strict.apply(frame, &["city".into()]).unwrap_err();
        assert!(e.contains("unknown category zzz in column city"), "{e}");
    }

    #[test]
    fn counts_and_indices_are_whole_numbers_in_range_before_they_are_cast() {
        let input = || {
            Some(vec![ForeignInput {
                name: "x".into(),
                kind: "double".into(),
            }])
        };
        for bad in [
            Value::from(1e30),
            Value::from(-1.0),
            Value::from(0.5),
            Value::from("NaN"),
            Value::from("Infinity"),
        ] {
            let mut tree = stump(0.5, (1, 2));
            if let Node::Object { state, .. } = &mut tree
                && let Node::Dict(items) = state.as_mut()
            {
                items[0].1 = json(bad.clone());
            }
            let e = from_tree(&tree, input()).unwrap_err().0;
            assert!(
                e.contains("DecisionTreeRegressor.n_features_in_ is "),
                "{bad}: {e}"
            );
        }
        // A drop index of -1 or 0.5 is refused, not read as 0.
        let encoder = |drop: f64| {
            object(
                "OneHotEncoder",
                vec![
                    (
                        "categories_",
                        Node::List(vec![json(serde_json::json!(["a", "b"]))]),
                    ),
                    ("drop_idx_", json(serde_json::json!([drop]))),
                ],
            )
        };
        assert!(matches!(
            one_hot_encoder(&encoder(1.0)),
            Ok(Transform::OneHot { drop, .. }) if drop == vec![Some(1)]
        ));
        for drop in [-1.0, 0.5, 1e30] {
            let e = one_hot_encoder(&encoder(drop)).err().unwrap().0;
            assert!(
                e.contains("OneHotEncoder.drop_idx_ has a bad index"),
                "{drop}: {e}"
            );
        }
    }

    #[test]
    fn the_imputer_drops_columns_that_were_all_missing_and_fills_the_rest() {
        let imputer = Transform::Imputer {
            missing: Cat::Missing,
            fill: vec![Some(Cat::Num(5.0)), None],
        };
        let out = imputer
            .apply(
                vec![
                    Col::Num(vec![1.0, f64::NAN]),
                    Col::Num(vec![f64::NAN, f64::NAN]),
                ],
                &[],
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], Col::Num(v) if *v == vec![1.0, 5.0]));
    }
}
