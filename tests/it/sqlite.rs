//! Issue 27: MLflow 3's own store, `sqlite:///mlflow.db`, read and written by mlx: the schema MLflow
//! creates, the CLI end to end on it, the store picked without flags as MLflow picks it, databases mlx
//! must not touch, and concurrent writers that lose nothing.

use crate::common::{TestStore, mlx_bare, python};
use crate::train::train;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every file under `dir` whose name is `name`.
fn find_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name() == name {
                out.push(p);
            }
        }
    }
    out
}

/// A Python script that describes a database's schema as JSON: every table's columns, foreign keys and
/// indexes (SQLite's automatic ones included), each statement's DDL normalized, the alembic revision and
/// the workspaces.
const DESCRIBE: &str = r#"
import json, re, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
out = {"tables": {}, "ddl": [], "indexes": 0}
for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
    cols = [list(r[1:]) for r in c.execute(f'PRAGMA table_info("{name}")')]
    fks = sorted(list(r[2:]) for r in c.execute(f'PRAGMA foreign_key_list("{name}")'))
    idx = {}
    for r in c.execute(f'PRAGMA index_list("{name}")'):
        iname = r[1] if not r[1].startswith("sqlite_autoindex") else "auto:" + ",".join(
            x[2] for x in c.execute(f'PRAGMA index_info("{r[1]}")'))
        idx[iname] = [r[2], r[3], [x[2] for x in c.execute(f'PRAGMA index_info("{r[1]}")')]]
        out["indexes"] += 1
    out["tables"][name] = {"columns": cols, "foreign_keys": fks, "indexes": idx}
def parts(body):
    # A table's columns and constraints, split at top-level commas and sorted: MLflow's own migrations
    # emit the constraints of one table in a different order from one database to the next.
    out, depth, cur = [], 0, ""
    for ch in body:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(cur.strip()); cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return sorted(out)
for (sql,) in c.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"):
    sql = re.sub(r"\s+", " ", sql.replace("IF NOT EXISTS ", "")).strip()
    if sql.startswith("CREATE TABLE"):
        head, body = sql.split("(", 1)
        sql = head.strip() + " (" + ", ".join(parts(body.rsplit(")", 1)[0])) + ")"
    out["ddl"].append(sql)
out["ddl"].sort()
out["alembic"] = [r[0] for r in c.execute("SELECT version_num FROM alembic_version")]
out["workspaces"] = [r[0] for r in c.execute("SELECT name FROM workspaces")]
print(json.dumps(out))
"#;

/// Create a database with the real mlflow (its own migrations), then open mlx's with MLflow's store.
const MLFLOW_CREATE: &str = r#"
import os, sys
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
SqlAlchemyStore("sqlite:///" + sys.argv[1], os.path.dirname(sys.argv[1]))
s = SqlAlchemyStore("sqlite:///" + sys.argv[2], os.path.dirname(sys.argv[2]))
print([e.name for e in s.search_experiments()])
"#;

fn py(script: &str, args: &[&Path]) -> String {
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_database_mlx_creates_has_the_schema_mlflow_creates() {
    let s = TestStore::on_sqlite();
    s.ok(&["experiments", "list"]);
    let ours = s.dir.path().join("mlflow.db");
    let theirs = s.dir.path().join("theirs").join("mlflow.db");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    // MLflow opens the database mlx made without migrating it, and finds its Default experiment.
    assert_eq!(py(MLFLOW_CREATE, &[&theirs, &ours]).trim(), "['Default']");
    let describe = |db: &Path| -> Value { serde_json::from_str(&py(DESCRIBE, &[db])).unwrap() };
    let (a, b) = (describe(&ours), describe(&theirs));
    assert_eq!(a["tables"].as_object().unwrap().len(), 65);
    assert_eq!(a["indexes"], 152);
    assert_eq!(a["alembic"], serde_json::json!(["dc11669786a5"]));
    assert_eq!(a["workspaces"], serde_json::json!(["default"]));
    let names =
        |v: &Value| -> Vec<String> { v["tables"].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(names(&a), names(&b));
    for name in names(&a) {
        assert_eq!(a["tables"][&name], b["tables"][&name], "table {name}");
    }
    let ddl = |v: &Value| -> std::collections::BTreeSet<String> {
        v["ddl"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let (ours_only, theirs_only): (Vec<_>, Vec<_>) = (
        ddl(&a).difference(&ddl(&b)).cloned().collect(),
        ddl(&b).difference(&ddl(&a)).cloned().collect(),
    );
    assert_eq!(
        (ours_only, theirs_only),
        (Vec::new(), Vec::new()),
        "DDL only in mlx's / only in MLflow's"
    );
    assert_eq!(a, b);
}

#[test]
fn train_register_alias_and_predict_on_sqlite_leave_no_meta_yaml() {
    let s = TestStore::on_sqlite();
    let r = train(&s, &["--experiment", "titanic", "--register", "titanic"]);
    let run = r["run_id"].as_str().unwrap();
    let model_id = r["model_id"].as_str().unwrap();
    assert_eq!(r["registered_version"], 1);
    let exp = r["experiment_id"].as_str().unwrap();
    assert_eq!(exp, "1", "experiment ids are MLflow's integers");
    s.ok(&["alias", "set", "--model", "titanic", "Champion", "1"]);
    // Runs list and show read the database.
    let list = s.json(&["runs", "list", "--experiment", "titanic"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["run_id"], run);
    assert_eq!(list[0]["metrics"]["accuracy"], r["metrics"]["accuracy"]);
    let shown = s.json(&["runs", "show", run]);
    let root = std::fs::canonicalize(s.dir.path()).unwrap();
    assert_eq!(
        shown["info"]["artifact_uri"],
        format!("{}/mlruns/{exp}/{run}/artifacts", s.dir.path().display())
    );
    // The model lives where MLflow 3 puts logged models, and predict follows the alias to it.
    let model_dir = root.join(format!("mlruns/{exp}/models/{model_id}/artifacts"));
    assert!(model_dir.join("MLmodel").is_file(), "{model_dir:?}");
    let data = s.dir.path().join("passengers.csv");
    std::fs::write(
        &data,
        "Pclass,Sex,Age,Fare\n1,female,30,80\n3,male,22,7.25\n",
    )
    .unwrap();
    let by_alias = s.ok(&[
        "predict",
        "--model",
        "models:/titanic@Champion",
        "--data",
        data.to_str().unwrap(),
    ]);
    let by_run = s.ok(&[
        "predict",
        "--model",
        &format!("runs:/{run}/model"),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(by_alias, by_run);
    assert_eq!(by_alias, "prediction\n1\n0\n");
    let history = s.json(&["alias", "history", "--model", "titanic", "Champion"]);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    // No meta.yaml anywhere: MLflow would take ./mlruns for its folder store.
    assert_eq!(find_named(s.dir.path(), "meta.yaml"), Vec::<PathBuf>::new());
}

/// A database written by mlx (no MLflow here), for the selection tests.
fn database_with_a_run(dir: &Path) -> String {
    let out = mlx_bare(dir)
        .args(["--tracking-uri", "sqlite:///mlflow.db", "log", "start"])
        .args(["--name", "from-mlx"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn mlflow_db_is_used_without_flags_unless_mlruns_holds_experiments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = database_with_a_run(d);
    assert!(d.join("mlflow.db").is_file());
    let out = mlx_bare(d)
        .args(["-o", "json", "runs", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["run_id"], run.as_str());
    assert_eq!(list.as_array().unwrap().len(), 1);
    let out = mlx_bare(d)
        .args(["-o", "json", "config", "show"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["tracking_uri"],
        serde_json::json!({
            "value": "sqlite:///mlflow.db",
            "source": "default: ./mlflow.db is present and ./mlruns holds no experiments (MLflow 3's default store)"
        })
    );
    // Nothing made ./mlruns an experiment folder.
    assert_eq!(find_named(d, "meta.yaml"), Vec::<PathBuf>::new());

    // ./mlruns holding an experiment wins, as in MLflow.
    let folder = tempfile::tempdir().unwrap();
    let f = folder.path();
    database_with_a_run(f);
    mlx_bare(f)
        .args(["--tracking-uri", "./mlruns", "experiments", "create", "e"])
        .assert()
        .success();
    let out = mlx_bare(f)
        .args(["-o", "json", "config", "show"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["tracking_uri"]["value"], "./mlruns");
    assert_eq!(
        shown["tracking_uri"]["source"],
        "default: ./mlruns holds experiments (MLflow's folder store)"
    );
    let out = mlx_bare(f)
        .args(["-o", "json", "runs", "list"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    // An empty folder: the folder store, and no database is made.
    let empty = tempfile::tempdir().unwrap();
    mlx_bare(empty.path())
        .args(["experiments", "create", "x"])
        .assert()
        .success();
    assert!(!empty.path().join("mlflow.db").exists());
    assert!(empty.path().join("mlruns/.trash").is_dir());
}

#[test]
fn other_revisions_and_files_that_are_not_mlflow_databases_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    database_with_a_run(d);
    let db = d.join("mlflow.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute(
            "UPDATE alembic_version SET version_num = '1b5f0d9ad7c1'",
            [],
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let s = TestStore {
        dir,
        uri: "sqlite:///mlflow.db".into(),
    };
    let err = s.fails(&["log", "start"]);
    assert!(err.contains("schema revision 1b5f0d9ad7c1"), "{err}");
    assert!(err.contains("mlflow db upgrade sqlite:///"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);

    let other = s.dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&other).unwrap();
        c.execute("CREATE TABLE notes (t TEXT)", []).unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let s2 = TestStore {
        dir: tempfile::tempdir().unwrap(),
        uri: format!("sqlite:///{}", other.display()),
    };
    let err = s2.fails(&["experiments", "create", "x"]);
    assert!(
        err.contains(
            "not an MLflow database (it has no alembic_version table); mlx leaves it untouched"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&other).unwrap(), before);
    let text = s.dir.path().join("text.db");
    std::fs::write(
        &text,
        "not sqlite at all, but long enough to look like a header",
    )
    .unwrap();
    let s3 = TestStore {
        dir: tempfile::tempdir().unwrap(),
        uri: format!("sqlite:///{}", text.display()),
    };
    let err = s3.fails(&["runs", "list"]);
    assert!(err.contains("not an MLflow database"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&text).unwrap(),
        "not sqlite at all, but long enough to look like a header"
    );
}

/// Several processes opening a missing database at once: one creates the schema, none fails.
#[test]
fn concurrent_first_opens_create_the_schema_once() {
    let s = TestStore::on_sqlite();
    let children: Vec<_> = (0..6)
        .map(|i| {
            s.mlx_std()
                .args(["experiments", "create", &format!("e{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = s.json(&["experiments", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 7, "{list}");
}

/// N concurrent `mlx log metric` processes and an MLflow client on one run: every point lands, nobody
/// sees "database is locked", and `latest_metrics` holds the greatest (step, timestamp, value).
#[test]
fn concurrent_writers_lose_nothing() {
    let s = TestStore::on_sqlite();
    let run = s.start(&["--name", "busy"]);
    const WRITERS: usize = 4;
    const POINTS: usize = 20;
    let db = s.dir.path().join("mlflow.db");
    let mlflow = std::process::Command::new(python())
        .arg("-c")
        .arg(
            "import sys, mlflow\n\
             c = mlflow.MlflowClient('sqlite:///' + sys.argv[1])\n\
             for i in range(20): c.log_metric(sys.argv[2], 'py', float(i), step=i)\n",
        )
        .arg(&db)
        .arg(&run)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (s, run) = (&s, &run);
            scope.spawn(move || {
                for i in 0..POINTS {
                    let step = (w * POINTS + i).to_string();
                    let out = s
                        .mlx()
                        .args([
                            "log", "metric", "--run", run, "loss", &step, "--step", &step,
                        ])
                        .output()
                        .unwrap();
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(out.status.success() && !err.contains("locked"), "{err}");
                }
            });
        }
    });
    let out = mlflow.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = s.json(&["runs", "show", &run]);
    let last = (WRITERS * POINTS - 1) as f64;
    assert_eq!(shown["metrics"]["loss"]["latest"], last, "{shown}");
    assert_eq!(shown["metrics"]["loss"]["points"], WRITERS * POINTS);
    assert_eq!(shown["metrics"]["py"]["latest"], 19.0);
    assert_eq!(shown["metrics"]["py"]["points"], 20);
    let c = rusqlite::Connection::open(&db).unwrap();
    let count = |key: &str| -> i64 {
        c.query_row(
            "SELECT count(*) FROM metrics WHERE run_uuid = ?1 AND key = ?2",
            [run.as_str(), key],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(count("loss"), (WRITERS * POINTS) as i64);
    assert_eq!(count("py"), 20);
}

/// Processes killed (SIGKILL) at random moments while writing one database: MLflow still opens it and
/// reads every acknowledged write, SQLite's integrity check passes, and no version number is used twice.
#[test]
fn sigkill_at_any_moment_loses_no_acknowledged_write() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let s = TestStore::on_sqlite();
    let base = s.start(&["--experiment", "crash", "--name", "base"]);
    let r = train(&s, &["--experiment", "crash", "--register", "m"]);
    let model_run = r["run_id"].as_str().unwrap().to_string();
    let mut seed = 7u64;
    let mut rng = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    };
    const KINDS: u64 = 5;
    const WANTED_KILLS: u32 = 40;
    let mut duration_us = [0u64; KINDS as usize];
    let (mut kills, mut started) = (0u32, 0u32);
    let (mut metrics, mut params, mut runs, mut versions) =
        (0usize, Vec::new(), Vec::new(), Vec::new());
    let mut i = 0u64;
    while kills < WANTED_KILLS {
        assert!(
            started < 1500,
            "{started} processes started, only {kills} killed mid-flight"
        );
        let warm_up = i < KINDS;
        let kind = if warm_up { i } else { rng(KINDS) };
        let step = i.to_string();
        let pkey = format!("p{i}");
        let args: Vec<&str> = match kind {
            0 => vec!["log", "start", "--experiment", "crash"],
            1 => vec!["log", "metric", "--run", &base, "m", "0.5", "--step", &step],
            2 => vec!["log", "param", "--run", &base, &pkey, "v"],
            3 => vec!["register", &model_run, "--name", "m"],
            _ => vec!["alias", "set", "Champion", "1", "--model", "m"],
        };
        i += 1;
        started += 1;
        let spawned = Instant::now();
        let mut child = s
            .mlx_std()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if !warm_up && rng(3) != 0 {
            std::thread::sleep(Duration::from_micros(rng(duration_us[kind as usize])));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                let _ = child.wait();
                kills += 1;
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        duration_us[kind as usize] = spawned.elapsed().as_micros() as u64;
        assert!(
            out.status.success(),
            "mlx {args:?} failed after the kills before it"
        );
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match kind {
            0 => runs.push(stdout),
            1 => metrics += 1,
            2 => params.push(pkey),
            3 => versions.push(stdout.parse::<u64>().unwrap()),
            _ => {}
        }
    }
    // SQLite's own check passes (doctor runs it) and MLflow reads everything acknowledged.
    let out = s.mlx().args(["doctor", "-o", "json"]).output().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
    let check = r#"
import json, sys, mlflow
c = mlflow.MlflowClient("sqlite:///" + sys.argv[1])
run = c.get_run(sys.argv[2])
print(json.dumps({
    "points": len(c.get_metric_history(sys.argv[2], "m")),
    "params": sorted(run.data.params),
    "runs": [r.info.run_id for r in c.search_runs([run.info.experiment_id], max_results=5000)],
    "versions": sorted(int(v.version) for v in c.search_model_versions("name = 'm'")),
}))
"#;
    let db = s.dir.path().join("mlflow.db");
    let seen: Value = serde_json::from_str(&py(check, &[&db, Path::new(&base)])).unwrap();
    assert!(
        seen["points"].as_u64().unwrap() as usize >= metrics,
        "{seen}"
    );
    for p in &params {
        assert!(
            seen["params"]
                .as_array()
                .unwrap()
                .contains(&Value::from(p.as_str())),
            "{p}"
        );
    }
    for id in &runs {
        assert!(
            seen["runs"]
                .as_array()
                .unwrap()
                .contains(&Value::from(id.as_str())),
            "{id}"
        );
    }
    let all: Vec<u64> = seen["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for v in &versions {
        assert!(all.contains(v), "version {v}");
    }
    // Versions are gapless: a killed registration left no half-made version.
    assert_eq!(all, (1..=all.len() as u64).collect::<Vec<_>>());
    eprintln!(
        "sqlite crash harness: {kills} killed, {} acknowledged writes checked",
        metrics + params.len() + runs.len() + versions.len()
    );
}

/// `mlx gc` removes a deleted run's rows and folder; `mlx doctor` finds an alias pointing at no version
/// and `--fix` removes it.
#[test]
fn gc_and_doctor_work_on_the_database() {
    let s = TestStore::on_sqlite();
    let keep = s.start(&["--experiment", "g", "--name", "keep"]);
    let gone = s.start(&["--experiment", "g", "--name", "gone"]);
    let file = s.dir.path().join("a.txt");
    std::fs::write(&file, "x").unwrap();
    for run in [&keep, &gone] {
        s.ok(&["log", "artifact", "--run", run, file.to_str().unwrap()]);
        s.ok(&["log", "metric", "--run", run, "m", "1"]);
    }
    let folder = |run: &str| s.dir.path().join("mlruns/1").join(run);
    assert!(folder(&gone).join("artifacts/a.txt").is_file());
    s.ok(&["runs", "delete", &gone]);
    let removed = s.json(&["gc"]);
    assert_eq!(removed.as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(removed[0]["id"], gone.as_str());
    assert!(!folder(&gone).exists());
    assert!(folder(&keep).join("artifacts/a.txt").is_file());
    let all = s.json(&["runs", "list", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    let db = s.dir.path().join("mlflow.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    let rows: i64 = c
        .query_row(
            "SELECT count(*) FROM metrics WHERE run_uuid = ?1",
            [&gone],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);

    s.ok(&["doctor"]);
    c.execute(
        "INSERT INTO registered_models (name, workspace) VALUES ('m', 'default')",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES ('Champion', 9, 'm', 'default')",
        [],
    )
    .unwrap();
    drop(c);
    let out = s.mlx().args(["doctor", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let findings: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        findings[0]["problem"],
        "alias 'Champion' of registered model 'm' points at version 9, which does not exist or is deleted"
    );
    s.ok(&["doctor", "--fix"]);
    s.ok(&["doctor"]);
}

/// What MLflow itself writes, with no environment variables, in a folder: plain `mlx` (no flags) reads it
/// — latest metrics with NaN and infinity, histories, params, dataset inputs — and moves an alias MLflow
/// then follows.
#[test]
fn mlx_reads_what_mlflow_writes_and_mlflow_follows_mlx_s_alias() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = r#"
import json, mlflow, pandas as pd
mlflow.set_experiment("seed")
with mlflow.start_run(run_name="seeded") as r:
    mlflow.log_param("lr", "0.1")
    mlflow.set_tag("team", "a")
    for step, v in enumerate([0.9, 0.5, float("nan")]):
        mlflow.log_metric("loss", v, step=step)
    mlflow.log_metric("big", float("inf"))
    df = pd.DataFrame({"x": [1, 2]})
    mlflow.log_input(mlflow.data.from_pandas(df, source="/data/x.csv", name="xs"), context="training")
    mlflow.log_text("hello", "notes/a.txt")
c = mlflow.MlflowClient()
c.create_registered_model("m")
c.create_model_version("m", r.info.artifact_uri + "/notes", r.info.run_id)
c.create_model_version("m", r.info.artifact_uri + "/notes", r.info.run_id)
print(json.dumps({"run": r.info.run_id}))
"#;
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(write)
        .current_dir(d)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_ALLOW_FILE_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = serde_json::from_slice::<Value>(out.stdout.rsplit(|b| *b == b'\n').nth(1).unwrap())
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(d.join("mlflow.db").is_file());
    let mlx = |args: &[&str]| -> Value {
        let out = mlx_bare(d)
            .args(["-o", "json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let list = mlx(&["runs", "list", "--experiment", "seed"]);
    assert_eq!(list[0]["run_id"], run.as_str());
    assert_eq!(list[0]["run_name"], "seeded");
    let shown = mlx(&["runs", "show", &run]);
    assert_eq!(shown["params"]["lr"], "0.1");
    assert_eq!(shown["info"]["tags"]["team"], "a");
    assert_eq!(shown["metrics"]["loss"]["latest"], "NaN");
    assert_eq!(shown["metrics"]["loss"]["points"], 3);
    assert_eq!(shown["metrics"]["big"]["latest"], f64::MAX);
    assert_eq!(shown["inputs"][0]["name"], "xs");
    assert_eq!(shown["inputs"][0]["context"], "training");
    assert_eq!(shown["artifacts"][0]["path"], "notes/a.txt");
    let moved = mlx(&["alias", "set", "--model", "m", "Champion", "2"]);
    assert_eq!(moved["to"], 2);
    let read = "import mlflow; print(mlflow.MlflowClient().get_model_version_by_alias('m', 'Champion').version)";
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(read)
        .current_dir(d)
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    assert_eq!(find_named(d, "meta.yaml"), Vec::<PathBuf>::new());
}
