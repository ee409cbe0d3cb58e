//! `mlx log ...` driven through the binary.

use crate::common::TestStore;
use std::fs;

fn run_dir(s: &TestStore, run: &str) -> std::path::PathBuf {
    let exp = s.json(&["runs", "show", run])["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.root().join(exp).join(run)
}

#[test]
fn start_prints_only_the_run_id_and_records_system_tags() {
    let s = TestStore::new();
    let out = s.ok(&[
        "log",
        "start",
        "--experiment",
        "fresh",
        "--name",
        "r1",
        "--tag",
        "team=ml",
    ]);
    let id = out.trim();
    assert_eq!(out, format!("{id}\n"));
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let run = s.json(&["runs", "show", id]);
    assert_eq!(run["info"]["run_name"], "r1");
    assert_eq!(run["info"]["status"], "RUNNING");
    let tags = &run["tags"];
    assert_eq!(tags["mlflow.runName"], "r1");
    assert_eq!(tags["mlflow.source.type"], "LOCAL");
    assert_eq!(tags["team"], "ml");
    assert!(tags["mlflow.user"].as_str().is_some_and(|u| !u.is_empty()));
    let dir = run_dir(&s, id);
    for sub in ["params", "metrics", "artifacts", "tags"] {
        assert!(dir.join(sub).is_dir(), "{sub}/ must exist for MLflow");
    }
    let meta = fs::read_to_string(dir.join("meta.yaml")).unwrap();
    assert!(
        meta.contains("status: 1\n") && meta.contains("end_time: null"),
        "{meta}"
    );
}

#[test]
fn git_commit_is_recorded_inside_a_work_tree() {
    let s = TestStore::new();
    let git = s.dir.path().join(".git");
    fs::create_dir_all(git.join("refs/heads")).unwrap();
    fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    fs::write(git.join("refs/heads/main"), format!("{sha}\n")).unwrap();
    let id = s.start(&[]);
    let tags = &s.json(&["runs", "show", &id])["tags"];
    assert_eq!(tags["mlflow.source.git.commit"], sha);
    assert_eq!(tags["mlflow.source.git.branch"], "main");
}

#[test]
fn params_are_immutable() {
    let s = TestStore::new();
    let id = s.start(&[]);
    s.ok(&["log", "param", "--run", &id, "C", "0.5"]);
    s.ok(&["log", "param", "--run", &id, "C", "0.5"]);
    let err = s.fails(&["log", "param", "--run", &id, "C", "0.6"]);
    assert!(
        err.contains("'C'") && err.contains("0.5") && err.contains("0.6"),
        "{err}"
    );
    let dir = run_dir(&s, &id);
    assert_eq!(
        fs::read_to_string(dir.join("params/C")).unwrap(),
        "0.5",
        "no trailing newline"
    );
}

#[test]
fn active_run_comes_from_flag_then_mlx_then_mlflow_env() {
    let s = TestStore::new();
    let a = s.start(&[]);
    let b = s.start(&[]);
    s.mlx()
        .args(["log", "tag", "who", "mlflow-env"])
        .env("MLFLOW_RUN_ID", &a)
        .assert()
        .success();
    s.mlx()
        .args(["log", "tag", "who", "mlx-env"])
        .env("MLFLOW_RUN_ID", &a)
        .env("MLX_RUN_ID", &b)
        .assert()
        .success();
    s.mlx()
        .args(["log", "tag", "--run", &a, "flag", "yes"])
        .env("MLX_RUN_ID", &b)
        .assert()
        .success();
    assert_eq!(s.json(&["runs", "show", &a])["tags"]["who"], "mlflow-env");
    assert_eq!(s.json(&["runs", "show", &a])["tags"]["flag"], "yes");
    assert_eq!(s.json(&["runs", "show", &b])["tags"]["who"], "mlx-env");
    let err = s.fails(&["log", "metric", "acc", "1"]);
    assert!(err.contains("no active run"), "{err}");
}

#[test]
fn metrics_keep_history_in_mlflow_line_format() {
    let s = TestStore::new();
    let id = s.start(&[]);
    s.ok(&[
        "log",
        "metric",
        "--run",
        &id,
        "loss",
        "0.5",
        "--step",
        "0",
        "--timestamp",
        "1000",
    ]);
    s.ok(&[
        "log",
        "metric",
        "--run",
        &id,
        "loss",
        "1",
        "--step",
        "1",
        "--timestamp",
        "1001",
    ]);
    s.ok(&[
        "log",
        "metric",
        "--run",
        &id,
        "eval/auc",
        "nan",
        "--timestamp",
        "1002",
    ]);
    s.ok(&[
        "log",
        "metric",
        "--run",
        &id,
        "neg",
        "-2.5",
        "--step",
        "-1",
        "--timestamp",
        "1003",
    ]);
    let dir = run_dir(&s, &id);
    assert_eq!(
        fs::read_to_string(dir.join("metrics/loss")).unwrap(),
        "1000 0.5 0\n1001 1.0 1\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("metrics/eval/auc")).unwrap(),
        "1002 nan 0\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("metrics/neg")).unwrap(),
        "1003 -2.5 -1\n"
    );
    let run = s.json(&["runs", "show", &id]);
    assert_eq!(run["metrics"]["loss"]["latest"], 1.0);
    assert_eq!(run["metrics"]["loss"]["points"], 2);
    assert_eq!(run["metrics"]["eval/auc"]["latest"], "NaN");
}

#[test]
fn bad_values_and_keys_are_one_line_errors_that_write_nothing() {
    let s = TestStore::new();
    let id = s.start(&[]);
    let before = s.files();
    let err = s.fails(&["log", "metric", "--run", &id, "acc", "high"]);
    assert!(
        err.contains("'acc'") && err.contains("'high'") && err.contains("not a number"),
        "{err}"
    );
    for key in ["../escape", "a/../../b", "/abs", "semi;colon", "a//b"] {
        let err = s.fails(&["log", "param", "--run", &id, key, "1"]);
        assert!(err.contains("invalid param key"), "{key}: {err}");
        s.fails(&["log", "metric", "--run", &id, key, "1"]);
        s.fails(&["log", "tag", "--run", &id, key, "1"]);
    }
    let err = s.fails(&["log", "param", "--run", "../../x", "k", "1"]);
    assert!(err.contains("does not exist"), "{err}");
    let err = s.fails(&[
        "log",
        "param",
        "--run",
        "0123456789abcdef0123456789abcdef",
        "k",
        "1",
    ]);
    assert!(
        err.contains("run '0123456789abcdef0123456789abcdef' does not exist"),
        "{err}"
    );
    assert_eq!(s.files(), before, "failed calls must not write anything");
    assert!(!s.dir.path().join("escape").exists());
}

#[test]
fn batches_from_json_are_all_or_nothing() {
    let s = TestStore::new();
    let id = s.start(&[]);
    let params = s.dir.path().join("params.json");
    fs::write(
        &params,
        r#"{"lr": 0.1, "depth": 3, "kind": "rf", "on": true}"#,
    )
    .unwrap();
    s.ok(&[
        "log",
        "params",
        "--run",
        &id,
        "--json",
        params.to_str().unwrap(),
    ]);
    s.mlx()
        .args(["log", "metrics", "--run", &id, "--json", "-", "--step", "2"])
        .write_stdin(r#"{"acc": 0.9, "f1": 0.8}"#)
        .assert()
        .success();
    s.mlx()
        .args(["log", "metrics", "--run", &id, "--json", "-"])
        .write_stdin(r#"[{"key": "loss", "value": 0.3, "step": 7, "timestamp": 5}]"#)
        .assert()
        .success();
    let run = s.json(&["runs", "show", &id]);
    assert_eq!(run["params"]["lr"], "0.1");
    assert_eq!(run["params"]["depth"], "3");
    assert_eq!(run["params"]["on"], "True");
    assert_eq!(run["metrics"]["acc"]["step"], 2);
    assert_eq!(run["metrics"]["loss"]["step"], 7);

    let before = s.files();
    let bad = s.dir.path().join("bad.json");
    fs::write(&bad, r#"{"fine": 1, "../evil": 2}"#).unwrap();
    s.fails(&[
        "log",
        "params",
        "--run",
        &id,
        "--json",
        bad.to_str().unwrap(),
    ]);
    fs::write(&bad, r#"{"fine": 1, "lr": 0.2}"#).unwrap();
    let err = s.fails(&[
        "log",
        "params",
        "--run",
        &id,
        "--json",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("'lr'"), "{err}");
    fs::write(&bad, r#"{"fine": 1, "acc": "x"}"#).unwrap();
    let err = s.fails(&[
        "log",
        "metrics",
        "--run",
        &id,
        "--json",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("bad.json") && err.contains("'acc'"), "{err}");
    fs::write(&bad, "{not json").unwrap();
    let err = s.fails(&[
        "log",
        "metrics",
        "--run",
        &id,
        "--json",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("invalid JSON"), "{err}");
    assert_eq!(s.files(), before);
}

#[test]
fn artifacts_files_and_directories() {
    let s = TestStore::new();
    let id = s.start(&[]);
    let d = s.dir.path();
    fs::write(d.join("notes.txt"), "hello").unwrap();
    fs::create_dir_all(d.join("plots/sub")).unwrap();
    fs::write(d.join("plots/a.png"), "png").unwrap();
    fs::write(d.join("plots/sub/b.txt"), "bb").unwrap();
    s.ok(&["log", "artifact", "--run", &id, "notes.txt"]);
    s.ok(&[
        "log",
        "artifact",
        "--run",
        &id,
        "notes.txt",
        "--dest",
        "reports/v1",
    ]);
    s.ok(&["log", "artifact", "--run", &id, "plots"]);
    let run = s.json(&["runs", "show", &id]);
    let paths: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "notes.txt",
            "plots/a.png",
            "plots/sub/b.txt",
            "reports/v1/notes.txt"
        ]
    );
    let dir = run_dir(&s, &id);
    assert_eq!(
        fs::read_to_string(dir.join("artifacts/reports/v1/notes.txt")).unwrap(),
        "hello"
    );
    let err = s.fails(&[
        "log",
        "artifact",
        "--run",
        &id,
        "notes.txt",
        "--dest",
        "../../out",
    ]);
    assert!(err.contains("'..'"), "{err}");
    let err = s.fails(&["log", "artifact", "--run", &id, "missing.txt"]);
    assert!(err.contains("missing.txt"), "{err}");
}

#[test]
fn end_sets_status_and_end_time() {
    let s = TestStore::new();
    let a = s.start(&[]);
    let b = s.start(&[]);
    s.ok(&["log", "end", "--run", &a]);
    s.ok(&["log", "end", "--run", &b, "--status", "failed"]);
    assert_eq!(s.json(&["runs", "show", &a])["info"]["status"], "FINISHED");
    let info = &s.json(&["runs", "show", &b])["info"];
    assert_eq!(info["status"], "FAILED");
    assert!(info["end_time"].as_i64().unwrap() >= info["start_time"].as_i64().unwrap());
    s.mlx()
        .args(["log", "end", "--run", &a, "--status", "RUNNING"])
        .assert()
        .code(2);
}

#[test]
fn exec_wraps_a_command_in_a_run() {
    let s = TestStore::new();
    let mlx = assert_cmd::cargo::cargo_bin("mlx");
    let script = format!(
        "echo training; echo oops >&2; '{}' log metric acc 0.93; '{}' log param depth 4",
        mlx.display(),
        mlx.display()
    );
    let out = s
        .mlx()
        .args([
            "log",
            "exec",
            "--experiment",
            "jobs",
            "--name",
            "ok-job",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "training\n",
        "child stdout passes through"
    );
    let runs = s.json(&["runs", "list", "--experiment", "jobs"]);
    let run = &runs[0];
    assert_eq!(run["run_name"], "ok-job");
    assert_eq!(run["status"], "FINISHED");
    assert_eq!(
        run["metrics"]["acc"], 0.93,
        "the child's mlx calls land in the run"
    );
    assert_eq!(run["params"]["depth"], "4");
    let id = run["run_id"].as_str().unwrap();
    let dir = run_dir(&s, id);
    assert_eq!(
        fs::read_to_string(dir.join("artifacts/stdout.txt")).unwrap(),
        "training\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("artifacts/stderr.txt")).unwrap(),
        "oops\n"
    );

    // The exit code mlx passes on and the status the run ends with, for a shell script as the job.
    let job = |name: &str, script: &str| -> (Option<i32>, serde_json::Value) {
        let out = s
            .mlx()
            .args([
                "log",
                "exec",
                "--experiment",
                "jobs",
                "--name",
                name,
                "--",
                "sh",
                "-c",
                script,
            ])
            .output()
            .unwrap();
        let runs = s.json(&["runs", "list", "--experiment", "jobs"]);
        let run = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["run_name"] == name)
            .unwrap()
            .clone();
        (out.status.code(), run["status"].clone())
    };
    assert_eq!(job("bad-job", "exit 3"), (Some(3), "FAILED".into()));

    // As a shell: 127 for a command not found.
    let out = s
        .mlx()
        .args(["log", "exec", "--", "/no/such/program"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/program"));

    // A command ended by a signal: the run ends KILLED and mlx exits 128 + the signal, as a shell does.
    assert_eq!(
        job("killed-job", "kill -TERM $$"),
        (Some(128 + 15), "KILLED".into())
    );
}

#[test]
fn a_corrupt_meta_yaml_is_named_in_the_error() {
    let s = TestStore::new();
    let id = s.start(&[]);
    let meta = run_dir(&s, &id).join("meta.yaml");
    fs::write(&meta, "artifact_uri: [unclosed\n").unwrap();
    let err = s.fails(&["log", "param", "--run", &id, "k", "v"]);
    assert!(
        err.contains("meta.yaml") && err.contains("not valid YAML"),
        "{err}"
    );
    fs::write(&meta, "").unwrap();
    let err = s.fails(&["runs", "show", &id]);
    assert!(err.contains("meta.yaml") && err.contains("empty"), "{err}");
}
