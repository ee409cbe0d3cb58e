//! Issue 18, the original app's clients: rows sent with a `--map`ped column already coded (0/1), pandas'
//! `df.to_dict()` shape, training from a URL, `/update_model` with new data, and messages that name the
//! address or file at fault.

use crate::common::TestStore;
use crate::serve::Server;
use crate::train::titanic;

/// The original app's training: Sex mapped to 0/1.
const ORIGINAL_APP: [&str; 6] = [
    "--target",
    "Survived",
    "--features",
    "Pclass,Sex,Age,Fare",
    "--map",
    "Sex=male:0,female:1",
];

/// Train the original app's model (Sex mapped) and return its run id.
fn train_mapped(s: &TestStore) -> String {
    let data = titanic();
    let mut args = vec!["train", "--data", data.to_str().unwrap()];
    args.extend(ORIGINAL_APP);
    s.json(&args)["run_id"].as_str().unwrap().to_string()
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

/// A tiny HTTP/1.1 file server on 127.0.0.1 for the test: `GET /NAME` answers the file `dir/NAME`, anything
/// else 404. Runs until the test process ends.
fn serve_files(dir: std::path::PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let file = (!path.contains('/') && !path.is_empty())
                .then(|| std::fs::read(dir.join(path)).ok())
                .flatten();
            let mut stream = stream;
            let _ = match file {
                Some(body) => stream
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| stream.write_all(&body)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    port
}

const TOKEN: (&str, &str) = ("Authorization", "Bearer s3cret");

#[test]
fn train_from_a_url_and_update_model_with_new_data_from_any_folder() {
    let s = TestStore::new();
    let web = s.dir.path().join("web");
    let data_dir = s.dir.path().join("data");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::copy(titanic(), web.join("titanic.csv")).unwrap();
    std::fs::copy(titanic(), data_dir.join("titanic.csv")).unwrap();
    // New data: the first 500 rows.
    let text = std::fs::read_to_string(titanic()).unwrap();
    let head: Vec<&str> = text.lines().take(501).collect();
    std::fs::write(data_dir.join("new.csv"), head.join("\n") + "\n").unwrap();
    std::fs::write(web.join("new.csv"), head.join("\n") + "\n").unwrap();
    let port = serve_files(web.clone());
    let url = format!("http://127.0.0.1:{port}/titanic.csv");
    let common = ORIGINAL_APP;

    // From the URL: the same model as from the file, the URL recorded as param and dataset source.
    let mut args = vec!["train", "--data", url.as_str()];
    args.extend(common);
    let from_url = s.json(&args);
    let local = titanic();
    let mut args = vec!["train", "--data", local.to_str().unwrap()];
    args.extend(common);
    let from_file = s.json(&args);
    assert_eq!(
        from_url["metrics"]["roc_auc"],
        from_file["metrics"]["roc_auc"]
    );
    assert_eq!(
        from_url["metrics"]["log_loss"],
        from_file["metrics"]["log_loss"]
    );
    let run = s.json(&["runs", "show", from_url["run_id"].as_str().unwrap()]);
    assert_eq!(run["params"]["data"], url.as_str(), "{run}");
    let file_run = s.json(&["runs", "show", from_file["run_id"].as_str().unwrap()]);
    let input = &run["inputs"][0];
    assert_eq!(input["source_type"], "http", "{input}");
    assert_eq!(
        input["digest"], file_run["inputs"][0]["digest"],
        "same data, same digest"
    );
    let sources: Vec<String> = s
        .files()
        .into_iter()
        .filter(|f| f.contains("datasets"))
        .map(|f| std::fs::read_to_string(s.root().join(f)).unwrap())
        .collect();
    assert!(sources.iter().any(|m| m.contains(&url)), "{sources:?}");
    // A missing URL is an error naming it, and leaves no temp file behind in the message.
    let missing = format!("http://127.0.0.1:{port}/nope.csv");
    let out = s
        .mlx()
        .args(["train", "--data", &missing, "--target", "Survived"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing) && err.contains("404"), "{err}");

    // A relative --data from a subfolder is recorded absolute: the server, started elsewhere, retrains.
    let trained = s
        .mlx()
        .current_dir(&data_dir)
        .args([
            "train",
            "--data",
            "titanic.csv",
            "--register",
            "titanic",
            "-o",
            "json",
        ])
        .args(common)
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let trained: serde_json::Value = serde_json::from_slice(&trained.stdout).unwrap();
    let run = s.json(&["runs", "show", trained["run_id"].as_str().unwrap()]);
    let recorded = run["params"]["data"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&recorded).is_absolute(), "{recorded}");
    assert!(
        run["tags"]["mlx.command"]
            .as_str()
            .unwrap_or_default()
            .contains(&recorded),
        "{run}"
    );
    s.ok(&["alias", "set", "Champion", "1", "--model", "titanic"]);
    let server = Server::start(
        &s,
        &[
            "--model",
            "models:/titanic@Champion",
            "--token",
            "s3cret",
            "--project",
            web.to_str().unwrap(),
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--data-url",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    let retrain = |body: &str| {
        let (status, _, answer) = server.post_json("/update_model", body, &[TOKEN]);
        (status, answer)
    };
    let (status, body) = retrain("");
    assert_eq!(status, 200, "{body}");
    // New data, by path: the new run is trained on it (fewer rows), and records it.
    let new_path = data_dir.join("new.csv");
    let (status, body) = retrain(&serde_json::json!({"data": new_path}).to_string());
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let new_run = s.json(&["runs", "show", v["run_id"].as_str().unwrap()]);
    assert_eq!(new_run["params"]["data"], new_path.to_str().unwrap());
    assert_eq!(v["version"], 3);
    // By URL, under the --data-url prefix.
    let new_url = format!("http://127.0.0.1:{port}/new.csv");
    let (status, body) = retrain(&serde_json::json!({"data": new_url}).to_string());
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let new_run = s.json(&["runs", "show", v["run_id"].as_str().unwrap()]);
    assert_eq!(new_run["params"]["data"], new_url.as_str());
    // Refused: a path outside the allowed folders, a URL outside the prefixes, a non-string, no token.
    for (body, status, why) in [
        (
            r#"{"data": "/etc/passwd"}"#,
            422,
            "outside the project folder",
        ),
        (r#"{"data": "http://10.0.0.1/x.csv"}"#, 422, "--data-url"),
        (r#"{"data": 3}"#, 400, "must be a path or URL"),
        ("[1]", 400, "JSON object"),
    ] {
        let (got, answer) = retrain(body);
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer.contains(why), "{body}: {answer}");
    }
    let (status, _, _) = server.post_json(
        "/update_model",
        &serde_json::json!({"data": new_path}).to_string(),
        &[],
    );
    assert_eq!(status, 401);
}

#[test]
fn messages_name_the_busy_address_and_the_unreachable_server() {
    let s = TestStore::new();
    let run = train_mapped(&s);
    // A port in use: serve and ui name the address they could not listen on.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let model = format!("runs:/{run}/model");
    for args in [
        vec!["serve", "--model", model.as_str(), "--port", port.as_str()],
        vec!["ui", "--port", port.as_str()],
    ] {
        let out = s.mlx().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("127.0.0.1:{port}")) && err.contains("in use"),
            "{args:?}: {err}"
        );
    }
    // A tracking server that refuses connections: said on stderr from the first retry on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let out = crate::common::mlx_bare(s.dir.path())
        .args(["--tracking-uri", &uri, "experiments", "list"])
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        .env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot reach {uri}, retrying (1/2) ...")),
        "{err}"
    );
    assert!(err.contains("retrying (2/2)"), "{err}");
    drop(busy);
}
