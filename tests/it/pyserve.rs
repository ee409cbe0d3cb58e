//! `mlx serve --python`: models only Python can run (custom `PythonModel`s, models from code), served by
//! worker processes running the real MLflow, with adaptive batching and fault isolation. The models are
//! logged once per test run by tests/interop/python_models.py into a shared store; every server is
//! loopback, every wait bounded.

use crate::common::{TestStore, copy_dir, python};
use crate::serve::{Server, header};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The shared store and work folder with the models of python_models.py (logged once).
struct Models {
    _dir: tempfile::TempDir,
    store: PathBuf,
    work: PathBuf,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("mlruns");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/python_models.py");
        let out = Command::new(python())
            .arg(script)
            .arg(&store)
            .arg(&work)
            .env("MLFLOW_ALLOW_FILE_STORE", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python_models.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Models {
            _dir: dir,
            store,
            work,
        }
    })
}

/// A store pointing at the shared models (the test's own temp dir for everything else).
fn store() -> TestStore {
    let mut s = TestStore::new();
    s.uri = models().store.to_string_lossy().into_owned();
    s
}

fn py() -> String {
    python().to_string_lossy().into_owned()
}

fn serve(model: &str, extra: &[&str]) -> Server {
    let s = store();
    let py = py();
    let mut args = vec!["--model", model, "--python", py.as_str()];
    args.extend_from_slice(extra);
    Server::start(&s, &args)
}

fn invoke(server: &Server, body: &str) -> (u16, String) {
    let (status, _, body) = server.post_json("/invocations", body, &[]);
    (status, body)
}

/// Wait (at most 120 s) until `ready` holds.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first file in the work folder named `<prefix>-<pid>` that is not in `seen`, as its pid.
fn marker(prefix: &str, seen: &[u32]) -> Option<u32> {
    std::fs::read_dir(&models().work)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .strip_prefix(&format!("{prefix}-"))
                .and_then(|p| p.parse().ok())
        })
        .find(|p| !seen.contains(p))
}

fn model_doc(server: &Server) -> Value {
    let (status, _, body) = server.request("GET", "/model", &[], b"");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn the_guides_custom_model_with_its_artifact_is_served_by_python_workers() {
    let server = serve("models:/custom/1", &["--workers", "2"]);
    let expected = r#"{"predictions": [{"label": "yes", "p_yes": 0.817511}, {"label": "no", "p_yes": 0.132927}]}"#;
    // Integers in a double column are sent as doubles, as MLflow's server types them by the schema.
    let split = r#"{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 3], [-2, -4]]}}"#;
    assert_eq!(invoke(&server, split), (200, expected.to_string()));
    let records = r#"{"dataframe_records": [{"a": 1.0, "b": 3.0}, {"a": -2.0, "b": -4.0}]}"#;
    assert_eq!(invoke(&server, records), (200, expected.to_string()));
    let (status, _, body) = server.request(
        "POST",
        "/invocations",
        &[("Content-Type", "text/csv")],
        b"a,b\n1,3\n-2,-4\n",
    );
    assert_eq!(
        (status, String::from_utf8(body).unwrap()),
        (200, expected.to_string())
    );
    // The original app's /predict, and the scoring server's other endpoints, unchanged.
    let (status, headers, body) = server.post_json("/predict", r#"[{"a": 1, "b": 3}]"#, &[]);
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            r#"{"prediction": [{"label": "yes", "p_yes": 0.817511}]}"#
        )
    );
    assert_eq!(header(&headers, "x-mlx-model-version"), Some("custom/1"));
    assert_eq!(server.request("GET", "/ping", &[], b"").0, 200);
    let doc = model_doc(&server);
    assert_eq!(doc["model"]["flavor"], "python_function");
    assert_eq!(doc["model"]["workers"].as_array().unwrap().len(), 2);
    // 24 requests at once, each answered with its own row.
    let server = Arc::new(server);
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || {
                let a = if i % 2 == 0 { 1 } else { -2 };
                let b = if i % 2 == 0 { 3 } else { -4 };
                let (status, body) = invoke(
                    &server,
                    &format!(r#"{{"inputs": {{"a": [{a}], "b": [{b}]}}}}"#),
                );
                (i, status, body)
            })
        })
        .collect();
    for t in threads {
        let (i, status, body) = t.join().unwrap();
        let want = if i % 2 == 0 {
            r#"{"predictions": [{"label": "yes", "p_yes": 0.817511}]}"#
        } else {
            r#"{"predictions": [{"label": "no", "p_yes": 0.132927}]}"#
        };
        assert_eq!((status, body.as_str()), (200, want), "request {i}");
    }
}

#[test]
fn a_models_from_code_model_is_served() {
    let server = serve("models:/code/1", &["--workers", "1"]);
    assert_eq!(
        invoke(&server, r#"{"inputs": {"x": [1, 2]}}"#),
        (200, r#"{"predictions": [11.0, 21.0]}"#.to_string())
    );
}

/// Hold the single worker at the gate, queue `bodies` (`rows` rows in all), then open the gate; returns
/// each answer. One test at a time uses the gate.
fn queued_behind_the_gate(
    server: &Arc<Server>,
    bodies: &[&str],
    rows: usize,
) -> Vec<(u16, String)> {
    queued_behind_the_gate_then(server, bodies, rows, |_| {})
}

/// As [`queued_behind_the_gate`], calling `held` while the requests wait.
fn queued_behind_the_gate_then(
    server: &Arc<Server>,
    bodies: &[&str],
    rows: usize,
    while_held: impl FnOnce(&Server),
) -> Vec<(u16, String)> {
    static GATE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = GATE.lock().unwrap_or_else(|e| e.into_inner());
    let gate = models().work.join("gate");
    while let Some(pid) = marker("gated", &[]) {
        std::fs::remove_file(models().work.join(format!("gated-{pid}"))).unwrap();
    }
    let _ = std::fs::remove_file(&gate);
    let held = {
        let server = server.clone();
        std::thread::spawn(move || invoke(&server, r#"{"inputs": {"x": [555]}}"#))
    };
    wait_for("the worker at the gate", || marker("gated", &[]).is_some());
    let queued: Vec<_> = bodies
        .iter()
        .map(|b| {
            let server = server.clone();
            let b = b.to_string();
            std::thread::spawn(move || invoke(&server, &b))
        })
        .collect();
    wait_for("the requests to queue", || {
        model_doc(server)["model"]["queued_rows"] == rows
    });
    while_held(server);
    std::fs::write(&gate, "open").unwrap();
    let (status, _) = held.join().unwrap();
    assert_eq!(status, 200);
    queued.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn requests_queued_together_are_one_predict_and_only_a_raising_one_fails() {
    let server = Arc::new(serve("models:/faulty/1", &["--workers", "1"]));
    let calls = |s: &Server| model_doc(s)["model"]["predict_calls"].as_u64().unwrap();
    let answers = queued_behind_the_gate(
        &server,
        &[
            r#"{"inputs": {"x": [1]}}"#,
            r#"{"inputs": {"x": [2, 3]}}"#,
            r#"{"inputs": {"x": [4]}}"#,
        ],
        4,
    );
    assert_eq!(
        answers,
        vec![
            (200, r#"{"predictions": [2.0]}"#.to_string()),
            (200, r#"{"predictions": [4.0, 6.0]}"#.to_string()),
            (200, r#"{"predictions": [8.0]}"#.to_string()),
        ]
    );
    // The gated request, then one merged call for the three behind it.
    assert_eq!(calls(&server), 2);
    let answers = queued_behind_the_gate(
        &server,
        &[r#"{"inputs": {"x": [5]}}"#, r#"{"inputs": {"x": [-7]}}"#],
        2,
    );
    assert_eq!(answers[0], (200, r#"{"predictions": [10.0]}"#.to_string()));
    assert_eq!(
        answers[1],
        (
            500,
            r#"{"error_code": "INTERNAL_ERROR", "message": "ValueError: x must not be negative, got -7", "sqlstate": "XX000", "error_class": "INTERNAL_ERROR"}"#
                .to_string()
        )
    );
}

#[test]
fn a_full_queue_is_answered_503_with_retry_after() {
    let server = Arc::new(serve(
        "models:/faulty/1",
        &["--workers", "1", "--max-queue-rows", "1"],
    ));
    let answers = queued_behind_the_gate_then(&server, &[r#"{"inputs": {"x": [1]}}"#], 1, |s| {
        let (status, headers, body) = s.post_json("/invocations", r#"{"inputs": {"x": [2]}}"#, &[]);
        assert_eq!(
            (status, header(&headers, "retry-after"), body.as_str()),
            (503, Some("1"), "the prediction queue is full; retry later")
        );
    });
    assert_eq!(
        answers,
        vec![(200, r#"{"predictions": [2.0]}"#.to_string())]
    );
}

#[test]
fn a_model_returning_fewer_rows_is_served_unbatched() {
    let server = Arc::new(serve("models:/fewer/1", &["--workers", "1"]));
    let answers = queued_behind_the_gate(
        &server,
        &[r#"{"inputs": {"x": [1, 2]}}"#, r#"{"inputs": {"x": [10]}}"#],
        3,
    );
    assert_eq!(
        answers,
        vec![
            (200, r#"{"predictions": [{"total": 3.0}]}"#.to_string()),
            (200, r#"{"predictions": [{"total": 10.0}]}"#.to_string()),
        ]
    );
    assert_eq!(model_doc(&server)["model"]["batched"], false);
}

#[test]
fn a_worker_killed_mid_request_fails_that_request_and_is_replaced() {
    let server = Arc::new(serve("models:/faulty/1", &["--workers", "1"]));
    let before = model_doc(&server)["model"]["workers"].clone();
    let seen: Vec<u32> = (0..0).collect();
    let mut seen = seen;
    while let Some(p) = marker("started", &seen) {
        seen.push(p);
    }
    let victim = {
        let server = server.clone();
        std::thread::spawn(move || invoke(&server, r#"{"inputs": {"x": [777]}}"#))
    };
    wait_for("the request to reach the worker", || {
        marker("started", &seen).is_some()
    });
    let pid = marker("started", &seen).unwrap();
    assert_eq!(before, serde_json::json!([pid]));
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let (status, body) = victim.join().unwrap();
    assert_eq!(status, 500);
    assert!(
        body.contains("the model's Python worker exited (killed by signal 9) while predicting"),
        "{body}"
    );
    // The next request is answered by the replacement.
    assert_eq!(
        invoke(&server, r#"{"inputs": {"x": [3]}}"#),
        (200, r#"{"predictions": [6.0]}"#.to_string())
    );
    assert_ne!(model_doc(&server)["model"]["workers"], before);
}

#[test]
fn a_model_that_never_returns_gets_504_and_its_worker_is_replaced() {
    let server = serve(
        "models:/faulty/1",
        &["--workers", "1", "--predict-timeout", "2"],
    );
    let before = model_doc(&server)["model"]["workers"].clone();
    assert_eq!(
        invoke(&server, r#"{"inputs": {"x": [999]}}"#),
        (504, "Request processing time exceeded limit".to_string())
    );
    assert_eq!(
        invoke(&server, r#"{"inputs": {"x": [3]}}"#),
        (200, r#"{"predictions": [6.0]}"#.to_string())
    );
    assert_ne!(model_doc(&server)["model"]["workers"], before);
}

#[test]
fn a_model_that_fails_to_load_stops_serve_with_pythons_last_line() {
    let s = TestStore::new();
    // The custom model without the artifact its load_context reads.
    let dir = s.dir.path().join("broken");
    let src = std::fs::read_dir(&models().store)
        .unwrap()
        .map(|e| e.unwrap().path().join("models"))
        .filter(|p| p.is_dir())
        .flat_map(|p| std::fs::read_dir(p).unwrap())
        .map(|e| e.unwrap().path().join("artifacts"))
        .find(|p| p.join("artifacts").join("clf.pkl").is_file())
        .expect("the custom model's folder");
    copy_dir(&src, &dir);
    std::fs::remove_file(dir.join("artifacts").join("clf.pkl")).unwrap();
    let out = s
        .mlx()
        .args(["serve", "--port", "0", "--workers", "1", "--python", &py()])
        .arg("--model")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: cannot load model ")
            && last.contains("FileNotFoundError: [Errno 2] No such file or directory: ")
            && last.ends_with("clf.pkl'"),
        "{stderr}"
    );
}

/// One test at a time moves the shared store's `mixed@champ` alias.
fn mixed_alias() -> std::sync::MutexGuard<'static, ()> {
    static MIXED: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MIXED.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn an_alias_moved_under_load_to_a_python_model_fails_no_request() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let _alias = mixed_alias();
    let s = store();
    let server = Arc::new(serve("models:/mixed@champ", &["--workers", "2"]));
    let stop = Arc::new(AtomicBool::new(false));
    // A failing assertion still stops the load, so the last handle on the server drops and stops it.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop = StopOnDrop(stop.clone());
    let on_v2 = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..3)
        .map(|_| {
            let (server, stop, on_v2) = (server.clone(), stop.clone(), on_v2.clone());
            std::thread::spawn(move || {
                let mut failed = Vec::new();
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (status, headers, body) = server.post_json(
                        "/invocations",
                        r#"{"inputs": {"a": [1.0], "b": [3.0]}}"#,
                        &[],
                    );
                    sent += 1;
                    if status != 200 {
                        failed.push(body);
                    } else if header(&headers, "x-mlx-model-version") == Some("mixed/2") {
                        on_v2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                (sent, failed)
            })
        })
        .collect();
    s.ok(&["alias", "set", "champ", "2", "--model", "mixed"]);
    wait_for("answers from v2", || on_v2.load(Ordering::Relaxed) >= 10);
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for t in load {
        let (n, failed) = t.join().unwrap();
        assert_eq!(failed, Vec::<String>::new());
        sent += n;
    }
    assert!(sent > 10);
    s.ok(&["alias", "set", "champ", "1", "--model", "mixed"]);
}

#[test]
fn a_server_without_python_refuses_a_model_that_needs_it() {
    let _alias = mixed_alias();
    let s = store();
    let out = s
        .mlx()
        .args(["serve", "--port", "0", "--model", "models:/custom/1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim_end().ends_with(
            "this model needs Python (flavors: python_function): start mlx with --python PATH (or MLX_PYTHON) to run it with MLflow in worker processes"
        ),
        "{stderr}"
    );
    // Serving v1 (scikit-learn, read natively) by alias; the alias moves to v2 (a custom model): refused,
    // v1 keeps serving.
    let probe = Server::start(&s, &["--model", "models:/mixed@champ"]);
    let lines = probe.lines.clone();
    let body = r#"{"inputs": {"a": [1.0], "b": [3.0]}}"#;
    let (status, headers, _) = probe.post_json("/invocations", body, &[]);
    assert_eq!(
        (status, header(&headers, "x-mlx-model-version")),
        (200, Some("mixed/1"))
    );
    s.ok(&["alias", "set", "champ", "2", "--model", "mixed"]);
    wait_for("the refusal", || {
        lines.lock().unwrap().iter().any(|l| {
            l.contains(
                "models:/mixed@champ moved to v2 but it cannot be loaded; still serving mixed/1: ",
            ) && l.contains("needs Python")
        })
    });
    let (status, headers, _) = probe.post_json("/invocations", body, &[]);
    assert_eq!(
        (status, header(&headers, "x-mlx-model-version")),
        (200, Some("mixed/1"))
    );
    s.ok(&["alias", "set", "champ", "1", "--model", "mixed"]);
}
