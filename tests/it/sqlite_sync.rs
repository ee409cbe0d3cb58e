//! `mlx sync` with MLflow's SQLite store: a folder → `mlflow.db` → folder round trip keeps every run's id,
//! name, status, times, params, full metric histories, tags, datasets, logged models with their files,
//! artifacts, registered versions, aliases and alias history; syncing again copies nothing; a sync merges
//! into an `mlflow.db` MLflow already wrote, which MLflow then reads.

use crate::common::{TestStore, python};
use crate::train::train;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sync(from: &TestStore, to: &TestStore) -> Value {
    from.json(&["sync", "--from", &from.uri, "--to", &to.uri])
}

/// Every file under the params, metrics, tags and artifacts of each run, and the params, tags and
/// artifacts of each logged model, by id and path (and the registry's model folders, which hold the alias history tag).
fn run_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if e.path().is_dir() {
                walk(&e.path(), &rel, out);
            } else {
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    for exp in std::fs::read_dir(root).unwrap().flatten() {
        // Runs, and logged models (`<exp>/models/m-…`), by id.
        let entries = std::fs::read_dir(exp.path())
            .into_iter()
            .chain(std::fs::read_dir(exp.path().join("models")))
            .flatten()
            .flatten();
        for run in entries {
            if !run.path().join("meta.yaml").is_file() {
                continue;
            }
            let id = run.file_name().to_string_lossy().into_owned();
            // A logged model's own metrics are not copied (no store reads them back).
            let parts: &[&str] = if id.starts_with("m-") {
                &["params", "tags", "artifacts"]
            } else {
                &["params", "metrics", "tags", "artifacts"]
            };
            for part in parts {
                let dir: PathBuf = run.path().join(part);
                if dir.is_dir() {
                    walk(&dir, &format!("{id}/{part}"), &mut out);
                }
            }
        }
    }
    out
}

/// What mlx shows of a store, less what names the store's place (artifact URIs, experiment ids, the
/// registry's timestamps, which a copy gets anew).
fn shown(s: &TestStore) -> Value {
    let mut runs = Vec::new();
    for r in s.json(&["runs", "list", "-o", "json"]).as_array().unwrap() {
        let mut doc = s.json(&["runs", "show", r["run_id"].as_str().unwrap()]);
        for k in ["artifact_uri", "experiment_id", "experiment"] {
            doc["info"].as_object_mut().unwrap().remove(k);
        }
        runs.push(doc);
    }
    let mut versions = s.json(&["models", "versions", "titanic"]);
    for v in versions.as_array_mut().unwrap() {
        let v = v.as_object_mut().unwrap();
        for k in [
            "creation_timestamp",
            "last_updated_timestamp",
            "storage_location",
        ] {
            v.remove(k);
        }
        if let Some(tags) = v.get_mut("tags").and_then(Value::as_object_mut) {
            tags.remove("mlx.sync.source_version");
        }
    }
    let experiments: Vec<Value> = s
        .json(&["experiments", "list", "-o", "json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!([e["name"], e["tags"], e["lifecycle_stage"]]))
        .collect();
    serde_json::json!({
        "experiments": experiments,
        "runs": runs,
        "versions": versions,
        "history": s.json(&["alias", "history", "Champion", "--model", "titanic"]),
    })
}

#[test]
fn folder_to_sqlite_to_folder_loses_nothing_and_twice_copies_nothing() {
    let a = TestStore::new();
    for model in ["logistic-regression", "decision-tree"] {
        let r = train(
            &a,
            &[
                "--experiment",
                "titanic",
                "--model",
                model,
                "--register",
                "titanic",
            ],
        );
        assert!(r["registered_version"].as_u64().is_some(), "{r}");
    }
    for v in ["1", "2", "1"] {
        a.ok(&["alias", "set", "Champion", v, "--model", "titanic"]);
    }
    // A run with a metric history, a NaN, a tag and a FAILED end, in another experiment.
    let id = a.start(&["--experiment", "other", "--name", "hist"]);
    for (step, v) in [(0, "0.5"), (1, "0.25"), (2, "nan"), (3, "0.125")] {
        a.ok(&[
            "log",
            "metric",
            "--run",
            &id,
            "loss",
            v,
            "--step",
            &step.to_string(),
        ]);
    }
    a.ok(&["log", "tag", "--run", &id, "team", "vision"]);
    a.ok(&["log", "end", "--run", &id, "--status", "FAILED"]);

    let b = TestStore::on_sqlite();
    let first = sync(&a, &b);
    assert_eq!(
        (
            &first["runs_copied"],
            &first["versions_registered"],
            &first["logged_models"]
        ),
        (&Value::from(3), &Value::from(2), &Value::from(2)),
        "{first}"
    );
    let c = TestStore::new();
    sync(&b, &c);
    let (want, got) = (run_files(&a.root()), run_files(&c.root()));
    let differ: Vec<&String> = want
        .keys()
        .chain(got.keys())
        .filter(|k| want.get(*k) != got.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "params, metrics, tags, artifacts differ: {differ:?}"
    );
    assert_eq!(shown(&c), shown(&a));
    for (from, to) in [(&a, &b), (&b, &c)] {
        let again = sync(from, to);
        for k in [
            "runs_copied",
            "runs_updated",
            "metric_points",
            "artifact_files",
            "logged_models",
            "versions_registered",
            "aliases_set",
        ] {
            assert_eq!(again[k], 0, "{k}: {again}");
        }
        assert_eq!(again["runs_unchanged"], 3);
    }
    assert_eq!(shown(&c), shown(&a), "unchanged by the second sync");
    // The database's copy of the champion predicts as the original does.
    let data = a.dir.path().join("people.csv");
    std::fs::write(
        &data,
        "Pclass,Sex,Age,Fare\n3,male,22,7.25\n1,female,38,71.28\n2,female,4,16.7\n",
    )
    .unwrap();
    let predict = |s: &TestStore| {
        s.ok(&[
            "predict",
            "--model",
            "models:/titanic@Champion",
            "--data",
            data.to_str().unwrap(),
            "-o",
            "csv",
        ])
    };
    assert_eq!(predict(&b), predict(&a));
}

/// A sync into an `mlflow.db` that MLflow wrote keeps MLflow's runs and adds mlx's, which MLflow reads.
#[test]
fn sync_merges_into_a_database_mlflow_wrote() {
    let b = TestStore::on_sqlite();
    let script = r#"
import sys, warnings, logging, json
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from mlflow.tracking import MlflowClient
from mlflow.entities import Metric
c = MlflowClient(sys.argv[1])
e = c.create_experiment("theirs")
r = c.create_run(e, run_name="mlflow-run")
c.log_batch(r.info.run_id, metrics=[Metric("loss", 0.5, 1, 0)])
c.set_terminated(r.info.run_id)
print(json.dumps(r.info.run_id))
"#;
    let py = |code: &str, args: &[&str]| {
        let out = std::process::Command::new(python())
            .arg("-c")
            .arg(code)
            .args(args)
            .env_remove("MLFLOW_TRACKING_URI")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let theirs: String =
        serde_json::from_str(py(script, &[&b.uri]).lines().last().unwrap()).unwrap();

    let a = TestStore::new();
    let id = a.start(&["--experiment", "ours", "--name", "mlx-run"]);
    for step in 0..3 {
        a.ok(&[
            "log",
            "metric",
            "--run",
            &id,
            "acc",
            &format!("0.{step}"),
            "--step",
            &step.to_string(),
        ]);
    }
    a.ok(&["log", "param", "--run", &id, "model", "rf"]);
    a.ok(&["log", "end", "--run", &id]);
    let report = sync(&a, &b);
    assert_eq!(report["runs_copied"], 1, "{report}");

    let check = r#"
import sys, warnings, logging, json
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
from mlflow.tracking import MlflowClient
from mlflow.entities import ViewType
c = MlflowClient(sys.argv[1])
ids = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ALL)]
runs = c.search_runs(ids)
ours = c.get_run(sys.argv[2])
print(json.dumps({
    "runs": sorted(r.info.run_name for r in runs),
    "history": [(m.step, m.value) for m in c.get_metric_history(sys.argv[2], "acc")],
    "params": ours.data.params,
    "status": ours.info.status,
}))
"#;
    let seen: Value =
        serde_json::from_str(py(check, &[&b.uri, &id]).lines().last().unwrap()).unwrap();
    assert_eq!(
        seen,
        serde_json::json!({
            "runs": ["mlflow-run", "mlx-run"],
            "history": [[0, 0.0], [1, 0.1], [2, 0.2]],
            "params": {"model": "rf"},
            "status": "FINISHED",
        })
    );
    let listed = b.json(&["runs", "list", "-o", "json"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&theirs.as_str()) && ids.contains(&id.as_str()),
        "{ids:?}"
    );
}
