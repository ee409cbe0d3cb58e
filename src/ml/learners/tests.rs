use super::*;

fn params() -> Params {
    let mut p = Params {
        seed: 42,
        ..Params::default()
    };
    p.values.insert("n_estimators", Value::Count(20));
    p.values.insert("n_neighbors", Value::Count(3));
    p.values.insert("n_jobs", Value::Count(2));
    p
}

/// Two separable blobs.
fn blobs() -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..60 {
        let c = i % 2;
        let off = if c == 1 { 4.0 } else { 0.0 };
        x.extend([off + (i % 7) as f64 * 0.1, off - (i % 5) as f64 * 0.1]);
        y.push(c as f64);
    }
    (x, y)
}

#[test]
fn every_classifier_separates_blobs() {
    let (x, y) = blobs();
    let data = TrainSet {
        x: &x,
        n_features: 2,
        y: &y,
        n_classes: 2,
        task: Task::Classification,
    };
    for name in [
        "logistic-regression",
        "random-forest",
        "decision-tree",
        "knn",
        "gaussian-nb",
    ] {
        let fitted = fit(find(name).unwrap(), &params(), &data, &|| {})
            .unwrap()
            .form;
        let p = fitted.predict_proba(&x, 2, 2);
        for r in 0..y.len() {
            assert_eq!((p[r * 2 + 1] > 0.5) as usize as f64, y[r], "{name} row {r}");
            assert!((p[r * 2] + p[r * 2 + 1] - 1.0).abs() < 1e-9);
        }
    }
}

#[test]
fn regressors_fit_a_line() {
    let x: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
    let y: Vec<f64> = x.iter().map(|v| 3.0 * v + 1.0).collect();
    let data = TrainSet {
        x: &x,
        n_features: 1,
        y: &y,
        n_classes: 0,
        task: Task::Regression,
    };
    let mut p = params();
    p.values.insert("alpha", Value::Number(1e-6));
    for (name, tolerance) in [
        ("linear-regression", 1e-2),
        ("ridge", 1e-2),
        ("lasso", 1e-2),
        ("random-forest", 0.5),
        ("decision-tree", 0.5),
        ("knn", 0.5),
    ] {
        let fitted = fit(find(name).unwrap(), &p, &data, &|| {}).unwrap().form;
        let v = fitted.predict_values(&[2.0], 1);
        assert!((v[0] - 7.0).abs() < tolerance, "{name}: {}", v[0]);
    }
}

/// Names are what model.json and the run's `model` param say; each is found again by its name, and a
/// param shared by learners has one flag and kind.
#[test]
fn names_round_trip_and_shared_params_agree() {
    for l in LEARNERS {
        let kind = ModelKind::named(l.name());
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", l.name()));
        assert_eq!(serde_json::from_str::<ModelKind>(&json).unwrap(), kind);
    }
    assert!(serde_json::from_str::<ModelKind>("\"nope\"").is_err());
    for (spec, _) in all_params() {
        for l in LEARNERS {
            for s in l.params().iter().filter(|s| s.name == spec.name) {
                assert_eq!((s.flag, s.help), (spec.flag, spec.help), "{}", s.name);
            }
        }
    }
}

#[test]
fn a_task_bound_param_is_refused_elsewhere() {
    let mut p = params();
    p.values.insert("loss", Value::Name(Some("huber")));
    let gb = find("gradient-boosting").unwrap();
    assert!(check_given(gb, Task::Regression, &p).is_ok());
    let e = check_given(gb, Task::Classification, &p).unwrap_err();
    assert_eq!(e, "--loss huber is for gradient-boosting regression");
    assert!(check_given(find("ridge").unwrap(), Task::Regression, &p).is_err());
}
