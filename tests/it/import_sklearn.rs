//! scikit-learn models logged by the real MLflow (3.17.2, skops format) served and predicted by mlx with
//! no conversion: `mlx predict` and `mlx serve` give scikit-learn's own answers on held-out rows (labels
//! exactly, values and probabilities to 1e-9); the original app's model behind an alias; crafted skops
//! files (unknown class, malformed array, bad tree, zip bomb, path traversal) refused with a clear error.

use crate::common::{TestStore, interop_json, python};
use crate::serve::Server;
use serde_json::{Value, json};
use std::path::Path;

/// Log `names` with MLflow into the store; returns the script's JSON (run ids and sklearn's answers).
fn log_models(s: &TestStore, names: &[&str]) -> Value {
    let mut args: Vec<std::ffi::OsString> = vec![
        s.root().into_os_string(),
        s.dir.path().as_os_str().to_os_string(),
    ];
    args.extend(names.iter().map(|n| n.into()));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    interop_json("sklearn_skops.py", &refs)
}

/// The held-out rows of `name` as a `dataframe_split` body (empty cells are null).
fn dataframe_split(csv_path: &Path) -> Value {
    let mut r = csv::Reader::from_path(csv_path).unwrap();
    let columns: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let data: Vec<Vec<Value>> = r
        .records()
        .map(|rec| {
            rec.unwrap()
                .iter()
                .map(|cell| match cell {
                    "" => Value::Null,
                    c => c.parse::<f64>().map(Value::from).unwrap_or(json!(c)),
                })
                .collect()
        })
        .collect();
    json!({"dataframe_split": {"columns": columns, "data": data}})
}

/// A label must be equal; a number within 1e-9.
fn assert_close(what: &str, got: &Value, want: &Value) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) if want.is_f64() => {
            assert!((g - w).abs() <= 1e-9, "{what}: {g} != {w}")
        }
        _ => assert_eq!(got, want, "{what}"),
    }
}

/// `mlx predict --with-proba -o json` against scikit-learn's predict and predict_proba.
fn check_predict(s: &TestStore, name: &str, uri: &str, expected: &Value) {
    let csv_path = s.dir.path().join(format!("{name}.csv"));
    let out: Value = serde_json::from_str(&s.ok(&[
        "predict",
        "-m",
        uri,
        "--data",
        csv_path.to_str().unwrap(),
        "--with-proba",
        "-o",
        "json",
    ]))
    .unwrap();
    let got = out["predictions"].as_array().unwrap();
    let want = expected["predict"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{name}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let what = format!("{name} row {i}");
        match &expected["proba"] {
            Value::Array(proba) => {
                assert_close(&what, &g["prediction"], w);
                let classes = expected["classes"].as_array().unwrap();
                for (c, p) in classes.iter().zip(proba[i].as_array().unwrap()) {
                    let key = c.as_str().map_or_else(|| c.to_string(), String::from);
                    let got_p = &g["proba"][&key];
                    assert!(
                        (got_p.as_f64().unwrap() - p.as_f64().unwrap()).abs() <= 1e-9,
                        "{what}: P({key}) {got_p} != {p}"
                    );
                }
            }
            _ => assert_close(&what, g, w),
        }
    }
}

/// `mlx serve` on `uri`: /invocations gives scikit-learn's predictions for the held-out rows.
fn check_serve(s: &TestStore, name: &str, uri: &str, expected: &Value) {
    let server = Server::start(s, &["--model", uri]);
    let body = dataframe_split(&s.dir.path().join(format!("{name}.csv")));
    let (status, _, text) = server.post_json("/invocations", &body.to_string(), &[]);
    assert_eq!(status, 200, "{name}: {text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    let got = got["predictions"].as_array().unwrap();
    let want = expected["predict"].as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{name}: row count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{name} served row {i}"), g, w);
    }
    if let Value::Array(proba) = &expected["proba"] {
        check_served_proba(
            &server,
            name,
            &body,
            expected["classes"].as_array().unwrap(),
            proba,
        );
    }
}

/// The scoring protocol's params: `{"predict_proba": true}` answers one record per row, `proba_<class>`
/// keys, equal to the library's predict_proba within 1e-9.
pub(crate) fn check_served_proba(
    server: &Server,
    name: &str,
    body: &Value,
    classes: &[Value],
    proba: &[Value],
) {
    let mut with_params = body.clone();
    with_params["params"] = json!({"predict_proba": true});
    let (status, _, text) = server.post_json("/invocations", &with_params.to_string(), &[]);
    assert_eq!(status, 200, "{name}: {text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    let rows = got["predictions"].as_array().unwrap();
    assert_eq!(rows.len(), proba.len(), "{name}: row count");
    for (i, (row, p)) in rows.iter().zip(proba).enumerate() {
        for (c, want) in classes.iter().zip(p.as_array().unwrap()) {
            let key = format!(
                "proba_{}",
                c.as_str().map_or_else(|| c.to_string(), String::from)
            );
            let (g, w) = (row[&key].as_f64(), want.as_f64().unwrap());
            assert!(
                g.is_some_and(|g| (g - w).abs() <= 1e-9),
                "{name} served row {i}: {key} {:?} != {w} ({row})",
                row[&key]
            );
        }
    }
}

#[test]
fn every_supported_sklearn_model_logged_by_mlflow_predicts_and_serves_as_sklearn() {
    let s = TestStore::new();
    let logged = log_models(&s, &[]);
    let models = logged.as_object().unwrap();
    assert!(models.len() >= 20, "{}", models.len());
    for (name, expected) in models {
        let uri = format!("runs:/{}/model", expected["run_id"].as_str().unwrap());
        check_predict(&s, name, &uri, expected);
        check_serve(&s, name, &uri, expected);
    }
    // `mlx predict` of a logged model on `csv` (written to a file) must exit 2 with an error saying `why`.
    let predict_fails = |name: &str, csv: &str, why: &str| {
        let run = models[name]["run_id"].as_str().unwrap();
        let data = s.dir.path().join(format!("{name}-bad.csv"));
        std::fs::write(&data, csv).unwrap();
        let out = s
            .mlx()
            .args(["predict", "-m", &format!("runs:/{run}/model"), "--data"])
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(why), "{name}: {err} should say {why:?}");
    };
    // A category the encoder never saw (handle_unknown="error") is an error naming value and column.
    predict_fails(
        "pipeline_ordinal_tree",
        "age,fare,city,level\n30,10.5,lyon,1\n",
        "OrdinalEncoder: unknown category lyon in column city (the model was fitted on oslo, paris, rome)",
    );
    // GradientBoosting* refuses missing values as scikit-learn's predict does (naming row and feature,
    // the row counted as the file's line); HistGradientBoosting* routes them (its held-out rows above
    // have gaps).
    let header: Vec<String> = (0..10).map(|i| format!("x{i}")).collect();
    predict_fails(
        "gb_regressor",
        &format!(
            "{}\n0,0,0,0,0,0,0,0,0,0\n0,0,,0,0,0,0,0,0,0\n",
            header.join(",")
        ),
        "gb_regressor-bad.csv: row 3: GradientBoostingRegressor got a missing value in feature 2",
    );
}

#[test]
fn the_original_apps_model_logged_by_mlflow_is_served_by_alias_with_no_conversion() {
    let s = TestStore::new();
    let logged = log_models(&s, &["titanic"]);
    let expected = &logged["titanic"];
    let run = expected["run_id"].as_str().unwrap();
    s.ok(&[
        "register",
        &format!("runs:/{run}/model"),
        "--name",
        "titanic-sk",
    ]);
    s.ok(&["alias", "set", "Champion", "1", "--model", "titanic-sk"]);
    let uri = "models:/titanic-sk@Champion";
    check_predict(&s, "titanic", uri, expected);
    check_serve(&s, "titanic", uri, expected);
    let shown = s.json(&["models", "show", "titanic-sk"]);
    assert_eq!(
        shown["latest"]["model"]["class"], "LogisticRegression",
        "{shown}"
    );
    assert_eq!(shown["latest"]["model"]["flavor"], "sklearn");
    assert_eq!(shown["latest"]["inputs"][1]["name"], "Sex");

    // The original app's /predict: a list of records, answered {"prediction": [...]}.
    let server = Server::start(&s, &["--model", uri]);
    let body = dataframe_split(&s.dir.path().join("titanic.csv"));
    let columns = body["dataframe_split"]["columns"].as_array().unwrap();
    let records: Vec<Value> = body["dataframe_split"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let obj: serde_json::Map<String, Value> = columns
                .iter()
                .zip(row.as_array().unwrap())
                .map(|(c, v)| (c.as_str().unwrap().to_string(), v.clone()))
                .collect();
            Value::Object(obj)
        })
        .collect();
    let (status, headers, text) =
        server.post_json("/predict", &Value::Array(records).to_string(), &[]);
    assert_eq!(status, 200, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["prediction"], expected["predict"]);
    assert_eq!(
        crate::serve::header(&headers, "x-mlx-model-version"),
        Some("titanic-sk/1")
    );
    // The scoring protocol's params: `predict_proba` answers one record of probabilities per row.
    check_served_proba(
        &server,
        "titanic",
        &body,
        expected["classes"].as_array().unwrap(),
        expected["proba"].as_array().unwrap(),
    );
    let (status, _, info) = server.request("GET", "/model", &[], b"");
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(status, 200);
    assert_eq!(info["estimator"], "sklearn LogisticRegression");
    assert_eq!(info["signature"]["inputs"][0]["name"], "Pclass");
    drop(server);

    // Champion/challenger across trainers: version 2 is mlx's own model on the same columns.
    let train_csv = s.dir.path().join("train.csv");
    let mut r = csv::Reader::from_path(crate::train::titanic()).unwrap();
    let mut w = csv::Writer::from_path(&train_csv).unwrap();
    w.write_record(["Pclass", "Sex", "Age", "Fare", "Survived"])
        .unwrap();
    let headers = r.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec[at("Age")].is_empty() {
            continue;
        }
        let sex = if &rec[at("Sex")] == "female" {
            "1"
        } else {
            "0"
        };
        w.write_record([
            &rec[at("Pclass")],
            sex,
            &rec[at("Age")],
            &rec[at("Fare")],
            &rec[at("Survived")],
        ])
        .unwrap();
    }
    w.flush().unwrap();
    s.ok(&[
        "train",
        "--data",
        train_csv.to_str().unwrap(),
        "--target",
        "Survived",
        "--features",
        "Pclass,Sex,Age,Fare",
        "--register",
        "titanic-sk",
    ]);
    s.ok(&["alias", "set", "Challenger", "2", "--model", "titanic-sk"]);
    let server = Server::start(
        &s,
        &[
            "--model",
            uri,
            "--challenger",
            "models:/titanic-sk@Challenger",
            "--split",
            "0.5",
        ],
    );
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let (status, headers, text) = server.post_json("/invocations", &body.to_string(), &[]);
        assert_eq!(status, 200, "{text}");
        let got: Value = serde_json::from_str(&text).unwrap();
        let version = crate::serve::header(&headers, "x-mlx-model-version")
            .unwrap()
            .to_string();
        match version.as_str() {
            "titanic-sk/1" => assert_eq!(got["predictions"], expected["predict"]),
            "titanic-sk/2" => assert_eq!(
                got["predictions"].as_array().unwrap().len(),
                expected["predict"].as_array().unwrap().len()
            ),
            other => panic!("served {other}"),
        }
        seen.insert(version);
    }
    assert_eq!(seen.len(), 2, "both variants answered");
}

/// A model folder with an MLmodel for `flavors` (YAML) and the given files.
pub(crate) fn model_dir(
    root: &Path,
    name: &str,
    flavors: &str,
    files: &[(&str, Vec<u8>)],
) -> String {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let inputs = r#"[{"type": "double", "name": "a", "required": true}, {"type": "double", "name": "b", "required": true}]"#;
    std::fs::write(
        dir.join("MLmodel"),
        format!("flavors:\n{flavors}signature:\n  inputs: '{inputs}'\n  outputs: '[]'\n"),
    )
    .unwrap();
    for (file, bytes) in files {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir.to_string_lossy().into_owned()
}

pub(crate) const SKOPS_FLAVOR: &str =
    "  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n";

pub(crate) fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, bytes) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A `.npy` file as numpy writes it (C order).
pub(crate) fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    mlx::ml::write_npy(descr, false, shape, data)
}

pub(crate) fn json_node(v: &str) -> Value {
    json!({"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": v, "is_json": true})
}

pub(crate) fn array_node(file: &str) -> Value {
    json!({"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": file})
}

pub(crate) fn object(class: &str, module: &str, attrs: Value) -> Value {
    json!({
        "__class__": class, "__module__": module, "__loader__": "ObjectNode",
        "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": attrs,
                    "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}},
        "protocol": 2, "_skops_version": "0.16.0"
    })
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// scikit-learn's tree node records for these (left, right, feature) triples, threshold 0.5.
fn tree_records(nodes: &[(i64, i64, i64)]) -> Vec<u8> {
    let mut rec = Vec::new();
    for &(l, r, f) in nodes {
        for v in [l, r, f] {
            rec.extend(v.to_le_bytes());
        }
        rec.extend(0.5f64.to_le_bytes()); // threshold
        rec.extend(0.0f64.to_le_bytes()); // impurity
        rec.extend(1i64.to_le_bytes());
        rec.extend(1.0f64.to_le_bytes());
        rec.push(0);
        rec.extend([0u8; 7]);
    }
    npy(TREE_DESCR, &[nodes.len()], &rec)
}

const TREE_DESCR: &str = "[('left_child', '<i8'), ('right_child', '<i8'), ('feature', '<i8'), ('threshold', '<f8'), ('impurity', '<f8'), ('n_node_samples', '<i8'), ('weighted_n_node_samples', '<f8'), ('missing_go_to_left', '|u1'), ('', '|V7')]";

const HGB_DESCR: &str = "[('value', '<f8'), ('count', '<u4'), ('feature_idx', '<i8'), ('num_threshold', '<f8'), ('missing_go_to_left', '|u1'), ('left', '<u4'), ('right', '<u4'), ('gain', '<f8'), ('depth', '<u4'), ('is_leaf', '|u1'), ('bin_threshold', '|u1'), ('is_categorical', '|u1'), ('bitset_idx', '<u4')]";

/// HistGradientBoosting's `TreePredictor.nodes` for these (left, right, feature, is_leaf, value), split at
/// 0.5 with missing values to the left.
fn hgb_nodes(nodes: &[(u32, u32, i64, u8, f64)]) -> Vec<u8> {
    let mut rec = Vec::new();
    for &(left, right, feature, is_leaf, value) in nodes {
        rec.extend(value.to_le_bytes());
        rec.extend(10u32.to_le_bytes());
        rec.extend(feature.to_le_bytes());
        rec.extend(0.5f64.to_le_bytes());
        rec.push(1);
        rec.extend(left.to_le_bytes());
        rec.extend(right.to_le_bytes());
        rec.extend(1.0f64.to_le_bytes());
        rec.extend(0u32.to_le_bytes());
        rec.extend([is_leaf, 0, 0]);
        rec.extend(0u32.to_le_bytes());
    }
    npy(HGB_DESCR, &[nodes.len()], &rec)
}

/// A sound HistGradientBoosting stump on feature 0: 1.0 at or below 0.5 (and missing), 2.0 above.
const HGB_STUMP: [(u32, u32, i64, u8, f64); 3] =
    [(1, 2, 0, 0, 0.0), (0, 0, 0, 1, 1.0), (0, 0, 0, 1, 2.0)];

/// A HistGradientBoostingRegressor over a, b with `loss`, baseline 0.25 and one tree whose nodes are in
/// `nodes_file` (an entry of the zip).
fn hgb_schema(loss: &str, nodes_file: &str) -> Value {
    let list = |items: Vec<Value>| json!({"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": items});
    let predictor = object(
        "TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.predictor",
        json!({"nodes": array_node(nodes_file)}),
    );
    object(
        "HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting",
        json!({
            "loss": json_node(&format!("\"{loss}\"")),
            "n_features_in_": json_node("2"),
            "n_trees_per_iteration_": json_node("1"),
            "_baseline_prediction": array_node("7.npy"),
            "_bin_mapper": object("_BinMapper", "sklearn.ensemble._hist_gradient_boosting.binning", json!({"is_categorical_": json_node("null")})),
            "_predictors": list(vec![list(vec![predictor])]),
        }),
    )
}

/// Arrays the fuzz corpus's schemas refer to: 1.npy (1×2 floats), 2.npy (one float), 3.npy (labels 0, 1),
/// 4.npy (a sound 3-node tree), 5.npy (its values).
pub(crate) fn fixture_arrays() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("1.npy", npy("'<f8'", &[1, 2], &f64s(&[1.0, -1.0]))),
        ("2.npy", npy("'<f8'", &[1], &f64s(&[0.1]))),
        (
            "3.npy",
            npy("'<i8'", &[2], &[0i64, 1].map(i64::to_le_bytes).concat()),
        ),
        (
            "4.npy",
            tree_records(&[(1, 2, 0), (-1, -1, -2), (-1, -1, -2)]),
        ),
        ("5.npy", npy("'<f8'", &[3, 1, 2], &f64s(&[0.5; 6]))),
        ("6.npy", hgb_nodes(&HGB_STUMP)),
        ("7.npy", npy("'<f8'", &[1, 1], &f64s(&[0.25]))),
        (
            "8.npy",
            hgb_nodes(&[(1, 9, 0, 0, 0.0), (0, 0, 0, 1, 1.0), (0, 0, 0, 1, 2.0)]),
        ),
    ]
}

/// A decision tree over features a, b whose nodes have these (left, right, feature) triples.
fn tree_skops(nodes: &[(i64, i64, i64)]) -> Vec<u8> {
    let n = nodes.len();
    let tree = json!({
        "__class__": "Tree", "__module__": "sklearn.tree._tree", "__loader__": "TreeNode",
        "__reduce__": {"args": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                                "content": [json_node("2"), array_node("2.npy"), json_node("1")]}},
        "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                    "content": {"node_count": json_node(&n.to_string()), "nodes": array_node("3.npy"), "values": array_node("4.npy")},
                    "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}
    });
    let schema = object(
        "DecisionTreeClassifier",
        "sklearn.tree._classes",
        json!({"n_features_in_": json_node("2"), "n_outputs_": json_node("1"),
               "classes_": array_node("1.npy"), "tree_": tree}),
    );
    zip_of(&[
        ("schema.json", schema.to_string().into_bytes()),
        (
            "1.npy",
            npy("'<i8'", &[2], &[0i64, 1].map(i64::to_le_bytes).concat()),
        ),
        ("2.npy", npy("'<i8'", &[1], &2i64.to_le_bytes())),
        ("3.npy", tree_records(nodes)),
        ("4.npy", npy("'<f8'", &[n, 1, 2], &f64s(&vec![0.5; n * 2]))),
    ])
}

/// Run `mlx predict` on a crafted model; it must fail with a one-line error containing `why`, not panic.
fn refused(s: &TestStore, model: &str, why: &str) {
    let data = s.dir.path().join("rows.csv");
    std::fs::write(&data, "a,b\n0.1,0.7\n0.9,0.2\n").unwrap();
    let out = s
        .mlx()
        .args(["predict", "-m", model, "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{model} should fail");
    assert_ne!(out.status.code(), Some(101), "{model} panicked: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(why), "{model}: {err} should say {why:?}");
}

#[test]
fn a_crafted_tree_works_when_sound_and_is_refused_when_its_children_are_out_of_range() {
    let s = TestStore::new();
    let root = s.dir.path();
    let good = model_dir(
        root,
        "good",
        SKOPS_FLAVOR,
        &[(
            "model.skops",
            tree_skops(&[(1, 2, 0), (-1, -1, -2), (-1, -1, -2)]),
        )],
    );
    let out = s.ok(&["predict", "-m", &good, "--data", &{
        let p = root.join("rows.csv");
        std::fs::write(&p, "a,b\n0.1,0.7\n").unwrap();
        p.to_string_lossy().into_owned()
    }]);
    assert_eq!(out, "prediction\n0\n");
    for (name, nodes, why) in [
        (
            "beyond",
            vec![(1, 7, 0), (-1, -1, -2), (-1, -1, -2)],
            "out of range",
        ),
        (
            "cycle",
            vec![(0, 2, 0), (-1, -1, -2), (-1, -1, -2)],
            "out of range",
        ),
        (
            "feature",
            vec![(1, 2, 5), (-1, -1, -2), (-1, -1, -2)],
            "out of range",
        ),
        (
            "negative",
            vec![(-5, 2, 0), (-1, -1, -2), (-1, -1, -2)],
            "out of range",
        ),
    ] {
        let dir = model_dir(
            root,
            name,
            SKOPS_FLAVOR,
            &[("model.skops", tree_skops(&nodes))],
        );
        refused(&s, &dir, why);
    }
}

#[test]
fn crafted_gradient_boosting_files_work_when_sound_and_are_refused_clearly_when_not() {
    let s = TestStore::new();
    let root = s.dir.path();
    let hgb = |loss: &str, nodes: Vec<u8>| {
        let mut files = vec![(
            "schema.json",
            hgb_schema(loss, "6.npy").to_string().into_bytes(),
        )];
        files.extend(fixture_arrays().into_iter().filter(|(n, _)| *n != "6.npy"));
        files.push(("6.npy", nodes));
        zip_of(&files)
    };
    // Sound: baseline 0.25 plus 1.0 (a <= 0.5, or missing) or 2.0.
    let good = model_dir(
        root,
        "hgb",
        SKOPS_FLAVOR,
        &[("model.skops", hgb("squared_error", hgb_nodes(&HGB_STUMP)))],
    );
    let data = root.join("gaps.csv");
    std::fs::write(
        &data,
        "a,b
0.5,1
0.6,1
,1
",
    )
    .unwrap();
    assert_eq!(
        s.ok(&["predict", "-m", &good, "--data", data.to_str().unwrap()]),
        "prediction
1.25
2.25
1.25
"
    );
    let poisson = model_dir(
        root,
        "hgb-poisson",
        SKOPS_FLAVOR,
        &[("model.skops", hgb("poisson", hgb_nodes(&HGB_STUMP)))],
    );
    let out = s.ok(&[
        "predict",
        "-m",
        &poisson,
        "--data",
        data.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let got: Value = serde_json::from_str(&out).unwrap();
    assert!(
        (got["predictions"][1].as_f64().unwrap() - 2.25f64.exp()).abs() < 1e-12,
        "{got}"
    );

    let packed = |fields: &str| npy(&format!("[{fields}]"), &[1], &f64s(&[1.0]));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "hgb-child",
            hgb(
                "squared_error",
                hgb_nodes(&[(1, 9, 0, 0, 0.0), (0, 0, 0, 1, 1.0), (0, 0, 0, 1, 2.0)]),
            ),
            "HistGradientBoostingRegressor._predictors: tree 0, node 0: child index 9 out of range (the tree has 3 nodes)",
        ),
        (
            "hgb-feature",
            hgb(
                "squared_error",
                hgb_nodes(&[(1, 2, 4, 0, 0.0), (0, 0, 0, 1, 1.0), (0, 0, 0, 1, 2.0)]),
            ),
            "feature index 4 out of range (the model has 2 features)",
        ),
        (
            "hgb-cycle",
            hgb(
                "squared_error",
                hgb_nodes(&[(1, 2, 0, 0, 0.0), (0, 2, 1, 0, 1.0), (0, 0, 0, 1, 2.0)]),
            ),
            "reached twice",
        ),
        (
            "hgb-plain-nodes",
            hgb("squared_error", npy("'<f8'", &[3], &f64s(&[0.0; 3]))),
            "TreePredictor.nodes: field \"value\" asked of a plain array",
        ),
        (
            "hgb-int-values",
            hgb("squared_error", packed("('value', '<i8')")),
            "TreePredictor.nodes field \"value\" has kind 'i', not a float",
        ),
        (
            "hgb-missing-field",
            hgb("squared_error", packed("('value', '<f8')")),
            "no field \"num_threshold\" in the records",
        ),
        (
            "hgb-loss",
            hgb("tweedie", hgb_nodes(&HGB_STUMP)),
            "HistGradientBoostingRegressor with loss \"tweedie\" is not supported",
        ),
        (
            "gb-loss",
            zip_of(&[(
                "schema.json",
                object(
                    "GradientBoostingClassifier",
                    "sklearn.ensemble._gb",
                    json!({"loss": json_node("\"deviance\""), "n_features_in_": json_node("2"),
                           "n_trees_per_iteration_": json_node("1"), "classes_": array_node("3.npy")}),
                )
                .to_string()
                .into_bytes(),
            ), ("3.npy", npy("'<i8'", &[2], &[0i64, 1].map(i64::to_le_bytes).concat()))]),
            "GradientBoostingClassifier with loss \"deviance\" is not supported",
        ),
        (
            "gb-init",
            zip_of(&[(
                "schema.json",
                object(
                    "GradientBoostingRegressor",
                    "sklearn.ensemble._gb",
                    json!({"loss": json_node("\"squared_error\""), "n_features_in_": json_node("2"),
                           "n_trees_per_iteration_": json_node("1"), "learning_rate": json_node("0.1"),
                           "init_": object("Ridge", "sklearn.linear_model._ridge", json!({}))}),
                )
                .to_string()
                .into_bytes(),
            )]),
            "GradientBoostingRegressor.init_ is a Ridge: mlx supports the default init (DummyRegressor) or 'zero'",
        ),
    ];
    for (name, bytes, why) in cases {
        let dir = model_dir(root, name, SKOPS_FLAVOR, &[("model.skops", bytes)]);
        refused(&s, &dir, why);
    }
}

#[test]
fn crafted_skops_files_are_refused_with_a_clear_error() {
    let s = TestStore::new();
    let root = s.dir.path();
    let logistic = |coef: Vec<u8>| {
        let schema = object(
            "LogisticRegression",
            "sklearn.linear_model._logistic",
            json!({"coef_": array_node("1.npy"), "intercept_": array_node("2.npy"), "classes_": array_node("3.npy")}),
        );
        zip_of(&[
            ("schema.json", schema.to_string().into_bytes()),
            ("1.npy", coef),
            ("2.npy", npy("'<f8'", &[1], &f64s(&[0.1]))),
            (
                "3.npy",
                npy("'<i8'", &[2], &[0i64, 1].map(i64::to_le_bytes).concat()),
            ),
        ])
    };
    let sound = logistic(npy("'<f8'", &[1, 2], &f64s(&[1.0, -1.0])));
    let ok = model_dir(root, "sound", SKOPS_FLAVOR, &[("model.skops", sound)]);
    let data = root.join("rows.csv");
    std::fs::write(&data, "a,b\n0.1,0.7\n0.9,0.2\n").unwrap();
    assert_eq!(
        s.ok(&["predict", "-m", &ok, "--data", data.to_str().unwrap()]),
        "prediction\n0\n1\n"
    );

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unknown-class",
            zip_of(&[(
                "schema.json",
                object("Popen", "subprocess", json!({})).to_string().into_bytes(),
            )]),
            "unsupported class subprocess.Popen",
        ),
        (
            "function-node",
            zip_of(&[(
                "schema.json",
                json!({"__class__": "system", "__module__": "os", "__loader__": "FunctionNode", "content": {}})
                    .to_string()
                    .into_bytes(),
            )]),
            "unsupported skops node \"FunctionNode\" (class os.system)",
        ),
        (
            "short-array",
            logistic(npy("'<f8'", &[1, 3], &f64s(&[1.0, -1.0]))),
            "needs 24 bytes of data",
        ),
        (
            "object-dtype",
            logistic(npy("'|O'", &[1, 2], &[0; 16])),
            "unsupported dtype",
        ),
        (
            "bad-header",
            logistic(b"\x93NUMPY\x01\x00\x05\x00{'des".to_vec()),
            "malformed header",
        ),
        (
            "wrong-width",
            logistic(npy("'<f8'", &[1, 5], &f64s(&[1.0; 5]))),
            "expects 5 features, the signature has 2",
        ),
        (
            "traversal",
            zip_of(&[("../../evil.npy", vec![1]), ("schema.json", b"{}".to_vec())]),
            "is not a plain file name",
        ),
        ("not-a-zip", b"PK\x03\x04 garbage".to_vec(), "not a zip file"),
    ];
    for (name, bytes, why) in cases {
        let dir = model_dir(root, name, SKOPS_FLAVOR, &[("model.skops", bytes)]);
        refused(&s, &dir, why);
    }
}

#[test]
fn a_zip_bomb_is_refused_without_unpacking_it() {
    let s = TestStore::new();
    let root = s.dir.path();
    let dir = model_dir(root, "bomb", SKOPS_FLAVOR, &[]);
    // 1.5 GiB of zeros deflate to ~1.5 MB; Python's zlib makes it in seconds.
    let script = "import sys, zipfile\n\
        with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
        \x20   z.writestr('schema.json', '{}')\n\
        \x20   with z.open('1.npy', 'w', force_zip64=True) as f:\n\
        \x20       block = bytes(1 << 20)\n\
        \x20       for _ in range(1536):\n\
        \x20           f.write(block)\n";
    let status = std::process::Command::new(python())
        .args(["-c", script])
        .arg(Path::new(&dir).join("model.skops"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::metadata(Path::new(&dir).join("model.skops"))
            .unwrap()
            .len()
            < 10 << 20
    );
    refused(&s, &dir, "unpacks to");
}

#[test]
fn flavors_mlx_cannot_read_are_named_with_what_to_do() {
    let s = TestStore::new();
    let root = s.dir.path();
    let torch = model_dir(
        root,
        "torch",
        "  python_function:\n    loader_module: mlflow.pytorch\n  pytorch:\n    model_data: data\n",
        &[],
    );
    refused(&s, &torch, "flavors python_function, pytorch");
    // No conversion reads a PyTorch model: the way out is MLflow's own loader in worker processes.
    refused(
        &s,
        &torch,
        "this model needs Python (flavors: python_function, pytorch): start mlx with --python PATH",
    );
    let pickled = model_dir(
        root,
        "pickled",
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n",
        &[("model.pkl", b"\x80\x04not read".to_vec())],
    );
    refused(&s, &pickled, "cloudpickle format");
    refused(&s, &pickled, "mlx models import");
}
