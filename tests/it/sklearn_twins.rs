//! kNN, Gaussian naive Bayes and the split against the real scikit-learn (the test venv's), row by row:
//! the README says they give scikit-learn's answers to the digit.

use crate::common::TestStore;
use crate::train::titanic;
use serde_json::Value;

fn sklearn(features: &str, dir: &std::path::Path) -> Value {
    let titanic = titanic();
    crate::common::interop_json(
        "sklearn_twins.py",
        &[titanic.as_os_str(), features.as_ref(), dir.as_os_str()],
    )
}

/// Trains `model` on `features` and checks accuracy, the test-set size and every test row's probabilities.
fn check_twin(features: &str, model: &str, expect_rows: u64, expect_test: u64) {
    let s = TestStore::new();
    let sk = sklearn(features, s.dir.path());
    assert_eq!(sk["n_rows"], expect_rows);
    assert_eq!(sk["n_test"], expect_test, "scikit-learn's own split size");
    let data = titanic();
    let trained = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Survived",
        "--features",
        features,
        "--map",
        "Sex=male:0,female:1",
        "--model",
        model,
    ]);
    let run = trained["run_id"].as_str().unwrap();
    let twin = &sk["models"][model];
    assert_eq!(
        trained["metrics"]["accuracy"], twin["accuracy"],
        "{model} on {features}"
    );
    let evaluation = find_file(&s.root(), "evaluation.json").expect("reports/evaluation.json");
    let evaluation: Value = serde_json::from_slice(&std::fs::read(evaluation).unwrap()).unwrap();
    assert_eq!(evaluation["n_test"], expect_test, "mlx's split size");
    assert_eq!(evaluation["n_train"], expect_rows - expect_test);
    let test_rows = s.dir.path().join("test_rows.csv");
    let preds = s.ok(&[
        "predict",
        "--model",
        &format!("runs:/{run}/model"),
        "--data",
        test_rows.to_str().unwrap(),
        "--with-proba",
        "-o",
        "csv",
    ]);
    let mut lines = preds.lines();
    assert_eq!(lines.next(), Some("prediction,proba_0,proba_1"));
    let proba = twin["proba"].as_array().unwrap();
    let mut n = 0;
    for (i, (line, p)) in lines.zip(proba).enumerate() {
        let cols: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        for c in 0..2 {
            let want = p[c].as_f64().unwrap();
            assert!(
                (cols[c] - want).abs() <= 1e-9,
                "{model} on {features}, test row {i}: P(class {c}) = {} vs scikit-learn's {want}",
                cols[c]
            );
        }
        n += 1;
    }
    assert_eq!(n as u64, expect_test, "one prediction per test row");
}

#[test]
fn knn_matches_scikit_learn_brute_force_row_by_row() {
    check_twin("Pclass,Sex,Age,Fare", "knn", 714, 143);
}

#[test]
fn knn_resolves_equal_distances_as_scikit_learn() {
    // Four small-integer features over 891 rows: most test rows have many training rows at the same
    // distance as their 5th neighbour, so which tied rows are kept decides the probabilities. 891 rows
    // also pins the split: ceil(0.2 * 891) = 179 test rows (round would give 178).
    check_twin("Pclass,Sex,SibSp,Parch", "knn", 891, 179);
}

#[test]
fn gaussian_nb_matches_scikit_learn_row_by_row() {
    check_twin("Pclass,Sex,Age,Fare", "gaussian-nb", 714, 143);
    check_twin("Pclass,Sex,SibSp,Parch", "gaussian-nb", 891, 179);
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
