//! scikit-learn's gradient boosting read from skops: `GradientBoosting*` (an object array of
//! `DecisionTreeRegressor`s, stage by output, over the raw score of its `init_` estimator) and
//! `HistGradientBoosting*` (`_predictors`, lists of `TreePredictor`s whose `nodes` is a structured array,
//! over `_baseline_prediction`). Both become one [`Ensemble`] evaluated as scikit-learn evaluates them:
//! `GradientBoosting*` compares float32 features with float64 thresholds and refuses missing values (its
//! `predict` validates them as finite); `HistGradientBoosting*` compares float64 features and sends NaN,
//! and unknown or negative categories, the `missing_go_to_left` way. The link of the loss turns the raw
//! score into the prediction ([`Link::ScikitLearn`], in `forms::boosted::link`); losses mlx does not know
//! are refused by name.

use super::super::skops::{Node, SkopsError};
use super::tree_nodes::tree_nodes;
use super::{bad, labels};
use crate::ml::core::Task;
use crate::ml::forms::Fitted;
use crate::ml::forms::boosted::link::{Link, ScikitLearnTransform as Transform};
use crate::ml::forms::trees::ensemble::{Combine, Ensemble, Missing, RawNode, Rules};
use serde_json::Value;

/// The class of scikit-learn's link object for a transform (its inverse).
fn link_class(transform: Transform) -> &'static str {
    match transform {
        Transform::Identity => "IdentityLink",
        Transform::Log => "LogLink",
        Transform::Logit => "LogitLink",
        Transform::HalfLogit => "HalfLogitLink",
        Transform::Multinomial => "MultinomialLogit",
    }
}

/// What [`super::estimator`] needs: the model (mlx's `Boosted` form with scikit-learn's link), whether it
/// routes missing values (`HistGradientBoosting*`; `GradientBoosting*` refuses them), its task, classes
/// and number of features.
pub(super) type Built = (Fitted, bool, Task, Vec<Value>, usize);

/// The losses each estimator may have, with the transform (the inverse link) each gives for `k` outputs.
fn link_for(class: &str, loss: &str, k: usize) -> Option<Transform> {
    let multi = |binary| {
        if k > 1 {
            Transform::Multinomial
        } else {
            binary
        }
    };
    Some(match (class, loss) {
        ("GradientBoostingClassifier", "log_loss") => multi(Transform::Logit),
        ("GradientBoostingClassifier", "exponential") if k == 1 => Transform::HalfLogit,
        (
            "GradientBoostingRegressor",
            "squared_error" | "absolute_error" | "huber" | "quantile",
        ) => Transform::Identity,
        ("HistGradientBoostingClassifier", "log_loss") => multi(Transform::Logit),
        ("HistGradientBoostingRegressor", "squared_error" | "absolute_error" | "quantile") => {
            Transform::Identity
        }
        ("HistGradientBoostingRegressor", "poisson" | "gamma") => Transform::Log,
        _ => return None,
    })
}

/// The number of outputs, the task and classes; classifiers have one output for two classes.
fn outputs(node: &Node, class: &str) -> Result<(usize, Task, Vec<Value>), SkopsError> {
    let k = node.number("n_trees_per_iteration_")?;
    if !(k >= 1.0 && k.fract() == 0.0 && k <= 1e6) {
        return Err(bad(format!("{class}.n_trees_per_iteration_ is {k}")));
    }
    let k = k as usize;
    if !class.ends_with("Classifier") {
        if k != 1 {
            return Err(bad(format!(
                "{class} with {k} outputs is not supported (one output only)"
            )));
        }
        return Ok((1, Task::Regression, Vec::new()));
    }
    let classes = labels(node)?;
    let want = if classes.len() == 2 { 1 } else { classes.len() };
    if classes.len() < 2 || k != want {
        return Err(bad(format!(
            "{class} has {k} trees per iteration for {} classes",
            classes.len()
        )));
    }
    Ok((k, Task::Classification, classes))
}

/// The transform of the estimator's loss, checked against the loss object it holds.
fn transform(node: &Node, class: &str, k: usize) -> Result<Transform, SkopsError> {
    let loss = match node.attr("loss")? {
        Node::Json(Value::String(s)) => s.as_str(),
        other => {
            return Err(bad(format!(
                "{class}.loss is a {} object: mlx predicts only with scikit-learn's named losses",
                other.class_name()
            )));
        }
    };
    let link = link_for(class, loss, k).ok_or_else(|| {
        bad(format!(
            "{class} with loss {loss:?} is not supported{}",
            if class.ends_with("Classifier") && loss == "exponential" {
                " for more than two classes"
            } else {
                ""
            }
        ))
    })?;
    if let Some(obj) = node.get("_loss").and_then(|l| l.get("link")) {
        let found = obj.class_name();
        if found != link_class(link) {
            return Err(bad(format!(
                "{class}._loss has link {found} where loss {loss:?} has {}",
                link_class(link)
            )));
        }
    }
    Ok(link)
}

/// scipy's `logit`, as its `xsf` computes it (log1p near one half).
fn logit(p: f64) -> f64 {
    if !(0.3..=0.65).contains(&p) {
        (p / (1.0 - p)).ln()
    } else {
        let s = 2.0 * (p - 0.5);
        s.ln_1p() - (-s).ln_1p()
    }
}

/// The raw score `GradientBoosting*` starts from: its `init_` estimator's prediction through the link
/// (a `DummyRegressor`'s constant, a prior `DummyClassifier`'s class priors), or zeros for `'zero'`.
fn gb_start(node: &Node, class: &str, link: Transform, k: usize) -> Result<Vec<f64>, SkopsError> {
    let init = node.attr("init_")?;
    match init {
        Node::Json(Value::String(s)) if s == "zero" => return Ok(vec![0.0; k]),
        _ => {}
    }
    match init.class_name() {
        "DummyRegressor" if link == Transform::Identity => {
            let c = init
                .attr("constant_")?
                .as_f64s()
                .filter(|c| c.len() == 1 && c[0].is_finite())
                .ok_or_else(|| bad(format!("{class}.init_.constant_ is not one number")))?;
            Ok(c)
        }
        "DummyClassifier" if link != Transform::Identity => {
            let strategy = init.text("_strategy").or_else(|_| init.text("strategy"))?;
            if strategy != "prior" {
                return Err(bad(format!(
                    "{class}.init_ is a DummyClassifier with strategy {strategy:?}: mlx supports the default \
                     init (strategy 'prior') or 'zero'"
                )));
            }
            let prior = init
                .attr("class_prior_")?
                .as_f64s()
                .ok_or_else(|| bad(format!("{class}.init_.class_prior_ is not numeric")))?;
            let n_classes = if k == 1 { 2 } else { k };
            if prior.len() != n_classes || prior.iter().any(|p| !(0.0..=1.0).contains(p)) {
                return Err(bad(format!(
                    "{class}.init_.class_prior_ holds {} values for {n_classes} classes",
                    prior.len()
                )));
            }
            // As scikit-learn's _init_raw_predictions: clip to [eps, 1 - eps], then the link.
            let clip = |p: f64| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
            Ok(match link {
                Transform::Logit => vec![logit(clip(prior[1]))],
                Transform::HalfLogit => vec![0.5 * logit(clip(prior[1]))],
                _ => {
                    // The symmetric multinomial logit: log(p / gmean(p)).
                    let p: Vec<f64> = prior.into_iter().map(clip).collect();
                    let mean_log = p.iter().map(|x| x.ln()).sum::<f64>() / p.len() as f64;
                    let gmean = mean_log.exp();
                    p.iter().map(|x| (x / gmean).ln()).collect()
                }
            })
        }
        other => Err(bad(format!(
            "{class}.init_ is a {other}: mlx supports the default init ({}) or 'zero'",
            if link == Transform::Identity {
                "DummyRegressor"
            } else {
                "DummyClassifier"
            }
        ))),
    }
}

/// `GradientBoostingClassifier` / `GradientBoostingRegressor`.
pub(super) fn gradient_boosting(node: &Node) -> Result<Built, SkopsError> {
    let class = node.class_name();
    let head = head(node, class)?;
    let (nf, k, transform) = (head.nf, head.k, head.transform);
    let scale = node.number("learning_rate")?;
    if !scale.is_finite() {
        return Err(bad(format!("{class}.learning_rate is {scale}")));
    }
    let start = gb_start(node, class, transform, k)?;
    let members = members(node, class, "estimators_", k)?;
    let mut trees = Vec::with_capacity(members.len());
    for (i, group, m) in members {
        if m.class_name() != "DecisionTreeRegressor" {
            return Err(bad(format!(
                "{class}.estimators_[{i}] holds a {}",
                m.class_name()
            )));
        }
        // scikit-learn adds `learning_rate * value` per stage; the product is the same number.
        let nodes = tree_nodes(m, nf, None)?
            .into_iter()
            .map(|node| match node {
                RawNode::Leaf { value } => RawNode::Leaf {
                    value: scale * value,
                },
                split => split,
            })
            .collect();
        trees.push((nodes, group));
    }
    finish(head, start, trees, false).map_err(|e| bad(format!("{class}.estimators_: {}", e.0)))
}

/// Per categorical feature (by index): the bitset of the categories seen in training, from the bin
/// mapper (scikit-learn's `make_known_categories_bitsets`).
fn known_categories(
    node: &Node,
    class: &str,
    nf: usize,
) -> Result<Vec<Option<[u32; 8]>>, SkopsError> {
    let mapper = node.attr("_bin_mapper")?;
    let is_cat = match mapper.get("is_categorical_") {
        None | Some(Node::Json(Value::Null)) => return Ok(vec![None; nf]),
        Some(n) => n.as_f64s().filter(|v| v.len() == nf).ok_or_else(|| {
            bad(format!(
                "{class}._bin_mapper.is_categorical_ is not {nf} flags"
            ))
        })?,
    };
    let thresholds = mapper
        .attr("bin_thresholds_")?
        .items()
        .filter(|t| t.len() == nf)
        .ok_or_else(|| {
            bad(format!(
                "{class}._bin_mapper.bin_thresholds_ is not {nf} arrays"
            ))
        })?;
    is_cat
        .iter()
        .zip(thresholds)
        .enumerate()
        .map(|(f, (&c, t))| {
            if c == 0.0 {
                return Ok(None);
            }
            let mut bits = [0u32; 8];
            for v in t.as_f64s().unwrap_or_default() {
                if !((0.0..256.0).contains(&v) && v.fract() == 0.0) {
                    return Err(bad(format!(
                        "{class}._bin_mapper: category {v} of feature {f} is not in 0..255"
                    )));
                }
                let v = v as usize;
                bits[v / 32] |= 1 << (v % 32);
            }
            Ok(Some(bits))
        })
        .collect()
}

/// One `TreePredictor`'s nodes as [`RawNode`]s.
fn predictor_nodes(
    p: &Node,
    class: &str,
    known: &[Option<[u32; 8]>],
) -> Result<Vec<RawNode>, SkopsError> {
    let what = format!("{class}._predictors");
    if p.class_name() != "TreePredictor" {
        return Err(bad(format!("{what} holds a {}", p.class_name())));
    }
    let Node::Array(nodes) = p.attr("nodes")? else {
        return Err(bad(format!("{what}: TreePredictor.nodes is not an array")));
    };
    let field_err =
        |e: super::super::npy::NpyError| bad(format!("{what}: TreePredictor.nodes: {e}"));
    let float = |f: &str| -> Result<Vec<f64>, SkopsError> {
        match nodes.field_kind(f).map_err(field_err)? {
            'f' => nodes.field_f64(f).map_err(field_err),
            kind => Err(bad(format!(
                "{what}: TreePredictor.nodes field {f:?} has kind {kind:?}, not a float"
            ))),
        }
    };
    let int = |f: &str| nodes.field_i64(f).map_err(field_err);
    let (value, threshold) = (float("value")?, float("num_threshold")?);
    let (feature, left, right) = (int("feature_idx")?, int("left")?, int("right")?);
    let (is_leaf, missing_left) = (int("is_leaf")?, int("missing_go_to_left")?);
    let (is_cat, bitset_idx) = (int("is_categorical")?, int("bitset_idx")?);
    let bitsets = match p.get("raw_left_cat_bitsets") {
        Some(b) => {
            let (words, shape) = (b.as_f64s().unwrap_or_default(), b.shape());
            if shape.len() != 2 || shape[1] != 8 || words.len() != shape[0] * 8 {
                return Err(bad(format!(
                    "{what}: TreePredictor.raw_left_cat_bitsets has shape {shape:?}, not (n, 8)"
                )));
            }
            words.into_iter().map(|w| w as u32).collect()
        }
        None => Vec::new(),
    };
    let index = |v: i64, what_: &str, j: usize| {
        usize::try_from(v).map_err(|_| bad(format!("{what}: node {j} has {what_} {v}")))
    };
    (0..nodes.len())
        .map(|j| {
            if is_leaf[j] != 0 {
                return Ok(RawNode::Leaf { value: value[j] });
            }
            let feature = index(feature[j], "feature index", j)?;
            let categories = if is_cat[j] != 0 {
                let b = index(bitset_idx[j], "bitset index", j)?;
                let left_bits = bitsets.get(b * 8..b * 8 + 8).ok_or_else(|| {
                    bad(format!(
                        "{what}: node {j} has bitset index {b} of {}",
                        bitsets.len() / 8
                    ))
                })?;
                let seen = known.get(feature).copied().flatten().ok_or_else(|| {
                    bad(format!(
                        "{what}: node {j} splits feature {feature} by category, which the bin mapper \
                         does not mark categorical"
                    ))
                })?;
                // Unknown categories go the missing way: fold them into the left set when that is left.
                let go_left = missing_left[j] != 0;
                Some(
                    left_bits
                        .iter()
                        .zip(seen)
                        .map(|(&l, s)| if go_left { l | !s } else { l })
                        .collect(),
                )
            } else {
                None
            };
            Ok(RawNode::Split {
                feature,
                threshold: threshold[j],
                left: index(left[j], "left child", j)?,
                right: index(right[j], "right child", j)?,
                default_left: missing_left[j] != 0,
                missing: Missing::Nan,
                categories,
            })
        })
        .collect()
}

/// `HistGradientBoostingClassifier` / `HistGradientBoostingRegressor`.
pub(super) fn hist_gradient_boosting(node: &Node) -> Result<Built, SkopsError> {
    let class = node.class_name();
    let head = head(node, class)?;
    let (nf, k) = (head.nf, head.k);
    let (start, shape) = node.array("_baseline_prediction")?;
    if start.len() != k || start.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!(
            "{class}._baseline_prediction has shape {shape:?} for {k} outputs"
        )));
    }
    let known = known_categories(node, class, nf)?;
    let members = members(node, class, "_predictors", k)?;
    let mut trees = Vec::with_capacity(members.len());
    for (i, group, p) in members {
        let nodes = predictor_nodes(p, class, &known)
            .map_err(|e| bad(format!("iteration {i}: {}", e.0)))?;
        trees.push((nodes, group));
    }
    finish(head, start, trees, true).map_err(|e| bad(format!("{class}._predictors: {}", e.0)))
}

/// The trees of `node.attr` (a list of iterations, `k` trees each) as (iteration, output, tree).
fn members<'a>(
    node: &'a Node,
    class: &str,
    attr: &str,
    k: usize,
) -> Result<Vec<(usize, usize, &'a Node)>, SkopsError> {
    let iterations = node
        .attr(attr)?
        .items()
        .ok_or_else(|| bad(format!("{class}.{attr} is not a list of iterations")))?;
    let mut out = Vec::with_capacity(iterations.len() * k);
    for (i, it) in iterations.iter().enumerate() {
        let trees = it
            .items()
            .filter(|t| t.len() == k)
            .ok_or_else(|| bad(format!("{class}.{attr}[{i}] does not hold {k} trees")))?;
        out.extend(trees.iter().enumerate().map(|(group, t)| (i, group, t)));
    }
    Ok(out)
}

/// What both estimators share: features, outputs (task, classes) and the loss's transform.
struct Head {
    nf: usize,
    k: usize,
    task: Task,
    classes: Vec<Value>,
    transform: Transform,
}

fn head(node: &Node, class: &str) -> Result<Head, SkopsError> {
    let nf = node.number("n_features_in_")?;
    if !(nf >= 0.0 && nf.fract() == 0.0 && nf < 1e9) {
        return Err(bad(format!("{class}.n_features_in_ is {nf}")));
    }
    let (k, task, classes) = outputs(node, class)?;
    let transform = transform(node, class, k)?;
    Ok(Head {
        nf: nf as usize,
        k,
        task,
        classes,
        transform,
    })
}

/// The checked ensemble of `trees` (each with its output) over `start`; `hist` picks
/// HistGradientBoosting's rules (float64 features, NaN routed, unknown categories as missing).
fn finish(
    head: Head,
    start: Vec<f64>,
    trees: Vec<(Vec<RawNode>, usize)>,
    hist: bool,
) -> Result<Built, SkopsError> {
    if trees.is_empty() {
        return Err(bad("no trees"));
    }
    let rules = Rules {
        strict_less: false,
        f32_features: !hist,
        f32_sum: false,
        unknown_category_missing: hist,
        combine: Combine::Sum,
    };
    let ensemble = Ensemble::new(trees, head.nf, head.k, rules).map_err(|e| bad(e.to_string()))?;
    let link = Link::ScikitLearn {
        transform: head.transform,
        // Two classes: class 1 when raw >= 0 (`GradientBoostingClassifier`), raw > 0 (the histogram one).
        ties_to_positive: !hist,
    };
    Ok((
        Fitted::boosted(ensemble, start, link),
        hist,
        head.task,
        head.classes,
        head.nf,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::core::sigmoid;

    #[test]
    fn logit_matches_the_plain_formula_and_its_inverse() {
        for p in [1e-9, 0.1, 0.3, 0.31, 0.5, 0.6, 0.65, 0.9, 1.0 - 1e-9] {
            assert!((logit(p) - (p / (1.0 - p)).ln()).abs() < 1e-12, "{p}");
            assert!((sigmoid(logit(p)) - p).abs() < 1e-12, "{p}");
        }
    }

    #[test]
    fn losses_map_to_links_and_unknown_ones_are_refused() {
        assert_eq!(
            link_for("GradientBoostingClassifier", "log_loss", 3),
            Some(Transform::Multinomial)
        );
        assert_eq!(
            link_for("GradientBoostingClassifier", "exponential", 1),
            Some(Transform::HalfLogit)
        );
        assert_eq!(
            link_for("GradientBoostingClassifier", "exponential", 3),
            None
        );
        assert_eq!(
            link_for("GradientBoostingRegressor", "huber", 1),
            Some(Transform::Identity)
        );
        assert_eq!(
            link_for("HistGradientBoostingRegressor", "poisson", 1),
            Some(Transform::Log)
        );
        assert_eq!(link_for("HistGradientBoostingRegressor", "huber", 1), None);
        assert_eq!(link_for("GradientBoostingRegressor", "poisson", 1), None);
    }
}
