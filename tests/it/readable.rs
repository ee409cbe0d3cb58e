//! Exact output of the commands a person or a script reads, on an MLflow SQLite store (the folder store's
//! are in `runs`, `experiments`, `compare`, `registry`, `config` and `hardening`), and `predict`'s CSV.

use crate::common::TestStore;
use crate::snap::{snap, snap_table};
use crate::train::{titanic, train};
use std::path::Path;

fn passengers() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/passengers.csv");
    p.to_string_lossy().into_owned()
}

fn logged_run(s: &TestStore, name: &str, acc: &str) -> String {
    let id = s.start(&["--experiment", "sq", "--name", name]);
    s.ok(&["log", "metric", "--run", &id, "acc", acc]);
    s.ok(&["log", "param", "--run", &id, "depth", &acc[2..]]);
    s.ok(&["log", "end", "--run", &id]);
    id
}

#[test]
fn sqlite_runs_experiments_and_compare() {
    let s = TestStore::on_sqlite();
    let a = logged_run(&s, "a", "0.71");
    let b = logged_run(&s, "b", "0.74");
    let list = ["runs", "list", "--experiment", "sq"];
    snap!(
        &s,
        "sqlite_runs_list_csv",
        s.ok(&[&list[..], &["-o", "csv"]].concat())
    );
    snap!(
        &s,
        "sqlite_runs_list_markdown",
        s.ok(&[&list[..], &["-o", "markdown"]].concat())
    );
    snap_table!(
        &s,
        "sqlite_runs_list_table",
        s.ok(&[&list[..], &["-o", "table"]].concat())
    );
    snap!(
        &s,
        "sqlite_runs_show_json",
        s.ok(&["runs", "show", &a, "-o", "json"])
    );
    snap!(
        &s,
        "sqlite_experiments_list_csv",
        s.ok(&["experiments", "list", "-o", "csv"])
    );
    snap_table!(
        &s,
        "sqlite_compare_table",
        s.ok(&["compare", &a, &b, "-o", "table"])
    );
    snap!(
        &s,
        "sqlite_compare_csv",
        s.ok(&["compare", &a, &b, "-o", "csv"])
    );
    let err = s.fails(&["runs", "show", "ffffffffffffffffffffffffffffffff"]);
    snap!(&s, "sqlite_unknown_run_error", err);
    // A bad filter's error points at the column.
    let out = s
        .mlx()
        .args(["runs", "list", "--filter", "metrics.acc >> 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    snap!(&s, "bad_filter_error", err);
}

#[test]
fn sqlite_registry_and_predict_csv() {
    let s = TestStore::on_sqlite();
    train(&s, &["--experiment", "t", "--register", "titanic"]);
    train(
        &s,
        &[
            "--experiment",
            "t",
            "--register",
            "titanic",
            "--model",
            "gaussian-nb",
        ],
    );
    snap!(
        &s,
        "sqlite_alias_set_output",
        s.ok(&["alias", "set", "Champion", "1"])
    );
    snap!(
        &s,
        "sqlite_alias_move_output",
        s.ok(&["alias", "set", "Champion", "2"])
    );
    snap!(&s, "sqlite_rollback_output", s.ok(&["rollback"]));
    snap!(
        &s,
        "sqlite_alias_list_csv",
        s.ok(&["alias", "list", "-o", "csv"])
    );
    snap!(
        &s,
        "sqlite_alias_history_csv",
        s.ok(&["alias", "history", "Champion", "-o", "csv"])
    );
    snap!(
        &s,
        "sqlite_models_list_csv",
        s.ok(&["models", "list", "-o", "csv"])
    );
    snap!(
        &s,
        "sqlite_models_versions_csv",
        s.ok(&["models", "versions", "titanic", "-o", "csv"])
    );
    let rows = passengers();
    let by_alias = s.ok(&["predict", "-m", "models:/titanic@Champion", "--data", &rows]);
    snap!(&s, "predict_csv_by_alias", by_alias);
    let nb = s.ok(&["predict", "-m", "models:/titanic/2", "--data", &rows]);
    snap!(&s, "predict_csv_gaussian_nb", nb);
    let err = s.fails(&["predict", "-m", "models:/titanic@champion", "--data", &rows]);
    snap!(&s, "predict_unknown_alias_error", err);
    let data = titanic();
    let err = s.fails(&[
        "predict",
        "-m",
        "models:/titanic/9",
        "--data",
        data.to_str().unwrap(),
    ]);
    snap!(&s, "predict_missing_version_error", err);
    let err = s.fails(&[
        "predict",
        "-m",
        "models:/titanic/1",
        "--data",
        "no-such.csv",
    ]);
    snap!(&s, "predict_missing_data_error", err);
}
