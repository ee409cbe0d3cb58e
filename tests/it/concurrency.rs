//! Many `mlx` processes writing to one store at once lose nothing, and MLflow reads all of it.

use crate::common::{TestStore, mlflow_dump};
use std::thread;

#[test]
fn concurrent_writers_lose_nothing() {
    let s = TestStore::new();
    let shared = s.start(&["--experiment", "busy", "--name", "shared"]);
    let store = s.root();
    let cwd = s.dir.path().to_path_buf();
    let run = |args: Vec<String>| {
        let out = crate::common::mlx_bare(&cwd)
            .arg("--tracking-uri")
            .arg(&store)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // 8 processes at a time appending 200 metric points each to one run.
    thread::scope(|scope| {
        for w in 0..8 {
            let run = &run;
            let shared = &shared;
            scope.spawn(move || {
                for i in 0..200 {
                    run(vec![
                        "log".into(),
                        "metric".into(),
                        "--run".into(),
                        shared.clone(),
                        "m".into(),
                        format!("{w}.{i}"),
                        "--step".into(),
                        (w * 1000 + i).to_string(),
                    ]);
                }
            });
        }
    });
    // 8 processes at a time creating 100 runs each in one experiment, which the first of them creates.
    thread::scope(|scope| {
        for w in 0..8 {
            let run = &run;
            scope.spawn(move || {
                for i in 0..100 {
                    let id = run(vec![
                        "log".into(),
                        "start".into(),
                        "--experiment".into(),
                        "crowd".into(),
                        "--name".into(),
                        format!("w{w}-{i}"),
                    ]);
                    assert_eq!(id.trim().len(), 32);
                }
            });
        }
    });

    let run_json = s.json(&["runs", "show", &shared]);
    assert_eq!(run_json["metrics"]["m"]["points"], 1600);
    let crowd = s.json(&["runs", "list", "--experiment", "crowd"]);
    assert_eq!(crowd.as_array().unwrap().len(), 800);
    let mut names: Vec<&str> = crowd
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_name"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 800);
    let exps = s.json(&["experiments", "list"]);
    assert_eq!(
        exps.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == "crowd")
            .count(),
        1
    );

    let dump = mlflow_dump(&s.root());
    let hist = dump["runs"][shared.as_str()]["history"]["m"]
        .as_array()
        .unwrap();
    assert_eq!(hist.len(), 1600, "MLflow reads every point");
    let mut steps: Vec<i64> = hist.iter().map(|p| p[2].as_i64().unwrap()).collect();
    steps.sort();
    steps.dedup();
    assert_eq!(steps.len(), 1600);
    let crowd_id = exps
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "crowd")
        .unwrap()["experiment_id"]
        .clone();
    let in_crowd = dump["runs"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["experiment_id"] == crowd_id)
        .count();
    assert_eq!(in_crowd, 800, "MLflow reads every run");
}
