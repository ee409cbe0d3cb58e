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
        // In memory: nothing MLflow could share.
        ("sqlite://", "in-memory"),
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
        assert_eq!(out.status.code(), Some(2), "{uri}");
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

/// The command succeeded (else show its stderr).
fn assert_ok(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
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
    // Commands that only write are quiet on a terminal, and say what they did in one document under -o json.
    let w = run(&["log", "start", "-e", "writes"])["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = s.dir.path().join("w.json");
    std::fs::write(&file, r#"{"a": 1, "b": 2}"#).unwrap();
    let file = file.to_str().unwrap();
    let p = run(&["log", "param", "--run", &w, "lr", "0.1"]);
    assert_eq!(p["logged"]["params"][0], "lr");
    assert_eq!(p["run_id"], w.as_str());
    run(&["log", "metric", "--run", &w, "acc", "0.9"]);
    run(&["log", "tag", "--run", &w, "team", "a"]);
    assert_eq!(
        run(&["log", "params", "--run", &w, "--json", file])["logged"]["params"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        run(&["log", "metrics", "--run", &w, "--json", file])["logged"]["metric_points"],
        2
    );
    run(&["log", "artifact", "--run", &w, file]);
    assert_eq!(run(&["log", "end", "--run", &w])["status"], "FINISHED");
    for (args, stage) in [
        (&["runs", "delete", &w][..], "deleted"),
        (&["runs", "restore", &w], "active"),
        (&["experiments", "delete", "made"], "deleted"),
        (&["experiments", "restore", "made"], "active"),
    ] {
        assert_eq!(run(args)["lifecycle_stage"], stage, "{args:?}");
    }
    run(&["models", "set-tag", "m", "team=a"]);
    run(&["models", "describe", "m", "the model"]);
    run(&["alias", "delete", "Champion", "--model", "m"]);
    run(&["models", "delete-version", "m", "2"]);
    assert_eq!(run(&["models", "delete", "m"])["deleted"]["model"], "m");
    // Without -o json they stay quiet.
    assert_eq!(s.ok(&["log", "param", "--run", &w, "quiet", "1"]), "");
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
    let why = run["tags"]["mlx.error"].as_str().unwrap_or_default();
    assert!(why.contains("no-such-command"), "{run}");
}

/// The bundled Titanic file with its commas turned into `delim` (quoted names keep their commas).
fn titanic_with(delim: &str) -> String {
    let text = std::fs::read_to_string(titanic()).unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut w = csv::WriterBuilder::new()
        .delimiter(delim.as_bytes()[0])
        .from_writer(Vec::new());
    for r in rdr.records() {
        w.write_record(&r.unwrap()).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn train_args<'a>(data: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["train", "--data", data, "--target", "Survived"];
    args.extend(extra);
    args
}

#[test]
fn semicolon_and_tab_files_are_read_with_detection_or_delimiter() {
    let s = TestStore::new();
    let plain = train_args(titanic().to_str().unwrap(), &["--features", "Pclass,Fare"])
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    let plain: Vec<&str> = plain.iter().map(String::as_str).collect();
    let want = s.json(&plain)["metrics"]["accuracy"].clone();
    for (name, delim, flag) in [
        ("semi.csv", ";", None),
        ("tabs.tsv", "\t", None),
        ("semi2.csv", ";", Some(";")),
        ("tabs2.tsv", "\t", Some("\\t")),
    ] {
        let path = s.dir.path().join(name);
        std::fs::write(&path, titanic_with(delim)).unwrap();
        let mut args = train_args(path.to_str().unwrap(), &["--features", "Pclass,Fare"]);
        if let Some(f) = flag {
            args.extend(["--delimiter", f]);
        }
        let r = s.json(&args);
        assert_eq!(r["metrics"]["accuracy"], want, "{name}");
    }
    // Predict reads stdin with `--data -`, detecting the delimiter there too.
    let run = s.json(&plain)["run_id"].as_str().unwrap().to_string();
    let semi = titanic_with(";");
    let out = s
        .mlx()
        .args([
            "predict",
            "-m",
            &format!("runs:/{run}/model"),
            "--data",
            "-",
        ])
        .write_stdin(semi)
        .output()
        .unwrap();
    assert_ok(&out);
    let lines = String::from_utf8(out.stdout).unwrap();
    assert_eq!(lines.lines().count(), 892, "a header and 891 predictions");
    let bad = s
        .mlx()
        .args(["train", "--delimiter", "ab"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn comma_lists_are_trimmed_and_test_size_zero_fits_on_every_row() {
    let s = TestStore::new();
    let data = titanic();
    let r = s.json(&train_args(
        data.to_str().unwrap(),
        &[
            "--features",
            "Pclass, Sex ,Age",
            "--map",
            "Sex=male:0, female:1",
            "--test-size",
            "0",
        ],
    ));
    assert_eq!(
        (r["n_train"].as_u64(), r["n_test"].as_u64()),
        (Some(714), Some(0))
    );
    assert!(
        r["metrics"]["training_accuracy"].as_f64().unwrap() > 0.7,
        "{r}"
    );
    assert!(r["metrics"].get("accuracy").is_none(), "{r}");
    let run = s.json(&["runs", "show", r["run_id"].as_str().unwrap()]);
    assert_eq!(run["params"]["features"], "Pclass,Sex,Age");
    assert_eq!(run["params"]["test_size"], "0.0");
    let out = s
        .mlx()
        .args(train_args(
            data.to_str().unwrap(),
            &["--features", "Pclass", "--test-size", "0"],
        ))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--test-size 0: fitting on all"));
    for bad in ["1", "1.5"] {
        let err = s.fails(&train_args(
            data.to_str().unwrap(),
            &["--features", "Pclass", "--test-size", bad],
        ));
        assert!(err.contains("--test-size"), "{err}");
    }
}

#[test]
fn training_errors_name_the_files_row_and_ids_and_regression_targets_get_sane_defaults() {
    let s = TestStore::new();
    // Row 601 of the file (passenger 600) has an unmapped Sex; the error names that row, whatever the split.
    let text = std::fs::read_to_string(titanic()).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines[600].starts_with("600,"));
    lines[600] = lines[600].replace(",male,", ",unknown,");
    let path = s.dir.path().join("bad.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = s.fails(&train_args(
        path.to_str().unwrap(),
        &[
            "--features",
            "Pclass,Sex,Age,Fare",
            "--map",
            "Sex=male:0,female:1",
        ],
    ));
    assert!(
        err.contains("column 'Sex', row 601") && err.contains("unknown"),
        "{err}"
    );

    // Default features leave the id out, with a note.
    let data = titanic();
    let out = s
        .mlx()
        .args(["-o", "json"])
        .args(train_args(data.to_str().unwrap(), &["--na", "median"]))
        .output()
        .unwrap();
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("left out column 'PassengerId'") && err.contains("id"),
        "{err}"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let features = r["features"].as_array().unwrap();
    assert!(
        !features.iter().any(|f| f == "PassengerId") && features.iter().any(|f| f == "Pclass"),
        "{r}"
    );

    // A numeric target with many values: regression, fitted by linear regression unless --model says.
    let r = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "Fare",
        "--features",
        "Pclass,Age",
    ]);
    assert!(r["metrics"]["rmse"].is_number(), "{r}");
    let run = s.json(&["runs", "show", r["run_id"].as_str().unwrap()]);
    assert_eq!(
        (
            run["params"]["model"].as_str(),
            run["params"]["task"].as_str()
        ),
        (Some("linear-regression"), Some("regression"))
    );
    let r = train_args(data.to_str().unwrap(), &["--features", "Pclass,Fare"]);
    let run = s.json(&["runs", "show", s.json(&r)["run_id"].as_str().unwrap()]);
    assert_eq!(run["params"]["model"], "logistic-regression");
}

#[test]
fn compare_json_values_are_numbers_like_best_and_deltas() {
    let s = TestStore::new();
    let a = s.start(&[]);
    let b = s.start(&[]);
    s.ok(&["log", "metric", "--run", &a, "acc", "0.5"]);
    s.ok(&["log", "metric", "--run", &b, "acc", "0.75"]);
    let c = s.json(&["compare", &a, &b]);
    let m = &c["metrics"]["acc"];
    assert_eq!(m["values"], serde_json::json!([0.5, 0.75]), "{c}");
    assert_eq!(m["deltas"][1], 0.25);
    assert_eq!(m["best"], m["values"][1]);
}

#[test]
fn the_evaluation_report_has_scikit_learns_per_class_table() {
    let s = TestStore::new();
    let data = titanic();
    let data = data.to_str().unwrap();
    for args in [
        // Binary, as the original app logged it.
        &[
            "--target",
            "Survived",
            "--features",
            "Pclass,Sex,Age,Fare",
            "--map",
            "Sex=male:0,female:1",
        ][..],
        // Three text classes.
        &[
            "--target",
            "Embarked",
            "--features",
            "Pclass,Fare",
            "--model",
            "decision-tree",
            "--max-depth",
            "3",
        ],
    ] {
        let mut full = vec!["train", "--data", data];
        full.extend(args);
        let r = s.json(&full);
        let run = s.json(&["runs", "show", r["run_id"].as_str().unwrap()]);
        let artifacts = run["info"]["artifact_uri"]
            .as_str()
            .unwrap()
            .trim_start_matches("file://")
            .to_string();
        let reports = std::path::Path::new(&artifacts).join("reports");
        let predictions = reports.join("test_predictions.csv");
        let sk =
            crate::common::interop_json("classification_report.py", &[predictions.as_os_str()]);
        let ours: Value = serde_json::from_str(
            &std::fs::read_to_string(reports.join("evaluation.json")).unwrap(),
        )
        .unwrap();
        let ours = &ours["classification_report"];
        let (want, got) = (sk["dict"].as_object().unwrap(), ours.as_object().unwrap());
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>(),
            "{args:?}: {ours}"
        );
        for (line, scores) in want {
            let close =
                |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12;
            match scores {
                Value::Object(m) => {
                    for (k, v) in m {
                        assert!(
                            close(v, &got[line][k]),
                            "{args:?} {line} {k}: {v} vs {}",
                            got[line][k]
                        );
                    }
                    assert_eq!(
                        got[line]["support"].as_u64(),
                        Some(m["support"].as_f64().unwrap() as u64)
                    );
                }
                v => assert!(close(v, &got[line]), "{args:?} {line}"),
            }
        }
        let text = std::fs::read_to_string(reports.join("evaluation.txt")).unwrap();
        let want_text = sk["text"].as_str().unwrap();
        assert!(
            text.contains(want_text),
            "{args:?}: ours:\n{text}\nscikit-learn's:\n{want_text}"
        );
    }
}

/// MLflow's tutorial project, as its docs show it: YAML, a python_env, typed parameters and an MLflow script.
const MLPROJECT: &str = r#"name: tutorial

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      n_estimators: {type: int, default: 100}
      max_depth: {type: int, default: 6}
      data: path
      alpha: float
      note: {type: string, default: "a b"}
    command: "python train.py {n_estimators} {max_depth} {data} {alpha} {note}"
"#;

const TRAIN_PY: &str = r#"import os, sys
import mlflow

n_estimators, max_depth, data, alpha, note = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
assert os.path.isabs(data) and os.path.isfile(data), data
given = os.environ["MLFLOW_RUN_ID"]
with mlflow.start_run() as run:
    assert run.info.run_id == given
    mlflow.log_metric("score", n_estimators / max_depth + alpha)
    mlflow.set_tag("note_seen", note)
    mlflow.log_dict({"rows": sum(1 for _ in open(data)) - 1}, "data_info.json")
print("trained")
"#;

#[test]
fn an_mlflow_yaml_project_runs_and_its_script_logs_into_the_run() {
    let s = TestStore::new();
    let proj = s.dir.path().join("tutorial");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("MLproject"), MLPROJECT).unwrap();
    std::fs::write(
        proj.join("python_env.yaml"),
        "python: \"3.11\"\ndependencies:\n  - mlflow\n",
    )
    .unwrap();
    std::fs::write(proj.join("train.py"), TRAIN_PY).unwrap();
    std::fs::copy(titanic(), proj.join("titanic.csv")).unwrap();
    let venv_bin = crate::common::python().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(venv_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let run = |args: &[&str]| {
        s.mlx()
            .env("PATH", &path)
            .args(["-o", "json", "run", "--project", proj.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    // `data` and `alpha` have no default: required, as in MLflow.
    let out = run(&["-P", "alpha=0.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'data'"));
    let out = run(&["-P", "alpha=x", "-P", "data=titanic.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'x' is not a float"));

    let out = run(&[
        "-P",
        "n_estimators=50",
        "-P",
        "alpha=0.5",
        "-P",
        "data=titanic.csv",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("python_env") && err.contains("current environment"),
        "{err}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = doc["run_id"].as_str().unwrap();
    let shown = s.json(&["runs", "show", run_id]);
    assert_eq!(shown["info"]["status"], "FINISHED");
    assert_eq!(
        s.json(&["experiments", "show", "tutorial"])["experiment"]["experiment_id"],
        shown["info"]["experiment_id"]
    );
    assert_eq!(shown["params"]["n_estimators"], "50");
    assert_eq!(shown["params"]["max_depth"], "6");
    assert_eq!(shown["metrics"]["score"]["latest"], 50.0 / 6.0 + 0.5);
    assert_eq!(shown["tags"]["note_seen"], "a b");
    assert_eq!(shown["tags"]["mlflow.source.type"], "PROJECT");
    let artifacts: Vec<&str> = shown["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert!(
        artifacts.contains(&"data_info.json") && artifacts.contains(&"stdout.txt"),
        "{artifacts:?}"
    );
}

#[test]
fn rollback_prints_json_skips_no_ops_and_messages_name_what_exists() {
    let s = TestStore::new();
    let data = titanic();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let r = s.json(&train_args(
            data.to_str().unwrap(),
            &["--features", "Pclass,Fare", "--register", "titanic"],
        ));
        runs.push(r["run_id"].as_str().unwrap().to_string());
    }
    s.ok(&["alias", "set", "Champion", "1"]);
    s.ok(&["alias", "set", "Champion", "3"]);
    s.ok(&["alias", "set", "Challenger", "2"]);
    let moves = |s: &TestStore| {
        s.json(&["alias", "history", "Champion"])
            .as_array()
            .unwrap()
            .len()
    };
    let before = moves(&s);
    // `--to` the version it already points at: JSON says so, the history does not grow.
    let out = s
        .mlx()
        .args(["rollback", "--to", "3", "-o", "json"])
        .output()
        .unwrap();
    assert_ok(&out);
    let doc = one_document(&["rollback"], &String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        (doc["from"].as_u64(), doc["to"].as_u64()),
        (Some(3), Some(3))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing changed"));
    assert_eq!(moves(&s), before);
    let doc = s.json(&["rollback", "--to", "1"]);
    assert_eq!(
        (doc["from"].as_u64(), doc["to"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(moves(&s), before + 1);

    // A missing alias: no nested quotes, and the aliases that exist.
    let err = s.fails(&[
        "predict",
        "-m",
        "models:/titanic@Staging",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(
        err.contains("registered model 'titanic' has no alias 'Staging' (its aliases: Challenger -> v2, Champion -> v1)"),
        "{err}"
    );
    assert!(!err.contains("''"), "{err}");
    let err = s.fails(&["alias", "delete", "Staging"]);
    assert!(err.contains("its aliases: Challenger -> v2"), "{err}");

    // A write error names the file asked for, not a temp file.
    let err = s.fails(&[
        "predict",
        "-m",
        "models:/titanic@Champion",
        "--data",
        data.to_str().unwrap(),
        "-o",
        "/nonexistent/dir/preds.csv",
    ]);
    assert!(
        err.contains(
            "cannot write /nonexistent/dir/preds.csv: the folder /nonexistent/dir does not exist"
        ),
        "{err}"
    );
    assert!(!err.contains(".mlx-tmp"), "{err}");
}

#[test]
fn run_tables_fit_the_terminal_show_queried_metrics_and_take_columns() {
    let s = TestStore::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = s.start(&["--name", &format!("a-rather-long-run-name-{i}")]);
        for m in ["acc", "f1", "loss", "prec", "recall"] {
            s.ok(&["log", "metric", "--run", &id, m, &format!("0.{i}5")]);
        }
        ids.push(id);
    }
    s.ok(&["log", "metric", "--run", &ids[1], "roc_auc", "0.9"]);
    s.ok(&["log", "param", "--run", &ids[1], "C", "0.5"]);
    s.ok(&["log", "tag", "--run", &ids[1], "team", "vision"]);

    // 80 columns: no line is wider, the ids stay whole, and what is left out is named.
    let out = s
        .mlx()
        .env("COLUMNS", "80")
        .args(["runs", "list", "-o", "table"])
        .output()
        .unwrap();
    assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(ids.iter().all(|id| text.contains(id.as_str())), "{text}");
    assert!(
        text.contains('…') && text.contains("4 more columns not shown"),
        "{text}"
    );
    // Without a terminal or COLUMNS nothing is cut.
    let wide = s.ok(&["runs", "list", "-o", "table"]);
    assert!(
        !wide.contains('…') && wide.contains("a-rather-long-run-name-0"),
        "{wide}"
    );

    // The metric sorted on is shown even though it is not among the most common.
    let sorted = s.ok(&[
        "runs",
        "list",
        "-o",
        "table",
        "--order-by",
        "metrics.roc_auc DESC",
    ]);
    let header = sorted.lines().nth(1).unwrap();
    assert!(header.contains("roc_auc"), "{sorted}");
    let filtered = s.ok(&[
        "runs",
        "list",
        "-o",
        "csv",
        "--filter",
        "metrics.roc_auc > 0.5",
    ]);
    assert!(
        filtered.lines().next().unwrap().contains("roc_auc"),
        "{filtered}"
    );

    // Chosen columns, in the order given.
    let csv = s.ok(&[
        "runs",
        "list",
        "-o",
        "csv",
        "--columns",
        "metrics.roc_auc, params.C,tags.team",
    ]);
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers[headers.len() - 3..],
        ["roc_auc", "params.C", "tags.team"]
    );
    let row = rdr
        .records()
        .map(|r| r.unwrap())
        .find(|r| r.get(0) == Some(ids[1].as_str()))
        .unwrap();
    let n = row.len();
    assert_eq!(
        (&row[n - 3], &row[n - 2], &row[n - 1]),
        ("0.9", "0.5", "vision")
    );
    let err = s.fails(&["runs", "list", "--columns", "roc_auc"]);
    assert!(err.contains("'roc_auc' is not metrics.KEY"), "{err}");
}
