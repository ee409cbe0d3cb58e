//! Issue 13's server points, each reproduced against the real binary: nothing from the store ever runs on
//! /update_model (file store and MLflow server), admin POSTs refuse forms, foreign Hosts and Origins, bodies
//! stay within a memory bound, idle and slow connections cannot starve the server, and the token rules.

use crate::common::{TestStore, unique};
use crate::serve::Server;
use crate::train::{titanic, train};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const TOKEN: (&str, &str) = ("Authorization", "Bearer s3cret");

/// A model registered under a unique name at Champion, trained by `mlx train`; returns (name, run id).
fn champion(s: &TestStore) -> (String, String) {
    let name = unique("sec");
    let r = train(s, &["--experiment", &unique("sec"), "--register", &name]);
    s.ok(&["alias", "set", "--model", &name, "Champion", "1"]);
    (name, r["run_id"].as_str().unwrap().to_string())
}

fn examples_dir() -> String {
    titanic().parent().unwrap().to_str().unwrap().to_string()
}

/// `mlx serve` of `name@Champion` with the admin token and the examples folder as a data dir.
fn serve_champion(s: &TestStore, name: &str) -> Server {
    Server::start(
        s,
        &[
            "--model",
            &format!("models:/{name}@Champion"),
            "--token",
            "s3cret",
            "--data-dir",
            &examples_dir(),
        ],
    )
}

/// A hostile `mlx.command` tag on the served run never runs; the retrain rebuilds the training from the
/// run's params and scores exactly what `mlx train` scored.
fn hostile_command_tag_never_runs(s: &TestStore) {
    let (name, run) = champion(s);
    let pwned = s.dir.path().join("PWNED");
    let hostile = format!(
        "touch {}; mlx train --data {} --target Survived",
        pwned.display(),
        titanic().display()
    );
    s.ok(&["log", "tag", "--run", &run, "mlx.command", &hostile]);
    let by_alias = format!("models:/{name}@Champion");
    let server = serve_champion(s, &name);
    let (status, _, body) = server.post_json("/update_model", "{}", &[TOKEN]);
    assert_eq!(status, 200, "{body}");
    assert!(!pwned.exists(), "the tag's command ran");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(
        v["metrics"]["accuracy"], 0.7552447552447552,
        "the same training as the recorded params: {v}"
    );
    let new_run = v["run_id"].as_str().unwrap();
    let shown = s.json(&["runs", "show", new_run]);
    assert_eq!(shown["tags"]["mlx.retrained_from"], run.as_str());
    assert_eq!(shown["params"]["features"], "Pclass,Sex,Age,Fare");
    assert_eq!(s.json(&["alias", "list", "--model", &name])["Champion"], 2);
    assert!(!pwned.exists());
    drop(server);

    // Without --data-dir the recorded data file (outside the project folder) is refused, not read.
    let server = Server::start(s, &["--model", &by_alias, "--token", "s3cret"]);
    let (status, _, body) = server.post_json("/update_model", "{}", &[TOKEN]);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("'data'") && body.contains("outside the project folder"),
        "{body}"
    );
    assert!(!pwned.exists());
}

mod hostile_command_tag {
    #[test]
    fn file_store() {
        super::hostile_command_tag_never_runs(&crate::common::TestStore::new());
    }
    #[test]
    fn mlflow_server() {
        super::hostile_command_tag_never_runs(&crate::common::TestStore::on_server());
    }
}

/// A param rewritten in a shared folder is refused with the key and value, and nothing runs.
#[test]
fn hostile_param_is_refused_not_run() {
    let s = TestStore::new();
    let (name, run) = champion(&s);
    let exp = s.json(&["runs", "show", &run])["info"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pwned = s.dir.path().join("PWNED");
    let params = s.root().join(exp).join(&run).join("params");
    std::fs::write(
        params.join("model"),
        format!("logistic-regression; touch {}", pwned.display()),
    )
    .unwrap();
    let server = serve_champion(&s, &name);
    let (status, _, body) = server.post_json("/update_model", "{}", &[TOKEN]);
    assert_eq!(status, 422, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("param 'model' = 'logistic-regression; touch") && msg.contains("not one of"),
        "{msg}"
    );
    assert!(!pwned.exists());
    assert_eq!(
        s.json(&["alias", "list", "--model", &name])["Champion"],
        1,
        "nothing was registered"
    );
}

/// An MLproject.toml `main` entry point (the operator's own file) is what retrains when there is one; it runs
/// under --retrain-timeout and is killed after it.
#[test]
fn project_entry_point_retrains_and_times_out() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let project = s.dir.path().join("proj");
    std::fs::create_dir_all(&project).unwrap();
    let pidfile = project.join("pid");
    std::fs::write(
        project.join("MLproject.toml"),
        format!(
            "name = \"{name}\"\n[entry_points.main]\ncommand = \"echo $$ > {} && exec sleep 120\"\n",
            pidfile.display()
        ),
    )
    .unwrap();
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("models:/{name}@Champion"),
            "--token",
            "s3cret",
            "--project",
            project.to_str().unwrap(),
            "--retrain-timeout",
            "2",
        ],
    );
    let (status, _, body) = server.post_json("/update_model", "{}", &[TOKEN]);
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("--retrain-timeout"), "{body}");
    // The whole process group was killed, the entry point's command with it.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let proc_dir = Path::new("/proc").join(pid.trim());
    let deadline = Instant::now() + Duration::from_secs(30);
    while proc_dir.exists() && !is_zombie(&proc_dir) {
        assert!(
            Instant::now() < deadline,
            "the entry point's command still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _, _) = server.request("GET", "/ping", &[], b"");
    assert_eq!(status, 200);
}

fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}
