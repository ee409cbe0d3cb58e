use super::pipeline::{Transform, one_hot_encoder};
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
