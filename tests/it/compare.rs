//! `mlx runs compare` / `mlx compare`, CI gates and `mlx runs diff`.

use crate::common::TestStore;
use crate::snap::{snap, snap_table};
use crate::train::{titanic, train};

fn run_with(s: &TestStore, name: &str, acc: f64, loss: f64, depth: &str) -> String {
    let id = s.start(&["--experiment", "cmp", "--name", name]);
    s.ok(&["log", "metric", "--run", &id, "accuracy", &acc.to_string()]);
    s.ok(&["log", "metric", "--run", &id, "loss", &loss.to_string()]);
    s.ok(&["log", "param", "--run", &id, "depth", depth]);
    s.ok(&["log", "param", "--run", &id, "seed", "42"]);
    s.ok(&["log", "end", "--run", &id]);
    id
}

#[test]
fn compare_ranks_marks_best_and_shows_deltas() {
    let s = TestStore::new();
    let a = run_with(&s, "a", 0.80, 0.5, "3");
    let b = run_with(&s, "b", 0.85, 0.4, "5");
    let c = run_with(&s, "c", 0.70, 0.3, "7");
    let v = s.json(&[
        "compare",
        "--experiment",
        "cmp",
        "--by",
        "accuracy",
        "--top",
        "2",
    ]);
    let ids: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [b.as_str(), a.as_str()],
        "top 2 by accuracy, best first"
    );
    let acc = &v["metrics"]["accuracy"];
    assert_eq!(acc["best"], 0.85);
    assert!((acc["deltas"][1].as_f64().unwrap() + 0.05).abs() < 1e-12);
    // Loss: lower is better.
    let v = s.json(&["runs", "compare", &a, &b, &c]);
    assert_eq!(v["metrics"]["loss"]["best"], 0.3);
    assert_eq!(v["baseline"], a.as_str());
    // Params that do not differ (seed) are hidden unless --all-params.
    let md = s.ok(&["compare", &a, &b, "--output", "markdown"]);
    snap!(&s, "two_runs_markdown", md);
    let all = s.ok(&["compare", &a, &b, "--all-params", "-o", "markdown"]);
    snap!(&s, "two_runs_all_params_markdown", all);
    snap!(&s, "two_runs_csv", s.ok(&["compare", &a, &b, "-o", "csv"]));
    snap_table!(
        &s,
        "three_runs_table",
        s.ok(&["compare", &a, &b, &c, "-o", "table"])
    );
    let top = [
        "compare",
        "--experiment",
        "cmp",
        "--by",
        "accuracy",
        "--top",
        "2",
    ];
    snap!(&s, "top_two_by_accuracy_json", s.ok(&top));
}

#[test]
fn the_ci_gate_fails_a_worse_candidate() {
    let s = TestStore::new();
    let base = run_with(&s, "base", 0.80, 0.5, "3");
    let worse = run_with(&s, "worse", 0.79, 0.6, "3");
    let better = run_with(&s, "better", 0.81, 0.4, "3");
    let gate = |cand: &str, extra: &[&str]| {
        let mut args = vec![
            "runs",
            "compare",
            "--candidate",
            cand,
            "--baseline",
            &base,
            "--by",
            "accuracy",
            "--fail-if-worse",
            "-o",
            "json",
        ];
        args.extend(extra);
        s.mlx().args(&args).output().unwrap()
    };
    let out = gate(&worse, &[]);
    assert_eq!(out.status.code(), Some(1));
    snap!(&s, "gate_fail_line", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        gate(&worse, &["--tolerance", "0.02"]).status.code(),
        Some(0)
    );
    let out = gate(&better, &[]);
    assert_eq!(out.status.code(), Some(0));
    snap!(&s, "gate_pass_line", String::from_utf8_lossy(&out.stderr));
    // Lower is better for a loss.
    let out = s
        .mlx()
        .args([
            "runs",
            "compare",
            "--candidate",
            &better,
            "--baseline",
            &base,
            "--by",
            "loss",
            "--fail-if-worse",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Thresholds.
    let req = |cand: &str, r: &str| {
        s.mlx()
            .args([
                "runs",
                "compare",
                "--candidate",
                cand,
                "--require",
                r,
                "-o",
                "json",
            ])
            .output()
            .unwrap()
    };
    assert_eq!(req(&better, "accuracy>=0.8").status.code(), Some(0));
    let out = req(&worse, "accuracy>=0.8");
    assert_eq!(out.status.code(), Some(1));
    snap!(
        &s,
        "require_fail_line",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        req(&better, "f1>0.5").status.code(),
        Some(1),
        "a missing metric fails"
    );
    let err = s.fails(&[
        "runs",
        "compare",
        "--candidate",
        &better,
        "--require",
        "accuracy about 0.8",
    ]);
    snap!(&s, "bad_require_error", err);
}

#[test]
fn a_registered_model_can_be_the_baseline() {
    let s = TestStore::new();
    let champion = train(&s, &["--experiment", "t", "--register", "titanic"]);
    let challenger = train(&s, &["--experiment", "t", "--model", "gaussian-nb"]);
    let out = s
        .mlx()
        .args([
            "runs",
            "compare",
            "--candidate",
            challenger["run_id"].as_str().unwrap(),
            "--baseline",
            "models:/titanic/1",
            "--by",
            "accuracy",
            "--fail-if-worse",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["baseline"], champion["run_id"]);
    // gaussian-nb scores 0.7413 against logistic regression's 0.7552 on this split.
    assert_eq!(out.status.code(), Some(1));
    let err = s.fails(&[
        "runs",
        "compare",
        "--candidate",
        challenger["run_id"].as_str().unwrap(),
        "--baseline",
        "models:/nope/1",
        "--by",
        "accuracy",
    ]);
    assert!(err.contains("nope"), "{err}");
    let _ = titanic();
}

/// A CI script can tell "worse" (1) from "could not check" (2).
#[test]
fn the_gate_exits_1_when_worse_and_2_when_the_baseline_cannot_be_read() {
    let s = TestStore::new();
    let base = run_with(&s, "base", 0.80, 0.5, "3");
    let worse = run_with(&s, "worse", 0.70, 0.6, "3");
    let gate = |baseline: &str| {
        s.mlx()
            .args(["compare", "--candidate", &worse, "--baseline", baseline])
            .args(["--by", "accuracy", "--fail-if-worse"])
            .output()
            .unwrap()
    };
    assert_eq!(gate(&base).status.code(), Some(1));
    for missing in ["models:/nope@Champion", "0123456789abcdef0123456789abcdef"] {
        let out = gate(missing);
        assert_eq!(out.status.code(), Some(2), "{missing}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && !err.contains("FAIL"), "{err}");
    }
    // A baseline run without the metric cannot be compared against: an error too.
    let bare = s.start(&["--experiment", "cmp"]);
    assert_eq!(gate(&bare).status.code(), Some(2));
    // So is a tracking server that does not answer.
    let out = s
        .mlx()
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .args(["--tracking-uri", "http://127.0.0.1:9"])
        .args(["compare", "--candidate", &worse, "--baseline", &base])
        .args(["--by", "accuracy", "--fail-if-worse"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_shows_what_differs() {
    let s = TestStore::new();
    let a = run_with(&s, "a", 0.80, 0.5, "3");
    let b = run_with(&s, "b", 0.80, 0.4, "5");
    let v = s.json(&["runs", "diff", &a, &b]);
    assert_eq!(
        v["param"],
        serde_json::json!([{"key": "depth", "a": "3", "b": "5"}])
    );
    assert_eq!(
        v["metric"],
        serde_json::json!([{"key": "loss", "a": "0.5", "b": "0.4"}])
    );
    assert_eq!(v["artifact"], serde_json::json!([]));
    let table = s.ok(&["runs", "diff", &a, &a, "-o", "table"]);
    assert!(table.contains("do not differ"), "{table}");
}

#[test]
fn plots_histories_and_metric_by_param() {
    let s = TestStore::new();
    for r in 1..=3 {
        let id = s.start(&["--experiment", "plots", "--name", &format!("lr-{r}")]);
        for step in 0..5 {
            s.ok(&[
                "log",
                "metric",
                "--run",
                &id,
                "loss",
                &format!("{}", r as f64 / (step + 1) as f64),
                "--step",
                &step.to_string(),
            ]);
        }
        s.ok(&[
            "log",
            "param",
            "--run",
            &id,
            "n_estimators",
            &(r * 50).to_string(),
        ]);
        s.ok(&[
            "log",
            "metric",
            "--run",
            &id,
            "accuracy",
            &format!("0.{}", r + 6),
        ]);
    }
    let stem = s.dir.path().join("loss");
    s.ok(&[
        "runs",
        "plot",
        "--metric",
        "loss",
        "-e",
        "plots",
        "--out",
        stem.to_str().unwrap(),
    ]);
    let png = std::fs::read(stem.with_extension("png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("lr-1") && svg.contains("lr-3"),
        "one labelled line per run"
    );
    let stem = s.dir.path().join("acc");
    s.ok(&[
        "runs",
        "plot",
        "--metric",
        "accuracy",
        "--by-param",
        "n_estimators",
        "-e",
        "plots",
        "--out",
        stem.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read_to_string(stem.with_extension("svg"))
            .unwrap()
            .contains("n_estimators")
    );
    let err = s.fails(&["runs", "plot", "--metric", "nope", "-e", "plots"]);
    assert!(err.contains("'nope'"), "{err}");
    let listed = s.json(&["runs", "list", "-e", "plots"]);
    let show = s.ok(&[
        "runs",
        "show",
        listed[0]["run_id"].as_str().unwrap(),
        "-o",
        "table",
    ]);
    assert!(
        show.contains('█'),
        "a sparkline of the loss history: {show}"
    );
}
