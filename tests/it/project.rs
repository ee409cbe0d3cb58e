//! `mlx run`: MLproject.toml entry points, typed parameters and sweeps as child runs.

use crate::common::TestStore;
use crate::train::titanic;
use std::fs;
use std::path::Path;

fn project(s: &TestStore) -> String {
    let text = format!(
        r#"name = "proj"
[entry_points.main]
command = "mlx train --data {{data}} --target Survived --features Pclass,Sex,Age,Fare --map Sex=male:0,female:1 --model {{model}} --max-depth {{max_depth}} --n-estimators {{n_estimators}} --test-size {{test_size}}"
[entry_points.main.parameters]
data = {{ type = "path", default = "{}" }}
model = {{ type = "string", default = "decision-tree" }}
max_depth = {{ type = "int", default = 3 }}
n_estimators = {{ type = "int", default = 10 }}
test_size = {{ type = "float", default = 0.2 }}

[entry_points.cv]
command = "mlx train --data {{data}} --target Survived --features Pclass,Sex,Age,Fare --map Sex=male:0,female:1 --model {{model}} --max-depth {{max_depth}} --cv 3 --seed 7"
[entry_points.cv.parameters]
data = {{ type = "path", default = "{}" }}
model = {{ type = "string", default = "decision-tree" }}
max_depth = {{ type = "int", default = 3 }}

[entry_points.fails]
command = "exit 4"

[entry_points.code]
command = "exit {{c}}"
[entry_points.code.parameters]
c = {{ type = "int", default = 0 }}

[entry_points.needs]
command = "echo {{x}}"
[entry_points.needs.parameters]
x = {{ type = "int" }}
"#,
        titanic().display(),
        titanic().display()
    );
    let dir = s.dir.path().join("proj");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("MLproject.toml"), text).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn an_entry_point_runs_inside_one_run() {
    let s = TestStore::new();
    let dir = project(&s);
    let out = s.ok(&[
        "run",
        "--project",
        &dir,
        "-P",
        "max_depth=4",
        "-P",
        "test_size=0.20",
    ]);
    let run_id = out.lines().last().unwrap().trim();
    let runs = s.json(&["runs", "list", "--experiment", "proj"]);
    assert_eq!(
        runs.as_array().unwrap().len(),
        1,
        "train attached to the project's run"
    );
    let run = s.json(&["runs", "show", run_id]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["params"]["max_depth"], "4");
    assert_eq!(run["params"]["test_size"], "0.2");
    assert_eq!(run["params"]["model"], "decision-tree");
    assert_eq!(run["tags"]["mlflow.project.entryPoint"], "main");
    assert_eq!(run["tags"]["mlflow.source.type"], "PROJECT");
    assert!(run["metrics"]["accuracy"]["latest"].as_f64().unwrap() > 0.7);
    assert!(
        run["outputs"].as_array().unwrap().len() == 1,
        "the model is logged in the same run"
    );
    let paths: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"stdout.txt") && paths.contains(&"stderr.txt"),
        "{paths:?}"
    );
}

#[test]
fn a_sweep_makes_child_runs_and_picks_the_best() {
    let s = TestStore::new();
    let dir = project(&s);
    let out = s
        .mlx()
        .args([
            "run",
            "--project",
            &dir,
            "-P",
            "max_depth=2,4",
            "-P",
            "model=decision-tree|knn",
            "--by",
            "accuracy",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The children's own output comes first; the sweep's JSON is the last document.
    let start = stdout.rfind("{\n  \"best\"").expect("sweep summary");
    let summary: serde_json::Value = serde_json::from_str(&stdout[start..]).unwrap();
    let parent = summary["parent_run_id"].as_str().unwrap();
    assert_eq!(summary["children"].as_array().unwrap().len(), 4);
    let runs = s.json(&["runs", "list", "--experiment", "proj"]);
    assert_eq!(runs.as_array().unwrap().len(), 5);
    let children: Vec<&serde_json::Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["run_id"] != parent)
        .collect();
    let best_acc = children
        .iter()
        .map(|r| r["metrics"]["accuracy"].as_f64().unwrap())
        .fold(0.0, f64::max);
    for c in &children {
        assert_eq!(c["tags"]["mlflow.parentRunId"], parent);
    }
    assert_eq!(summary["best"]["value"], best_acc);
    let parent_run = s.json(&["runs", "show", parent]);
    assert_eq!(
        parent_run["tags"]["mlx.best_run_id"],
        summary["best"]["run_id"]
    );
    assert_eq!(parent_run["metrics"]["best_accuracy"]["latest"], best_acc);
    assert!(String::from_utf8_lossy(&out.stderr).contains("best by accuracy"));
}

#[test]
fn a_sweep_picks_the_best_child_by_cross_validated_accuracy() {
    let s = TestStore::new();
    let dir = project(&s);
    let out = s.ok(&[
        "run",
        "cv",
        "--project",
        &dir,
        "-P",
        "max_depth=1,6",
        "-P",
        "model=decision-tree|knn",
        "--by",
        "cv_accuracy_mean",
        "-o",
        "json",
    ]);
    let start = out.rfind("{\n  \"best\"").expect("sweep summary");
    let summary: serde_json::Value = serde_json::from_str(&out[start..]).unwrap();
    let parent = summary["parent_run_id"].as_str().unwrap();
    let runs = s.json(&["runs", "list", "--experiment", "proj"]);
    let children: Vec<(String, f64, f64)> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["run_id"] != parent)
        .map(|r| {
            let m = &r["metrics"];
            (
                r["run_id"].as_str().unwrap().to_string(),
                m["cv_accuracy_mean"]
                    .as_f64()
                    .expect("each child cross-validated"),
                m["accuracy"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(children.len(), 4);
    // The best is the child with the highest mean accuracy over the folds (higher is better for it),
    // which the sweep chose among different values.
    let best = children.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(children.iter().any(|c| c.1 != best.1), "{children:?}");
    assert_eq!(summary["best"]["run_id"], best.0.as_str());
    assert_eq!(summary["best"]["value"], best.1);
    let parent_run = s.json(&["runs", "show", parent]);
    assert_eq!(parent_run["tags"]["mlx.best_run_id"], best.0.as_str());
    assert_eq!(
        parent_run["metrics"]["best_cv_accuracy_mean"]["latest"],
        best.1
    );
}

#[test]
fn project_errors_are_clear() {
    let s = TestStore::new();
    let dir = project(&s);
    let err = s.fails(&["run", "--project", &dir, "-P", "max_depth=deep"]);
    assert!(
        err.contains("'max_depth'") && err.contains("not an int"),
        "{err}"
    );
    let err = s.fails(&["run", "--project", &dir, "-P", "bogus=1"]);
    assert!(err.contains("not a parameter"), "{err}");
    let err = s.fails(&["run", "needs", "--project", &dir]);
    assert!(err.contains("'x'") && err.contains("required"), "{err}");
    let err = s.fails(&["run", "nope", "--project", &dir]);
    assert!(
        err.contains("no entry point 'nope'") && err.contains("main"),
        "{err}"
    );
    let err = s.fails(&["run", "--project", s.dir.path().to_str().unwrap()]);
    assert!(err.contains("MLproject.toml"), "{err}");
    s.mlx()
        .args(["run", "fails", "--project", &dir])
        .assert()
        .code(4);
    let failed = s.json(&["runs", "list", "--experiment", "proj"]);
    assert_eq!(failed[0]["status"], "FAILED");
}

/// Exit codes: a single run passes its command's code through; a sweep with a failed child is a failed
/// check (1), not an error (2).
#[test]
fn a_sweep_with_a_failed_child_exits_1() {
    let s = TestStore::new();
    let dir = project(&s);
    let code = |args: &[&str]| {
        s.mlx()
            .args(["run", "code", "--project", &dir])
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&["-P", "c=5"]), Some(5));
    assert_eq!(code(&["-P", "c=0,3"]), Some(1));
    assert_eq!(code(&["-P", "c=0,0"]), Some(0));
    let runs = s.json(&["runs", "list", "--experiment", "proj"]);
    let failed = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "FAILED")
        .count();
    // The c=5 run, the c=3 child and its parent.
    assert_eq!(failed, 3, "{runs}");
}

/// The README's first command: examples/titanic.sh trains the main entry point, lists the runs and predicts
/// the two passengers (run here on a copy of the project, with this build's mlx).
#[test]
fn the_readme_main_job_runs_end_to_end() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    for f in ["titanic.sh", "titanic.csv", "passengers.csv"] {
        std::fs::copy(
            root.join("examples").join(f),
            dir.path().join("examples").join(f),
        )
        .unwrap();
    }
    std::fs::copy(
        root.join("MLproject.toml"),
        dir.path().join("MLproject.toml"),
    )
    .unwrap();
    let mlx = assert_cmd::cargo::cargo_bin("mlx");
    let out = std::process::Command::new("bash")
        .arg(dir.path().join("examples/titanic.sh"))
        .env("MLX", &mlx)
        .env_remove("MLX_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .env(
            "PATH",
            format!(
                "{}:{}",
                mlx.parent().unwrap().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_line = stdout
        .lines()
        .find(|l| l.starts_with("trained run "))
        .unwrap();
    let run_id = run_line.trim_start_matches("trained run ");
    assert!(
        run_id.len() == 32 && run_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{run_line}"
    );
    let after: String = stdout
        .lines()
        .skip_while(|l| !l.starts_with("trained run "))
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        after.contains(run_id),
        "the runs table lists the run: {after}"
    );
    let preds: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("PassengerId,prediction"))
        .collect();
    assert_eq!(preds.len(), 3, "a header and the two passengers: {stdout}");
    assert!(dir.path().join("mlruns").is_dir());
}

/// The repo's MLproject.toml names its parameters as `mlx train` records them: a run made by `mlx run` holds
/// one param per hyperparameter (not `c` and `C`, `seed` and `random_state`).
#[test]
fn the_repo_project_records_one_param_per_hyperparameter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = TestStore::new();
    let dir = s.dir.path();
    fs::create_dir(dir.join("examples")).unwrap();
    fs::copy(
        root.join("examples/titanic.csv"),
        dir.join("examples/titanic.csv"),
    )
    .unwrap();
    fs::copy(root.join("MLproject.toml"), dir.join("MLproject.toml")).unwrap();
    for (entry, args) in [
        ("main", vec!["-P", "C=0.5"]),
        ("forest", vec!["-P", "n_estimators=5"]),
    ] {
        let mut cmd = s.mlx();
        cmd.current_dir(dir).args(["run", entry]).args(&args);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{entry}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs = s.json(&["runs", "list", "--experiment", "titanic"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        let params = run["params"].as_object().unwrap();
        let mut lower: Vec<String> = params.keys().map(|k| k.to_lowercase()).collect();
        lower.dedup();
        assert_eq!(lower.len(), params.len(), "{params:?}");
        assert!(params.get("seed").is_none(), "{params:?}");
        assert_eq!(params["random_state"], "42");
    }
    let main = runs
        .iter()
        .find(|r| r["params"]["model"] == "logistic-regression")
        .unwrap();
    assert_eq!(main["params"]["C"], "0.5");
}
