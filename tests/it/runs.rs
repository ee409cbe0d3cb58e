//! `mlx runs ...` driven through the binary.

use crate::common::TestStore;
use crate::snap::{snap, snap_table};

fn three_runs(s: &TestStore) -> Vec<String> {
    (0..3)
        .map(|i| {
            let id = s.start(&["--experiment", "e", "--name", &format!("r{i}")]);
            s.ok(&["log", "metric", "--run", &id, "acc", &format!("0.{i}")]);
            s.ok(&["log", "param", "--run", &id, "i", &i.to_string()]);
            s.ok(&["log", "end", "--run", &id]);
            std::thread::sleep(std::time::Duration::from_millis(5));
            id
        })
        .collect()
}

#[test]
fn list_is_newest_first_in_every_format() {
    let s = TestStore::new();
    let ids = three_runs(&s);
    let json = s.json(&["runs", "list", "--experiment", "e"]);
    let got: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [&ids[2], &ids[1], &ids[0]]);
    assert_eq!(json[0]["metrics"]["acc"], 0.2);
    assert_eq!(json[0]["params"]["i"], "2");
    assert_eq!(json[0]["status"], "FINISHED");
    assert!(json[0]["duration_ms"].as_i64().unwrap() >= 0);

    snap!(
        &s,
        "list_json",
        s.ok(&["runs", "list", "--experiment", "e"])
    );
    let csv = s.ok(&["runs", "list", "--experiment", "e", "--output", "csv"]);
    assert!(csv.starts_with(&format!(
        "run id,name,experiment id,status,start,duration,acc\n{},r2,",
        ids[2]
    )));
    snap!(&s, "list_csv", csv);
    let md = s.ok(&["runs", "list", "--experiment", "e", "-o", "markdown"]);
    snap!(&s, "list_markdown", md);
    let table = s.ok(&["runs", "list", "--experiment", "e", "--output", "table"]);
    snap_table!(&s, "list_table", table);

    let max = s.json(&["runs", "list", "--experiment", "e", "--max", "2"]);
    assert_eq!(max.as_array().unwrap().len(), 2);
    // Without --experiment: every active experiment.
    s.start(&["--experiment", "other"]);
    assert_eq!(s.json(&["runs", "list"]).as_array().unwrap().len(), 4);
}

#[test]
fn delete_and_restore_change_what_is_listed() {
    let s = TestStore::new();
    let ids = three_runs(&s);
    s.ok(&["runs", "delete", &ids[0]]);
    let count = |args: &[&str]| {
        let mut a = vec!["runs", "list", "--experiment", "e"];
        a.extend(args);
        s.json(&a).as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--deleted"]), 1);
    assert_eq!(count(&["--all"]), 3);
    let err = s.fails(&["log", "metric", "--run", &ids[0], "x", "1"]);
    snap!(&s, "log_to_deleted_run_error", err);
    s.ok(&["runs", "restore", &ids[0]]);
    assert_eq!(count(&[]), 3);
    let meta = std::fs::read_to_string(
        s.root()
            .join(
                s.json(&["runs", "show", &ids[0]])["info"]["experiment_id"]
                    .as_str()
                    .unwrap(),
            )
            .join(&ids[0])
            .join("meta.yaml"),
    )
    .unwrap();
    assert!(!meta.contains("deleted_time"), "{meta}");
    let err = s.fails(&["runs", "delete", "ffffffffffffffffffffffffffffffff"]);
    snap!(&s, "delete_unknown_run_error", err);
}

#[test]
fn show_in_table_form_has_every_section() {
    let s = TestStore::new();
    let id = s.start(&["--name", "shown"]);
    s.ok(&["log", "metric", "--run", &id, "loss", "0.5", "--step", "1"]);
    s.ok(&["log", "param", "--run", &id, "lr", "0.01"]);
    s.ok(&["log", "tag", "--run", &id, "team", "ml"]);
    // Three points of acc: a sparkline in the history column.
    for (step, acc) in [("0", "0.5"), ("1", "0.7"), ("2", "0.6")] {
        s.ok(&["log", "metric", "--run", &id, "acc", acc, "--step", step]);
    }
    let notes = s.dir.path().join("notes.txt");
    std::fs::write(&notes, "twelve bytes").unwrap();
    s.ok(&["log", "artifact", "--run", &id, notes.to_str().unwrap()]);
    let out = s.ok(&["runs", "show", &id, "--output", "table"]);
    snap_table!(&s, "show_table", out);
    snap!(&s, "show_json", s.ok(&["runs", "show", &id, "-o", "json"]));
}

#[test]
fn usage_errors_exit_2() {
    let s = TestStore::new();
    s.mlx().args(["runs", "list", "--bogus"]).assert().code(2);
    s.mlx().args(["nope"]).assert().code(2);
    let out = s
        .mlx()
        .args(["runs", "list", "--output", "yaml"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    snap!(&s, "unknown_output_format_error", err);
    let err = s.fails(&["runs", "show", "0123"]);
    snap!(&s, "show_bad_run_id_error", err);
}

/// A reader that stops early (`mlx ... | head`) closes the pipe; mlx then stops quietly with exit 0, in
/// every output format, as `runs list` already did: never "error: Broken pipe" and exit 2.
#[test]
fn a_closed_pipe_ends_output_quietly_in_every_format() {
    let s = TestStore::new();
    let ids = three_runs(&s);
    for args in [
        vec!["runs", "show", ids[0].as_str(), "-o", "json"],
        vec!["runs", "show", ids[0].as_str()],
        vec!["runs", "list", "--experiment", "e", "-o", "json"],
        vec!["runs", "list", "--experiment", "e", "-o", "csv"],
        vec!["experiments", "list", "-o", "csv"],
        vec!["experiments", "list", "-o", "json"],
    ] {
        // The read end is closed before mlx starts, so its first write meets a closed pipe.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = s.mlx_std().args(&args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            (out.status.code(), stderr.as_ref()),
            (Some(0), ""),
            "mlx {}",
            args.join(" ")
        );
    }
}
