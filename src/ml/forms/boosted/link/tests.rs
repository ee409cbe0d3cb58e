use super::*;

/// `link.classify` of `raw`: the probabilities and the class.
fn classify(link: Link, raw: &[f64]) -> (Vec<f64>, usize) {
    let mut proba = vec![f64::NAN; if raw.len() == 1 { 2 } else { raw.len() }];
    let class = link.classify(raw, &mut proba);
    (proba, class)
}

fn lightgbm(transform: LightGbmTransform, average_over: Option<usize>) -> Link {
    Link::LightGbm {
        transform,
        average_over,
    }
}

fn xgboost(transform: XgBoostTransform) -> Link {
    Link::XgBoost { transform }
}

fn scikit_learn(transform: ScikitLearnTransform, ties_to_positive: bool) -> Link {
    Link::ScikitLearn {
        transform,
        ties_to_positive,
    }
}

#[test]
fn the_base_goes_after_the_trees_for_mlx_and_before_them_for_the_libraries() {
    // (0.1 + 0.2) + 0.3 and (0.2 + 0.3) + 0.1 round differently.
    let trees = |raw: &mut [f64]| {
        raw[0] += 0.2;
        raw[0] += 0.3;
    };
    let mut raw = [f64::NAN];
    Link::Mlx.raw_scores(&[0.1], &mut raw, trees);
    assert_eq!(raw, [0.6]);
    for link in [
        xgboost(XgBoostTransform::Identity),
        scikit_learn(ScikitLearnTransform::Identity, true),
        lightgbm(LightGbmTransform::Identity, None),
    ] {
        assert!(link.base_first());
        link.raw_scores(&[0.1], &mut raw, trees);
        assert_eq!(raw, [0.6000000000000001], "{link:?}");
    }
    assert!(!Link::Mlx.base_first());
}

#[test]
fn mlx_regression_is_the_raw_score_and_classes_the_most_probable() {
    assert_eq!(Link::Mlx.value(&[-1.25]), -1.25);
    assert_eq!(classify(Link::Mlx, &[0.0]), (vec![0.5, 0.5], 0));
    assert_eq!(
        classify(Link::Mlx, &[2.0]),
        (vec![1.0 - sigmoid(2.0), sigmoid(2.0)], 1)
    );
    // Softmax ties when the raw scores differ by less than exp can tell: the first class wins.
    assert_eq!(classify(Link::Mlx, &[0.0, 1e-300]), (vec![0.5, 0.5], 0));
    assert_eq!(classify(Link::Mlx, &[0.0, 0.0, 0.0]).0, [1.0 / 3.0; 3]);
}

#[test]
fn lightgbm_transforms_in_double_after_the_average() {
    use LightGbmTransform::*;
    assert_eq!(lightgbm(Identity, None).value(&[0.1]), 0.1);
    assert_eq!(lightgbm(Identity, Some(4)).value(&[10.0]), 2.5);
    assert_eq!(lightgbm(SignedSquare, None).value(&[-3.0]), -9.0);
    assert_eq!(lightgbm(SignedSquare, Some(2)).value(&[3.0]), 2.25);
    assert_eq!(lightgbm(Exp, None).value(&[0.0]), 1.0);
    assert_eq!(lightgbm(Exp, None).value(&[1.0]), 1f64.exp());
    assert_eq!(lightgbm(Sigmoid(2.0), None).value(&[0.25]), sigmoid(0.5));
    // Binary: 1 - p in double; ties go to class 0.
    assert_eq!(
        classify(lightgbm(Identity, None), &[0.1]),
        (vec![0.9, 0.1], 0)
    );
    assert_eq!(
        classify(lightgbm(Sigmoid(1.0), None), &[0.0]),
        (vec![0.5, 0.5], 0)
    );
    // Averaged to [0, 2], then softmax less the max: exp(-2) and exp(0) over their sum.
    let e = (-2f64).exp();
    assert_eq!(
        classify(lightgbm(Softmax, Some(2)), &[0.0, 4.0]),
        (vec![e / (e + 1.0), 1.0 / (e + 1.0)], 1)
    );
    assert_eq!(
        classify(lightgbm(OvaSigmoid(1.0), None), &[0.0, -1.0, 0.0]),
        (vec![0.5, sigmoid(-1.0), 0.5], 0)
    );
}

#[test]
fn xgboost_transforms_in_single_precision() {
    use XgBoostTransform::*;
    assert_eq!(xgboost(Identity).value(&[0.1]), 0.1);
    assert_eq!(xgboost(Sigmoid).value(&[0.0]), 0.5);
    assert_eq!(
        xgboost(Sigmoid).value(&[1.0]),
        f64::from(1.0f32 / (1.0 + (-1.0f32).exp() + 1e-16))
    );
    // The exponent is capped: no overflow to infinity.
    assert_eq!(
        xgboost(Sigmoid).value(&[-100.0]),
        f64::from(sigmoid_f32(-88.7))
    );
    assert_eq!(xgboost(Exp).value(&[1.0]), f64::from(1f32.exp()));
    assert_ne!(xgboost(Exp).value(&[1.0]), 1f64.exp());
    assert_eq!(xgboost(Hinge).value(&[0.0]), 0.0);
    assert_eq!(xgboost(Hinge).value(&[1e-9]), 1.0);
    // Binary: 1 - p in f32.
    assert_eq!(
        classify(xgboost(Identity), &[0.1]),
        (vec![f64::from(0.9f32), 0.1], 0)
    );
    assert_eq!(classify(xgboost(Hinge), &[2.0]), (vec![0.0, 1.0], 1));
    let third = f64::from(1.0f32 / 3.0);
    assert_eq!(
        classify(xgboost(Softmax), &[0.5, 0.5, 0.5]),
        (vec![third; 3], 0)
    );
    assert_ne!(third, 1.0 / 3.0);
}

#[test]
fn scikit_learn_takes_the_class_from_the_raw_score() {
    use ScikitLearnTransform::*;
    assert_eq!(scikit_learn(Identity, false).value(&[0.1]), 0.1);
    assert_eq!(scikit_learn(Log, false).value(&[1.0]), 1f64.exp());
    // A raw score of 0: class 1 for GradientBoosting (>= 0), class 0 for HistGradientBoosting (> 0).
    assert_eq!(
        classify(scikit_learn(Logit, true), &[0.0]),
        (vec![0.5, 0.5], 1)
    );
    assert_eq!(
        classify(scikit_learn(Logit, false), &[0.0]),
        (vec![0.5, 0.5], 0)
    );
    assert_eq!(
        classify(scikit_learn(HalfLogit, true), &[0.3]),
        (vec![1.0 - sigmoid(0.6), sigmoid(0.6)], 1)
    );
    // Multi-class: the largest raw score, even where the probabilities tie (mlx would say class 0).
    assert_eq!(
        classify(scikit_learn(Multinomial, false), &[0.0, 1e-300]),
        (vec![0.5, 0.5], 1)
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Saved {
    #[serde(default, skip_serializing_if = "Link::is_default")]
    link: Link,
}

#[test]
fn mlx_arithmetic_is_the_default_and_left_out_of_a_saved_model() {
    assert_eq!(Link::default(), Link::Mlx);
    assert!(Link::Mlx.is_default());
    let saved = Saved { link: Link::Mlx };
    assert_eq!(serde_json::to_string(&saved).unwrap(), "{}");
    assert_eq!(serde_json::from_str::<Saved>("{}").unwrap(), saved);
    assert_eq!(serde_json::to_string(&Link::Mlx).unwrap(), r#""mlx""#);
}

#[test]
fn each_source_round_trips_through_json() {
    let cases = [
        (
            lightgbm(LightGbmTransform::Sigmoid(2.0), None),
            r#"{"link":{"lightgbm":{"transform":{"sigmoid":2.0}}}}"#,
        ),
        (
            lightgbm(LightGbmTransform::SignedSquare, Some(10)),
            r#"{"link":{"lightgbm":{"transform":"signed_square","average_over":10}}}"#,
        ),
        (
            xgboost(XgBoostTransform::Softmax),
            r#"{"link":{"xgboost":{"transform":"softmax"}}}"#,
        ),
        (
            scikit_learn(ScikitLearnTransform::HalfLogit, true),
            r#"{"link":{"scikit_learn":{"transform":"half_logit","ties_to_positive":true}}}"#,
        ),
    ];
    for (link, json) in cases {
        assert!(!link.is_default());
        let saved = Saved { link };
        assert_eq!(serde_json::to_string(&saved).unwrap(), json);
        assert_eq!(serde_json::from_str::<Saved>(json).unwrap(), saved);
    }
}

#[test]
fn xgboost_softmax_sums_to_one_in_order() {
    let mut v = vec![0.1, 0.2, -0.3];
    softmax_f32(&mut v);
    assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    assert!(v[1] > v[0] && v[0] > v[2]);
}
