//! `mlx runs list --filter/--order-by`: the same runs in the same order as MLflow's `search_runs` over the
//! same store, plus the extensions and precise errors.

use crate::common::TestStore;
use serde_json::Value;

/// A store with runs that exercise types, missing values, NaN, ties and text.
fn populate(s: &TestStore) -> Vec<String> {
    let models = ["rf", "lr", "svm", "knn"];
    let mut ids = Vec::new();
    for i in 0..24 {
        let exp = if i % 5 == 4 { "other" } else { "main" };
        let id = s.start(&["--experiment", exp, "--name", &format!("run-{i:02}")]);
        let mut metrics = serde_json::Map::new();
        if i % 7 != 3 {
            let acc = if i % 11 == 5 {
                f64::NAN
            } else {
                ((i * 37) % 100) as f64 / 100.0
            };
            metrics.insert(
                "accuracy".into(),
                if acc.is_nan() {
                    Value::from("nan")
                } else {
                    Value::from(acc)
                },
            );
        }
        metrics.insert("loss".into(), Value::from((i % 4) as f64 * 0.25));
        let path = s.dir.path().join(format!("m{i}.json"));
        std::fs::write(&path, Value::Object(metrics).to_string()).unwrap();
        s.ok(&[
            "log",
            "metrics",
            "--run",
            &id,
            "--json",
            path.to_str().unwrap(),
        ]);
        s.ok(&["log", "param", "--run", &id, "model", models[i % 4]]);
        if i % 3 == 0 {
            s.ok(&["log", "param", "--run", &id, "depth", &(i % 6).to_string()]);
        }
        if i % 2 == 0 {
            s.ok(&[
                "log",
                "tag",
                "--run",
                &id,
                "team",
                if i % 4 == 0 { "Vision" } else { "nlp" },
            ]);
        }
        if i % 6 != 1 {
            s.ok(&[
                "log",
                "end",
                "--run",
                &id,
                "--status",
                if i % 9 == 2 { "FAILED" } else { "FINISHED" },
            ]);
        }
        ids.push(id);
    }
    ids
}

fn mlx_search(
    s: &TestStore,
    filter: &str,
    order_by: &[&str],
    max: usize,
) -> Result<Vec<String>, String> {
    let max = max.to_string();
    let mut args = vec![
        "runs", "list", "--filter", filter, "--max", &max, "-o", "json",
    ];
    for o in order_by {
        args.extend(["--order-by", o]);
    }
    let out = s.mlx().args(&args).output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect())
}

#[test]
fn same_runs_in_the_same_order_as_mlflow() {
    let s = TestStore::new();
    populate(&s);
    agree_with_mlflow(&s, &s.root().to_string_lossy());
}

/// The same, with mlx writing MLflow's SQLite store (`mlflow.db`) and both searching that file.
#[test]
fn same_runs_in_the_same_order_as_mlflow_on_an_mlflow_db_mlx_wrote() {
    let s = TestStore::on_sqlite();
    populate(&s);
    agree_with_mlflow(&s, &s.uri);
}

/// mlx and MLflow (reading `target`, a folder or a URI) answer each query alike.
fn agree_with_mlflow(s: &TestStore, target: &str) {
    let queries: Vec<(&str, Vec<&str>, usize)> = vec![
        ("", vec![], 1000),
        ("metrics.accuracy > 0.5", vec![], 1000),
        (
            "metrics.accuracy >= 0.37 AND params.model = 'rf'",
            vec![],
            1000,
        ),
        (
            "metrics.accuracy != 0.74",
            vec!["metrics.accuracy DESC"],
            1000,
        ),
        ("metrics.loss = 0.5", vec!["metrics.accuracy ASC"], 1000),
        ("", vec!["metrics.accuracy DESC"], 1000),
        ("", vec!["metrics.accuracy ASC"], 1000),
        ("", vec!["metrics.accuracy DESC"], 5),
        ("", vec!["params.depth DESC", "metrics.loss ASC"], 1000),
        ("", vec!["params.model", "attributes.run_name DESC"], 1000),
        ("", vec!["tags.team DESC"], 1000),
        ("", vec!["attributes.end_time DESC"], 1000),
        ("", vec!["start_time ASC"], 1000),
        ("params.model LIKE 'r%'", vec![], 1000),
        ("params.model ILIKE '%V%'", vec![], 1000),
        ("params.model LIKE '_f'", vec![], 1000),
        ("tags.team = 'Vision'", vec![], 1000),
        ("tags.team ILIKE 'vision'", vec![], 1000),
        ("tags.team IS NULL", vec![], 1000),
        ("params.depth IS NOT NULL", vec!["params.depth ASC"], 1000),
        ("params.depth != '0'", vec![], 1000),
        ("attributes.status = 'FINISHED'", vec![], 1000),
        (
            "attributes.status != 'RUNNING' and metrics.loss < 0.5",
            vec![],
            1000,
        ),
        (
            "attributes.run_name LIKE 'run-1%'",
            vec!["attributes.run_name"],
            1000,
        ),
        ("run_name = 'run-03'", vec![], 1000),
        ("attributes.start_time > 0", vec![], 3),
        ("attributes.end_time > 0", vec!["metrics.loss DESC"], 1000),
        ("metrics.`accuracy` < 0.3", vec![], 1000),
        ("metrics.nope > 0", vec![], 1000),
        (
            "params.model = 'rf' AND tags.team = 'Vision' AND metrics.loss <= 0",
            vec![],
            1000,
        ),
    ];
    let asked: Vec<(&str, &[&str], usize)> = queries
        .iter()
        .map(|(f, o, m)| (*f, o.as_slice(), *m))
        .collect();
    let mlflow = crate::sqlite_search::mlflow_answers(target, &asked);
    for ((filter, order, max), expected) in queries.iter().zip(mlflow) {
        let expected: Vec<String> = serde_json::from_value(expected.clone())
            .unwrap_or_else(|_| panic!("MLflow refused {filter:?}: {expected}"));
        let got = mlx_search(s, filter, order, *max).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
        assert_eq!(got, expected, "filter {filter:?} order {order:?}");
    }
}

#[test]
fn extensions_beyond_mlflow() {
    let s = TestStore::new();
    populate(&s);
    let all = mlx_search(&s, "", &[], 1000).unwrap();
    let rf = mlx_search(&s, "params.model = 'rf'", &[], 1000).unwrap();
    let lr = mlx_search(&s, "params.model = 'lr'", &[], 1000).unwrap();
    let either = mlx_search(&s, "params.model = 'rf' OR params.model = 'lr'", &[], 1000).unwrap();
    assert_eq!(either.len(), rf.len() + lr.len());
    let inlist = mlx_search(&s, "params.model IN ('rf', 'lr')", &[], 1000).unwrap();
    assert_eq!(inlist, either);
    let not = mlx_search(
        &s,
        "NOT (params.model = 'rf' OR params.model = 'lr')",
        &[],
        1000,
    )
    .unwrap();
    assert_eq!(not.len() + either.len(), all.len());
    let no_acc = mlx_search(&s, "metrics.accuracy IS NULL", &[], 1000).unwrap();
    let has_acc = mlx_search(&s, "metrics.accuracy IS NOT NULL", &[], 1000).unwrap();
    assert_eq!(no_acc.len() + has_acc.len(), all.len());
    assert!(!no_acc.is_empty());
    let loss_in = mlx_search(&s, "metrics.loss IN (0, 0.75)", &[], 1000).unwrap();
    assert_eq!(
        loss_in.len(),
        mlx_search(&s, "metrics.loss = 0 OR metrics.loss = 0.75", &[], 1000)
            .unwrap()
            .len()
    );
    let running = mlx_search(&s, "attributes.end_time IS NULL", &[], 1000).unwrap();
    assert_eq!(running.len(), 4);
    // Across experiments, one at a time.
    let other = s.json(&[
        "runs",
        "list",
        "--experiment",
        "other",
        "--filter",
        "metrics.loss >= 0",
    ]);
    assert_eq!(other.as_array().unwrap().len(), 4);
}

#[test]
fn malformed_filters_point_at_the_column() {
    let s = TestStore::new();
    populate(&s);
    let out = s
        .mlx()
        .args(["runs", "list", "--filter", "metrics.accuracy > 'high'"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "error: invalid filter: expected a number for 'accuracy' (column 20)"
    );
    assert_eq!(lines[1], "  metrics.accuracy > 'high'");
    assert_eq!(lines[2], format!("  {}^", " ".repeat(19)));
    let out = s
        .mlx()
        .args(["runs", "list", "--order-by", "metrics.accuracy UP"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected ASC, DESC"));
}
