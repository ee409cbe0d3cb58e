//! Hardening: doctor, gc, hostile names and paths, concurrent alias moves while serving, crash consistency.

use crate::common::{TestStore, mlflow_dump};
use std::fs;

#[test]
fn doctor_finds_and_fixes_what_is_safe() {
    let s = TestStore::new();
    let a = s.start(&["--experiment", "d", "--name", "a"]);
    s.ok(&["log", "metric", "--run", &a, "acc", "0.5"]);
    let exp = s.json(&["runs", "show", &a])["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = s.root().join(&exp).join(&a);
    assert!(s.ok(&["doctor"]).is_empty());
    // Damage it the ways crashes and hand edits do.
    fs::remove_dir(run.join("artifacts")).unwrap();
    fs::write(run.join("metrics/empty"), "").unwrap();
    fs::write(run.join("metrics/broken"), "17 0.5 0\nnot a line\n").unwrap();
    fs::create_dir_all(s.root().join(&exp).join(".mlx-tmp-crashed")).unwrap();
    fs::write(run.join("params/.mlx-tmp-x1"), "half").unwrap();
    fs::create_dir_all(s.root().join(&exp).join("0123456789abcdef0123456789abcdef")).unwrap();
    let out = s.mlx().args(["doctor", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "problems found");
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<String> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["problem"].as_str().unwrap().to_string())
        .collect();
    let text = problems.join("\n");
    for needle in [
        "missing artifacts/",
        "metric 'empty' has no points",
        "metric 'broken', line 2",
        "leftover temporary folder",
        "leftover temporary file",
        "without meta.yaml",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let out = s
        .mlx()
        .args(["doctor", "--fix", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the broken metric line and the bare folder need a person"
    );
    assert!(run.join("artifacts").is_dir());
    assert!(!run.join("metrics/empty").exists());
    assert!(!s.root().join(&exp).join(".mlx-tmp-crashed").exists());
    assert!(!run.join("params/.mlx-tmp-x1").exists());
    let after: serde_json::Value = serde_json::from_slice(
        &s.mlx()
            .args(["doctor", "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(after.as_array().unwrap().len(), 2, "{after}");
}

#[test]
fn doctor_removes_aliases_to_missing_versions() {
    let s = TestStore::new();
    let r = crate::train::train(&s, &["--register", "m"]);
    let _ = r;
    s.ok(&["alias", "set", "Champion", "1"]);
    fs::write(s.root().join("models/m/aliases/Ghost"), "7").unwrap();
    let out = s
        .mlx()
        .args(["doctor", "--fix", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!s.root().join("models/m/aliases/Ghost").exists());
    assert!(s.root().join("models/m/aliases/Champion").exists());
}

#[test]
fn gc_removes_deleted_runs_and_experiments() {
    let s = TestStore::new();
    let keep = s.start(&["--experiment", "g"]);
    let gone = s.start(&["--experiment", "g"]);
    let old_exp_run = s.start(&["--experiment", "old"]);
    s.ok(&["runs", "delete", &gone]);
    s.ok(&["experiments", "delete", "old"]);
    let dry = s.json(&["gc", "--dry-run"]);
    assert_eq!(dry.as_array().unwrap().len(), 2);
    assert!(
        s.json(&["runs", "show", &gone]).is_object(),
        "dry run removes nothing"
    );
    let kept = s.json(&["gc", "--older-than", "1d"]);
    assert!(kept.as_array().unwrap().is_empty(), "nothing is a day old");
    let removed = s.json(&["gc"]);
    let kinds: Vec<&str> = removed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"run") && kinds.contains(&"experiment"));
    s.fails(&["runs", "show", &gone]);
    s.fails(&["runs", "show", &old_exp_run]);
    s.ok(&["runs", "show", &keep]);
    let err = s.fails(&["gc", "--older-than", "3 weeks"]);
    assert!(err.contains("unknown unit"), "{err}");
    // MLflow still reads what is left.
    let dump = mlflow_dump(&s.root());
    assert!(dump["runs"][keep.as_str()].is_object());
    assert!(dump["runs"].get(gone.as_str()).is_none());
}

#[test]
fn hostile_names_stay_inside_the_store() {
    let s = TestStore::new();
    let run = s.start(&[]);
    let outside = s.dir.path().join("outside");
    let long = "k".repeat(300);
    let hostile = [
        "../outside",
        "/tmp/abs",
        "a/../../outside",
        "nul\0byte",
        long.as_str(),
        "..",
        "a/./b",
    ];
    for key in hostile {
        for kind in ["param", "metric", "tag"] {
            let out = s
                .mlx()
                .args(["log", kind, "--run", &run, key, "1"])
                .output();
            // NUL cannot even be passed as an argument on Unix; everything else must be refused.
            if let Ok(out) = out {
                assert_eq!(out.status.code(), Some(1), "{kind} {key:?}");
            }
        }
    }
    for dest in ["../outside", "/abs", "x/../../outside"] {
        fs::write(s.dir.path().join("f.txt"), "x").unwrap();
        s.fails(&["log", "artifact", "--run", &run, "f.txt", "--dest", dest]);
    }
    // Experiment names are data, not paths: stored in meta.yaml under an id folder.
    for name in ["../outside", "a/b", ".."] {
        let id = s.ok(&["experiments", "create", name]);
        assert!(s.root().join(id.trim()).join("meta.yaml").is_file());
        assert_eq!(
            s.json(&["experiments", "show", id.trim()])["experiment"]["name"],
            name
        );
    }
    for id in ["../outside", "..", "/etc"] {
        s.fails(&["runs", "show", id]);
        s.fails(&["runs", "delete", id]);
        s.fails(&[
            "predict",
            "--model",
            &format!("runs:/{id}/model"),
            "--data",
            "x.csv",
        ]);
        s.fails(&[
            "predict",
            "--model",
            &format!("models:/{id}/1"),
            "--data",
            "x.csv",
        ]);
    }
    s.fails(&[
        "predict",
        "--model",
        &format!("runs:/{run}/../../../outside"),
        "--data",
        "x.csv",
    ]);
    // Unicode and long-but-legal names are stored as they are.
    s.ok(&["log", "param", "--run", &run, "température", "ünïcødé ✓"]);
    s.ok(&["log", "tag", "--run", &run, &"t".repeat(250), "ok"]);
    assert_eq!(
        s.json(&["runs", "show", &run])["params"]["température"],
        "ünïcødé ✓"
    );
    assert!(!outside.exists(), "nothing was written outside the store");
    for entry in walk(s.dir.path()) {
        assert!(
            entry.starts_with(s.root()) || entry.starts_with(s.dir.path().join("f.txt")),
            "{}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
