//! Hardening: doctor, gc, hostile names and paths, concurrent alias moves while serving, crash consistency.

use crate::common::{TestStore, mlflow_dump};
use crate::snap::{snap, snap_table};
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
    let mut findings: Vec<serde_json::Value> = findings.as_array().unwrap().clone();
    assert_eq!(findings.len(), 6, "{findings:?}");
    // Findings come in the order the file system lists the store's folders: sorted by problem (paths hold
    // random ids) for the snapshots.
    findings.sort_by_key(|f| f["problem"].to_string());
    let findings = serde_json::to_string_pretty(&findings).unwrap();
    snap!(&s, "doctor_findings_json", findings);
    let table = s.mlx().args(["doctor", "-o", "table"]).output().unwrap();
    let table = sort_table_rows(&String::from_utf8_lossy(&table.stdout));
    snap_table!(&s, "doctor_findings_table", table);
    let out = s
        .mlx()
        .args(["doctor", "--fix", "-o", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = csv.lines().collect();
    lines[1..].sort_by_key(|l| l.split_once(',').map(|(_, rest)| rest));
    snap!(&s, "doctor_fix_csv", lines.join("\n"));
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

/// Doctor's table with its rows (between the header's rule and the bottom rule) sorted by what follows
/// the path (which holds random ids).
fn sort_table_rows(table: &str) -> String {
    let mut lines: Vec<&str> = table.lines().collect();
    let first = lines.iter().position(|l| l.starts_with('╞')).unwrap() + 1;
    let last = lines.iter().rposition(|l| l.starts_with('└')).unwrap();
    lines[first..last].sort_by_key(|l| {
        l.trim_start_matches("│ ")
            .split_once("  ")
            .map(|(_, rest)| rest.trim_start())
    });
    lines.join("\n")
}

/// Findings are a failed check (1); a store path that cannot be read is an error (2).
#[test]
fn doctor_exits_2_on_an_unreadable_store_path() {
    let s = TestStore::new();
    let missing = s.dir.path().join("no-such-store");
    let out = s
        .mlx()
        .args(["--tracking-uri", missing.to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    snap!(
        &s,
        "doctor_missing_store_error",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = s.dir.path().join("a-file");
    fs::write(&file, "not a store").unwrap();
    let out = s
        .mlx()
        .args(["--tracking-uri", file.to_str().unwrap(), "doctor"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    snap!(
        &s,
        "doctor_store_is_a_file_error",
        String::from_utf8_lossy(&out.stderr)
    );
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
                assert_eq!(out.status.code(), Some(2), "{kind} {key:?}");
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

/// A tiny deterministic generator for the harness.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// What a kill in the middle of creating a run, an experiment or a model version leaves behind is a scratch
/// folder at the store root holding a complete meta.yaml. MLflow must read the store as if it were not there
/// (it once took such a folder inside an experiment for a run, and one at the root for a bad experiment id).
#[test]
fn interrupted_creations_are_invisible_to_mlflow() {
    let s = TestStore::new();
    let run = s.start(&["--experiment", "e", "--name", "r"]);
    let exp = s.json(&["experiments", "show", "e"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, meta) in [
        ("run", s.root().join(&exp).join(&run).join("meta.yaml")),
        ("experiment", s.root().join(&exp).join("meta.yaml")),
    ] {
        let scratch = s
            .root()
            .join(format!(".mlx-tmp-{name}0123456789abcdef.trash"));
        fs::create_dir_all(&scratch).unwrap();
        fs::copy(&meta, scratch.join("meta.yaml")).unwrap();
    }
    let dump = mlflow_dump(&s.root());
    assert_eq!(dump["runs"].as_object().unwrap().len(), 1, "{dump}");
    assert!(dump["runs"][run.as_str()].is_object());
    assert_eq!(
        s.json(&["runs", "list", "--experiment", "e"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = s
        .mlx()
        .args(["doctor", "--fix", "-o", "json"])
        .output()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings.as_array().unwrap().len(), 2, "{findings}");
    assert!(!s.root().join(".mlx-tmp-run0123456789abcdef.trash").exists());
}

#[test]
fn crash_consistency_under_sigkill() {
    use std::process::Stdio;
    use std::time::Duration;
    let s = TestStore::new();
    let base = s.start(&["--experiment", "crash", "--name", "base"]);
    let r = crate::train::train(&s, &["--experiment", "crash", "--register", "m"]);
    let model_run = r["run_id"].as_str().unwrap().to_string();
    s.ok(&["alias", "set", "Champion", "1", "--model", "m"]);
    fs::write(s.dir.path().join("art.txt"), "artifact").unwrap();
    let data = crate::train::titanic();
    let mut rng = Lcg(42);
    let (mut kills, mut completed, mut started) = (0, 0, 0u64);
    let mut acked_metrics: Vec<i64> = Vec::new();
    let mut acked_params: Vec<String> = Vec::new();
    let mut acked_runs: Vec<String> = Vec::new();
    let mut acked_versions: Vec<u64> = Vec::new();
    // How long each kind of command takes on this machine, now: measured by letting it finish (a warm-up
    // round, then every process that is left to complete). Kill delays are drawn inside that duration, so
    // a kill lands mid-flight by construction, however fast or slow the machine is; the loop keeps
    // starting processes until 150 were killed (the cap is a safety net, never reached in practice).
    const KINDS: u64 = 7;
    const WANTED_KILLS: u32 = 150;
    const MAX_PROCESSES: u64 = 3000;
    let mut duration_us = [0u64; KINDS as usize];
    let mut i = 0i64;
    while kills < WANTED_KILLS {
        assert!(
            started < MAX_PROCESSES,
            "{started} processes started, only {kills} killed mid-flight"
        );
        let warm_up = i < KINDS as i64;
        let kind = if warm_up { i as u64 } else { rng.next(KINDS) };
        let step = i.to_string();
        let pkey = format!("p{i}");
        let args: Vec<&str> = match kind {
            0 => vec!["log", "start", "--experiment", "crash"],
            1 => vec!["log", "metric", "--run", &base, "m", "0.5", "--step", &step],
            2 => vec!["log", "param", "--run", &base, &pkey, "v"],
            3 => vec![
                "log", "artifact", "--run", &base, "art.txt", "--dest", &step,
            ],
            4 => vec!["register", &model_run, "--name", "m"],
            5 => vec!["alias", "set", "Champion", "1", "--model", "m"],
            _ => vec![
                "train",
                "--data",
                data.to_str().unwrap(),
                "--target",
                "Survived",
                "--features",
                "Pclass,Age,Fare",
                "--experiment",
                "crash",
                "--model",
                "decision-tree",
            ],
        };
        i += 1;
        started += 1;
        let spawned = std::time::Instant::now();
        let mut child = s
            .mlx_std()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if !warm_up && rng.next(4) != 0 {
            let delay = rng.next(duration_us[kind as usize]);
            std::thread::sleep(Duration::from_micros(delay));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                let _ = child.wait();
                kills += 1;
                continue;
            }
        }
        let out = child.wait_with_output().unwrap();
        // The latest full duration of this kind (a process that was not killed ran to its end).
        duration_us[kind as usize] = spawned.elapsed().as_micros() as u64;
        if !out.status.success() {
            continue;
        }
        completed += 1;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match args[..2] {
            ["log", "start"] => acked_runs.push(stdout),
            ["log", "metric"] => acked_metrics.push(i),
            ["log", "param"] => acked_params.push(pkey.clone()),
            ["register", _] => acked_versions.push(stdout.parse().unwrap()),
            _ => {}
        }
    }
    // Every file parses: mlx's doctor finds nothing but leftovers of interrupted writes, and cleans those.
    let out = s.mlx().args(["doctor", "-o", "json"]).output().unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor -o json printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    for f in findings.as_array().expect("doctor's findings are a list") {
        assert!(
            f["problem"]
                .as_str()
                .unwrap()
                .starts_with("leftover temporary"),
            "{f}"
        );
    }
    // Scratch folders of interrupted writes sit only at the root, where MLflow never reads.
    for f in walk(&s.root()) {
        let scratch = f.ancestors().find(|a| {
            a.is_dir()
                && a.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".mlx-tmp-"))
        });
        if let Some(dir) = scratch {
            assert_eq!(dir.parent(), Some(s.root().as_path()), "{}", dir.display());
        }
    }
    // The real MLflow client reads the whole store as the kills left it (temp files included).
    let dump = mlflow_dump(&s.root());
    assert!(
        dump["runs"][base.as_str()]["history"]["m"]
            .as_array()
            .unwrap()
            .len()
            >= acked_metrics.len()
    );
    for id in &acked_runs {
        assert!(
            dump["runs"][id.as_str()].is_object(),
            "MLflow sees run {id}"
        );
    }
    for p in &acked_params {
        assert_eq!(dump["runs"][base.as_str()]["params"][p], "v");
    }
    assert!(
        dump["runs"][base.as_str()]["params"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with(".mlx-tmp")),
        "no temp file is ever seen as a param"
    );
    s.mlx().args(["doctor", "--fix"]).assert().success();
    // Every acknowledged write is there.
    let run = s.json(&["runs", "show", &base]);
    let hist_len = run["metrics"]["m"]["points"].as_u64().unwrap_or(0) as usize;
    assert!(hist_len >= acked_metrics.len());
    for p in &acked_params {
        assert_eq!(run["params"][p], "v", "param {p}");
    }
    for id in &acked_runs {
        s.ok(&["runs", "show", id]);
    }
    let versions: Vec<u64> = s
        .json(&["models", "versions", "m"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    for v in &acked_versions {
        assert!(versions.contains(v), "version {v}");
    }
    let mut sorted = versions.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), versions.len(), "no duplicate versions");
    eprintln!(
        "crash harness: {kills} processes killed, {completed} completed, {} acknowledged writes checked",
        acked_metrics.len() + acked_params.len() + acked_runs.len() + acked_versions.len()
    );
}

#[test]
fn four_processes_move_an_alias_while_it_is_served() {
    let s = TestStore::new();
    for model in ["logistic-regression", "decision-tree", "gaussian-nb"] {
        crate::train::train(
            &s,
            &["--experiment", "alias", "--model", model, "--register", "m"],
        );
    }
    s.ok(&["alias", "set", "Champion", "1", "--model", "m"]);
    let server = crate::serve::Server::start(&s, &["--model", "models:/m@Champion"]);
    let body = r#"{"inputs":{"Pclass":[3],"Sex":["male"],"Age":[22.0],"Fare":[7.25]}}"#;
    let done = std::sync::atomic::AtomicBool::new(false);
    let failures = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let mut failures = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _, _) = server.post_json("/invocations", body, &[]);
                if status != 200 {
                    failures += 1;
                }
            }
            failures
        });
        let movers: Vec<_> = (0..4)
            .map(|w| {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..15 {
                        let v = ((w + i) % 3 + 1).to_string();
                        s.ok(&["alias", "set", "Champion", &v, "--model", "m"]);
                    }
                })
            })
            .collect();
        for m in movers {
            m.join().unwrap();
        }
        // The server ends on what the alias file says: wait for it (a condition with a generous deadline).
        let now = s.json(&["alias", "list", "--model", "m"])["Champion"]
            .as_u64()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (_, headers, _) = server.post_json("/invocations", body, &[]);
            let served = headers
                .iter()
                .find(|(k, _)| k == "x-mlx-model-version")
                .map(|(_, v)| v.clone());
            if served.as_deref() == Some(format!("m/{now}").as_str()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server still serves {served:?}, the alias says m/{now}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().unwrap()
    });
    assert_eq!(failures, 0);
    let history = s.json(&["alias", "history", "Champion", "--model", "m"]);
    assert_eq!(
        history.as_array().unwrap().len(),
        61,
        "every move recorded, none lost"
    );
    // The alias file is whole (it parsed above) and no move was lost.
}
