//! `mlx runs list --filter/--order-by/--max` on MLflow's SQLite store: MLflow 3.17.2 writes `mlflow.db`
//! (ties in start time and metric values, NaN and ±infinity, missing keys, a tag ending in a newline,
//! running runs) and searches it; mlx searches the same file and must give the same runs in the same order.

use crate::common::{TestStore, interop_json, python};
use serde_json::Value;

/// MLflow's answer (run ids, or its error) to each `(filter, order_by, max_results)` over the store `uri`.
pub fn mlflow_answers(uri: &str, queries: &[(&str, &[&str], usize)]) -> Vec<Value> {
    let json: Vec<Value> = queries
        .iter()
        .map(|(f, o, m)| serde_json::json!({"filter": f, "order_by": o, "max_results": m}))
        .collect();
    let mut child = std::process::Command::new(python())
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mlflow_search.py"),
        )
        .arg(uri)
        .env_remove("MLFLOW_TRACKING_URI")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::from(json).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mlx_answer(s: &TestStore, filter: &str, order_by: &[&str], max: usize) -> Vec<String> {
    let max = max.to_string();
    let mut args = vec![
        "runs", "list", "--filter", filter, "--max", &max, "-o", "json",
    ];
    for o in order_by {
        args.extend(["--order-by", o]);
    }
    s.json(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// MLflow's own queries over the database MLflow wrote: mlx answers each exactly as MLflow does.
#[test]
fn same_runs_in_the_same_order_as_mlflow_on_its_sqlite_store() {
    let s = TestStore::on_sqlite();
    interop_json(
        "search_population.py",
        &[s.uri.as_ref(), "population".as_ref(), "48".as_ref()],
    );
    let queries: &[(&str, &[&str], usize)] = &[
        ("", &[], 1000),
        ("metrics.accuracy > 0.5", &[], 1000),
        ("metrics.accuracy >= 0.3 AND params.model = 'rf'", &[], 1000),
        ("metrics.accuracy != 0.7", &["metrics.accuracy DESC"], 1000),
        ("metrics.loss = 0.5", &["metrics.accuracy ASC"], 1000),
        ("", &["metrics.accuracy DESC"], 1000),
        ("", &["metrics.accuracy ASC"], 1000),
        ("", &["metrics.accuracy DESC"], 5),
        ("", &["params.lr DESC", "metrics.loss ASC"], 1000),
        ("", &["params.model", "attributes.run_name DESC"], 1000),
        ("", &["tags.team DESC"], 1000),
        ("", &["attributes.end_time DESC"], 1000),
        ("", &["start_time ASC"], 1000),
        ("params.model LIKE 'r%'", &[], 1000),
        ("params.model ILIKE '%F%'", &[], 1000),
        ("params.model LIKE '_f'", &[], 1000),
        ("tags.team = 'a'", &[], 1000),
        ("tags.team ILIKE 'A'", &[], 1000),
        ("tags.team IS NULL", &[], 1000),
        ("params.model IS NOT NULL", &["params.model ASC"], 1000),
        ("params.lr != '0.1'", &[], 1000),
        ("attributes.status = 'FINISHED'", &[], 1000),
        (
            "attributes.status != 'RUNNING' and metrics.loss < 0.5",
            &[],
            1000,
        ),
        (
            "attributes.run_name LIKE 'r01%'",
            &["attributes.run_name"],
            1000,
        ),
        ("run_name = 'r003'", &[], 1000),
        ("attributes.start_time > 0", &[], 3),
        ("attributes.end_time > 0", &["metrics.loss DESC"], 1000),
        ("metrics.`accuracy` < 0.3", &[], 1000),
        ("metrics.nope > 0", &[], 1000),
        (
            "params.model = 'rf' AND tags.team = 'a' AND metrics.loss <= 0.5",
            &[],
            1000,
        ),
        (
            "metrics.accuracy > 0.5 and params.model = 'rf'",
            &["metrics.accuracy DESC"],
            3,
        ),
        // SQL's LIKE: the tag "x\n" is not 'x' (MLflow's folder store says it is), but is 'x%' and 'x_'.
        ("tags.note LIKE 'x'", &[], 1000),
        ("tags.note LIKE 'x_'", &[], 1000),
        ("params.model LIKE 'r%' AND params.lr != '0.1'", &[], 1000),
        ("params.model ILIKE 'RF'", &["metrics.loss"], 1000),
        (
            "attributes.status = 'FINISHED' AND end_time > 0",
            &["end_time DESC"],
            8,
        ),
        (
            "attributes.status != 'FINISHED' AND params.model ILIKE 'r%'",
            &[],
            1000,
        ),
        (
            "start_time >= 1700000010000 AND start_time < 1700000015000",
            &[],
            1000,
        ),
        (
            "attributes.run_name LIKE 'r00%'",
            &["metrics.loss DESC"],
            1000,
        ),
        ("metrics.accuracy != 0.3", &["metrics.accuracy"], 40),
        ("", &["metrics.accuracy DESC", "start_time ASC"], 7),
        ("", &["end_time DESC"], 12),
        ("", &["params.model DESC", "metrics.loss"], 10),
        // ±infinity is stored as ±f64::MAX and compares as that.
        ("metrics.accuracy >= 1.7976931348623157e308", &[], 1000),
        ("metrics.accuracy < -1e308", &[], 1000),
        ("attributes.artifact_uri LIKE '%artifacts'", &[], 5),
        ("tags.`mlflow.runName` = 'r010'", &[], 1000),
        (
            "metrics.loss > 0.2",
            &["tags.team ASC", "metrics.accuracy DESC"],
            15,
        ),
        ("params.model != 'rf'", &["params.lr ASC"], 1000),
        ("metrics.accuracy = 0.4", &["start_time DESC"], 1000),
        ("created > 1700000005000", &["attributes.start_time"], 1000),
        ("attributes.run_id LIKE '%a%'", &["metrics.loss DESC"], 1000),
    ];
    let mlflow = mlflow_answers(&s.uri, queries);
    let mut nonempty = 0;
    for ((filter, order, max), expected) in queries.iter().zip(mlflow) {
        let expected: Vec<String> = serde_json::from_value(expected.clone())
            .unwrap_or_else(|_| panic!("MLflow refused {filter:?}: {expected}"));
        nonempty += usize::from(!expected.is_empty());
        let got = mlx_answer(&s, filter, order, *max);
        assert_eq!(got, expected, "filter {filter:?} order {order:?} max {max}");
    }
    assert!(nonempty >= 45, "only {nonempty} queries found runs");
}
