//! The team backend: the same CLI scenarios against the file store, MLflow 3's SQLite database and a real
//! MLflow tracking server (PostgreSQL backend store, proxied artifacts; started by `scripts/test.sh`), plus
//! what only a server has:
//! retries through a flaky link, auth headers, and the MLflow Python client reading what mlx wrote there.

use crate::common::{TestStore, python, unique};
use crate::serve::Server;
use crate::train::train;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Each scenario runs once per backend.
macro_rules! both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn file_store() {
                super::$scenario(&crate::common::TestStore::new());
            }
            #[test]
            fn mlflow_server() {
                super::$scenario(&crate::common::TestStore::on_server());
            }
            #[test]
            fn sqlite_store() {
                super::$scenario(&crate::common::TestStore::on_sqlite());
            }
        }
    };
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// Experiments, logging from a shell, listing, search, show, compare, delete/restore.
fn tracking(s: &TestStore) {
    let exp = unique("team-track");
    let id = s.ok(&["experiments", "create", &exp]).trim().to_string();
    assert!(
        s.json(&["experiments", "list"])
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == exp.as_str() && e["experiment_id"] == id.as_str())
    );

    let a = s.start(&["--experiment", &exp, "--name", "a", "--tag", "team=yes"]);
    s.ok(&["log", "param", "--run", &a, "lr", "0.1"]);
    for (step, loss) in [(0, "0.9"), (1, "0.5"), (2, "0.3")] {
        s.ok(&[
            "log",
            "metric",
            "--run",
            &a,
            "loss",
            loss,
            "--step",
            &step.to_string(),
        ]);
    }
    s.ok(&["log", "metric", "--run", &a, "auc", "nan"]);
    let notes = s.dir.path().join("notes.txt");
    std::fs::write(&notes, "hello team\n").unwrap();
    s.ok(&[
        "log",
        "artifact",
        "--run",
        &a,
        notes.to_str().unwrap(),
        "--dest",
        "docs",
    ]);
    s.ok(&["log", "end", "--run", &a]);
    std::thread::sleep(Duration::from_millis(5));
    let b = s.start(&["--experiment", &exp, "--name", "b"]);
    s.ok(&["log", "param", "--run", &b, "lr", "0.01"]);
    s.ok(&["log", "metric", "--run", &b, "loss", "0.6"]);
    s.ok(&["log", "end", "--run", &b, "--status", "FAILED"]);

    // Params are immutable on both stores.
    let err = s.fails(&["log", "param", "--run", &a, "lr", "0.2"]);
    assert!(err.contains("lr"), "{err}");

    let list = s.json(&["runs", "list", "--experiment", &exp]);
    assert_eq!(ids(&list), vec![b.clone(), a.clone()], "newest first");
    let search = s.json(&[
        "runs",
        "list",
        "--experiment",
        &exp,
        "--filter",
        "metrics.loss < 0.5 AND params.lr = '0.1'",
    ]);
    assert_eq!(ids(&search), vec![a.clone()]);
    let ordered = s.json(&[
        "runs",
        "list",
        "--experiment",
        &exp,
        "--order-by",
        "metrics.loss DESC",
    ]);
    assert_eq!(ids(&ordered), vec![b.clone(), a.clone()]);
    let out = s
        .mlx()
        .args([
            "runs",
            "list",
            "--experiment",
            &exp,
            "--filter",
            "metrics.loss <",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid filter"));

    let run = s.json(&["runs", "show", &a]);
    assert_eq!(run["info"]["status"], "FINISHED");
    assert_eq!(run["info"]["run_name"], "a");
    assert_eq!(run["params"]["lr"], "0.1");
    assert_eq!(run["tags"]["team"], "yes");
    assert_eq!(run["metrics"]["loss"]["latest"], 0.3);
    assert_eq!(run["metrics"]["loss"]["points"], 3);
    assert_eq!(run["metrics"]["auc"]["latest"], "NaN");
    let artifacts: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, vec!["docs/notes.txt"]);

    // Compare as a CI gate: b is worse than a on loss.
    let out = s
        .mlx()
        .args(["runs", "compare", &a, &b, "--by", "loss", "--baseline", &a])
        .args(["--candidate", &b, "--fail-if-worse", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    s.ok(&["runs", "delete", &b]);
    assert_eq!(
        ids(&s.json(&["runs", "list", "--experiment", &exp])),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&s.json(&["runs", "list", "--experiment", &exp, "--deleted"])),
        vec![b.clone()]
    );
    s.ok(&["runs", "restore", &b]);
    assert_eq!(
        ids(&s.json(&["runs", "list", "--experiment", &exp])).len(),
        2
    );

    let renamed = format!("{exp}-renamed");
    s.ok(&["experiments", "rename", &exp, &renamed]);
    assert_eq!(
        s.json(&["experiments", "show", &renamed])["experiment"]["experiment_id"],
        id.as_str()
    );
    let err = s.fails(&["runs", "show", "0123456789abcdef0123456789abcdef"]);
    assert!(err.contains("does not exist"), "{err}");
}
both_backends!(tracking);

/// Train, register, alias, predict by alias, roll back, and serve by alias while the alias moves.
fn registry_and_serving(s: &TestStore) {
    let exp = unique("team-reg");
    let name = unique("titanic");
    let mut runs = Vec::new();
    for model in ["logistic-regression", "decision-tree"] {
        let r = train(
            s,
            &[
                "--experiment",
                &exp,
                "--model",
                model,
                "--max-depth",
                "2",
                "--register",
                &name,
            ],
        );
        assert!(r["metrics"]["accuracy"].as_f64().unwrap() > 0.7, "{r}");
        runs.push(r["run_id"].as_str().unwrap().to_string());
    }
    let versions = s.json(&["models", "versions", &name]);
    let got: Vec<(u64, &str)> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["run_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![(2, runs[1].as_str()), (1, runs[0].as_str())]);

    assert_eq!(
        s.ok(&["alias", "set", "--model", &name, "Champion", "1"])
            .trim(),
        "Champion: (none) -> v1"
    );
    let passengers = s.dir.path().join("p.csv");
    std::fs::write(
        &passengers,
        "Pclass,Sex,Age,Fare\n3,male,22,7.25\n1,female,38,71.28\n",
    )
    .unwrap();
    let by_alias = format!("models:/{name}@Champion");
    let predicted = s.ok(&[
        "predict",
        "--model",
        &by_alias,
        "--data",
        passengers.to_str().unwrap(),
        "-o",
        "csv",
    ]);
    assert_eq!(predicted.lines().count(), 3, "{predicted}");

    // Two replicas follow the alias, each with one small request per poll interval; both swap.
    let replicas = [
        Server::start(s, &["--model", &by_alias]),
        Server::start(s, &["--model", &by_alias]),
    ];
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    let version_of = |server: &Server| {
        let (status, h, body) = server.post_json("/invocations", row, &[]);
        assert_eq!(status, 200, "{body}");
        h.iter()
            .find(|(k, _)| k == "x-mlx-model-version")
            .map(|(_, v)| v.rsplit('/').next().unwrap().to_string())
    };
    for server in &replicas {
        assert_eq!(version_of(server).as_deref(), Some("1"));
    }
    let latest = Server::start(s, &["--model", &format!("models:/{name}/latest")]);
    assert_eq!(version_of(&latest).as_deref(), Some("2"));
    drop(latest);

    s.ok(&["alias", "set", "--model", &name, "Champion", "2"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, server) in replicas.iter().enumerate() {
        while version_of(server).as_deref() != Some("2") {
            assert!(
                Instant::now() < deadline,
                "replica {i} never followed the alias to v2"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    drop(replicas);
    assert_eq!(
        s.ok(&["rollback", "--model", &name]).trim(),
        "Champion: v2 -> v1"
    );
    let history = s.json(&["alias", "history", "--model", &name, "Champion"]);
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["set", "set", "rollback"]);

    let err = s.fails(&[
        "predict",
        "--model",
        &format!("models:/{name}@Nope"),
        "--data",
        passengers.to_str().unwrap(),
    ]);
    assert!(err.contains("Nope"), "{err}");
    s.ok(&["models", "delete", &name]);
    assert!(
        !s.json(&["models", "list"])
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == name.as_str())
    );
}
both_backends!(registry_and_serving);

/// What mlx logs to the server, the MLflow Python client reads back: runs, metrics, the logged model and
/// the registry.
#[test]
fn mlflow_client_reads_what_mlx_wrote_to_the_server() {
    let s = TestStore::on_server();
    let exp = unique("team-interop");
    let name = unique("interop");
    let r = train(&s, &["--experiment", &exp, "--register", &name]);
    let run_id = r["run_id"].as_str().unwrap();
    let script = r#"
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import mlflow
from mlflow import MlflowClient
uri, exp, run_id, name = sys.argv[1:5]
mlflow.set_tracking_uri(uri)
c = MlflowClient(uri)
runs = mlflow.search_runs(experiment_names=[exp], output_format="list")
run = c.get_run(run_id)
models = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
mv = c.get_model_version(name, "1")
print(json.dumps({
  "runs": [x.info.run_id for x in runs],
  "accuracy": run.data.metrics["accuracy"],
  "dataset": [i.dataset.name for i in run.inputs.dataset_inputs],
  "models": [m.name for m in models],
  "model_status": [str(m.status) for m in models],
  "artifacts": sorted(f.path for f in c.list_artifacts(run_id, "reports")),
  "mv_source": mv.source, "mv_run": mv.run_id,
  "mlmodel": open(mlflow.artifacts.download_artifacts(f"models:/{name}/1") + "/MLmodel").read(),
}))
"#;
    let out = std::process::Command::new(python())
        .args(["-c", script, &s.uri, &exp, run_id, &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["runs"], serde_json::json!([run_id]));
    assert_eq!(got["accuracy"], r["metrics"]["accuracy"]);
    assert_eq!(got["dataset"], serde_json::json!(["titanic"]));
    assert_eq!(got["models"], serde_json::json!(["model"]));
    assert!(
        got["model_status"][0].as_str().unwrap().contains("READY"),
        "{got}"
    );
    assert!(
        got["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "reports/evaluation.json"),
        "{got}"
    );
    assert!(
        got["mv_source"].as_str().unwrap().starts_with("models:/m-"),
        "{got}"
    );
    assert_eq!(got["mv_run"], run_id);
    assert!(got["mlmodel"].as_str().unwrap().contains("mlx"), "{got}");
}

/// A proxy in front of the real server that fails the first `failures` requests with 503 (or drops the
/// connection) and records each request's Authorization header.
struct FlakyProxy {
    port: u16,
    auth_seen: Arc<std::sync::Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
}

impl FlakyProxy {
    fn start(upstream: &str, failures: usize, drop_instead: bool) -> FlakyProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let auth_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (auth, count) = (auth_seen.clone(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let Some(request) = read_request(&mut conn) else {
                    continue;
                };
                let head = String::from_utf8_lossy(&request).to_string();
                if let Some(line) = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                {
                    auth.lock().unwrap().push(line[14..].trim().to_string());
                }
                if n < failures {
                    if !drop_instead {
                        let _ = conn.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    continue;
                }
                let body_start = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                let answer = forward(&upstream, &head, &request[body_start..]);
                let _ = conn.write_all(&answer);
            }
        });
        FlakyProxy {
            port,
            auth_seen,
            requests,
        }
    }
}

/// Send a request (its head as text, its body) to `upstream` with Connection: close, so one request is
/// one connection, and return the whole answer.
fn forward(upstream: &str, head: &str, body: &[u8]) -> Vec<u8> {
    let fixed = head.replacen("Connection: keep-alive", "Connection: close", 1);
    let head_end = fixed.find("\r\n\r\n").unwrap_or(fixed.len());
    let mut head_only = fixed[..head_end].to_string();
    if !head_only.to_ascii_lowercase().contains("connection:") {
        head_only.push_str("\r\nConnection: close");
    }
    head_only.push_str("\r\n\r\n");
    let mut up = TcpStream::connect(upstream).unwrap();
    up.write_all(head_only.as_bytes()).unwrap();
    up.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    answer
}

/// One whole HTTP/1.1 request (head and Content-Length body).
fn read_request(conn: &mut TcpStream) -> Option<Vec<u8>> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < pos + 4 + len {
                let n = conn.read(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
    }
}

#[test]
fn retries_through_503s_and_dropped_connections_and_sends_auth() {
    let upstream = crate::common::server_uri();
    for drop_instead in [false, true] {
        let proxy = FlakyProxy::start(&upstream, 2, drop_instead);
        let s = TestStore::on_server();
        let exp = unique("team-flaky");
        let out = s
            .mlx()
            .env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.01")
            .env("MLFLOW_TRACKING_TOKEN", "secret-token")
            .args([
                "--tracking-uri",
                &format!("http://127.0.0.1:{}", proxy.port),
            ])
            .args(["experiments", "create", &exp])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "drop={drop_instead}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(proxy.requests.load(Ordering::SeqCst) >= 3);
        let auth = proxy.auth_seen.lock().unwrap().clone();
        assert!(
            !auth.is_empty() && auth.iter().all(|a| a == "Bearer secret-token"),
            "{auth:?}"
        );
        // It really was created, once.
        assert_eq!(
            s.json(&["experiments", "show", &exp])["experiment"]["name"],
            exp.as_str()
        );
    }

    // Basic auth from username/password; and too many failures end in the server's status, one line.
    let proxy = FlakyProxy::start(&upstream, 100, false);
    let s = TestStore::on_server();
    let out = s
        .mlx()
        .env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.01")
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        .env("MLFLOW_TRACKING_USERNAME", "ann")
        .env("MLFLOW_TRACKING_PASSWORD", "pw")
        .args([
            "--tracking-uri",
            &format!("http://127.0.0.1:{}", proxy.port),
        ])
        .args(["experiments", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 503") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(
        proxy.requests.load(Ordering::SeqCst),
        2,
        "one try and one retry"
    );
    // base64("ann:pw")
    assert_eq!(proxy.auth_seen.lock().unwrap()[0], "Basic YW5uOnB3");
}

#[test]
fn server_errors_are_one_line_with_the_error_code() {
    let s = TestStore::on_server();
    let exp = unique("team-errors");
    s.ok(&["experiments", "create", &exp]);
    let err = s.fails(&["experiments", "create", &exp]);
    assert!(err.contains("already exists"), "{err}");
    let run = s.start(&["--experiment", &exp]);
    s.ok(&["log", "param", "--run", &run, "p", "1"]);
    let err = s.fails(&["log", "param", "--run", &run, "p", "2"]);
    assert!(
        err.contains("INVALID_PARAMETER_VALUE") && err.contains("HTTP 400"),
        "{err}"
    );
    let err = s.fails(&["models", "show", &unique("no-such-model")]);
    assert!(err.contains("not found"), "{err}");
}

/// `mlx sync`: a laptop's runs and models to the team server and back, idempotently.
#[test]
fn sync_copies_a_laptop_store_to_the_server_and_back_idempotently() {
    let laptop = TestStore::new();
    let server = TestStore::on_server();
    let exp = unique("team-sync");
    let name = unique("synced");
    let trained = train(&laptop, &["--experiment", &exp, "--register", &name]);
    laptop.ok(&["alias", "set", "--model", &name, "Champion", "1"]);
    let open = laptop.start(&["--experiment", &exp, "--name", "still-running"]);
    for step in 0..3 {
        laptop.ok(&[
            "log",
            "metric",
            "--run",
            &open,
            "loss",
            &format!("0.{}", 9 - step),
            "--step",
            &step.to_string(),
        ]);
    }
    let sync = |from: &TestStore, to: &str| -> Value {
        let out = from
            .mlx()
            .args(["sync", "--to", to, "-e", &exp, "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };

    let first = sync(&laptop, &server.uri);
    assert_eq!(first["runs_copied"], 2, "{first}");
    assert_eq!(
        first["metric_points"].as_u64().unwrap() as usize,
        3 + trained["metrics"].as_object().unwrap().len()
    );
    assert_eq!(first["logged_models"], 1);
    assert_eq!(first["versions_registered"], 1);
    assert_eq!(first["aliases_set"], 1);

    // On the server: the runs, marked with their source ids, the full history, the artifacts, the model.
    let runs = server.json(&["runs", "list", "--experiment", &exp]);
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let copy_of = |src: &str| -> String {
        runs.as_array()
            .unwrap()
            .iter()
            .find(|r| {
                server.json(&["runs", "show", r["run_id"].as_str().unwrap()])["tags"]["mlx.sync.source_run_id"] == src
            })
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .expect("a copy of the run")
    };
    let open_copy = copy_of(&open);
    let shown = server.json(&["runs", "show", &open_copy]);
    assert_eq!(shown["metrics"]["loss"]["points"], 3);
    assert_eq!(shown["info"]["status"], "RUNNING");
    let trained_copy = copy_of(trained["run_id"].as_str().unwrap());
    let shown = server.json(&["runs", "show", &trained_copy]);
    assert_eq!(
        shown["metrics"]["accuracy"]["latest"],
        trained["metrics"]["accuracy"]
    );
    assert!(
        shown["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["path"] == "reports/evaluation.json"),
        "{shown}"
    );
    let passengers = server.dir.path().join("p.csv");
    std::fs::write(&passengers, "Pclass,Sex,Age,Fare\n3,male,22,7.25\n").unwrap();
    let by_alias = format!("models:/{name}@Champion");
    let on_server = server.ok(&[
        "predict",
        "--model",
        &by_alias,
        "--data",
        passengers.to_str().unwrap(),
        "-o",
        "csv",
    ]);
    let on_laptop = laptop.ok(&[
        "predict",
        "--model",
        &by_alias,
        "--data",
        passengers.to_str().unwrap(),
        "-o",
        "csv",
    ]);
    assert_eq!(on_server, on_laptop);

    // Again: nothing new.
    let again = sync(&laptop, &server.uri);
    assert_eq!(again["runs_copied"], 0, "{again}");
    assert_eq!(again["runs_unchanged"], 1, "{again}");
    assert_eq!(
        again["runs_updated"], 1,
        "the running run is checked again: {again}"
    );
    assert_eq!(again["metric_points"], 0, "{again}");
    assert_eq!(again["versions_registered"], 0, "{again}");
    assert_eq!(again["aliases_set"], 0, "{again}");

    // The open run goes on and ends; the next sync brings just that.
    laptop.ok(&[
        "log", "metric", "--run", &open, "loss", "0.5", "--step", "3",
    ]);
    laptop.ok(&["log", "end", "--run", &open]);
    let third = sync(&laptop, &server.uri);
    assert_eq!(
        (
            third["runs_updated"].as_u64(),
            third["metric_points"].as_u64()
        ),
        (Some(1), Some(1)),
        "{third}"
    );
    let shown = server.json(&["runs", "show", &open_copy]);
    assert_eq!(shown["metrics"]["loss"]["points"], 4);
    assert_eq!(shown["info"]["status"], "FINISHED");

    // And back down to a fresh folder: the server's run ids are kept there.
    let back = TestStore::new();
    let down = sync(&server, &back.uri);
    assert_eq!(down["runs_copied"], 2, "{down}");
    let mut got = ids(&back.json(&["runs", "list", "--experiment", &exp]));
    let mut want = vec![open_copy, trained_copy];
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let on_back = back.ok(&[
        "predict",
        "--model",
        &by_alias,
        "--data",
        passengers.to_str().unwrap(),
        "-o",
        "csv",
    ]);
    assert_eq!(on_back, on_laptop);
    assert_eq!(sync(&server, &back.uri)["runs_copied"], 0);
    // And up again from there: the versions it came from are recognised, nothing is registered twice.
    let round_trip = sync(&back, &server.uri);
    assert_eq!(round_trip["runs_copied"], 0, "{round_trip}");
    assert_eq!(round_trip["versions_registered"], 0, "{round_trip}");
    assert_eq!(round_trip["aliases_set"], 0, "{round_trip}");
}

/// `mlx ui` on the server backend: the same API over the team's store.
#[test]
fn ui_browses_the_server() {
    let s = TestStore::on_server();
    let exp = unique("team-ui");
    let a = s.start(&["--experiment", &exp, "--name", "a"]);
    s.ok(&["log", "param", "--run", &a, "lr", "0.1"]);
    s.ok(&["log", "metric", "--run", &a, "loss", "0.5"]);
    s.ok(&["log", "metric", "--run", &a, "loss", "0.25", "--step", "1"]);
    let b = s.start(&["--experiment", &exp, "--name", "b"]);
    s.ok(&["log", "param", "--run", &b, "lr", "0.2"]);
    s.ok(&["log", "metric", "--run", &b, "loss", "0.75"]);
    let id = s.json(&["experiments", "show", &exp])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut cmd = s.mlx_std();
    cmd.args(["ui", "--port", "0"]);
    let ui = Server::spawn(cmd, "mlx ui: listening on http://");
    let get = |path: &str| -> Value {
        let (status, _, body) = ui.request("GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    };
    let runs = get(&format!(
        "/api/experiments/{id}/runs?filter=metrics.loss%20%3C%200.6"
    ));
    assert_eq!(runs["total"], 1);
    assert_eq!(runs["runs"][0]["run_id"], a.as_str());
    // Pages come from the server one at a time: the total is known once the last page is reached.
    let first = get(&format!("/api/experiments/{id}/runs?limit=1"));
    assert_eq!(first["runs"][0]["run_id"], b.as_str());
    assert_eq!(
        (first["more"].clone(), first["total"].clone()),
        (Value::Bool(true), Value::Null)
    );
    let last = get(&format!("/api/experiments/{id}/runs?limit=1&offset=1"));
    assert_eq!(last["runs"][0]["run_id"], a.as_str());
    assert_eq!(
        (last["more"].clone(), last["total"].clone()),
        (Value::Bool(false), 2.into())
    );
    assert_eq!(last["metric_keys"], serde_json::json!(["loss"]));
    let hist = get(&format!("/api/runs/{a}/metrics/loss"));
    assert_eq!(hist.as_array().unwrap().len(), 2);
    let cmp = get(&format!("/api/compare?runs={a},{b}"));
    assert_eq!(cmp["params_differ"], serde_json::json!(["lr"]));
}

/// Queries answered by the server (the AND part of the filter, the order, pages) give what the file store
/// gives: the same runs in the same order, for filters with OR/NOT/IS NULL left to the client, orderings
/// with ties, NaN, infinities and missing values, and `--max` across the server's pages. The runs are
/// written by the MLflow client to the server and copied to a folder by `mlx sync`.
#[test]
fn queries_on_the_server_answer_as_the_file_store() {
    let file = TestStore::new();
    let server = TestStore::on_server();
    let exp = unique("pushdown");
    crate::common::interop_json(
        "search_population.py",
        &[server.uri.as_ref(), exp.as_ref(), "48".as_ref()],
    );
    // A folder copy keeps the server's run ids, so ties broken by run id compare too.
    file.ok(&[
        "sync",
        "--from",
        &server.uri,
        "--to",
        &file.uri,
        "-e",
        &exp,
        "--no-models",
    ]);
    let queries: &[(&str, &[&str], Option<usize>)] = &[
        (
            "metrics.accuracy > 0.5 and params.model = 'rf'",
            &["metrics.accuracy DESC"],
            Some(3),
        ),
        ("metrics.accuracy > 0.2 and params.model = 'rf'", &[], None),
        ("params.model = 'rf' OR metrics.accuracy < 0.2", &[], None),
        (
            "NOT params.model = 'gb' AND metrics.loss >= 0.3",
            &[],
            Some(9),
        ),
        ("metrics.accuracy IS NULL", &["metrics.loss DESC"], None),
        ("tags.team IS NULL AND metrics.loss >= 0", &[], None),
        ("params.model IS NOT NULL AND tags.team != 'a'", &[], None),
        ("", &["metrics.accuracy"], None),
        ("", &["metrics.accuracy DESC", "start_time ASC"], Some(7)),
        ("", &["metrics.accuracy DESC"], Some(4)),
        ("", &["end_time DESC"], Some(12)),
        ("", &["params.model DESC", "metrics.loss"], Some(10)),
        (
            "metrics.accuracy != 0.5 AND (params.model = 'rf' OR params.model = 'lr')",
            &["metrics.loss DESC"],
            Some(3),
        ),
        (
            "metrics.accuracy != 0.5 AND (params.model = 'rf' OR params.model = 'lr')",
            &["metrics.loss DESC"],
            Some(25),
        ),
        ("tags.note LIKE 'x'", &[], None),
        ("params.model LIKE 'r%' AND params.lr != '0.1'", &[], None),
        ("params.model ILIKE 'RF'", &["metrics.loss"], None),
        (
            "attributes.status = 'FINISHED' AND end_time > 0",
            &["end_time DESC"],
            Some(8),
        ),
        ("attributes.status IN ('RUNNING', 'FAILED')", &[], None),
        (
            "attributes.status != 'FINISHED' AND params.model ILIKE 'r%'",
            &[],
            None,
        ),
        (
            "start_time >= 1700000010000 AND start_time < 1700000015000",
            &[],
            None,
        ),
        (
            "attributes.run_name LIKE 'r00%'",
            &["metrics.loss DESC"],
            None,
        ),
        (
            "params.model IN ('rf', 'lr') AND metrics.loss < 0.5",
            &[],
            None,
        ),
        ("metrics.accuracy != 0.3", &["metrics.accuracy"], Some(40)),
    ];
    let names = |s: &TestStore, filter: &str, order: &[&str], max: Option<usize>| {
        let mut args = vec!["runs", "list", "-e", exp.as_str()];
        if !filter.is_empty() {
            args.extend(["--filter", filter]);
        }
        for o in order {
            args.extend(["--order-by", o]);
        }
        let max = max.map(|m| m.to_string());
        if let Some(m) = &max {
            args.extend(["--max", m.as_str()]);
        }
        let list = s.json(&args);
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    for (filter, order, max) in queries {
        let want = names(&file, filter, order, *max);
        assert!(!want.is_empty(), "{filter} {order:?}: no runs");
        if let Some(m) = max {
            assert!(want.len() <= *m, "{filter} {order:?}");
        }
        let got = names(&server, filter, order, *max);
        assert_eq!(got, want, "{filter} {order:?} --max {max:?}");
    }
}

/// `mlx sync` of a few hundred runs copies them in parallel, resumes after an interruption (a run whose
/// artifacts cannot be read stops the first sync part way; the next copies what is left and completes the
/// half-copied run), copies nothing the third time, and the way back copies every run to a folder.
#[test]
fn sync_of_hundreds_of_runs_resumes_after_an_interruption() {
    let laptop = TestStore::new();
    let server = TestStore::on_server();
    let exp = unique("sync-scale");
    let n = 240;
    crate::common::interop_json(
        "search_population.py",
        &[laptop.uri.as_ref(), exp.as_ref(), n.to_string().as_ref()],
    );
    let r121 =
        |s: &TestStore| s.json(&["runs", "list", "-e", &exp, "--filter", "run_name = 'r121'"]);
    let bad = r121(&laptop)[0]["run_id"].as_str().unwrap().to_string();
    let bad_dir = std::fs::read_dir(laptop.root())
        .unwrap()
        .map(|e| e.unwrap().path().join(&bad))
        .find(|p| p.is_dir())
        .expect("the run's folder");
    let artifacts = bad_dir.join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let outside = laptop.dir.path().join("secret.txt");
    std::fs::write(&outside, "not for the server").unwrap();
    std::os::unix::fs::symlink(&outside, artifacts.join("escape.txt")).unwrap();

    let sync = |from: &TestStore, to: &str| {
        from.mlx()
            .args(["sync", "--to", to, "-e", &exp, "--no-models", "--jobs", "4"])
            .args(["-o", "json"])
            .output()
            .unwrap()
    };
    let out = sync(&laptop, &server.uri);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the link out of the store stops it");
    assert!(err.contains("escape.txt"), "{err}");
    let on_server = |s: &TestStore| {
        s.json(&["runs", "list", "-e", &exp, "--all"])
            .as_array()
            .unwrap()
            .len()
    };
    let partial = on_server(&server);
    assert!(partial >= 1 && partial < n, "{partial} of {n} copied");

    std::fs::remove_file(artifacts.join("escape.txt")).unwrap();
    let out = sync(&laptop, &server.uri);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        second["runs_copied"].as_u64().unwrap() as usize,
        n - partial,
        "{second}"
    );
    assert!(
        second["runs_updated"].as_u64().unwrap() >= 1,
        "the half-copied run is completed: {second}"
    );
    assert_eq!(on_server(&server), n);
    let done = r121(&server);
    assert_eq!(done.as_array().unwrap().len(), 1);
    assert_eq!(done[0]["status"], "FINISHED");
    assert_eq!(done[0]["params"]["model"], "gb");

    let out = sync(&laptop, &server.uri);
    let third: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(third["runs_copied"], 0, "{third}");
    assert_eq!(third["metric_points"], 0, "{third}");
    assert_eq!(third["artifact_files"], 0, "{third}");
    // Runs still running are looked at again (they may have logged more); the rest are unchanged.
    assert_eq!(
        third["runs_unchanged"].as_u64().unwrap() as usize,
        n - n.div_ceil(6),
        "{third}"
    );

    // And back to a new folder, which keeps the server's ids: per run one artifact listing and, per
    // metric key, one bulk history request per 100 runs (not a `get-history` per run and key).
    let back = TestStore::new();
    let gate = PageGate::start(&server.uri, None);
    let proxied = TestStore {
        dir: tempfile::tempdir().unwrap(),
        uri: format!("http://127.0.0.1:{}", gate.port),
    };
    let out = sync(&proxied, &back.uri);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["runs_copied"].as_u64().unwrap() as usize,
        n,
        "{report}"
    );
    assert_eq!(on_server(&back), n);
    let paths = gate.paths.lock().unwrap().clone();
    let count = |end: &str| paths.iter().filter(|p| p.ends_with(end)).count();
    assert_eq!(count("/artifacts/list"), n);
    let (bulk, single) = (count("/get-history-bulk"), count("/get-history"));
    assert!(
        bulk >= 4 && bulk + single <= 12,
        "{bulk} bulk and {single} single history requests"
    );
    assert!(
        paths.len() <= n + 20,
        "{} requests for {n} runs",
        paths.len()
    );
    // Every point came along: loss in every run, accuracy in 4 of 5 (NaN and ±infinity among them).
    assert_eq!(
        report["metric_points"].as_u64().unwrap() as usize,
        n + n * 4 / 5,
        "{report}"
    );
    let listing = |s: &TestStore| {
        let mut runs = s.json(&["runs", "list", "-e", &exp, "--all"]);
        for r in runs.as_array_mut().unwrap() {
            let r = r.as_object_mut().unwrap();
            for k in ["experiment_id", "artifact_uri", "tags"] {
                r.remove(k);
            }
        }
        runs
    };
    assert_eq!(listing(&back), listing(&server));
}

/// A proxy in front of the real server that records the `max_results` of every `runs/search`; with
/// `rows`, it shrinks each page to that many runs and holds each request for a later page (one with a
/// `page_token`) until the test opens the gate.
struct PageGate {
    port: u16,
    open: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    held: Arc<AtomicUsize>,
    sizes: Arc<std::sync::Mutex<Vec<u64>>>,
    /// The path of every request (without its query).
    paths: Arc<std::sync::Mutex<Vec<String>>>,
}

impl PageGate {
    fn start(upstream: &str, rows: Option<usize>) -> PageGate {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let held = Arc::new(AtomicUsize::new(0));
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (gate, count, seen, asked) = (open.clone(), held.clone(), sizes.clone(), paths.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (upstream, gate, count) = (upstream.clone(), gate.clone(), count.clone());
                let (seen, asked) = (seen.clone(), asked.clone());
                std::thread::spawn(move || {
                    let Some(request) = read_request(&mut conn) else {
                        return;
                    };
                    let body_start = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head = String::from_utf8_lossy(&request[..body_start]).to_string();
                    let target = head.split(' ').nth(1).unwrap_or("");
                    asked
                        .lock()
                        .unwrap()
                        .push(target.split('?').next().unwrap_or("").to_string());
                    let mut body = request[body_start..].to_vec();
                    if head.contains("/runs/search ") {
                        let mut doc: Value = serde_json::from_slice(&body).unwrap();
                        seen.lock()
                            .unwrap()
                            .push(doc["max_results"].as_u64().unwrap_or(0));
                        let Some(rows) = rows else {
                            let _ = conn.write_all(&forward(&upstream, &head, &body));
                            return;
                        };
                        doc["max_results"] = rows.into();
                        body = serde_json::to_vec(&doc).unwrap();
                        if doc.get("page_token").is_some() {
                            count.fetch_add(1, Ordering::SeqCst);
                            let (lock, cv) = &*gate;
                            let mut open = lock.lock().unwrap();
                            while !*open {
                                open = cv.wait(open).unwrap();
                            }
                        }
                    }
                    let head: String = head
                        .split("\r\n")
                        .filter(|l| !l.to_ascii_lowercase().starts_with("content-length:"))
                        .filter(|l| !l.is_empty())
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    let head = format!("{head}Content-Length: {}\r\n\r\n", body.len());
                    let _ = conn.write_all(&forward(&upstream, &head, &body));
                });
            }
        });
        PageGate {
            port,
            open,
            held,
            sizes,
            paths,
        }
    }

    fn open(&self) {
        let (lock, cv) = &*self.open;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}

/// `runs list` without `--max` prints the first page of a server's answer before it asks for the next:
/// a proxy serves pages of 4 runs and holds the request for page 2 until the test has read every run of
/// page 1 on mlx's stdout (a listing that buffered would print nothing and fail at the deadline). The
/// whole output, once the gate opens, is the same listing a direct request gives, in every format.
#[test]
fn runs_list_prints_each_page_of_a_server_before_fetching_the_next() {
    use std::io::BufRead;
    let s = TestStore::on_server();
    let exp = unique("stream");
    crate::common::interop_json(
        "search_population.py",
        &[s.uri.as_ref(), exp.as_ref(), "10".as_ref()],
    );
    let queries: &[(&str, &str)] = &[
        ("", ""),
        ("params.lr != '0.3' OR tags.team = 'a'", ""),
        ("", "metrics.loss DESC"),
    ];
    for (filter, order_by) in queries {
        let mut query = vec!["runs", "list", "-e", exp.as_str()];
        if !order_by.is_empty() {
            query.extend(["--order-by", order_by]);
        }
        // The server's pages: its order without the filter (the OR stays on the client), 4 at a time.
        let server_pages: Vec<Vec<String>> = ids(&s.json(&query))
            .chunks(4)
            .map(<[String]>::to_vec)
            .collect();
        if !filter.is_empty() {
            query.extend(["--filter", filter]);
        }
        let order = ids(&s.json(&query));
        let pages: Vec<Vec<&String>> = server_pages
            .iter()
            .map(|p| p.iter().filter(|id| order.contains(id)).collect::<Vec<_>>())
            .filter(|p| !p.is_empty())
            .collect();
        assert!(
            pages.len() >= 2,
            "{filter} {order_by}: more than one page: {pages:?}"
        );
        for format in ["json", "csv", "table", "markdown"] {
            let mut args = query.clone();
            args.extend(["-o", format]);
            let want = s.ok(&args);
            let gate = PageGate::start(&s.uri, Some(4));
            let mut child = s
                .mlx_std()
                .args(["--tracking-uri", &format!("http://127.0.0.1:{}", gate.port)])
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let (tx, rx) = std::sync::mpsc::channel::<String>();
            let stdout = child.stdout.take().unwrap();
            let reader = std::thread::spawn(move || {
                for line in std::io::BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut got = String::new();
            while !pages[0].iter().all(|id| got.contains(id.as_str())) {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(line) => got.push_str(&format!("{line}\n")),
                    Err(_) => panic!(
                        "{format} {filter} {order_by}: page 1 not printed while page 2 waits (stdout so far: {got})"
                    ),
                }
            }
            let later = pages[1..].iter().flatten();
            assert!(
                !later.clone().any(|id| got.contains(id.as_str())),
                "{format}: nothing of page 2 yet: {got}"
            );
            gate.open();
            for line in rx.iter() {
                got.push_str(&format!("{line}\n"));
            }
            reader.join().unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{format} {filter} {order_by}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                gate.held.load(Ordering::SeqCst) >= 2,
                "pages 2 and 3 were asked for"
            );
            match format {
                "json" => assert_eq!(got, want, "{filter} {order_by}"),
                // A table per page, each with its header, and the rows in order.
                "table" => {
                    assert_eq!(got.matches("run id").count(), pages.len(), "{got}");
                    let at = |id: &String| got.find(id.as_str()).unwrap();
                    let positions: Vec<usize> = order.iter().map(at).collect();
                    assert!(positions.is_sorted(), "{got}");
                }
                // The columns come from the first page (here the same metrics, perhaps in another
                // order): the same cells under the same headers.
                _ => assert_eq!(
                    cells(format, &got),
                    cells(format, &want),
                    "{filter} {order_by}"
                ),
            }
        }
    }
}

/// The rows of a CSV or markdown listing as header -> value maps, in order.
fn cells(format: &str, text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let split = |line: &str| -> Vec<String> {
        match format {
            "csv" => csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(line.as_bytes())
                .records()
                .next()
                .map(|r| r.unwrap().iter().map(String::from).collect())
                .unwrap_or_default(),
            _ => line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect(),
        }
    };
    let mut lines = text.lines().filter(|l| !l.starts_with("| --- |"));
    let headers = split(lines.next().unwrap());
    lines
        .map(|l| headers.iter().cloned().zip(split(l)).collect())
        .collect()
}

/// On a server, `experiments show` counts an experiment's runs and a bare `mlx serve` finds the newest
/// finished run with a model without listing every run: no `runs/search` asks for more than 100 runs
/// (listing them all asks for pages of 1,000). 130 finished runs without a model are newer than the
/// trained one, so serve's search reads three pages of 50.
#[test]
fn experiments_show_and_a_bare_serve_read_pages_not_the_experiment() {
    let s = TestStore::on_server();
    let exp = unique("counted");
    let trained = train(&s, &["--experiment", &exp]);
    let trained = trained["run_id"].as_str().unwrap().to_string();
    // Two registered models, so the store's-only-model rule cannot pick one (the server is shared).
    for _ in 0..2 {
        s.ok(&[
            "register",
            &format!("runs:/{trained}/model"),
            "--name",
            &unique("counted"),
        ]);
    }
    let script = "import sys, time\n\
        from mlflow.tracking import MlflowClient\n\
        c = MlflowClient(sys.argv[1]); e = c.get_experiment_by_name(sys.argv[2]).experiment_id\n\
        now = int(time.time() * 1000) + 60_000\n\
        for i in range(130):\n\
        \x20   r = c.create_run(e, start_time=now + i, run_name=f'n{i}')\n\
        \x20   c.set_terminated(r.info.run_id, end_time=now + i + 1)\n";
    let out = std::process::Command::new(crate::common::python())
        .args(["-c", script, &s.uri, &exp])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newest = s.json(&["runs", "list", "-e", &exp, "--max", "2"]);
    for r in ids(&newest) {
        s.ok(&["runs", "delete", &r]);
    }

    let gate = PageGate::start(&s.uri, None);
    let proxied = format!("http://127.0.0.1:{}", gate.port);
    let shown: Value = {
        let out = s
            .mlx_std()
            .args([
                "--tracking-uri",
                &proxied,
                "experiments",
                "show",
                &exp,
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
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(
        shown["runs"],
        serde_json::json!({"active": 129, "deleted": 2})
    );
    let sizes = std::mem::take(&mut *gate.sizes.lock().unwrap());
    assert!(
        sizes.len() > 2 && sizes.iter().all(|n| *n <= 100),
        "{sizes:?}"
    );

    let mut child = s
        .mlx_std()
        .args([
            "--tracking-uri",
            &proxied,
            "serve",
            "--port",
            "0",
            "--experiment",
            &exp,
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stderr.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(
        first.trim(),
        format!("mlx serve: no --model given; chose runs:/{trained}/model")
    );
    let sizes = gate.sizes.lock().unwrap().clone();
    assert_eq!(sizes, [50, 50, 50], "three pages of finished runs");
}
