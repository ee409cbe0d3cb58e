//! The forms' options: never written when they are mlx's, and each one changing the arithmetic it names.

use super::*;

#[test]
fn mlx_forms_are_written_without_options() {
    let forms = [
        Fitted::linear(vec![vec![1.0]], vec![0.5]),
        Fitted::knn(1, vec![0.0], vec![1.0]),
        Fitted::gaussian_nb(vec![vec![0.0]], vec![vec![1.0]], vec![1.0]),
    ];
    let json: Vec<String> = forms
        .iter()
        .map(|f| serde_json::to_string(f).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            r#"{"kind":"linear","coef":[[1.0]],"intercept":[0.5]}"#,
            r#"{"kind":"knn","k":1,"x":[0.0],"y":[1.0]}"#,
            r#"{"kind":"gaussian_nb","means":[[0.0]],"vars":[[1.0]],"priors":[1.0]}"#,
        ]
    );
}

#[test]
fn options_are_written_and_read_back() {
    let form = Fitted::Knn {
        k: 1,
        x: vec![0.0],
        y: vec![1.0],
        order: Order::Nearest,
        weights: Weights::Distance,
    };
    let json = serde_json::to_string(&form).unwrap();
    assert!(
        json.ends_with(r#""order":"nearest","weights":"distance"}"#),
        "{json}"
    );
    let back: Fitted = serde_json::from_str(&json).unwrap();
    assert!(matches!(
        back,
        Fitted::Knn {
            order: Order::Nearest,
            weights: Weights::Distance,
            ..
        }
    ));
}

#[test]
fn the_decision_rule_labels_a_tiny_positive_score_class_one() {
    // sigmoid(1e-17) rounds to 0.5: equal probabilities, so the most probable class is the first.
    let form = |label| Fitted::Linear {
        coef: vec![vec![1.0]],
        intercept: vec![0.0],
        label,
        multi: Multi::Softmax,
    };
    let (labels, proba) = form(LabelRule::Probability).predict_classes(&[1e-17], 1, 2);
    assert_eq!((labels, proba), (vec![0], vec![0.5, 0.5]));
    let (labels, _) = form(LabelRule::Decision).predict_classes(&[1e-17], 1, 2);
    assert_eq!(labels, vec![1]);
}

#[test]
fn one_vs_rest_normalises_each_class_logistic_function() {
    let form = Fitted::Linear {
        coef: vec![vec![0.0]; 3],
        intercept: vec![0.0, 0.0, 2.0],
        label: LabelRule::Probability,
        multi: Multi::OneVsRest,
    };
    let p = form.predict_proba(&[1.0], 1, 3);
    let s = 0.5 + 0.5 + sigmoid_of_two();
    assert_eq!(p, vec![0.5 / s, 0.5 / s, sigmoid_of_two() / s]);
}

fn sigmoid_of_two() -> f64 {
    1.0 / (1.0 + (-2.0f64).exp())
}

#[test]
fn knn_shares_and_uniform_votes_differ_in_the_last_bit() {
    // Ten training rows, three of class 1; the query takes all ten: 0.1 + 0.1 + 0.1 is not 3/10.
    let form = |weights| Fitted::Knn {
        k: 10,
        x: (0..10).map(f64::from).collect(),
        y: (0..10).map(|i| f64::from(u8::from(i < 3))).collect(),
        order: Order::Heap,
        weights,
    };
    let shares = form(Weights::Share).predict_proba(&[0.0], 1, 2);
    let uniform = form(Weights::Uniform).predict_proba(&[0.0], 1, 2);
    assert_eq!(shares[1], 0.1 + 0.1 + 0.1);
    assert_eq!(uniform[1], 3.0 / 10.0);
    assert_ne!(shares[1], uniform[1]);
}

#[test]
fn knn_distance_weights_count_inverse_distances_or_only_exact_matches() {
    // Training rows at 0, 1 and 3 with classes 0, 1, 1; the query at 0.5 takes all three.
    let form = Fitted::Knn {
        k: 3,
        x: vec![0.0, 1.0, 3.0],
        y: vec![0.0, 1.0, 1.0],
        order: Order::Nearest,
        weights: Weights::Distance,
    };
    let (w0, w1, w3) = (1.0 / 0.5, 1.0 / 0.5, 1.0 / 2.5);
    let total = w0 + (w1 + w3);
    assert_eq!(
        form.predict_proba(&[0.5], 1, 2),
        vec![w0 / total, (w1 + w3) / total]
    );
    // At a training row, only that row counts.
    assert_eq!(form.predict_values(&[3.0], 1), vec![1.0]);
}

#[test]
fn naive_bayes_arithmetic_agrees_on_probabilities_to_rounding() {
    let form = |arithmetic| Fitted::GaussianNb {
        means: vec![vec![0.0, 1.0], vec![2.0, -1.0]],
        vars: vec![vec![1.0, 0.5], vec![2.0, 0.25]],
        priors: vec![0.3, 0.7],
        arithmetic,
    };
    let x = [0.7, 0.1];
    let (mlx_labels, mlx) = form(Arithmetic::Mlx).predict_classes(&x, 2, 2);
    let (sk_labels, sk) = form(Arithmetic::ScikitLearn).predict_classes(&x, 2, 2);
    assert_eq!(mlx_labels, sk_labels);
    for (a, b) in mlx.iter().zip(&sk) {
        assert!((a - b).abs() < 1e-12, "{mlx:?} vs {sk:?}");
    }
}

/// A forest of `n` stumps over two features, thresholds and leaves spread out, as mlx grows them.
fn stumps(n: usize, shares: bool) -> Ensemble {
    use trees::grown::TreeBuilder;
    let trees = (0..n).map(|t| {
        let mut tree = TreeBuilder::default();
        let root = tree.split(t % 2, (t as f32 * 0.37 - 5.0) as f64, t % 3 == 0);
        let value = |v: f32| f64::from(v * 0.1 + t as f32 * 0.01);
        if shares {
            tree.leaves([value(1.0), value(2.0)]);
            tree.right_child_here(root);
            tree.leaves([value(3.0), value(0.5)]);
        } else {
            tree.leaf(value(1.0));
            tree.right_child_here(root);
            tree.leaf(value(-2.0));
        }
        (tree, 0)
    });
    let rules = trees::ensemble::Rules::MLX_MEAN;
    Ensemble::grown(trees.collect(), 2, if shares { 2 } else { 1 }, rules).unwrap()
}

/// Whether a tree form has laid its trees out flat.
fn laid_out(form: &Fitted) -> bool {
    match form {
        Fitted::Trees { flat, .. } | Fitted::Boosted { flat, .. } => flat.flat().is_some(),
        _ => false,
    }
}

#[test]
fn a_few_rows_walk_the_trees_many_lay_them_out_and_both_give_the_same_bits() {
    let rows: Vec<f64> = (0..2 * trees::FLAT_MIN_ROWS)
        .map(|i| {
            if i % 17 == 0 {
                f64::NAN
            } else {
                i as f64 * 0.05 - 6.0
            }
        })
        .collect();
    let few = &rows[..2 * (trees::FLAT_MIN_ROWS / 2)];
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // More nodes than are laid out eagerly.
    let n = trees::FLAT_EAGER_NODES / 3 + 1;
    for shares in [false, true] {
        let predict = |form: &Fitted, x: &[f64]| match shares {
            true => form.predict_proba(x, 2, 2),
            false => form.predict_values(x, 2),
        };
        // Row by row, fewer rows than the layout needs: the trees are walked as they are.
        let form = Fitted::forest(stumps(n, shares));
        let one_by_one: Vec<f64> = few.chunks(2).flat_map(|row| predict(&form, row)).collect();
        assert!(!laid_out(&form), "a few rows walk the trees");
        // One big call lays them out.
        let all = predict(&form, &rows);
        assert!(laid_out(&form), "a big call lays them out");
        assert_eq!(bits(&one_by_one), bits(&all[..one_by_one.len()]));
        // Single rows add up (a server's requests): the layout comes once they have paid for it.
        let served = Fitted::forest(stumps(n, shares));
        let mut got = Vec::new();
        for row in rows.chunks(2) {
            got.extend(predict(&served, row));
        }
        assert!(
            laid_out(&served),
            "{} single rows lay them out",
            rows.len() / 2
        );
        assert_eq!(bits(&got), bits(&all));
    }
    // A small ensemble is laid out by its first call.
    let form = Fitted::forest(stumps(40, false));
    form.predict_values(&rows[..2], 2);
    assert!(laid_out(&form));
}
