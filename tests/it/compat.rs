//! Issue 18: what an MLflow user or a script expects — foreign tracking URIs refused clearly, one JSON
//! document per `-o json`, forgiving data options, per-class reports, YAML MLproject, tidy tables.

use crate::common::{TestStore, mlx_bare};
use crate::train::titanic;
use serde_json::Value;

#[test]
fn tracking_uris_mlx_cannot_open_are_errors_that_say_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = titanic();
    for (uri, needle) in [
        ("databricks", "Databricks"),
        ("databricks-uc", "Databricks"),
        ("databricks://profile", "Databricks"),
        (
            "sqlite:///mlflow.db",
            "mlflow server --backend-store-uri sqlite:///mlflow.db",
        ),
        (
            "postgresql://db/mlflow",
            "mlflow server --backend-store-uri postgresql://db/mlflow",
        ),
        (
            "postgresql+psycopg2://db/m",
            "mlflow server --backend-store-uri",
        ),
        ("mysql://db/mlflow", "mlflow server --backend-store-uri"),
        // Credentials in the URI are not repeated.
        (
            "mysql://me:s3cret@db/mlflow",
            "mlflow server --backend-store-uri mysql://***@db/mlflow",
        ),
        ("s3://bucket/mlruns", "unsupported scheme"),
    ] {
        let out = mlx_bare(d)
            .env("MLFLOW_TRACKING_URI", uri)
            .args([
                "train",
                "--data",
                data.to_str().unwrap(),
                "--target",
                "Survived",
            ])
            .args(["--features", "Pclass,Fare"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{uri}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle) && !err.contains("s3cret"), "{err}");
        assert!(err.contains(uri) || uri.contains("s3cret"), "{err}");
        assert!(
            err.contains("http://host:port") && err.contains("file:"),
            "{err}"
        );
    }
    // Nothing was created where the URI would have been read as a folder.
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A folder that merely starts like one is still a folder.
    let s = TestStore::new();
    s.ok(&[
        "--tracking-uri",
        "databricks-runs",
        "experiments",
        "create",
        "x",
    ]);
    assert!(s.dir.path().join("databricks-runs/.trash").is_dir());
}

/// Exactly one JSON document on stdout.
fn one_document(args: &[&str], stdout: &str) -> Value {
    let docs: Vec<Value> = serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("mlx {args:?}: stdout is not JSON ({e}): {stdout}"));
    assert_eq!(docs.len(), 1, "mlx {args:?}: {stdout}");
    docs.into_iter().next().unwrap()
}

#[test]
fn every_command_prints_exactly_one_json_document_under_o_json() {
    let s = TestStore::new();
    let data = titanic();
    let data = data.to_str().unwrap();
    // A project whose commands print to stdout themselves, and nest an `mlx train`.
    std::fs::write(
        s.dir.path().join("MLproject.toml"),
        format!(
            "name = \"proj\"\n[entry_points.main]\ncommand = \"echo chatter; mlx train --data {data} --target Survived --features Pclass,Fare --c {{c}}\"\n\
             [entry_points.main.parameters]\nc = {{ type = \"float\", default = 1.0 }}\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| -> Value {
        let mut full = vec!["-o", "json"];
        full.extend(args);
        let out = s.mlx().args(&full).output().unwrap();
        assert!(
            out.status.success(),
            "mlx {full:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        one_document(&full, &String::from_utf8(out.stdout).unwrap())
    };
    let single = run(&["run", "-e", "proj"]);
    let run_id = single["run_id"].as_str().unwrap().to_string();
    assert_eq!(single["status"], "FINISHED");
    let sweep = run(&["run", "-e", "proj", "-P", "c=0.5,1.0", "--by", "accuracy"]);
    assert_eq!(sweep["children"].as_array().unwrap().len(), 2);
    assert!(sweep["parent_run_id"].is_string() && sweep["best"]["run_id"].is_string());
    // On a terminal (a table) a nested mlx keeps to a table too: no JSON dump per child.
    let table = s.ok(&["-o", "table", "run", "-e", "proj", "-P", "c=0.5,1.0"]);
    assert!(
        !table.contains('{') && table.contains("FINISHED"),
        "{table}"
    );
    let other = run(&[
        "train",
        "--data",
        data,
        "--target",
        "Survived",
        "--features",
        "Pclass,Fare",
    ])["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        run(&["log", "start", "-e", "proj"])["run_id"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
    let exec = run(&["log", "exec", "--", "echo", "hello"]);
    assert_eq!(
        (exec["status"].as_str(), exec["exit_code"].as_u64()),
        (Some("FINISHED"), Some(0))
    );
    assert!(run(&["experiments", "create", "made"])["experiment_id"].is_string());
    let version = run(&["register", &format!("runs:/{run_id}/model"), "--name", "m"]);
    assert_eq!(version["version"], 1);
    run(&["register", &format!("runs:/{other}/model"), "--name", "m"]);
    let set = run(&["alias", "set", "Champion", "2", "--model", "m"]);
    assert_eq!(
        (set["from"].clone(), set["to"].clone()),
        (Value::Null, 2.into())
    );
    run(&["alias", "set", "Champion", "1", "--model", "m"]);
    let back = run(&["rollback", "--alias", "Champion", "--model", "m"]);
    assert_eq!(
        (back["from"].clone(), back["to"].clone()),
        (1.into(), 2.into())
    );
    for args in [
        &["experiments", "list"][..],
        &["experiments", "show", "proj"],
        &["runs", "list"],
        &["runs", "show", &run_id],
        &["runs", "compare", &run_id, &other],
        &["compare", &run_id, &other],
        &["runs", "diff", &run_id, &other],
        &["models", "list"],
        &["models", "show", "m"],
        &["models", "versions", "m"],
        &["alias", "list", "--model", "m"],
        &["alias", "history", "Champion", "--model", "m"],
        &["config", "show"],
        &["doctor"],
        &["gc", "--dry-run"],
    ] {
        run(args);
    }
}

#[test]
fn log_exec_of_a_missing_command_exits_127_and_the_failed_run_says_why() {
    let s = TestStore::new();
    let out = s
        .mlx()
        .args([
            "log",
            "exec",
            "--name",
            "typo",
            "--",
            "no-such-command",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: cannot run 'no-such-command'"), "{err}");
    let runs = s.json(&["runs", "list"]);
    let run = &runs.as_array().unwrap()[0];
    let run = s.json(&["runs", "show", run["run_id"].as_str().unwrap()]);
    assert_eq!(run["info"]["status"], "FAILED");
    let why = run["tags"]["mlx.error"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("no-such-command"), "{run}");
}
