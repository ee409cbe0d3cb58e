//! Issue 18, the original app's clients: rows sent with a `--map`ped column already coded (0/1), pandas'
//! `df.to_dict()` shape, training from a URL, `/update_model` with new data, and messages that name the
//! address or file at fault.

use crate::common::TestStore;
use crate::serve::Server;
use crate::train::titanic;

/// Train the original app's model (Sex mapped) and return its run id.
fn train_mapped(s: &TestStore) -> String {
    let data = titanic();
    let r = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Survived",
        "--features",
        "Pclass,Sex,Age,Fare",
        "--map",
        "Sex=male:0,female:1",
    ]);
    r["run_id"].as_str().unwrap().to_string()
}

#[test]
fn mapped_codes_and_pandas_to_dict_rows_are_accepted_by_serve_and_predict() {
    let s = TestStore::new();
    let run = train_mapped(&s);
    let model = format!("runs:/{run}/model");
    let server = Server::start(&s, &["--model", &model]);
    let post = |path: &str, body: &str| {
        let (status, _, body) = server.post_json(path, body, &[]);
        assert_eq!(status, 200, "{path} {body}");
        body
    };
    // The original app's client sends Sex already mapped; as a number or a string, through the streaming
    // parser (flat records) and the general one (a single record object).
    let named = post(
        "/predict",
        r#"[{"Pclass":3,"Sex":"male","Age":22,"Fare":7.25},{"Pclass":1,"Sex":"female","Age":38,"Fare":71.28}]"#,
    );
    for body in [
        r#"[{"Pclass":3,"Sex":0,"Age":22,"Fare":7.25},{"Pclass":1,"Sex":1,"Age":38,"Fare":71.28}]"#,
        r#"[{"Pclass":3,"Sex":"0","Age":22,"Fare":7.25},{"Pclass":1,"Sex":"1","Age":38,"Fare":71.28}]"#,
        r#"[{"Pclass":3,"Sex":0.0,"Age":22,"Fare":7.25},{"Pclass":1,"Sex":1,"Age":38,"Fare":71.28,"x":[1]}]"#,
        // pandas' df.to_dict(): column -> {index -> value}, rows in index order.
        r#"{"Pclass":{"1":1,"0":3},"Sex":{"0":0,"1":"female"},"Age":{"0":22,"1":38},"Fare":{"0":7.25,"1":71.28}}"#,
    ] {
        assert_eq!(post("/predict", body), named, "{body}");
    }
    let first_only = post(
        "/predict",
        r#"[{"Pclass":3,"Sex":"male","Age":22,"Fare":7.25}]"#,
    );
    assert_eq!(
        post("/predict", r#"[{"Pclass":3,"Sex":0,"Age":22,"Fare":7.25}]"#),
        first_only
    );
    // MLflow's endpoint: the streaming parser (records, split) and the general one (to_dict in inputs).
    let scored = post(
        "/invocations",
        r#"{"dataframe_split":{"columns":["Pclass","Sex","Age","Fare"],"data":[[3,"male",22,7.25],[1,"female",38,71.28]]}}"#,
    );
    for body in [
        r#"{"dataframe_split":{"columns":["Pclass","Sex","Age","Fare"],"data":[[3,0,22,7.25],[1,"1",38,71.28]]}}"#,
        r#"{"dataframe_records":[{"Pclass":3,"Sex":0,"Age":22,"Fare":7.25},{"Pclass":1,"Sex":1,"Age":38,"Fare":71.28}]}"#,
        r#"{"inputs":{"Pclass":{"0":3,"1":1},"Sex":{"0":0,"1":1},"Age":{"0":22,"1":38},"Fare":{"0":7.25,"1":71.28}}}"#,
        r#"{"dataframe_records":{"Pclass":{"0":3,"1":1},"Sex":{"0":"male","1":"female"},"Age":{"0":22,"1":38},"Fare":{"0":7.25,"1":71.28}}}"#,
    ] {
        assert_eq!(post("/invocations", body), scored, "{body}");
    }
    // A code the map does not have is still refused, naming the values and codes it knows.
    let (status, _, body) = server.post_json(
        "/predict",
        r#"[{"Pclass":3,"Sex":2,"Age":22,"Fare":7.25}]"#,
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("female, male, or their codes 0, 1"), "{body}");
    drop(server);

    // `mlx predict` on a file whose Sex column is coded gives the same predictions as the named one.
    let named = s.dir.path().join("named.csv");
    let coded = s.dir.path().join("coded.csv");
    std::fs::write(
        &named,
        "Pclass,Sex,Age,Fare\n3,male,22,7.25\n1,female,38,71.28\n",
    )
    .unwrap();
    std::fs::write(&coded, "Pclass,Sex,Age,Fare\n3,0,22,7.25\n1,1,38,71.28\n").unwrap();
    let want = s.ok(&["predict", "-m", &model, "--data", named.to_str().unwrap()]);
    let got = s.ok(&["predict", "-m", &model, "--data", coded.to_str().unwrap()]);
    assert_eq!(got, want);
}

#[test]
fn the_python_loader_takes_mapped_codes_as_mlx_does() {
    let s = TestStore::new();
    let run = train_mapped(&s);
    let model = format!("runs:/{run}/model");
    let coded = s.dir.path().join("coded.csv");
    std::fs::write(
        &coded,
        "Pclass,Sex,Age,Fare\n3,0,22.0,7.25\n1,1,38.0,71.28\n2,female,30.5,13.0\n",
    )
    .unwrap();
    let expected = crate::pyfunc::mlx_predict(&s, &model, &coded);
    let labels: Vec<&serde_json::Value> = expected["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["prediction"])
        .collect();
    assert_eq!(
        labels,
        [
            &serde_json::json!(0),
            &serde_json::json!(1),
            &serde_json::json!(1)
        ]
    );
    let unknown =
        "column 'Sex', row 0: unknown value \"2\" (known: female, male, or their codes 0, 1)";
    let spec = serde_json::json!({
        "store": s.root(),
        "models": [{"name": "coded", "uri": model, "data": coded, "expected": expected}],
        "bad": [{"name": "coded", "uri": model,
                 "rows": {"Pclass": [3], "Sex": ["2"], "Age": [22.0], "Fare": [7.25]},
                 "message": unknown}],
    });
    let report = crate::pyfunc::run_check(&s, &spec, "load");
    assert_eq!(report.as_array().unwrap().len(), 2, "{report}");
}
