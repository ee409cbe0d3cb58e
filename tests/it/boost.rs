//! `mlx train --model gradient-boosting`: learning curves as metric histories the real MLflow client reads,
//! early stopping's best iteration, missing values kept and routed, and the same model bytes whatever
//! the thread count; and `mlx train --cv K` (any estimator) against a fold split checked by hand.

use crate::common::{TestStore, mlflow_dump};
use crate::train::titanic;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// A small deterministic generator of numbers in [0, 1).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A deterministic binary problem with some missing values, big enough for the threads to share the work.
fn synthetic(dir: &Path, rows: usize) -> PathBuf {
    let mut next = uniform(99);
    let mut out = String::from("a,b,c,label\n");
    for i in 0..rows {
        let (a, b, c) = (next(), next(), next());
        let label = u8::from(a + 0.5 * b - 0.3 * c + 0.4 * (next() - 0.5) > 0.6);
        let b = if i % 13 == 0 {
            String::new()
        } else {
            format!("{b:.4}")
        };
        out.push_str(&format!("{a:.4},{b},{c:.4},{label}\n"));
    }
    let path = dir.join("synthetic.csv");
    fs::write(&path, out).unwrap();
    path
}

/// The bytes of the trees of the model a train command logged.
fn trees_of(s: &TestStore, trained: &Value) -> Vec<u8> {
    let model_id = trained["model_id"].as_str().unwrap();
    let file = s
        .files()
        .into_iter()
        .find(|f| f.contains(model_id) && f.ends_with("trees.bin"))
        .expect("the model's trees.bin");
    fs::read(s.root().join(file)).unwrap()
}

#[test]
fn learning_curves_are_metric_histories_mlflow_reads_and_early_stopping_keeps_the_best() {
    let s = TestStore::new();
    let t = titanic();
    let trained = s.json(&[
        "train",
        "--data",
        t.to_str().unwrap(),
        "--target",
        "Survived",
        "--features",
        "Pclass,Sex,Age,Fare,SibSp",
        "--model",
        "gradient-boosting",
        "--learning-rate",
        "0.3",
        "--n-estimators",
        "500",
        "--early-stopping",
        "5",
        "-o",
        "json",
    ]);
    let run_id = trained["run_id"].as_str().unwrap();
    let dump = mlflow_dump(&s.root());
    let run = &dump["runs"][run_id];
    assert!(run.is_object(), "MLflow sees the run: {dump}");
    let history = |key: &str| -> Vec<(f64, i64)> {
        run["history"][key]
            .as_array()
            .unwrap_or_else(|| panic!("no history of {key}: {run}"))
            .iter()
            .map(|p| (p[1].as_f64().unwrap(), p[2].as_i64().unwrap()))
            .collect()
    };
    let train_loss = history("train_loss");
    let valid_loss = history("validation_loss");
    let valid_acc = history("validation_accuracy");
    let n = valid_loss.len();
    assert!(n < 500, "early stopping stopped ({n} iterations)");
    assert_eq!(train_loss.len(), n);
    assert_eq!(valid_acc.len(), n);
    let steps: Vec<i64> = valid_loss.iter().map(|p| p.1).collect();
    assert_eq!(steps, (1..=n as i64).collect::<Vec<_>>());
    // The best iteration is the lowest validation loss, five iterations before the end.
    let best = run["metrics"]["best_iteration"].as_f64().unwrap() as usize;
    assert_eq!(best + 5, n);
    let min = valid_loss.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    assert_eq!(valid_loss[best - 1].0, min);
    assert!(train_loss[n - 1].0 < train_loss[0].0);
    assert!(valid_acc.iter().all(|p| (0.0..=1.0).contains(&p.0)));
    assert_eq!(run["params"]["early_stopping"], "5");
    assert_eq!(run["params"]["na"], "keep");
    // The model keeps the best iteration's trees: one per iteration.
    let trees = trees_of(&s, &trained);
    assert_eq!(
        u32::from_le_bytes(trees[4..8].try_into().unwrap()) as usize,
        best
    );
}

#[test]
fn the_same_model_bytes_with_one_thread_or_two_and_missing_values_predicted() {
    let s = TestStore::new();
    let data = synthetic(s.dir.path(), 6000);
    let train = |jobs: &str| {
        s.json(&[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "label",
            "--model",
            "gradient-boosting",
            "--n-estimators",
            "25",
            "--subsample",
            "0.8",
            "--colsample",
            "0.7",
            "--jobs",
            jobs,
            "-o",
            "json",
        ])
    };
    let one = train("1");
    let two = train("2");
    assert_eq!(trees_of(&s, &one), trees_of(&s, &two));
    assert!(one["metrics"]["accuracy"].as_f64().unwrap() > 0.8);
    // Missing values at predict time go where training sent them: no error, and a row with b missing is
    // scored like the training rows with b missing.
    let rows = s.dir.path().join("rows.csv");
    fs::write(&rows, "a,b,c\n0.9,,0.1\n0.1,,0.9\n0.9,0.5,0.1\n").unwrap();
    let uri = format!("runs:/{}/model", one["run_id"].as_str().unwrap());
    let out = s.json(&[
        "predict",
        "--model",
        &uri,
        "--data",
        rows.to_str().unwrap(),
        "--with-proba",
        "-o",
        "json",
    ]);
    let p = out["predictions"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0]["prediction"], 1);
    assert_eq!(p[1]["prediction"], 0);
    // Other estimators need every value.
    let err = s.fails(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "label",
        "--model",
        "random-forest",
        "--na",
        "keep",
    ]);
    assert!(
        err.contains("--na keep is for --model gradient-boosting"),
        "{err}"
    );
}

/// The values of a metric's history in the run's metric file, by step.
fn metric_steps(s: &TestStore, run_id: &str, key: &str) -> Vec<(i64, f64)> {
    let file = s
        .files()
        .into_iter()
        .find(|f| f.contains(run_id) && f.ends_with(&format!("metrics/{key}")))
        .unwrap_or_else(|| panic!("no metric {key}"));
    let mut points: Vec<(i64, f64)> = fs::read_to_string(s.root().join(file))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[2].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect();
    points.sort_by_key(|p| p.0);
    points
}

#[test]
fn cross_validation_logs_fold_values_means_and_stds_of_a_hand_checked_split() {
    let s = TestStore::new();
    // x = 0..19, label = blocks of four: 0 0 0 0 1 1 1 1 0 0 0 0 1 1 1 1 0 0 0 0.
    let label = |x: usize| (x / 4) % 2;
    let mut csv = String::from("x,label\n");
    for x in 0..20 {
        csv.push_str(&format!("{x},{}\n", label(x)));
    }
    let data = s.dir.path().join("blocks.csv");
    fs::write(&data, csv).unwrap();
    let trained = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "label",
        "--features",
        "x",
        "--model",
        "knn",
        "--k",
        "1",
        "--test-size",
        "0",
        "--cv",
        "5",
        "--seed",
        "42",
        "-o",
        "json",
    ]);
    // The folds by hand: numpy's RandomState(42).permutation(20) is 0 17 15 1 8 5 11 3 18 16 13 2 9 19 4
    // 12 7 10 14 6; class 0's rows in that order (0 17 1 8 11 3 18 16 2 9 19 10) are dealt to folds
    // 0 1 2 3 4 0 1 2 3 4 0 1, then class 1's (15 5 13 4 12 7 14 6) to 2 3 4 0 1 2 3 4.
    let folds = [0, 2, 3, 0, 0, 3, 4, 2, 3, 4, 1, 4, 1, 4, 3, 2, 2, 1, 1, 0];
    // 1-nearest neighbour on the other folds' rows (of equally near rows, the first, i.e. the smaller x).
    let mut expected = Vec::new();
    for fold in 0..5 {
        let held: Vec<usize> = (0..20).filter(|&x| folds[x] == fold).collect();
        let right = held
            .iter()
            .filter(|&&x| {
                let nearest = (0..20)
                    .filter(|&t| folds[t] != fold)
                    .min_by_key(|&t| (t as i64 - x as i64).abs())
                    .unwrap();
                label(nearest) == label(x)
            })
            .count();
        expected.push(right as f64 / held.len() as f64);
    }
    let run_id = trained["run_id"].as_str().unwrap();
    let got = metric_steps(&s, run_id, "cv_accuracy");
    assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    for (g, e) in got.iter().zip(&expected) {
        assert!((g.1 - e).abs() < 1e-12, "{got:?} vs {expected:?}");
    }
    let mean = expected.iter().sum::<f64>() / 5.0;
    let std = (expected.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
    let mean_got = metric_steps(&s, run_id, "cv_accuracy_mean")[0].1;
    let std_got = metric_steps(&s, run_id, "cv_accuracy_std")[0].1;
    assert!((mean_got - mean).abs() < 1e-12, "{mean_got} vs {mean}");
    assert!((std_got - std).abs() < 1e-12, "{std_got} vs {std}");
    assert!(std > 0.0, "the folds differ: {expected:?}");
    // Every metric gets its mean and std; the final model is still fitted on every row.
    metric_steps(&s, run_id, "cv_f1_mean");
    assert_eq!(trained["metrics"]["training_accuracy"], 1.0);
    let err = s.fails(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "label",
        "--features",
        "x",
        "--cv",
        "1",
    ]);
    assert!(err.contains("--cv 1: need at least 2 folds"), "{err}");
}

/// A recorded param's value, read from the run's folder.
fn param(s: &TestStore, run_id: &str, key: &str) -> Option<String> {
    let suffix = format!("{run_id}/params/{key}");
    let file = s.files().into_iter().find(|f| f.ends_with(&suffix))?;
    Some(fs::read_to_string(s.root().join(file)).unwrap())
}

/// 2,000 rows of y = 3a + b plus a little noise, and one row in ten (in the test part too) 50 higher.
fn outliers_csv(dir: &Path) -> PathBuf {
    let mut next = uniform(7);
    let mut csv = String::from("a,b,y\n");
    for i in 0..2000 {
        let (a, b) = (next(), next());
        let y = 3.0 * a + b + 0.1 * (next() - 0.5) + if i % 10 == 3 { 50.0 } else { 0.0 };
        csv.push_str(&format!("{a:.5},{b:.5},{y:.5}\n"));
    }
    let data = dir.join("outliers.csv");
    fs::write(&data, csv).unwrap();
    data
}

#[test]
fn absolute_error_and_huber_losses_resist_outliers_and_are_recorded() {
    let s = TestStore::new();
    let data = outliers_csv(s.dir.path());
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "y",
            "--task",
            "regression",
            "--model",
            "gradient-boosting",
            "--n-estimators",
            "60",
            "--seed",
            "42",
        ];
        args.extend(extra);
        s.json(&args)
    };
    let mae = |v: &Value| v["metrics"]["mae"].as_f64().unwrap();
    let squared = train(&[]);
    let absolute = train(&["--loss", "absolute_error"]);
    let huber = train(&["--loss", "huber", "--huber-delta", "1.5"]);
    // Squared error's leaves chase the outliers' mean (about +5 a row); the median ignores them.
    assert!(
        mae(&absolute) < 0.7 * mae(&squared),
        "absolute {} vs squared {}",
        mae(&absolute),
        mae(&squared)
    );
    assert!(
        mae(&huber) < mae(&squared),
        "huber {} vs squared {}",
        mae(&huber),
        mae(&squared)
    );
    let id = |v: &Value| v["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        param(&s, &id(&squared), "loss").as_deref(),
        Some("squared_error")
    );
    assert_eq!(
        param(&s, &id(&absolute), "loss").as_deref(),
        Some("absolute_error")
    );
    assert_eq!(param(&s, &id(&absolute), "huber_delta"), None);
    assert_eq!(param(&s, &id(&huber), "loss").as_deref(), Some("huber"));
    assert_eq!(
        param(&s, &id(&huber), "huber_delta").as_deref(),
        Some("1.5")
    );
    // The model predicts through `mlx predict` like any regression model.
    let rows = s.dir.path().join("rows.csv");
    fs::write(&rows, "a,b\n0.5,0.5\n").unwrap();
    let uri = format!("runs:/{}/model", id(&absolute));
    let out = s.json(&["predict", "--model", &uri, "--data", rows.to_str().unwrap()]);
    let p = out["predictions"][0].as_f64().unwrap();
    assert!((p - 2.0).abs() < 0.5, "3·0.5 + 0.5 = 2, predicted {p}");
    // Bad values: a clear error, exit 2.
    let fails = |extra: &[&str]| {
        let mut args = vec!["train", "--data", data.to_str().unwrap(), "--target", "y"];
        args.extend(["--task", "regression"]);
        args.extend(extra);
        s.fails(&args)
    };
    let err = fails(&[
        "--model",
        "gradient-boosting",
        "--loss",
        "huber",
        "--huber-delta",
        "0",
    ]);
    assert!(
        err.contains("--huber-delta must be above 0, not 0"),
        "{err}"
    );
    let err = fails(&["--model", "ridge", "--loss", "absolute_error"]);
    assert!(
        err.contains("--loss absolute_error is for gradient-boosting regression"),
        "{err}"
    );
    let out = s
        .mlx()
        .args(["train", "--data", data.to_str().unwrap(), "--target", "y"])
        .args(["--model", "gradient-boosting", "--loss", "quantile"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quantile"));
}

#[test]
fn absolute_errors_learning_curve_is_the_mae_predict_gives_and_classification_takes_no_loss() {
    let s = TestStore::new();
    let data = outliers_csv(s.dir.path());
    let data = data.to_str().unwrap();
    let trained = s.json(&[
        "train",
        "--data",
        data,
        "--target",
        "y",
        "--task",
        "regression",
        "--model",
        "gradient-boosting",
        "--loss",
        "absolute_error",
        "--n-estimators",
        "30",
        "--test-size",
        "0",
    ]);
    let run_id = trained["run_id"].as_str().unwrap();
    // Fitted on every row: the last point of train_loss is the mean absolute error of the final scores,
    // which is the training_mae of mlx's own predictions, and mlx predict gives the same predictions.
    let mae = trained["metrics"]["training_mae"].as_f64().unwrap();
    let curve = metric_steps(&s, run_id, "train_loss");
    assert_eq!(curve.len(), 30);
    assert!((curve[29].1 - mae).abs() < 1e-9 * mae, "{curve:?} vs {mae}");
    assert!(curve[29].1 < curve[0].1, "{curve:?}");
    let uri = format!("runs:/{run_id}/model");
    let out = s.json(&["predict", "--model", &uri, "--data", data]);
    let predicted = out["predictions"].as_array().unwrap();
    let text = fs::read_to_string(data).unwrap();
    let targets = text.lines().skip(1).map(|l| l.rsplit(',').next().unwrap());
    let errors: Vec<f64> = predicted
        .iter()
        .zip(targets)
        .map(|(p, t)| (p.as_f64().unwrap() - t.parse::<f64>().unwrap()).abs())
        .collect();
    assert_eq!(errors.len(), 2000);
    let predict_mae = errors.iter().sum::<f64>() / 2000.0;
    assert!(
        (predict_mae - mae).abs() < 1e-9 * mae,
        "{predict_mae} vs {mae}"
    );
    // Classification boosts log loss: a regression loss is refused, naming it, before any run is created.
    let labels = synthetic(s.dir.path(), 200);
    let runs = || {
        let out = s
            .mlx()
            .args(["runs", "list", "-o", "json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .unwrap()
            .len()
    };
    let before = runs();
    let err = s.fails(&[
        "train",
        "--data",
        labels.to_str().unwrap(),
        "--target",
        "label",
        "--model",
        "gradient-boosting",
        "--loss",
        "huber",
    ]);
    assert!(
        err.contains("--loss huber is for gradient-boosting regression"),
        "{err}"
    );
    assert_eq!(runs(), before, "a refused --loss left a run behind");
}
