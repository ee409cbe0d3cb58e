//! `mlx experiments ...` driven through the binary.

use crate::common::TestStore;
use crate::snap::{snap, snap_table};

#[test]
fn create_list_show_rename() {
    let s = TestStore::new();
    let id = s.ok(&[
        "experiments",
        "create",
        "titanic",
        "--tag",
        "team=ml",
        "--description",
        "survival",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 18, "MLflow-style 18-digit id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()));

    let list = s.json(&["experiments", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Default") && names.contains(&"titanic"),
        "{names:?}"
    );

    for key in ["titanic", id] {
        let shown = s.json(&["experiments", "show", key]);
        assert_eq!(shown["experiment"]["experiment_id"], id);
        assert_eq!(shown["experiment"]["tags"]["team"], "ml");
        assert_eq!(
            shown["experiment"]["tags"]["mlflow.note.content"],
            "survival"
        );
    }
    let meta = std::fs::read_to_string(s.root().join(id).join("meta.yaml")).unwrap();
    assert!(meta.contains(&format!("experiment_id: '{id}'")), "{meta}");
    assert!(meta.contains("lifecycle_stage: active"));

    s.ok(&["experiments", "rename", "titanic", "titanic-v2"]);
    assert_eq!(
        s.json(&["experiments", "show", id])["experiment"]["name"],
        "titanic-v2"
    );
    let err = s.fails(&["experiments", "show", "titanic"]);
    snap!(&s, "show_unknown_error", err);
    s.ok(&["experiments", "create", "second"]);
    snap_table!(
        &s,
        "list_table",
        s.ok(&["experiments", "list", "-o", "table"])
    );
    snap!(&s, "list_csv", s.ok(&["experiments", "list", "-o", "csv"]));
    snap!(
        &s,
        "list_json",
        s.ok(&["experiments", "list", "-o", "json"])
    );
    snap_table!(
        &s,
        "show_table",
        s.ok(&["experiments", "show", id, "-o", "table"])
    );
}

#[test]
fn names_are_unique() {
    let s = TestStore::new();
    s.ok(&["experiments", "create", "a"]);
    s.ok(&["experiments", "create", "b"]);
    let errors = [
        s.fails(&["experiments", "create", "a"]),
        s.fails(&["experiments", "rename", "b", "a"]),
        s.fails(&["experiments", "create", ""]),
    ];
    snap!(&s, "name_taken_and_invalid_errors", errors.join("\n"));
}

#[test]
fn delete_moves_to_trash_and_restore_brings_runs_back() {
    let s = TestStore::new();
    let run = s.start(&["--experiment", "old"]);
    let lone = s.start(&["--experiment", "old"]);
    s.ok(&["runs", "delete", &lone]);
    let id = s.json(&["experiments", "show", "old"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();

    s.ok(&["experiments", "delete", "old"]);
    assert!(!s.root().join(&id).exists());
    assert!(
        s.root()
            .join(".trash")
            .join(&id)
            .join("meta.yaml")
            .is_file()
    );
    let active = s.json(&["experiments", "list"]);
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["name"] != "old")
    );
    let deleted = s.json(&["experiments", "list", "--deleted"]);
    assert_eq!(deleted[0]["name"], "old");
    assert_eq!(deleted[0]["lifecycle_stage"], "deleted");
    assert_eq!(
        s.json(&["runs", "show", &run])["info"]["lifecycle_stage"],
        "deleted"
    );
    // The name stays taken, as in MLflow.
    s.fails(&["experiments", "create", "old"]);
    let err = s.fails(&["log", "start", "--experiment", "old"]);
    assert!(err.contains("deleted"), "{err}");

    s.ok(&["experiments", "restore", "old"]);
    assert!(s.root().join(&id).join("meta.yaml").is_file());
    assert_eq!(
        s.json(&["runs", "show", &run])["info"]["lifecycle_stage"],
        "active"
    );
    // A run deleted on its own before the experiment stays deleted.
    assert_eq!(
        s.json(&["runs", "show", &lone])["info"]["lifecycle_stage"],
        "deleted"
    );
}

#[test]
fn default_experiment_cannot_be_deleted() {
    let s = TestStore::new();
    s.start(&[]);
    let errors = [
        s.fails(&["experiments", "delete", "Default"]),
        s.fails(&["experiments", "restore", "Default"]),
        s.fails(&["experiments", "delete", "../etc"]),
    ];
    snap!(&s, "default_and_unknown_errors", errors.join("\n"));
}
