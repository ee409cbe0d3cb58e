//! `mlx train` and `mlx predict` on the bundled Titanic data, driven through the binary.

use crate::common::{TestStore, python};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

pub fn titanic() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/titanic.csv")
}

const FEATURES: [&str; 6] = [
    "--features",
    "Pclass,Sex,Age,Fare",
    "--map",
    "Sex=male:0,female:1",
    "--target",
    "Survived",
];

pub fn train(s: &TestStore, extra: &[&str]) -> Value {
    let data = titanic();
    let mut args = vec!["train", "--data", data.to_str().unwrap()];
    args.extend(FEATURES);
    args.extend(extra);
    s.json(&args)
}

fn run_dir(s: &TestStore, run: &str) -> PathBuf {
    let exp = s.json(&["runs", "show", run])["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.root().join(exp).join(run)
}

#[test]
fn logistic_regression_matches_scikit_learn_on_the_same_split() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "titanic", "--name", "lr"]);
    // scikit-learn's LogisticRegression(C=1.0) on train_test_split(test_size=0.2, random_state=42) of the
    // same 714 rows scores exactly this (the MLflow fixture's lr-c1.0 run).
    assert_eq!(r["metrics"]["accuracy"], 0.7552447552447552);
    assert_eq!(r["metrics"]["f1"], 0.6956521739130435);
    assert_eq!(
        (r["n_train"].as_u64(), r["n_test"].as_u64()),
        (Some(571), Some(143))
    );

    let run_id = r["run_id"].as_str().unwrap();
    let run = s.json(&["runs", "show", run_id]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["run_name"], "lr");
    for (k, v) in [
        ("C", "1.0"),
        ("penalty", "l2"),
        ("model", "logistic-regression"),
        ("test_size", "0.2"),
        ("random_state", "42"),
        ("na", "drop"),
        ("map.Sex", "female:1,male:0"),
    ] {
        assert_eq!(run["params"][k], v, "param {k}");
    }
    for k in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
        "training_time",
    ] {
        assert!(run["metrics"][k]["latest"].is_number(), "metric {k}");
    }
    assert_eq!(run["tags"]["estimator"], "logistic-regression");
    assert_eq!(run["tags"]["mlx.version"], env!("CARGO_PKG_VERSION"));
    assert!(
        run["tags"]["mlx.command"]
            .as_str()
            .unwrap()
            .contains("--target Survived")
    );
    assert_eq!(run["inputs"][0]["name"], "titanic");
    assert_eq!(run["inputs"][0]["digest"].as_str().unwrap().len(), 8);
    assert_eq!(run["inputs"][0]["context"], "training");
    let model_id = r["model_id"].as_str().unwrap();
    assert_eq!(run["outputs"][0], model_id);
    let paths: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    for p in [
        "reports/coefficients.png",
        "reports/roc_curve.png",
        "reports/evaluation.json",
        "reports/evaluation.txt",
        "reports/test_predictions.csv",
    ] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    let png = fs::read(run_dir(&s, run_id).join("artifacts/reports/roc_curve.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The model, in MLflow 3's layout.
    let exp = run["info"]["experiment_id"].as_str().unwrap();
    let model_dir = s.root().join(exp).join("models").join(model_id);
    let mlmodel = fs::read_to_string(model_dir.join("artifacts/MLmodel")).unwrap();
    assert!(
        mlmodel.contains("mlx:") && mlmodel.contains("signature:"),
        "{mlmodel}"
    );
    assert!(
        mlmodel.contains(r#"{"name":"Sex","required":true,"type":"string"}"#),
        "{mlmodel}"
    );
    assert!(model_dir.join("artifacts/input_example.json").is_file());
    assert!(model_dir.join("meta.yaml").is_file());
}

#[test]
fn a_reloaded_model_predicts_what_it_predicted_at_training_time() {
    let s = TestStore::new();
    for model in [
        "logistic-regression",
        "random-forest",
        "decision-tree",
        "knn",
        "gaussian-nb",
    ] {
        let r = train(&s, &["--model", model, "--n-estimators", "20"]);
        let run_id = r["run_id"].as_str().unwrap();
        let saved =
            fs::read_to_string(run_dir(&s, run_id).join("artifacts/reports/test_predictions.csv"))
                .unwrap();
        // Rebuild the test rows as a CSV and predict them through `mlx predict` with the run's model URI.
        let all = fs::read_to_string(titanic()).unwrap();
        let all_lines: Vec<&str> = all.lines().collect();
        let mut test_csv = format!("{}\n", all_lines[0]);
        let mut expected = Vec::new();
        for line in saved.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let row: usize = f[0].parse().unwrap();
            test_csv.push_str(all_lines[row - 1]);
            test_csv.push('\n');
            expected.push(f[2].to_string());
        }
        let path = s.dir.path().join("test_rows.csv");
        fs::write(&path, test_csv).unwrap();
        let out = s.ok(&[
            "predict",
            "--model",
            &format!("runs:/{run_id}/model"),
            "--data",
            path.to_str().unwrap(),
        ]);
        let got: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(got, expected, "{model}");
        // The same model by its logged-model URI and by folder.
        let by_id = s.ok(&[
            "predict",
            "--model",
            &format!("models:/{}", r["model_id"].as_str().unwrap()),
            "--data",
            path.to_str().unwrap(),
        ]);
        assert_eq!(by_id, out);
    }
}

#[test]
fn predict_outputs_probabilities_ids_json_and_files() {
    let s = TestStore::new();
    let r = train(&s, &[]);
    let uri = format!("runs:/{}/model", r["run_id"].as_str().unwrap());
    let rows = s.dir.path().join("rows.csv");
    fs::write(
        &rows,
        "PassengerId,Pclass,Sex,Age,Fare,Extra\n1,3,male,22,7.25,x\n2,1,female,38,71.2833,y\n",
    )
    .unwrap();
    let out = s.ok(&[
        "predict",
        "--model",
        &uri,
        "--data",
        rows.to_str().unwrap(),
        "--with-proba",
        "--id-column",
        "PassengerId",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "PassengerId,prediction,proba_0,proba_1");
    assert!(
        lines[1].starts_with("1,0,") && lines[2].starts_with("2,1,"),
        "{out}"
    );
    let json: Value = serde_json::from_str(&s.ok(&[
        "predict",
        "--model",
        &uri,
        "--data",
        rows.to_str().unwrap(),
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(json, serde_json::json!({"predictions": [0, 1]}));
    let file = s.dir.path().join("preds.json");
    s.ok(&[
        "predict",
        "--model",
        &uri,
        "--data",
        rows.to_str().unwrap(),
        "--output",
        file.to_str().unwrap(),
    ]);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["predictions"], serde_json::json!([0, 1]));
    // `--output-file` is the flag for it; its extension picks the format.
    let csv = s.dir.path().join("preds");
    let printed = s.ok(&[
        "predict",
        "--model",
        &uri,
        "--data",
        rows.to_str().unwrap(),
        "--output-file",
        csv.to_str().unwrap(),
    ]);
    assert!(printed.is_empty(), "{printed}");
    assert_eq!(fs::read_to_string(&csv).unwrap(), "prediction\n0\n1\n");

    // Input checked against the signature: a missing column, a wrong type, an unknown category, a gap.
    for (text, needle) in [
        ("Pclass,Sex,Age\n3,male,22\n", "column 'Fare' is missing"),
        (
            "Pclass,Sex,Age,Fare\n3,male,22,7.25\n1,female,old,7\n",
            "column 'Age', row 3",
        ),
        (
            "Pclass,Sex,Age,Fare\n3,robot,22,7.25\n",
            "unknown value \"robot\"",
        ),
        (
            "Pclass,Sex,Age,Fare\n3,male,,7.25\n",
            "column 'Age', row 2: missing value",
        ),
    ] {
        fs::write(&rows, text).unwrap();
        let err = s.fails(&["predict", "--model", &uri, "--data", rows.to_str().unwrap()]);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let err = s.fails(&[
        "predict",
        "--model",
        "runs:/0123456789abcdef0123456789abcdef/model",
        "--data",
        "x.csv",
    ]);
    assert!(err.contains("does not exist"), "{err}");
    let err = s.fails(&["predict", "--model", "/nonexistent/dir", "--data", "x.csv"]);
    assert!(err.contains("no MLmodel"), "{err}");
}

#[test]
fn bad_data_is_a_clear_error_and_starts_no_run() {
    let s = TestStore::new();
    let d = s.dir.path();
    let cases = [
        ("empty.csv", "", "empty"),
        (
            "ragged.csv",
            "a,b,y\n1,2,0\n3,1\n",
            "row 3: 2 fields, but the header has 3",
        ),
        (
            "one_class.csv",
            "a,y\n1,1\n2,1\n3,1\n4,1\n5,1\n",
            "only one class",
        ),
        (
            "bad_number.csv",
            &format!(
                "a,y\n{}7,1\nseven,0\n",
                "1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n8,0\n9,1\n10,0\n11,1\n"
            ),
            "column 'a', row 13: \"seven\"",
        ),
    ];
    for (name, text, needle) in cases {
        let path = d.join(name);
        fs::write(&path, text).unwrap();
        let err = s.fails(&["train", "--data", path.to_str().unwrap(), "--target", "y"]);
        assert!(err.contains(needle) && err.contains(name), "{name}: {err}");
    }
    let data = titanic();
    let err = s.fails(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Nope",
    ]);
    assert!(err.contains("target column 'Nope' not found"), "{err}");
    let err = s.fails(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Survived",
        "--map",
        "Sex=male",
    ]);
    assert!(err.contains("--map"), "{err}");
    assert!(
        s.json(&["runs", "list"]).as_array().unwrap().is_empty(),
        "no run for bad input"
    );
}

#[test]
fn a_failure_midway_ends_the_run_failed_with_the_error() {
    let s = TestStore::new();
    let data = titanic();
    let mut args = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "knn",
        "--k",
        "100000",
    ];
    args.extend(FEATURES);
    let err = s.fails(&args);
    assert!(err.contains("FAILED") && err.contains("k=100000"), "{err}");
    let runs = s.json(&["runs", "list"]);
    assert_eq!(runs[0]["status"], "FAILED");
    assert!(
        runs[0]["tags"]["mlx.error"]
            .as_str()
            .unwrap()
            .contains("k=100000")
    );
}

#[test]
fn forests_are_reproducible_and_regression_works() {
    let s = TestStore::new();
    let a = train(
        &s,
        &[
            "--model",
            "random-forest",
            "--n-estimators",
            "30",
            "--seed",
            "7",
            "--jobs",
            "2",
        ],
    );
    let b = train(
        &s,
        &[
            "--model",
            "random-forest",
            "--n-estimators",
            "30",
            "--seed",
            "7",
            "--jobs",
            "1",
        ],
    );
    assert_eq!(a["metrics"]["accuracy"], b["metrics"]["accuracy"]);
    assert_eq!(a["metrics"]["log_loss"], b["metrics"]["log_loss"]);
    let run = s.json(&["runs", "show", a["run_id"].as_str().unwrap()]);
    assert_eq!(run["params"]["n_estimators"], "30");
    assert_eq!(run["params"]["max_features"], "2");
    assert_eq!(run["params"]["max_depth"], "None");
    let data = titanic();
    let reg = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Fare",
        "--features",
        "Pclass,Sex,Age,SibSp,Parch",
        "--model",
        "ridge",
        "--na",
        "median",
    ]);
    let m = &reg["metrics"];
    assert!(
        m["rmse"].as_f64().unwrap() > 0.0 && m["r2"].as_f64().unwrap() > 0.2,
        "{m}"
    );
    assert_eq!(
        reg["n_train"].as_u64().unwrap() + reg["n_test"].as_u64().unwrap(),
        891
    );
    // Stratified split keeps both classes in proportion.
    let st = train(&s, &["--stratify", "--model", "gaussian-nb"]);
    assert!(st["metrics"]["accuracy"].as_f64().unwrap() > 0.7);
}

#[test]
fn mlflow_finds_the_logged_model_and_the_registered_version() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "titanic", "--register", "titanic"]);
    assert_eq!(r["registered_version"], 1);
    let run_id = r["run_id"].as_str().unwrap();
    let out = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mlflow_models.py"))
        .args([s.root().to_str().unwrap(), run_id, "titanic"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run_outputs"][0], r["model_id"]);
    assert_eq!(v["logged_models"][0]["model_id"], r["model_id"]);
    assert_eq!(v["logged_models"][0]["name"], "model");
    assert_eq!(v["logged_models"][0]["source_run_id"], run_id);
    assert_eq!(
        v["logged_models"][0]["metrics"]["accuracy"],
        0.7552447552447552
    );
    assert_eq!(v["logged_models"][0]["params"]["C"], "1.0");
    for key in ["runs_uri_files", "latest_files"] {
        let files: Vec<&str> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(
            files.contains(&"MLmodel") && files.contains(&"model.json"),
            "{key}: {files:?}"
        );
    }
    assert_eq!(v["versions"][0]["version"], 1);
    assert_eq!(v["versions"][0]["run_id"], run_id);
}

#[test]
fn linear_regressors_match_scikit_learn() {
    // scikit-learn 1.9.1 on the same rows and split (Fare from Pclass, Age, SibSp, Parch; dropna;
    // train_test_split(test_size=0.2, random_state=42)): test R² of LinearRegression(), Ridge(alpha=10),
    // Lasso(alpha=0.5).
    let s = TestStore::new();
    let data = titanic();
    for (model, alpha, sklearn_r2) in [
        ("linear-regression", "1", 0.177437),
        ("ridge", "10", 0.178379),
        ("lasso", "0.5", 0.180593),
    ] {
        let r = s.json(&[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "Fare",
            "--features",
            "Pclass,Age,SibSp,Parch",
            "--model",
            model,
            "--alpha",
            alpha,
        ]);
        let r2 = r["metrics"]["r2"].as_f64().unwrap();
        assert!(
            (r2 - sklearn_r2).abs() < 5e-6,
            "{model}: {r2} vs scikit-learn's {sklearn_r2}"
        );
    }
}

#[test]
fn models_in_mlflow_2_layout_and_plain_folders_load() {
    let s = TestStore::new();
    let r = train(&s, &["--model", "decision-tree"]);
    let run = s.json(&["runs", "show", r["run_id"].as_str().unwrap()]);
    let exp = run["info"]["experiment_id"].as_str().unwrap();
    let logged = s
        .root()
        .join(exp)
        .join("models")
        .join(r["model_id"].as_str().unwrap())
        .join("artifacts");
    // MLflow 2 kept the model under the run's artifacts/model/.
    let copy = s.dir.path().join("model");
    crate::common::copy_dir(&logged, &copy);
    let old = s.start(&[]);
    s.ok(&["log", "artifact", "--run", &old, copy.to_str().unwrap()]);
    let rows = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/passengers.csv");
    let rows = rows.to_str().unwrap();
    let expected = s.ok(&[
        "predict",
        "--model",
        &format!("runs:/{}/model", r["run_id"].as_str().unwrap()),
        "--data",
        rows,
    ]);
    assert_eq!(
        s.ok(&[
            "predict",
            "--model",
            &format!("runs:/{old}/model"),
            "--data",
            rows
        ]),
        expected
    );
    assert_eq!(
        s.ok(&["predict", "--model", copy.to_str().unwrap(), "--data", rows]),
        expected
    );
    assert_eq!(
        s.ok(&[
            "predict",
            "--model",
            &format!("file://{}", copy.display()),
            "--data",
            rows
        ]),
        expected
    );
    // A damaged model is an error, not a panic.
    fs::write(copy.join("trees.bin"), b"MLXT\x05\x00").unwrap();
    let err = s.fails(&["predict", "--model", copy.to_str().unwrap(), "--data", rows]);
    assert!(
        err.contains("trees.bin") && err.contains("truncated"),
        "{err}"
    );
    fs::write(copy.join("MLmodel"), "flavors:\n  sklearn: {}\n").unwrap();
    let err = s.fails(&["predict", "--model", copy.to_str().unwrap(), "--data", rows]);
    // An sklearn flavor without a skops file: the error says what to do with it.
    assert!(
        err.contains("scikit-learn") && err.contains("mlx models import"),
        "{err}"
    );
}

/// Bad data fails before any run starts: a value a `--map` does not list (in the training or the test
/// rows), a code that is not a number, a mapped column that is not a feature. No run is left behind.
#[test]
fn a_bad_map_value_fails_before_any_run_starts() {
    let s = TestStore::new();
    let data = titanic();
    let data = data.to_str().unwrap();
    let base = ["train", "--data", data, "--target", "Survived"];
    let features = ["--features", "Pclass,Sex,Age"];
    for (map, message) in [
        (
            "Sex=male:0",
            "column 'Sex', row 330: value \"female\" is not in --map Sex= (known: male)",
        ),
        (
            "Sex=male:0,female:x",
            "--map 'Sex=male:0,female:x': 'x' is not a number",
        ),
        (
            "Sexx=male:0",
            "--map names column 'Sexx', which is not a feature",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend(features);
        args.extend(["--map", map]);
        let err = s.fails(&args);
        assert!(err.contains(message), "{map}: {err}");
        assert!(!err.contains("FAILED"), "{map}: {err}");
    }
    let out = s
        .mlx()
        .args(["runs", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}
