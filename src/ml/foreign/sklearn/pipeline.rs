//! The transformers in front of a scikit-learn estimator: decoded from the skops object tree into
//! [`Transform`]s (scalers, `SimpleImputer`, one-hot and ordinal encoders, `ColumnTransformer`, nested
//! `Pipeline`s) and replayed on a [`Frame`] of numeric and text columns as scikit-learn transforms them.

use super::{bad, check_len};
use crate::ml::foreign::skops::{self, Node, SkopsError};
use serde_json::Value;

/// Rows in flight between steps: one entry per column, numbers (NaN = missing) or text.
#[derive(Debug, Clone)]
pub(super) enum Col {
    Num(Vec<f64>),
    Text(Vec<Option<String>>),
}

pub(super) type Frame = Vec<Col>;

pub(super) fn n_rows(frame: &Frame) -> usize {
    frame.first().map_or(0, |c| match c {
        Col::Num(v) => v.len(),
        Col::Text(v) => v.len(),
    })
}

/// A fitted transformer.
#[derive(Debug, Clone)]
pub(super) enum Transform {
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
pub(super) enum Part {
    Drop,
    Apply(Transform),
}

/// A category, a fill value or a cell, compared as scikit-learn compares them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cat {
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
pub(super) fn pipeline_parts(node: &Node) -> Result<(Vec<&Node>, &Node), SkopsError> {
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

pub(super) fn transform(node: &Node) -> Result<Transform, SkopsError> {
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
pub(super) fn one_hot_encoder(node: &Node) -> Result<Transform, SkopsError> {
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

/// Run `steps` in order. `names` are the frame's column names, for messages; a step that changes the
/// number of columns leaves them unnamed (`feature <j>`).
pub(super) fn run_steps(
    steps: &[Transform],
    frame: Frame,
    names: &[String],
) -> Result<Frame, String> {
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
pub(super) fn numeric(frame: Frame, step: &str) -> Result<Vec<Vec<f64>>, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
