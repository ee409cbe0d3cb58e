//! XGBoost's JSON and UBJSON model formats (what MLflow's `xgboost` flavor saves, `model.ubj` by
//! default), read into a [`Ensemble`](crate::ml::forms::trees::ensemble::Ensemble) and predicted as XGBoost's CPU predictor does: features
//! rounded to `f32`, `x < split_condition` goes left, NaN takes the node's default direction, leaf values
//! summed in `f32` onto the base margin, then the objective's transform in `f32` ([`Link::XgBoost`], in
//! `forms::boosted::link` with every boosted model's output arithmetic).
//!
//! UBJSON has no well-kept Rust crate, so [`ubjson`] is a small bounds-checked reader into
//! `serde_json::Value` (typed arrays included); both formats then share one JSON walker.

mod ubjson;

use crate::ml::forms::Fitted;
use crate::ml::forms::boosted::link::{Link, XgBoostTransform};
use crate::ml::forms::trees::ensemble::{Combine, Ensemble, Missing, RawNode, Rules};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Booster {
    pub ensemble: Ensemble,
    /// Feature names saved with the model (empty when trained on an unnamed matrix).
    pub feature_names: Vec<String>,
    pub n_features: usize,
    pub objective: String,
    /// The objective's transform (`Link::XgBoost`).
    pub link: Link,
    /// Per output group: the starting margin.
    base_margin: Vec<f64>,
    /// The model's `scikit_learn` attribute said `_estimator_type: classifier` (an `XGBClassifier`).
    pub sklearn_classifier: bool,
}

impl Booster {
    pub fn n_outputs(&self) -> usize {
        self.base_margin.len()
    }

    /// The model as mlx's `Boosted` form: the sum starts at the base margin, XGBoost's link.
    pub fn into_form(self) -> Fitted {
        Fitted::boosted(self.ensemble, self.base_margin, self.link)
    }

    pub fn is_classifier(&self) -> bool {
        self.sklearn_classifier
            || matches!(
                self.link,
                Link::XgBoost {
                    transform: XgBoostTransform::Softmax | XgBoostTransform::Hinge
                }
            )
            || self.objective == "binary:logistic"
    }
}

/// Reads a model file: UBJSON (`model.ubj`, MLflow's default) or JSON (`model.json`), told apart by the
/// first byte. `.deprecated` binary formats are refused by [`ubjson`]'s checks.
pub fn parse(bytes: &[u8]) -> Result<Booster, String> {
    let value = match bytes.first() {
        Some(b'{')
            if bytes
                .get(1)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'"' || *b == b'}') =>
        {
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?
        }
        Some(b'{') => ubjson::parse(bytes)?,
        _ => return Err("not an XGBoost JSON or UBJSON model (it does not start with '{')".into()),
    };
    from_json(&value)
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, String> {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        cur = cur
            .get(key)
            .ok_or_else(|| format!("no '{}' in the model", path[..=i].join(".")))?;
    }
    Ok(cur)
}

/// A number XGBoost writes as a JSON string ("3", "5E-1") or a number.
fn number(v: &Value, what: &str) -> Result<f64, String> {
    match v {
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{what}: '{s}' is not a number")),
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what}: not a number")),
        _ => Err(format!("{what}: not a number")),
    }
}

fn count(v: &Value, what: &str, max: usize) -> Result<usize, String> {
    let x = number(v, what)?;
    if x < 0.0 || x.fract() != 0.0 || x > max as f64 {
        return Err(format!("{what}: {x} is out of range"));
    }
    Ok(x as usize)
}

fn array<'a>(tree: &'a Value, key: &str, t: usize) -> Result<&'a Vec<Value>, String> {
    tree.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("tree {t}: no '{key}' array"))
}

fn from_json(root: &Value) -> Result<Booster, String> {
    let learner = at(root, &["learner"])?;
    let params = at(learner, &["learner_model_param"])?;
    let n_features = count(at(params, &["num_feature"])?, "num_feature", 1 << 24)?;
    let n_classes = count(at(params, &["num_class"])?, "num_class", 10_000)?;
    if let Some(t) = params.get("num_target")
        && count(t, "num_target", 10_000)? > 1
    {
        return Err("multi-target models (num_target > 1) are not supported by mlx".into());
    }
    let objective = at(learner, &["objective", "name"])?
        .as_str()
        .ok_or("objective.name is not a string")?
        .to_string();
    let transform = objective_transform(&objective)?;
    let n_groups = if transform == XgBoostTransform::Softmax {
        n_classes.max(1)
    } else {
        1
    };

    let booster = at(learner, &["gradient_booster"])?;
    let kind = at(booster, &["name"])?.as_str().unwrap_or("");
    let model = match kind {
        "gbtree" => at(booster, &["model"])?,
        "dart" => {
            return Err(
                "the 'dart' booster is not supported by mlx (its trees are weighted); use 'gbtree'"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "booster '{other}' is not supported by mlx (only 'gbtree')"
            ));
        }
    };
    if let Some(enc) = model
        .get("cats")
        .and_then(|c| c.get("enc"))
        .and_then(Value::as_array)
        && !enc.is_empty()
    {
        return Err("models with categorical features are not supported by mlx".into());
    }
    let trees_json = at(model, &["trees"])?
        .as_array()
        .ok_or("'trees' is not an array")?;
    let info = at(model, &["tree_info"])?
        .as_array()
        .ok_or("'tree_info' is not an array")?;
    if info.len() != trees_json.len() {
        return Err(format!(
            "tree_info has {} entries for {} trees",
            info.len(),
            trees_json.len()
        ));
    }
    let mut trees = Vec::with_capacity(trees_json.len());
    for (t, (tree, group)) in trees_json.iter().zip(info).enumerate() {
        let group = count(
            group,
            &format!("tree_info[{t}]"),
            n_groups.saturating_sub(1),
        )?;
        trees.push((tree_nodes(tree, t)?, group));
    }

    let base_margin = base_margin(params, transform, n_groups)?;

    let feature_names: Vec<String> = learner
        .get("feature_names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !feature_names.is_empty() && feature_names.len() != n_features {
        return Err(format!(
            "{} feature names for num_feature={n_features}",
            feature_names.len()
        ));
    }
    let sklearn_classifier = learner
        .get("attributes")
        .and_then(|a| a.get("scikit_learn"))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| {
            v.get("_estimator_type")
                .and_then(Value::as_str)
                .map(|t| t == "classifier")
        })
        .unwrap_or(false);
    let rules = Rules {
        strict_less: true,
        f32_features: true,
        f32_sum: true,
        unknown_category_missing: false,
        combine: Combine::Sum,
    };
    let ensemble = Ensemble::new(trees, n_features, n_groups, rules).map_err(|e| e.to_string())?;
    Ok(Booster {
        ensemble,
        feature_names,
        n_features,
        objective,
        link: Link::XgBoost { transform },
        base_margin,
        sklearn_classifier,
    })
}

/// How an objective turns the margin into a prediction.
fn objective_transform(objective: &str) -> Result<XgBoostTransform, String> {
    Ok(match objective {
        "reg:squarederror"
        | "reg:squaredlogerror"
        | "reg:pseudohubererror"
        | "reg:absoluteerror"
        | "reg:quantileerror"
        | "reg:linear"
        | "binary:logitraw"
        | "rank:pairwise"
        | "rank:ndcg"
        | "rank:map" => XgBoostTransform::Identity,
        "binary:logistic" | "reg:logistic" => XgBoostTransform::Sigmoid,
        "count:poisson" | "reg:gamma" | "reg:tweedie" => XgBoostTransform::Exp,
        "multi:softprob" | "multi:softmax" => XgBoostTransform::Softmax,
        "binary:hinge" => XgBoostTransform::Hinge,
        other => return Err(format!("objective '{other}' is not supported by mlx")),
    })
}

/// The margin each output starts from (`learner_model_param.base_score`), per output group.
fn base_margin(
    params: &Value,
    transform: XgBoostTransform,
    n_groups: usize,
) -> Result<Vec<f64>, String> {
    // base_score: one value, or one per class ("[a,b,c]") since XGBoost 3; in probability space for
    // the logistic objectives, the log space for the exp ones.
    let base = at(params, &["base_score"])?;
    let base_values: Vec<f32> = match base {
        Value::String(s) if s.trim_start().starts_with('[') => {
            let inner = s.trim().trim_start_matches('[').trim_end_matches(']');
            inner
                .split(',')
                .map(|w| {
                    w.trim()
                        .parse::<f32>()
                        .map_err(|_| format!("base_score: '{s}' is not a list of numbers"))
                })
                .collect::<Result<_, _>>()?
        }
        v => vec![number(v, "base_score")? as f32],
    };
    match base_values.len() {
        1 => Ok(vec![
            f64::from(prob_to_margin(transform, base_values[0])?);
            n_groups
        ]),
        n if n == n_groups => base_values
            .iter()
            .map(|&b| prob_to_margin(transform, b).map(f64::from))
            .collect(),
        n => Err(format!("base_score has {n} values for {n_groups} outputs")),
    }
}

/// XGBoost's `ProbToMargin` for the objective, in `f32`.
fn prob_to_margin(transform: XgBoostTransform, base: f32) -> Result<f32, String> {
    if !base.is_finite() {
        return Err(format!("base_score {base} is not finite"));
    }
    Ok(match transform {
        XgBoostTransform::Sigmoid => {
            if !(base > 0.0 && base < 1.0) {
                return Err(format!(
                    "base_score {base} must be in (0, 1) for a logistic objective"
                ));
            }
            -(1.0 / base - 1.0).ln()
        }
        XgBoostTransform::Exp => {
            if base <= 0.0 {
                return Err(format!(
                    "base_score {base} must be positive for a log-link objective"
                ));
            }
            base.ln()
        }
        _ => base,
    })
}

fn tree_nodes(tree: &Value, t: usize) -> Result<Vec<RawNode>, String> {
    if let Some(p) = tree
        .get("tree_param")
        .and_then(|p| p.get("size_leaf_vector"))
        && count(p, "size_leaf_vector", 1 << 20)? > 1
    {
        return Err(format!(
            "tree {t}: vector leaves (multi-target trees) are not supported by mlx"
        ));
    }
    let lefts = array(tree, "left_children", t)?;
    let n = lefts.len();
    let field = |key: &str| -> Result<&Vec<Value>, String> {
        let a = array(tree, key, t)?;
        if a.len() != n {
            return Err(format!(
                "tree {t}: '{key}' has {} entries for {n} nodes",
                a.len()
            ));
        }
        Ok(a)
    };
    let rights = field("right_children")?;
    let features = field("split_indices")?;
    let conditions = field("split_conditions")?;
    let default_left = field("default_left")?;
    let split_type = tree.get("split_type").and_then(Value::as_array);
    let int = |v: &Value, what: &str, i: usize| -> Result<i64, String> {
        v.as_i64()
            .ok_or_else(|| format!("tree {t}, node {i}: {what} is not an integer"))
    };
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        // XGBoost keeps conditions as f32; JSON writes them in decimal, which must round back to the
        // same f32 (features equal to a threshold are common: thresholds are training values).
        let value = conditions[i]
            .as_f64()
            .map(|v| f64::from(v as f32))
            .ok_or_else(|| format!("tree {t}, node {i}: split_condition is not a number"))?;
        let left = int(&lefts[i], "left_children", i)?;
        if left == -1 {
            nodes.push(RawNode::Leaf { value });
            continue;
        }
        if split_type
            .and_then(|s| s.get(i))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            != 0
        {
            return Err(format!(
                "tree {t}, node {i}: categorical splits are not supported by mlx"
            ));
        }
        let index = |c: i64, what: &str| {
            usize::try_from(c)
                .map_err(|_| format!("tree {t}, node {i}: {what} {c} is out of range"))
        };
        nodes.push(RawNode::Split {
            feature: index(int(&features[i], "split_indices", i)?, "split_index")?,
            threshold: value,
            left: index(left, "left child")?,
            right: index(int(&rights[i], "right_children", i)?, "right child")?,
            default_left: int(&default_left[i], "default_left", i)? != 0,
            missing: Missing::Nan,
            categories: None,
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::forms::boosted::link::sigmoid_f32;
    use serde_json::json;

    /// A binary:logistic model on 2 features: one stump on f1 (< 0.5 left, NaN right).
    fn model() -> Value {
        json!({
            "learner": {
                "attributes": {"scikit_learn": "{\"_estimator_type\": \"classifier\"}"},
                "feature_names": ["a", "b"],
                "learner_model_param": {"base_score": "5E-1", "num_class": "0", "num_feature": "2", "num_target": "1"},
                "objective": {"name": "binary:logistic"},
                "gradient_booster": {"name": "gbtree", "model": {
                    "tree_info": [0],
                    "trees": [{
                        "left_children": [1, -1, -1], "right_children": [2, -1, -1],
                        "split_indices": [1, 0, 0], "split_conditions": [0.5, -0.25, 0.75],
                        "default_left": [0, 0, 0], "split_type": [0, 0, 0],
                        "tree_param": {"size_leaf_vector": "1"}
                    }]
                }}
            },
            "version": [3, 2, 0]
        })
    }

    /// What mlx predicts for one row through the model's form: the value of a one-output model (a
    /// binary classifier's P(class 1)), else the class probabilities.
    fn predict(b: &Booster, row: &[f64]) -> Vec<f64> {
        let k = b.n_outputs();
        let form = b.clone().into_form();
        if k == 1 {
            form.predict_values(row, row.len())
        } else {
            form.predict_classes(row, row.len(), k).1
        }
    }

    #[test]
    fn json_model() {
        let b = parse(model().to_string().as_bytes()).unwrap();
        assert!(b.is_classifier() && b.sklearn_classifier);
        assert_eq!(b.feature_names, ["a", "b"]);
        assert_eq!(predict(&b, &[0.0, 0.4]), [f64::from(sigmoid_f32(-0.25))]);
        // Strictly less: 0.5 goes right; NaN goes right (default_left 0).
        assert_eq!(predict(&b, &[0.0, 0.5]), [f64::from(sigmoid_f32(0.75))]);
        assert_eq!(
            predict(&b, &[0.0, f64::NAN]),
            [f64::from(sigmoid_f32(0.75))]
        );
        // A decimal threshold rounds to the f32 XGBoost holds: 0.7 as f32 is below 0.7, and a feature
        // of 0.7 (rounded the same way) is not less than it.
        let mut m = model();
        m["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"][0] = json!(0.7);
        let b = parse(m.to_string().as_bytes()).unwrap();
        assert_eq!(predict(&b, &[0.0, 0.7]), [f64::from(sigmoid_f32(0.75))]);
    }

    /// Encodes JSON as UBJSON the way XGBoost does (typed arrays for numbers).
    fn to_ubjson(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Null => out.push(b'Z'),
            Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
            Value::Number(n) if n.is_i64() => {
                out.push(b'L');
                out.extend(n.as_i64().unwrap().to_be_bytes());
            }
            Value::Number(n) => {
                out.push(b'd');
                out.extend((n.as_f64().unwrap() as f32).to_be_bytes());
            }
            Value::String(s) => {
                out.push(b'S');
                out.push(b'U');
                out.push(s.len() as u8);
                out.extend(s.as_bytes());
            }
            Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.is_f64()) => {
                out.extend(b"[$d#L");
                out.extend((a.len() as i64).to_be_bytes());
                for x in a {
                    out.extend((x.as_f64().unwrap() as f32).to_be_bytes());
                }
            }
            Value::Array(a) => {
                out.push(b'[');
                a.iter().for_each(|x| to_ubjson(x, out));
                out.push(b']');
            }
            Value::Object(m) => {
                out.extend(b"{#l");
                out.extend((m.len() as i32).to_be_bytes());
                for (k, x) in m {
                    out.push(b'U');
                    out.push(k.len() as u8);
                    out.extend(k.as_bytes());
                    to_ubjson(x, out);
                }
            }
        }
    }

    #[test]
    fn ubjson_model_reads_as_json() {
        let mut bytes = Vec::new();
        to_ubjson(&model(), &mut bytes);
        assert_eq!(ubjson::parse(&bytes).unwrap(), model());
        let b = parse(&bytes).unwrap();
        assert_eq!(predict(&b, &[0.0, 0.4]), [f64::from(sigmoid_f32(-0.25))]);
    }

    #[test]
    fn truncated_and_crafted_ubjson_are_errors() {
        let mut bytes = Vec::new();
        to_ubjson(&model(), &mut bytes);
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            let e = parse(&bytes[..cut]).unwrap_err();
            assert!(
                e.contains("UBJSON at byte") && e.contains("truncated"),
                "{e}"
            );
        }
        // A huge count must not allocate.
        let e = ubjson::parse(b"[$d#L\x7f\xff\xff\xff\xff\xff\xff\xff").unwrap_err();
        assert!(e.contains("exceeds"), "{e}");
        let e = ubjson::parse(b"[#i\xff").unwrap_err();
        assert!(e.contains("negative"), "{e}");
        let deep = vec![b'['; 10_000];
        assert!(
            ubjson::parse(&deep)
                .unwrap_err()
                .contains("nested too deeply")
        );
        assert!(
            ubjson::parse(b"{#U\x01U\x01a?")
                .unwrap_err()
                .contains("unknown type marker")
        );
    }

    #[test]
    fn bad_trees_are_errors() {
        let with = |path: &str, v: Value| {
            let mut m = model();
            *m.pointer_mut(path).unwrap() = v;
            parse(m.to_string().as_bytes()).unwrap_err()
        };
        let trees = "/learner/gradient_booster/model/trees/0";
        assert!(
            with(&format!("{trees}/right_children"), json!([9, -1, -1]))
                .contains("child index 9 out of range")
        );
        assert!(
            with(&format!("{trees}/split_indices"), json!([5, 0, 0]))
                .contains("feature index 5 out of range")
        );
        assert!(
            with(&format!("{trees}/right_children"), json!([-5, -1, -1]))
                .contains("right child -5 is out of range")
        );
        assert!(
            with(&format!("{trees}/left_children"), json!([1, -1]))
                .contains("'right_children' has 3 entries for 2 nodes")
        );
        assert!(
            with(&format!("{trees}/left_children"), json!([0, -1, -1])).contains("reached twice")
        );
        assert!(
            with("/learner/objective/name", json!("survival:cox"))
                .contains("'survival:cox' is not supported")
        );
        assert!(
            with("/learner/gradient_booster/model/tree_info", json!([3])).contains("tree_info[0]")
        );
        assert!(
            with("/learner/learner_model_param/base_score", json!("2"))
                .contains("must be in (0, 1)")
        );
        assert!(parse(b"binf").unwrap_err().contains("does not start with"));
    }
}
