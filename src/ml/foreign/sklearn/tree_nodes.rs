//! One of scikit-learn's fitted trees (`tree_`) read into the nodes of the checked tree type
//! (`forms::trees::ensemble`): shared by the decision trees and forests (`estimators.rs`) and gradient boosting
//! (`boosting.rs`).

use super::bad;
use crate::ml::foreign::skops::{Node, SkopsError};
use crate::ml::forms::trees::ensemble::{Missing, RawNode};

/// The nodes of one of scikit-learn's fitted trees (`tree_`) as the checked tree type reads them:
/// leaves with the prediction (`classes: None`) or the class weights (`Some(k)`, one per class).
/// Children must come after their parent (scikit-learn builds depth first) and features be in range.
pub(super) fn tree_nodes(
    est: &Node,
    nf: usize,
    classes: Option<usize>,
) -> Result<Vec<RawNode>, SkopsError> {
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
    let width = classes.unwrap_or(1);
    let (value, shape) = t.array("values")?;
    if shape.len() != 3 || shape[0] != n || shape[1] != 1 || shape[2] < width {
        return Err(bad(format!(
            "{class}.tree_.values has shape {shape:?} for {n} nodes (one output of {width} values expected)"
        )));
    }
    if n == 0 {
        return Err(bad(format!("{class}.tree_ has no nodes")));
    }
    let stride = shape[2];
    (0..n)
        .map(|i| {
            if left[i] == -1 && right[i] == -1 {
                let values = &value[i * stride..i * stride + width];
                return Ok(match classes {
                    None => RawNode::Leaf { value: values[0] },
                    Some(_) => RawNode::Leaves {
                        values: values.to_vec(),
                    },
                });
            }
            // Children after their parent also rules out cycles: every walk moves forward and ends.
            let child = |c: i64| usize::try_from(c).ok().filter(|&c| c > i && c < n);
            match (
                child(left[i]),
                child(right[i]),
                usize::try_from(feature[i]).ok().filter(|&f| f < nf),
            ) {
                (Some(left), Some(right), Some(feature)) => Ok(RawNode::Split {
                    feature,
                    threshold: threshold[i],
                    left,
                    right,
                    default_left: missing_left[i],
                    missing: Missing::Nan,
                    categories: None,
                }),
                _ => Err(bad(format!(
                    "{class}.tree_: node {i} has children {} and {} and feature {} (out of range for {n} nodes and {nf} features)",
                    left[i], right[i], feature[i]
                ))),
            }
        })
        .collect()
}
