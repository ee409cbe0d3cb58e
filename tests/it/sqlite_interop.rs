//! MLflow 3's default store, `sqlite:///mlflow.db`, shared with the real MLflow client (3.17.2) in both
//! directions and with no `MLFLOW_ALLOW_FILE_STORE` anywhere: seed-style MLflow code writes `./mlflow.db` and a
//! plain `mlx` in that folder lists, searches, shows, predicts and moves aliases; what `mlx train --register`
//! and `mlx alias set` write there MLflow reads (runs, histories, the alias, `pyfunc.load_model().predict`).

use crate::common::{mlx_bare, python};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// `tests/interop/mlflow_sqlite.py DIR ARGS` with every MLFLOW_ variable removed (the script drops them
/// too): MLflow picks its own default store, as a user's script does.
fn mlflow_sqlite(dir: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mlflow_sqlite.py");
    let mut cmd = std::process::Command::new(python());
    for (k, _) in std::env::vars() {
        if k.starts_with("MLFLOW_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg(script)
        .arg(dir)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "mlflow_sqlite.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `mlx ARGS` in `dir` with no store flag and no MLX_/MLFLOW_ variables (plus `env`); asserts success.
fn mlx_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = mlx_bare(dir);
    cmd.env("MLX_CACHE_DIR", dir.join("cache"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("run mlx");
    assert!(
        out.status.success(),
        "mlx {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn run_ids(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .expect("a JSON array of runs")
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every `meta.yaml` under `dir/mlruns`: there must be none, or MLflow switches to its folder store and
/// refuses it ("maintenance mode").
fn meta_yamls(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n == "meta.yaml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("mlruns"), &mut out);
    out
}

#[test]
fn plain_mlx_reads_searches_predicts_and_moves_aliases_in_mlflows_default_store() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let seeded = json(&mlflow_sqlite(d, &["seed"]));
    assert!(d.join("mlflow.db").is_file(), "MLflow's default store");

    // Listing and searching with no flag at all: mlx picks ./mlflow.db as MLflow does.
    let mut listed = run_ids(&json(&mlx_in(
        d,
        &[],
        &["runs", "list", "-e", "seed", "-o", "json"],
    )));
    let mut expected: Vec<String> = seeded["run_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let searched = run_ids(&json(&mlx_in(
        d,
        &[],
        &[
            "runs",
            "list",
            "-e",
            "seed",
            "--filter",
            "metrics.accuracy > 0.5",
            "--order-by",
            "metrics.accuracy DESC",
            "--order-by",
            "params.C ASC",
            "--max",
            "10",
            "-o",
            "json",
        ],
    )));
    assert_eq!(
        json(&serde_json::to_string(&searched).unwrap()),
        seeded["search"]
    );

    // One run in full: params, the whole metric history, tags.
    let lr_run = seeded["lr_run"].as_str().unwrap();
    let shown = json(&mlx_in(d, &[], &["runs", "show", lr_run, "-o", "json"]));
    assert_eq!(shown["params"]["C"], "1.0");
    assert_eq!(shown["params"]["max_iter"], "500");
    assert_eq!(shown["tags"]["team"], "ml");
    assert_eq!(shown["info"]["status"], "FINISHED");
    assert_eq!(shown["metrics"]["loss"]["points"], 5);
    assert_eq!(shown["metrics"]["loss"]["latest"], 1.2);

    // The registered skops model, found through the alias MLflow set.
    let predicted = json(&mlx_in(
        d,
        &[],
        &[
            "predict",
            "--model",
            "models:/seed-model@Champion",
            "--data",
            "rows.csv",
            "-o",
            "json",
        ],
    ));
    assert_eq!(predicted["predictions"], seeded["predict"]);

    // An alias mlx moves, MLflow follows.
    mlx_in(
        d,
        &[],
        &["alias", "set", "Challenger", "1", "--model", "seed-model"],
    );
    let read = json(&mlflow_sqlite(
        d,
        &["read", "seed-model", "Challenger", "rows.csv"],
    ));
    assert_eq!(read["alias_version"], 1);
    assert_eq!(read["alias_run_id"], lr_run);
    assert_eq!(read["predict"], seeded["predict"]);

    // mlx left MLflow's default alone: no meta.yaml, and MLflow still logs to the database.
    assert_eq!(meta_yamls(d), Vec::<PathBuf>::new());
    let default_store = format!("sqlite:///{}", d.join("mlflow.db").display());
    assert_eq!(mlflow_sqlite(d, &["log"]).trim(), default_store);
}

/// The Titanic rows with every feature present (MLflow's pyfunc gets them as pandas reads the file).
fn titanic_rows(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/titanic.csv");
    let mut reader = csv::Reader::from_path(src).unwrap();
    let headers = reader.headers().unwrap().clone();
    let need: Vec<usize> = ["Pclass", "Sex", "Age", "Fare"]
        .iter()
        .map(|n| headers.iter().position(|h| h == *n).unwrap())
        .collect();
    let path = dir.join("titanic_rows.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(&headers).unwrap();
    for rec in reader.records().take(120) {
        let rec = rec.unwrap();
        if need.iter().all(|&i| !rec[i].is_empty()) {
            w.write_record(&rec).unwrap();
        }
    }
    w.flush().unwrap();
    path
}

#[test]
fn mlflow_reads_what_mlx_trains_registers_and_aliases_in_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let env = [("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")];
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/titanic.csv");
    mlx_in(
        d,
        &env,
        &[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--target",
            "Survived",
            "--features",
            "Pclass,Sex,Age,Fare",
            "--map",
            "Sex=male:0,female:1",
            "--model",
            "gradient-boosting",
            "--n-estimators",
            "30",
            "--early-stopping",
            "5",
            "--experiment",
            "titanic",
            "--register",
            "titanic",
        ],
    );
    mlx_in(
        d,
        &env,
        &["alias", "set", "Champion", "1", "--model", "titanic"],
    );
    assert!(d.join("mlflow.db").is_file());
    assert_eq!(meta_yamls(d), Vec::<PathBuf>::new());

    let rows = titanic_rows(d);
    let rows = rows.to_str().unwrap();
    let mlx_predicted = json(&mlx_in(
        d,
        &env,
        &[
            "predict",
            "--model",
            "models:/titanic@Champion",
            "--data",
            rows,
            "-o",
            "json",
        ],
    ));
    let listed = json(&mlx_in(
        d,
        &env,
        &["runs", "list", "-e", "titanic", "-o", "json"],
    ));
    let run_id = run_ids(&listed).remove(0);
    let shown = json(&mlx_in(d, &env, &["runs", "show", &run_id, "-o", "json"]));

    let read = json(&mlflow_sqlite(d, &["read", "titanic", "Champion", rows]));
    let default_store = format!("sqlite:///{}", d.join("mlflow.db").display());
    assert_eq!(read["tracking_uri"], default_store.as_str());
    assert_eq!(read["alias_version"], 1);
    assert_eq!(read["alias_run_id"], run_id.as_str());
    let run = &read["runs"][&run_id];
    assert_eq!(run["experiment"], "titanic");
    assert_eq!(run["status"], "FINISHED");
    assert_eq!(run["params"], shown["params"]);
    for (key, m) in shown["metrics"].as_object().unwrap() {
        assert_eq!(run["metrics"][key], m["latest"], "metric {key}");
        let history = read["histories"][key].as_array().unwrap();
        assert_eq!(
            history.len() as u64,
            m["points"].as_u64().unwrap(),
            "history of {key}"
        );
    }
    assert!(
        read["histories"]["train_loss"].as_array().unwrap().len() > 1,
        "the learning curve is a history"
    );
    assert_eq!(read["predict"], mlx_predicted["predictions"]);
}
