//! LightGBM's text model format (what MLflow's `lightgbm` flavor saves for a `lgb.Booster`, and what an
//! `LGBMClassifier`/`LGBMRegressor` in a skops file carries in its booster's `_handle`), read into a
//! [`Ensemble`](crate::ml::forms::trees::ensemble::Ensemble) and predicted as LightGBM does: features as doubles, `x <= threshold` goes left,
//! the node's missing type (None/Zero/NaN) and default direction for missing values, categorical
//! bitsets, leaf values summed in double per class, then the objective's output transform
//! ([`Link::LightGbm`]: the output arithmetic lives with mlx's own boosting's, in `forms::boosted::link`).

use crate::ml::forms::Fitted;
use crate::ml::forms::boosted::link::{LightGbmTransform, Link};
use crate::ml::forms::trees::ensemble::{Combine, Ensemble, Missing, RawNode, Rules};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Booster {
    pub ensemble: Ensemble,
    pub feature_names: Vec<String>,
    /// The objective line as written (e.g. `binary sigmoid:1`).
    pub objective: String,
    /// The objective's transform, and the average over the iterations in random forest mode.
    pub link: Link,
    /// Output values per row: the number of classes for a multi-class objective, else 1.
    pub n_outputs: usize,
}

impl Booster {
    /// The model as mlx's `Boosted` form: no base score (the sum starts at 0), LightGBM's link.
    pub fn into_form(self) -> Fitted {
        let zeros = vec![0.0; self.ensemble.n_groups()];
        Fitted::boosted(self.ensemble, zeros, self.link)
    }

    /// True for objectives whose output is a class probability (binary, multiclass, multiclassova).
    pub fn is_classifier(&self) -> bool {
        matches!(
            self.link,
            Link::LightGbm {
                transform: LightGbmTransform::Softmax | LightGbmTransform::OvaSigmoid(_),
                ..
            }
        ) || self.objective.split_whitespace().next() == Some("binary")
    }
}

/// Reads a LightGBM text model. Errors say which line or tree field is wrong.
pub fn parse(text: &str) -> Result<Booster, String> {
    let mut lines = text.lines().enumerate().peekable();
    match lines.next() {
        Some((_, "tree")) => {}
        _ => return Err("not a LightGBM text model (the first line is not 'tree')".into()),
    }
    let mut header: HashMap<&str, &str> = HashMap::new();
    while let Some(&(_, line)) = lines.peek() {
        if line.starts_with("Tree=") || line == "end of trees" {
            break;
        }
        lines.next();
        match line.split_once('=') {
            Some((k, v)) => header.insert(k, v),
            None => header.insert(line, ""),
        };
    }
    let get = |key: &str| header.get(key).copied();
    let int = |key: &str| -> Result<usize, String> {
        let v = get(key).ok_or_else(|| format!("the header has no '{key}'"))?;
        v.trim()
            .parse()
            .map_err(|_| format!("header '{key}={v}' is not a count"))
    };
    let n_classes = int("num_class")?;
    let per_iteration = int("num_tree_per_iteration")?;
    let n_features = int("max_feature_idx")?
        .checked_add(1)
        .ok_or("header 'max_feature_idx' is out of range")?;
    if per_iteration == 0 || per_iteration > 10_000 || n_classes > 10_000 {
        return Err(format!(
            "num_tree_per_iteration={per_iteration}, num_class={n_classes}: out of range"
        ));
    }
    let feature_names: Vec<String> = get("feature_names")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if feature_names.len() != n_features {
        return Err(format!(
            "feature_names lists {} names but max_feature_idx says {n_features} features",
            feature_names.len()
        ));
    }
    let objective = get("objective").unwrap_or("").trim().to_string();
    let transform = transform(&objective)?;
    let n_outputs = match transform {
        LightGbmTransform::Softmax | LightGbmTransform::OvaSigmoid(_) => n_classes,
        _ => 1,
    };
    if n_outputs != per_iteration {
        return Err(format!(
            "objective '{objective}' gives {n_outputs} outputs but the model has {per_iteration} trees per iteration"
        ));
    }

    let raw_trees = read_trees(&mut lines, per_iteration)?;
    for (_, line) in lines {
        if let Some(v) = line.strip_prefix("pandas_categorical:") {
            let v = v.trim();
            if !(v == "null" || v == "[]") {
                return Err(
                    "the model was trained on pandas 'category' columns (pandas_categorical); mlx reads \
                     LightGBM models over numeric columns only — pass integer codes as numbers instead"
                        .into(),
                );
            }
        }
    }
    let n_iterations = raw_trees.len() / per_iteration;
    // Random forest mode: the trees' sum is divided by the number of iterations.
    let average_over =
        (header.contains_key("average_output") && n_iterations > 0).then_some(n_iterations);
    let rules = Rules {
        strict_less: false,
        f32_features: false,
        f32_sum: false,
        unknown_category_missing: false,
        combine: Combine::Sum,
    };
    let ensemble =
        Ensemble::new(raw_trees, n_features, per_iteration, rules).map_err(|e| e.to_string())?;
    Ok(Booster {
        ensemble,
        feature_names,
        objective,
        link: Link::LightGbm {
            transform,
            average_over,
        },
        n_outputs,
    })
}

/// The `Tree=N` blocks up to `end of trees`, each with the class it scores (`N % per_iteration`).
fn read_trees<'a>(
    lines: &mut std::iter::Peekable<impl Iterator<Item = (usize, &'a str)>>,
    per_iteration: usize,
) -> Result<Vec<(Vec<RawNode>, usize)>, String> {
    let mut raw_trees = Vec::new();
    let mut ended = false;
    while let Some((no, line)) = lines.next() {
        if line == "end of trees" {
            ended = true;
            break;
        }
        if line.is_empty() {
            continue;
        }
        let Some(id) = line.strip_prefix("Tree=") else {
            return Err(format!(
                "line {}: expected 'Tree=N', found '{}'",
                no + 1,
                brief(line)
            ));
        };
        let t = raw_trees.len();
        if id.trim() != t.to_string() {
            return Err(format!(
                "line {}: expected Tree={t}, found Tree={}",
                no + 1,
                brief(id)
            ));
        }
        let mut fields: HashMap<&str, &str> = HashMap::new();
        while let Some(&(_, l)) = lines.peek() {
            if l.is_empty() || l.starts_with("Tree=") || l == "end of trees" {
                break;
            }
            lines.next();
            if let Some((k, v)) = l.split_once('=') {
                fields.insert(k, v);
            }
        }
        let nodes = tree(&fields).map_err(|e| format!("Tree={t}: {e}"))?;
        raw_trees.push((nodes, t % per_iteration));
    }
    if !ended {
        return Err("the file ends before 'end of trees' (truncated?)".into());
    }
    if raw_trees.is_empty() {
        return Err("the model has no trees".into());
    }
    Ok(raw_trees)
}

fn brief(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The output transform of the objective line (its name and parameters).
fn transform(objective: &str) -> Result<LightGbmTransform, String> {
    let mut words = objective.split_whitespace();
    let name = words.next().unwrap_or("");
    let param = |key: &str| -> Result<Option<f64>, String> {
        objective
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("objective '{objective}': bad {key}{v}"))
            })
            .transpose()
    };
    Ok(match name {
        // No objective (a custom one at training time): LightGBM predicts raw scores.
        "" | "custom" | "none" | "lambdarank" | "rank_xendcg" => LightGbmTransform::Identity,
        "regression"
        | "regression_l2"
        | "l2"
        | "mean_squared_error"
        | "mse"
        | "rmse"
        | "regression_l1"
        | "l1"
        | "mean_absolute_error"
        | "mae"
        | "huber"
        | "fair"
        | "quantile"
        | "mape" => {
            if objective.split_whitespace().any(|w| w == "sqrt") {
                LightGbmTransform::SignedSquare
            } else {
                LightGbmTransform::Identity
            }
        }
        "poisson" | "gamma" | "tweedie" => LightGbmTransform::Exp,
        "binary" => LightGbmTransform::Sigmoid(param("sigmoid:")?.unwrap_or(1.0)),
        "cross_entropy" | "xentropy" => LightGbmTransform::Sigmoid(1.0),
        "multiclass" | "softmax" => LightGbmTransform::Softmax,
        "multiclassova" | "multiclass_ova" | "ova" | "ovr" => {
            LightGbmTransform::OvaSigmoid(param("sigmoid:")?.unwrap_or(1.0))
        }
        other => return Err(format!("objective '{other}' is not supported by mlx")),
    })
}

/// Parses a space-separated list field of a tree.
fn list<T: std::str::FromStr>(
    fields: &HashMap<&str, &str>,
    key: &str,
    len: usize,
) -> Result<Vec<T>, String> {
    let text = fields.get(key).ok_or_else(|| format!("no '{key}'"))?;
    let values = text
        .split_whitespace()
        .map(|w| {
            w.parse::<T>()
                .map_err(|_| format!("{key}: '{}' is not a number", brief(w)))
        })
        .collect::<Result<Vec<T>, String>>()?;
    if values.len() != len {
        return Err(format!("{key} has {} values, expected {len}", values.len()));
    }
    Ok(values)
}

/// One tree's nodes: internal nodes first (LightGBM's node numbers), then leaves.
fn tree(fields: &HashMap<&str, &str>) -> Result<Vec<RawNode>, String> {
    let n_leaves: usize = fields
        .get("num_leaves")
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no valid 'num_leaves'")?;
    if n_leaves == 0 || n_leaves > 1 << 24 {
        return Err(format!("num_leaves={n_leaves} is out of range"));
    }
    if fields.get("is_linear").is_some_and(|v| v.trim() == "1") {
        return Err("linear trees (linear_tree=true) are not supported by mlx".into());
    }
    let leaf_values: Vec<f64> = list(fields, "leaf_value", n_leaves)?;
    let n_internal = n_leaves - 1;
    let mut nodes = Vec::with_capacity(n_internal + n_leaves);
    if n_internal > 0 {
        let features: Vec<usize> = list(fields, "split_feature", n_internal)?;
        let thresholds: Vec<f64> = list(fields, "threshold", n_internal)?;
        let decision: Vec<i8> = list(fields, "decision_type", n_internal)?;
        let lefts: Vec<i64> = list(fields, "left_child", n_internal)?;
        let rights: Vec<i64> = list(fields, "right_child", n_internal)?;
        let n_cat: usize = fields
            .get("num_cat")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let (bounds, cat_words): (Vec<usize>, Vec<u32>) = if n_cat > 0 {
            if n_cat > n_internal {
                return Err(format!("num_cat={n_cat} exceeds the {n_internal} splits"));
            }
            let bounds: Vec<usize> = list(fields, "cat_boundaries", n_cat + 1)?;
            let n_words = *bounds.last().unwrap_or(&0);
            let words = list(fields, "cat_threshold", n_words)?;
            if bounds.windows(2).any(|w| w[0] > w[1]) || bounds[0] != 0 {
                return Err("cat_boundaries are not increasing from 0".into());
            }
            (bounds, words)
        } else {
            (Vec::new(), Vec::new())
        };
        let child = |c: i64, i: usize, side: &str| -> Result<usize, String> {
            let to = if c >= 0 {
                usize::try_from(c).ok().filter(|&c| c < n_internal)
            } else {
                usize::try_from(-(c + 1))
                    .ok()
                    .filter(|&l| l < n_leaves)
                    .map(|l| n_internal + l)
            };
            to.ok_or_else(|| format!("node {i}: {side}_child {c} is out of range ({n_internal} splits, {n_leaves} leaves)"))
        };
        for i in 0..n_internal {
            let dt = decision[i];
            let missing = match (dt >> 2) & 3 {
                0 => Missing::AsZero,
                1 => Missing::Zero,
                2 => Missing::Nan,
                _ => {
                    return Err(format!(
                        "node {i}: decision_type {dt} has an unknown missing type"
                    ));
                }
            };
            let categories = if dt & 1 == 1 {
                // The threshold is an index into cat_boundaries: checked as a float before any cast
                // (1e30 or NaN must not saturate into an index).
                let t = thresholds[i];
                if !(t >= 0.0 && t.fract() == 0.0 && t + 1.0 < bounds.len() as f64) {
                    return Err(format!(
                        "node {i}: categorical threshold {t} is not a valid cat_boundaries index"
                    ));
                }
                let idx = t as usize;
                Some(cat_words[bounds[idx]..bounds[idx + 1]].to_vec())
            } else {
                None
            };
            nodes.push(RawNode::Split {
                feature: features[i],
                threshold: thresholds[i],
                left: child(lefts[i], i, "left")?,
                right: child(rights[i], i, "right")?,
                // A categorical split sends NaN right whatever its default (LightGBM's rule).
                default_left: dt & 2 == 2 && categories.is_none(),
                missing,
                categories,
            });
        }
    }
    nodes.extend(leaf_values.into_iter().map(|value| RawNode::Leaf { value }));
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(objective: &str, classes: usize, trees: &[&str]) -> String {
        let mut s = format!(
            "tree\nversion=v4\nnum_class={classes}\nnum_tree_per_iteration={}\nlabel_index=0\nmax_feature_idx=1\n\
             objective={objective}\nfeature_names=a b\n\n",
            if objective.starts_with("multiclass") {
                classes
            } else {
                1
            }
        );
        for (i, t) in trees.iter().enumerate() {
            s.push_str(&format!("Tree={i}\n{t}\nis_linear=0\nshrinkage=1\n\n\n"));
        }
        s.push_str("end of trees\n\nfeature_importances:\na=1\n\nparameters:\nend of parameters\n\npandas_categorical:null\n");
        s
    }

    // Split on a (<= 0.5) with NaN going left, then on b (<= 1.5).
    const T: &str = "num_leaves=3\nnum_cat=0\nsplit_feature=0 1\nsplit_gain=1 1\nthreshold=0.5 1.5\n\
                     decision_type=10 2\nleft_child=-1 -2\nright_child=1 -3\nleaf_value=0.25 -1 2";

    /// What mlx predicts for one row through the model's form: the value of a one-output model (a
    /// binary classifier's P(class 1)), else the class probabilities.
    fn predict(b: &Booster, row: &[f64]) -> Vec<f64> {
        let k = b.n_outputs;
        let form = b.clone().into_form();
        if k == 1 {
            form.predict_values(row, row.len())
        } else {
            form.predict_classes(row, row.len(), k).1
        }
    }

    #[test]
    fn regression_and_missing() {
        let b = parse(&model(
            "regression",
            1,
            &[T, "num_leaves=1\nnum_cat=0\nleaf_value=0.5"],
        ))
        .unwrap();
        assert_eq!(b.feature_names, ["a", "b"]);
        assert!(!b.is_classifier());
        assert_eq!(predict(&b, &[0.5, 9.0]), [0.75]);
        assert_eq!(predict(&b, &[0.6, 1.5]), [-0.5]);
        assert_eq!(predict(&b, &[0.6, 1.6]), [2.5]);
        // decision_type 10: NaN missing type, default left.
        assert_eq!(predict(&b, &[f64::NAN, 9.0]), [0.75]);
        // decision_type 2 on b: missing type None, so NaN is 0.0 <= 1.5.
        assert_eq!(predict(&b, &[1.0, f64::NAN]), [-0.5]);
    }

    #[test]
    fn binary_and_multiclass_links() {
        let b = parse(&model("binary sigmoid:2", 1, &[T])).unwrap();
        assert!(b.is_classifier());
        assert_eq!(predict(&b, &[0.0, 0.0]), [1.0 / (1.0 + (-0.5f64).exp())]);
        let m = parse(&model("multiclass num_class:2", 2, &[T, T, T, T])).unwrap();
        assert_eq!(m.n_outputs, 2);
        assert_eq!(predict(&m, &[0.0, 0.0]), [0.5, 0.5]);
    }

    #[test]
    fn categorical_split() {
        let t = "num_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\nleft_child=-1\n\
                 right_child=-2\nleaf_value=1 2\ncat_boundaries=0 1\ncat_threshold=6";
        let b = parse(&model("regression", 1, &[t])).unwrap();
        assert_eq!(predict(&b, &[1.0, 0.0]), [1.0]);
        assert_eq!(predict(&b, &[2.0, 0.0]), [1.0]);
        assert_eq!(predict(&b, &[3.0, 0.0]), [2.0]);
        assert_eq!(predict(&b, &[f64::NAN, 0.0]), [2.0]);
    }

    #[test]
    fn the_largest_max_feature_idx_is_an_error_not_an_overflow() {
        let text = model("regression", 1, &[T]).replace(
            "max_feature_idx=1",
            &format!("max_feature_idx={}", usize::MAX),
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            "header 'max_feature_idx' is out of range"
        );
    }

    #[test]
    fn categorical_thresholds_outside_cat_boundaries_are_errors() {
        let t = "num_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\nleft_child=-1\n\
                 right_child=-2\nleaf_value=1 2\ncat_boundaries=0 1\ncat_threshold=6";
        for bad in [
            "1e30",
            "1",
            "-1",
            "0.5",
            "nan",
            "inf",
            "18446744073709551615",
        ] {
            let e = parse(&model(
                "regression",
                1,
                &[&t.replace("threshold=0\n", &format!("threshold={bad}\n"))],
            ))
            .unwrap_err();
            assert!(
                e.contains("node 0: categorical threshold")
                    && e.contains("is not a valid cat_boundaries index"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn bad_files_are_errors() {
        let err = |text: String| parse(&text).unwrap_err();
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("right_child=1 -3", "right_child=1 -9")]
            ))
            .contains("Tree=0: node 1: right_child -9 is out of range")
        );
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("right_child=1 -3", "right_child=5 -3")]
            ))
            .contains("right_child 5 is out of range")
        );
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("split_feature=0 1", "split_feature=0 7")]
            ))
            .contains("feature index 7 out of range")
        );
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("left_child=-1 -2", "left_child=1 -2")]
            ))
            .contains("reached twice")
        );
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("threshold=0.5 1.5", "threshold=0.5")]
            ))
            .contains("threshold has 1 values, expected 2")
        );
        assert!(
            err(model(
                "regression",
                1,
                &[&T.replace("leaf_value=0.25 -1 2", "leaf_value=0.25 x 2")]
            ))
            .contains("'x' is not a number")
        );
        assert!(
            err(model("lambdamart_v9", 1, &[T]))
                .contains("objective 'lambdamart_v9' is not supported")
        );
        let text = model("regression", 1, &[T]);
        let cut = text.split("end of trees").next().unwrap().to_string();
        assert!(err(cut).contains("truncated"));
        assert!(
            err(text.replace("pandas_categorical:null", "pandas_categorical:[[\"a\"]]"))
                .contains("pandas")
        );
        assert!(err("{}".into()).contains("not a LightGBM text model"));
    }
}
