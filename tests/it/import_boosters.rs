//! Models trained in Python with LightGBM and XGBoost and logged by the real MLflow (3.17.2) with their own
//! flavors: `mlx predict` and `mlx serve /invocations` equal the library's predictions on held-out rows
//! (labels exactly, values and probabilities to 1e-9); crafted model files are clear errors; a
//! cloudpickle-format model works after `mlx models import` (tests/interop/boosters.py logs them).

use crate::common::{TestStore, interop_json, python};
use crate::serve::Server;
use serde_json::Value;
use std::path::Path;

/// The models read natively, by their names in boosters.py.
const NATIVE: &[&str] = &[
    "lgb_booster_binary",
    "lgb_booster_multiclass",
    "lgb_booster_regression",
    "lgb_classifier_labels",
    "lgb_classifier_binary",
    "lgb_regressor",
    "xgb_booster_binary",
    "xgb_booster_regression_json",
    "xgb_classifier_multiclass",
    "xgb_classifier_binary",
    "xgb_regressor",
];

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

/// Labels exactly (numbers as numbers), values to 1e-9.
fn same_value(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) if want.is_f64() => close(g, w),
        _ => got == want,
    }
}

fn check_predictions(name: &str, got: &Value, want: &Value) {
    let got = got["predictions"].as_array().expect("predictions");
    let labels = want["predict"].as_array().unwrap();
    assert_eq!(got.len(), labels.len(), "{name}: row count");
    let proba = want["proba"].as_array();
    for (i, (g, label)) in got.iter().zip(labels).enumerate() {
        // With --with-proba each row is {"prediction", "proba": {class: p}}; without, the bare value.
        let value = g.get("prediction").unwrap_or(g);
        assert!(
            same_value(value, label),
            "{name} row {i}: mlx {value}, library {label}"
        );
        if let (Some(proba), Some(p)) = (proba, g.get("proba")) {
            let want_row: Vec<f64> = proba[i]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            // Class keys sort as the class order for these models (0..n-1, or sorted labels).
            let got_row: Vec<f64> = p
                .as_object()
                .unwrap()
                .values()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(got_row.len(), want_row.len(), "{name} row {i}: classes");
            for (g, w) in got_row.iter().zip(&want_row) {
                assert!(close(*g, *w), "{name} row {i}: probability {g} vs {w}");
            }
        }
    }
    if proba.is_some() && got.first().is_some_and(|g| g.get("proba").is_none()) {
        panic!("{name}: mlx gave no probabilities");
    }
}

/// The held-out rows as a `dataframe_split` request (empty cells are missing values).
fn split_request(csv: &Path) -> String {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let columns: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<Value>> = lines
        .map(|l| {
            l.split(',')
                .map(|c| {
                    if c.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(c).unwrap()
                    }
                })
                .collect()
        })
        .collect();
    serde_json::json!({"dataframe_split": {"columns": columns, "data": rows}}).to_string()
}

fn log_models(s: &TestStore, names: &[&str]) -> (Value, std::path::PathBuf) {
    let data = s.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut args = vec![s.root().into_os_string(), data.clone().into_os_string()];
    args.extend(names.iter().map(|n| std::ffi::OsString::from(*n)));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    (interop_json("boosters.py", &refs), data)
}

#[test]
fn lightgbm_and_xgboost_models_logged_by_mlflow_predict_and_serve_as_the_library() {
    let s = TestStore::new();
    let (expected, data) = log_models(&s, NATIVE);
    for name in NATIVE {
        let want = &expected[*name];
        let uri = format!("runs:/{}/model", want["run_id"].as_str().unwrap());
        let csv = data.join(format!("{name}.csv"));
        let csv = csv.to_str().unwrap();
        let got = s.json(&["predict", "--model", &uri, "--data", csv, "--with-proba"]);
        check_predictions(name, &got, want);
        let got = s.json(&["predict", "--model", &uri, "--data", csv]);
        check_predictions(
            name,
            &got,
            &serde_json::json!({"predict": want["predict"], "proba": null}),
        );

        let server = Server::start(&s, &["--model", &uri]);
        let request = split_request(Path::new(csv));
        let (status, _, body) = server.post_json("/invocations", &request, &[]);
        assert_eq!(status, 200, "{name}: {body}");
        let got: Value = serde_json::from_str(&body).unwrap();
        check_predictions(
            name,
            &got,
            &serde_json::json!({"predict": want["predict"], "proba": null}),
        );
        // Probabilities through the scoring protocol's params, per class label.
        if let Value::Array(proba) = &want["proba"] {
            let classes = want["classes"].as_array().expect("classes");
            let request: Value = serde_json::from_str(&request).unwrap();
            crate::import_sklearn::check_served_proba(&server, name, &request, classes, proba);
        }
        server.stop();
    }

    // Crafted files: copies of logged models with one thing broken are clear errors, never a panic.
    let model_dir = |name: &str| -> std::path::PathBuf {
        let run = expected[name]["run_id"].as_str().unwrap();
        let mlmodel = walk_find(&s.root(), &|p: &Path| {
            p.file_name().is_some_and(|f| f == "MLmodel")
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains(&format!("run_id: {run}"))
        })
        .expect("the logged model's MLmodel");
        let copy = s.dir.path().join(format!("crafted-{name}"));
        crate::common::copy_dir(mlmodel.parent().unwrap(), &copy);
        copy
    };
    let fails = |dir: &Path, name: &str, needle: &str| {
        let csv = data.join(format!("{name}.csv"));
        let out = s
            .mlx()
            .args([
                "predict",
                "--model",
                dir.to_str().unwrap(),
                "--data",
                csv.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{name}: a crafted model was accepted"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.contains(needle), "{name}: expected {needle:?} in {err}");
    };
    // LightGBM text: a child index past the leaves, and a feature index past the features.
    let dir = model_dir("lgb_booster_binary");
    set_first(&dir.join("model.lgb"), "right_child=", "-999");
    fails(
        &dir,
        "lgb_booster_binary",
        "right_child -999 is out of range",
    );
    let dir = model_dir("lgb_booster_regression");
    set_first(&dir.join("model.lgb"), "split_feature=", "77");
    fails(
        &dir,
        "lgb_booster_regression",
        "feature index 77 out of range",
    );
    // XGBoost UBJSON cut short, and a JSON model whose split feature is out of range.
    let dir = model_dir("xgb_booster_binary");
    let bytes = std::fs::read(dir.join("model.ubj")).unwrap();
    std::fs::write(dir.join("model.ubj"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    fails(&dir, "xgb_booster_binary", "truncated");
    let dir = model_dir("xgb_booster_regression_json");
    let mut model: Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    model["learner"]["gradient_booster"]["model"]["trees"][3]["split_indices"][0] =
        Value::from(4096);
    std::fs::write(dir.join("model.json"), model.to_string()).unwrap();
    fails(
        &dir,
        "xgb_booster_regression_json",
        "tree 3, node 0: feature index 4096 out of range",
    );
}

/// Replaces the first value of the first `key` line of a LightGBM text model.
fn set_first(path: &Path, key: &str, value: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let i = text.find(key).unwrap() + key.len();
    let j = i + text[i..].find([' ', '\n']).unwrap();
    std::fs::write(path, format!("{}{value}{}", &text[..i], &text[j..])).unwrap();
}

fn walk_find(dir: &Path, pred: &dyn Fn(&Path) -> bool) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(found) = walk_find(&p, pred) {
                return Some(found);
            }
        } else if pred(&p) {
            return Some(p);
        }
    }
    None
}

#[test]
fn a_cloudpickle_model_works_after_mlx_models_import() {
    let s = TestStore::new();
    let (expected, data) = log_models(&s, &["sk_cloudpickle"]);
    let want = &expected["sk_cloudpickle"];
    let uri = format!("runs:/{}/model", want["run_id"].as_str().unwrap());
    let csv = data.join("sk_cloudpickle.csv");
    let csv = csv.to_str().unwrap();
    // Read as it is, it is refused with the way out.
    let err = s.fails(&["predict", "--model", &uri, "--data", csv]);
    assert!(
        err.contains("cloudpickle") && err.contains("mlx models import"),
        "{err}"
    );
    // Without a usable Python the import says so.
    let err = s.fails(&["models", "import", &uri, "--python", "/nonexistent/python3"]);
    assert!(
        err.contains("cannot run Python '/nonexistent/python3'") && err.contains("--python PATH"),
        "{err}"
    );
    let python = python();
    let out = s.json(&[
        "models",
        "import",
        &uri,
        "--python",
        python.to_str().unwrap(),
    ]);
    assert_eq!(out["imported"], Value::Bool(true), "{out}");
    let new_uri = out["model_uri"].as_str().unwrap();
    assert!(new_uri.starts_with("models:/m-"), "{out}");
    let got = s.json(&["predict", "--model", new_uri, "--data", csv, "--with-proba"]);
    check_predictions("sk_cloudpickle", &got, want);
    // Importing the converted model again has nothing to do.
    let again = s.json(&[
        "models",
        "import",
        new_uri,
        "--python",
        python.to_str().unwrap(),
    ]);
    assert_eq!(again["imported"], Value::Bool(false), "{again}");
}
