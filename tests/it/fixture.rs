//! mlx reads the store real MLflow 3.17.2 wrote (tests/fixtures/mlflow-mlruns, a moved store whose artifact
//! URIs point to /srv/ml/project, a machine that no longer exists).

use crate::common::{TestStore, copy_fixture};

const TITANIC: &str = "295490920716077057";
const LR_C1: &str = "9a75e3debb9f4674bef544872f953930";

fn fixture() -> TestStore {
    let s = TestStore::new();
    copy_fixture(s.dir.path());
    s
}

#[test]
fn experiments_of_the_fixture() {
    let s = fixture();
    let list = s.json(&["experiments", "list"]);
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Default", "titanic"]);
    let all = s.json(&["experiments", "list", "--all"]);
    let old = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "old-experiment")
        .unwrap();
    assert_eq!(old["lifecycle_stage"], "deleted");
    assert_eq!(old["experiment_id"], "881641077345193801");
    let t = s.json(&["experiments", "show", "titanic"]);
    assert_eq!(t["experiment"]["experiment_id"], TITANIC);
    assert_eq!(t["experiment"]["tags"]["project"], "mlx-fixture");
    assert_eq!(t["runs"]["active"], 3);
    assert_eq!(t["runs"]["deleted"], 1);
}

#[test]
fn runs_of_the_fixture() {
    let s = fixture();
    let runs = s.json(&["runs", "list", "--experiment", "titanic"]);
    let mut names: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["lr-c0.1", "lr-c1.0", "lr-c10.0"]);
    let deleted = s.json(&["runs", "list", "--experiment", "titanic", "--deleted"]);
    assert_eq!(deleted[0]["run_name"], "deleted-run");

    let run = s.json(&["runs", "show", LR_C1]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["user_id"], "root");
    assert_eq!(run["params"]["C"], "1.0");
    assert_eq!(run["params"]["model/kind"], "logistic_regression");
    assert_eq!(run["metrics"]["accuracy"]["latest"], 0.7552447552447552);
    assert_eq!(run["metrics"]["eval/auc_like"]["latest"], 0.6);
    // MLflow 3 re-logs step-0 lines when logging a model: 5 steps, 6 points, latest at step 4.
    assert_eq!(run["metrics"]["loss"]["points"], 6);
    assert_eq!(run["metrics"]["loss"]["step"], 4);
    assert_eq!(run["metrics"]["loss"]["latest"], 0.166667);
    assert_eq!(run["tags"]["team"], "fixtures");
    assert_eq!(
        run["tags"]["mlflow.source.git.commit"],
        "562f3332a6b816c5631e08d1bc4702316177b386"
    );
    assert_eq!(run["inputs"][0]["name"], "titanic-train");
    assert_eq!(run["inputs"][0]["digest"], "9fcb5403");
    assert_eq!(run["inputs"][0]["context"], "training");
    assert_eq!(run["outputs"][0], "m-2266f6f3a12d412590e7e07f74ddc248");
    // Artifacts resolve inside the moved store.
    let paths: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["notes.txt", "reports/notes.txt"]);
    // A run in a deleted experiment is still found.
    let old = s.json(&["runs", "show", "1e2331dae6a342ffb998e7d0ca011947"]);
    assert_eq!(old["info"]["lifecycle_stage"], "deleted");
}

#[test]
fn mlx_writes_into_an_mlflow_store() {
    let s = fixture();
    let id = s.start(&["--experiment", "titanic", "--name", "from-mlx"]);
    s.ok(&["log", "metric", "--run", &id, "accuracy", "0.8"]);
    s.ok(&["log", "end", "--run", &id]);
    let runs = s.json(&["runs", "list", "--experiment", TITANIC]);
    assert_eq!(runs.as_array().unwrap().len(), 4);
    assert_eq!(runs[0]["run_name"], "from-mlx");
    // Appending to an MLflow-written run keeps its history.
    s.ok(&[
        "log", "metric", "--run", LR_C1, "loss", "0.1", "--step", "5",
    ]);
    let run = s.json(&["runs", "show", LR_C1]);
    assert_eq!(run["metrics"]["loss"]["points"], 7);
    assert_eq!(run["metrics"]["loss"]["latest"], 0.1);
    // An MLflow-written param stays immutable.
    let err = s.fails(&["log", "param", "--run", LR_C1, "C", "2.0"]);
    assert!(err.contains("immutable"), "{err}");
}
