//! The model registry: register, versions, aliases with history, rollback, model URIs — and MLflow's view.

use crate::common::{TestStore, python};
use crate::snap::snap;
use crate::train::train;
use serde_json::Value;
use std::path::Path;

fn mlflow_registry(s: &TestStore, args: &[&str]) -> String {
    let out = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mlflow_registry.py"))
        .arg(s.root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Three trained runs registered as versions 1..3 of `titanic`.
fn three_versions(s: &TestStore) -> Vec<String> {
    ["logistic-regression", "decision-tree", "gaussian-nb"]
        .iter()
        .enumerate()
        .map(|(i, model)| {
            let r = train(s, &["--experiment", "reg", "--model", model]);
            let id = r["run_id"].as_str().unwrap().to_string();
            let v = s.ok(&[
                "register",
                &id,
                "--name",
                "titanic",
                "--description",
                &format!("v{}", i + 1),
                "--tag",
                "stage=dev",
            ]);
            assert_eq!(v.trim(), (i + 1).to_string());
            id
        })
        .collect()
}

#[test]
fn register_alias_and_mlflow_reads_it() {
    let s = TestStore::new();
    let runs = three_versions(&s);
    assert_eq!(
        s.ok(&["alias", "set", "Champion", "2"]).trim(),
        "Champion: (none) -> v2",
        "the only model is implicit"
    );
    s.ok(&["models", "describe", "titanic", "Titanic survival"]);
    s.ok(&["models", "set-tag", "titanic", "task=classification"]);
    s.ok(&[
        "models",
        "set-tag",
        "titanic",
        "validated=yes",
        "--version",
        "2",
    ]);
    let v: Value =
        serde_json::from_str(&mlflow_registry(&s, &["read", "titanic", "Champion"])).unwrap();
    assert_eq!(v["alias_version"], 2);
    assert_eq!(v["alias_run_id"], runs[1].as_str());
    assert!(
        v["alias_source"]
            .as_str()
            .unwrap()
            .starts_with("models:/m-"),
        "MLflow 3 style source"
    );
    assert_eq!(v["versions"], serde_json::json!([1, 2, 3]));
    assert_eq!(v["description"], "Titanic survival");
    assert_eq!(v["tags"]["task"], "classification");
    assert_eq!(v["version_tags"]["2"]["validated"], "yes");
    assert_eq!(v["version_tags"]["1"]["stage"], "dev");
    // mlx's alias history, as MLflow shows the tag: one readable line per move, not JSON.
    let history = v["tags"]["mlx.alias_history.Champion"].as_str().unwrap();
    let user = s.json(&["runs", "show", &runs[0]])["info"]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(history.lines().count(), 1, "{history}");
    assert!(
        history.ends_with(&format!(" UTC set Champion (none) → v2 by {user}")),
        "{history}"
    );
    // The same model through mlx.
    let show = s.json(&["models", "show", "titanic"]);
    assert_eq!(show["model"]["aliases"]["Champion"], 2);
    assert_eq!(show["model"]["latest_version"], 3);
    let versions = s.json(&["models", "versions", "titanic"]);
    assert_eq!(versions[0]["version"], 3);
    assert_eq!(versions[1]["aliases"], serde_json::json!(["Champion"]));
    // Model URIs everywhere.
    let rows = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/passengers.csv");
    let rows = rows.to_str().unwrap();
    let by_alias = s.ok(&[
        "predict",
        "--model",
        "models:/titanic@Champion",
        "--data",
        rows,
    ]);
    let by_version = s.ok(&["predict", "--model", "models:/titanic/2", "--data", rows]);
    let by_run = s.ok(&[
        "predict",
        "--model",
        &format!("runs:/{}/model", runs[1]),
        "--data",
        rows,
    ]);
    assert_eq!(by_alias, by_version);
    assert_eq!(by_alias, by_run);
    s.ok(&[
        "predict",
        "--model",
        "models:/titanic/latest",
        "--data",
        rows,
    ]);
    let err = s.fails(&[
        "predict",
        "--model",
        "models:/titanic@champion",
        "--data",
        rows,
    ]);
    assert!(
        err.contains("alias 'champion'"),
        "aliases are case-sensitive: {err}"
    );
}

#[test]
fn models_registered_by_mlflow_show_up_in_mlx() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "reg"]);
    assert_eq!(
        mlflow_registry(&s, &["write", r["run_id"].as_str().unwrap()]).trim(),
        "ok"
    );
    let models = s.json(&["models", "list"]);
    assert_eq!(models[0]["name"], "py-model");
    assert_eq!(models[0]["aliases"]["Champion"], 2);
    assert_eq!(models[0]["description"], "registered by MLflow");
    let versions = s.json(&["models", "versions", "py-model"]);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let rows = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/passengers.csv");
    s.ok(&[
        "predict",
        "--model",
        "models:/py-model@Champion",
        "--data",
        rows.to_str().unwrap(),
    ]);
    // mlx adds the next version after MLflow's.
    assert_eq!(
        s.ok(&[
            "register",
            r["run_id"].as_str().unwrap(),
            "--name",
            "py-model"
        ])
        .trim(),
        "3"
    );
}

#[test]
fn rollback_steps_back_through_the_alias_history() {
    let s = TestStore::new();
    three_versions(&s);
    for v in ["1", "2", "3"] {
        s.ok(&["alias", "set", "Champion", v, "--model", "titanic"]);
    }
    assert_eq!(s.ok(&["rollback"]).trim(), "Champion: v3 -> v2");
    assert_eq!(
        s.ok(&["rollback", "--model", "titanic"]).trim(),
        "Champion: v2 -> v1"
    );
    let err = s.fails(&["rollback"]);
    snap!(&s, "rollback_nothing_to_roll_back_to_error", err);
    assert_eq!(
        s.ok(&["rollback", "--to", "3"]).trim(),
        "Champion: v1 -> v3",
        "--to also goes forward"
    );
    assert_eq!(s.ok(&["rollback"]).trim(), "Champion: v3 -> v1");
    let history = s.json(&["alias", "history", "Champion"]);
    let moves: Vec<(Value, Value, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["from"].clone(),
                m["to"].clone(),
                m["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(moves.len(), 7);
    assert_eq!(moves[0], (Value::Null, Value::from(1), "set".into()));
    assert_eq!(
        moves[3],
        (Value::from(3), Value::from(2), "rollback".into())
    );
    assert!(history[0]["user"].as_str().is_some_and(|u| !u.is_empty()));
    snap!(
        &s,
        "alias_history_table",
        s.ok(&["alias", "history", "Champion", "-o", "table"])
    );
    snap!(
        &s,
        "alias_history_csv",
        s.ok(&["alias", "history", "Champion", "-o", "csv"])
    );
    snap!(
        &s,
        "alias_list_table",
        s.ok(&["alias", "list", "-o", "table"])
    );
    snap!(
        &s,
        "alias_set_output",
        s.ok(&["alias", "set", "Challenger", "3"])
    );
    snap!(
        &s,
        "models_list_table",
        s.ok(&["models", "list", "-o", "table"])
    );
    snap!(
        &s,
        "models_list_csv",
        s.ok(&["models", "list", "-o", "csv"])
    );
    snap!(
        &s,
        "models_versions_table",
        s.ok(&["models", "versions", "titanic", "-o", "table"])
    );
    snap!(
        &s,
        "models_versions_csv",
        s.ok(&["models", "versions", "titanic", "-o", "csv"])
    );
    // A deleted version is refused; so is one whose files are gone.
    s.ok(&["alias", "set", "Champion", "2"]);
    s.ok(&["models", "delete-version", "titanic", "1"]);
    let err = s.fails(&["rollback", "--to", "1"]);
    snap!(&s, "rollback_to_deleted_version_error", err);
    let v3 = s.json(&["models", "versions", "titanic"])[0].clone();
    let model_id = v3["model_id"].as_str().unwrap();
    for exp in std::fs::read_dir(s.root()).unwrap().flatten() {
        let dir = exp.path().join("models").join(model_id).join("artifacts");
        if dir.is_dir() {
            std::fs::remove_file(dir.join("MLmodel")).unwrap();
        }
    }
    let err = s.fails(&["rollback", "--to", "3"]);
    snap!(&s, "rollback_to_version_without_files_error", err);
}

#[test]
fn names_and_ambiguity() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "reg"]);
    let id = r["run_id"].as_str().unwrap();
    assert_eq!(
        s.ok(&["register", id, "--name", "main.ml.titanic"]).trim(),
        "1"
    );
    assert_eq!(
        s.ok(&["register", &format!("runs:/{id}/model"), "--name", "other"])
            .trim(),
        "1"
    );
    let errors: Vec<String> = ["../evil", "a/b", "a%b", ".hidden", ""]
        .iter()
        .map(|bad| s.fails(&["register", id, "--name", bad]))
        .collect();
    snap!(&s, "invalid_model_name_errors", errors.join("\n"));
    assert!(!s.dir.path().join("evil").exists());
    let err = s.fails(&["alias", "set", "Champion", "1"]);
    snap!(&s, "alias_set_which_model_error", err);
    s.mlx()
        .args(["alias", "set", "Champion", "1"])
        .env("MLX_MODEL", "other")
        .assert()
        .success();
    let errors: Vec<String> = ["latest", "v2", "bad alias", "../x"]
        .iter()
        .map(|bad| s.fails(&["alias", "set", bad, "1", "--model", "other"]))
        .collect();
    snap!(&s, "invalid_alias_errors", errors.join("\n"));
    let err = s.fails(&["alias", "set", "Champion", "9", "--model", "other"]);
    snap!(&s, "alias_to_missing_version_error", err);
    s.ok(&["alias", "delete", "Champion", "--model", "other"]);
    assert_eq!(
        s.json(&["alias", "list", "--model", "other"]),
        serde_json::json!({})
    );
    s.ok(&["models", "delete", "other"]);
    assert_eq!(s.json(&["models", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn concurrent_registrations_get_distinct_gapless_versions() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "reg"]);
    let id = r["run_id"].as_str().unwrap().to_string();
    let versions: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let s = &s;
                let id = id.clone();
                scope.spawn(move || {
                    s.ok(&["register", &id, "--name", "busy"])
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = versions.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=8).collect::<Vec<_>>());
}
