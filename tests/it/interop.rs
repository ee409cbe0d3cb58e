//! Both directions against the real MLflow client (3.17.2): what mlx writes MLflow reads, value for value,
//! and what MLflow writes mlx reads.

use crate::common::{TestStore, copy_fixture, mlflow_dump, mlflow_write};
use serde_json::Value;
use std::fs;

/// Compare one run as MLflow sees it with the same run as mlx shows it.
fn assert_same_run(mlflow: &Value, mlx: &Value) {
    let id = mlx["info"]["run_id"].as_str().unwrap();
    for key in [
        "run_name",
        "experiment_id",
        "status",
        "lifecycle_stage",
        "user_id",
        "start_time",
        "end_time",
    ] {
        assert_eq!(mlflow[key], mlx["info"][key], "run {id}: {key}");
    }
    assert_eq!(mlflow["params"], mlx["params"], "run {id}: params");
    assert_eq!(mlflow["tags"], mlx["tags"], "run {id}: tags");
    let metrics = mlx["metrics"].as_object().unwrap();
    assert_eq!(
        mlflow["metrics"].as_object().unwrap().len(),
        metrics.len(),
        "run {id}: metric keys"
    );
    for (k, m) in metrics {
        assert_eq!(mlflow["metrics"][k], m["latest"], "run {id}: metric {k}");
        assert_eq!(
            mlflow["history"][k].as_array().unwrap().len(),
            m["points"].as_u64().unwrap() as usize,
            "run {id}: history of {k}"
        );
    }
    let mlx_artifacts: Vec<(&str, u64)> = mlx["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap(),
                a["file_size"].as_u64().unwrap(),
            )
        })
        .collect();
    let mlflow_artifacts: Vec<(&str, u64)> = mlflow["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap(),
                a["file_size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(mlflow_artifacts, mlx_artifacts, "run {id}: artifacts");
}

#[test]
fn mlflow_reads_everything_mlx_writes() {
    let s = TestStore::new();
    let d = s.dir.path();
    fs::write(d.join("notes.txt"), "some notes\n").unwrap();
    fs::create_dir_all(d.join("plots")).unwrap();
    fs::write(d.join("plots/roc.txt"), "roc").unwrap();

    let a = s.start(&[
        "--experiment",
        "interop",
        "--name",
        "full",
        "--tag",
        "team=ml",
        "--description",
        "the full run",
    ]);
    s.ok(&["log", "param", "--run", &a, "alpha", "0.5"]);
    s.ok(&[
        "log",
        "param",
        "--run",
        &a,
        "model/kind",
        "logistic regression",
    ]);
    s.ok(&["log", "param", "--run", &a, "unicode", "température ✓"]);
    for step in 0..10 {
        s.ok(&[
            "log",
            "metric",
            "--run",
            &a,
            "loss",
            &format!("{}", 1.0 / (step as f64 + 1.0)),
            "--step",
            &step.to_string(),
        ]);
    }
    s.ok(&["log", "metric", "--run", &a, "eval/auc", "0.91"]);
    s.ok(&["log", "metric", "--run", &a, "weird", "nan"]);
    s.ok(&["log", "metric", "--run", &a, "big", "1e300"]);
    s.ok(&["log", "metric", "--run", &a, "neg", "-inf"]);
    s.ok(&["log", "tag", "--run", &a, "multi", "line one\nline two"]);
    s.ok(&["log", "artifact", "--run", &a, "notes.txt"]);
    s.ok(&["log", "artifact", "--run", &a, "plots", "--dest", "figures"]);
    s.ok(&["log", "end", "--run", &a]);

    let failed = s.start(&["--experiment", "interop", "--name", "failing"]);
    s.ok(&["log", "end", "--run", &failed, "--status", "FAILED"]);
    let running = s.start(&[]);
    let deleted = s.start(&["--experiment", "interop"]);
    s.ok(&["runs", "delete", &deleted]);
    let in_trash = s.start(&["--experiment", "doomed"]);
    s.ok(&["experiments", "delete", "doomed"]);
    s.ok(&["experiments", "create", "renamed-before", "--tag", "k=v"]);
    s.ok(&["experiments", "rename", "renamed-before", "renamed-after"]);

    let dump = mlflow_dump(&s.root());
    let mut exps: Vec<(String, String)> = dump["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["lifecycle_stage"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    exps.sort();
    assert_eq!(
        exps,
        [
            ("Default".to_string(), "active".to_string()),
            ("doomed".into(), "deleted".into()),
            ("interop".into(), "active".into()),
            ("renamed-after".into(), "active".into()),
        ]
    );
    let renamed = dump["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "renamed-after")
        .unwrap();
    assert_eq!(renamed["tags"]["k"], "v");

    for id in [&a, &failed, &running, &deleted, &in_trash] {
        let seen = &dump["runs"][id.as_str()];
        assert!(seen.is_object(), "MLflow does not see run {id}");
        assert_same_run(seen, &s.json(&["runs", "show", id]));
    }
    let full = &dump["runs"][a.as_str()];
    assert_eq!(full["status"], "FINISHED");
    assert_eq!(full["params"]["unicode"], "température ✓");
    assert_eq!(full["tags"]["multi"], "line one\nline two");
    assert_eq!(full["tags"]["mlflow.note.content"], "the full run");
    assert_eq!(full["metrics"]["weird"], "NaN");
    assert_eq!(full["metrics"]["neg"], "-Infinity");
    assert_eq!(full["metrics"]["big"], 1e300);
    let loss: Vec<f64> = full["history"]["loss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(
        loss,
        (0..10).map(|s| 1.0 / (s as f64 + 1.0)).collect::<Vec<_>>()
    );
    assert_eq!(dump["runs"][failed.as_str()]["status"], "FAILED");
    assert_eq!(dump["runs"][running.as_str()]["status"], "RUNNING");
    assert_eq!(dump["runs"][deleted.as_str()]["lifecycle_stage"], "deleted");
    assert_eq!(
        dump["runs"][in_trash.as_str()]["lifecycle_stage"],
        "deleted"
    );
}

#[test]
fn mlx_reads_what_mlflow_writes() {
    let s = TestStore::new();
    let ids = mlflow_write(&s.root());
    let dump = mlflow_dump(&s.root());
    let finished = ids["finished"].as_str().unwrap();
    for key in ["finished", "failed", "deleted"] {
        let id = ids[key].as_str().unwrap();
        assert_same_run(&dump["runs"][id], &s.json(&["runs", "show", id]));
    }
    let run = s.json(&["runs", "show", finished]);
    assert_eq!(run["params"]["nested/key"], "x");
    assert_eq!(run["params"]["n_estimators"], "100");
    assert_eq!(run["metrics"]["loss"]["points"], 5);
    assert_eq!(run["metrics"]["eval/auc"]["latest"], "NaN");
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(
        s.json(&["runs", "show", ids["failed"].as_str().unwrap()])["info"]["status"],
        "FAILED"
    );

    let listed = s.json(&["runs", "list", "--experiment", "py-exp"]);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["py-failed", "py-finished"]);
    let exp = s.json(&["experiments", "show", "py-exp"]);
    assert_eq!(exp["experiment"]["tags"]["owner"], "python");

    // mlx continues an MLflow run, and MLflow reads the result.
    s.ok(&[
        "log", "metric", "--run", finished, "loss", "0.1", "--step", "5",
    ]);
    s.ok(&["log", "param", "--run", finished, "alpha", "0.5"]);
    let dump = mlflow_dump(&s.root());
    assert_eq!(
        dump["runs"][finished]["history"]["loss"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(dump["runs"][finished]["metrics"]["loss"], 0.1);
}

#[test]
fn mlflow_reads_the_fixture_after_mlx_wrote_to_it() {
    let s = TestStore::new();
    let root = copy_fixture(s.dir.path());
    let id = s.start(&["--experiment", "titanic", "--name", "mlx-run"]);
    s.ok(&["log", "metric", "--run", &id, "accuracy", "0.81"]);
    s.ok(&["log", "end", "--run", &id]);
    let dump = mlflow_dump(&root);
    assert_eq!(dump["runs"][id.as_str()]["metrics"]["accuracy"], 0.81);
    // Every run MLflow lists, mlx shows the same way.
    for run_id in dump["search"].as_array().unwrap() {
        let run_id = run_id.as_str().unwrap();
        let mut seen = dump["runs"][run_id].clone();
        // The moved fixture's artifact URIs point nowhere for MLflow; mlx resolves them in the store.
        if run_id != id {
            seen["artifacts"] = s.json(&["runs", "show", run_id])["artifacts"].clone();
        }
        assert_same_run(&seen, &s.json(&["runs", "show", run_id]));
    }
}
