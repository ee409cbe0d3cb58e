//! `mlx serve`: MLflow's scoring protocol (checked by a `requests` client written for MLflow), the original
//! app's endpoints, alias following with zero failed requests, champion/challenger, admin auth, shutdown.

use crate::common::{TestStore, python};
use crate::train::train;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mlx serve`, stopped (SIGTERM) on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// What the server wrote on stderr after its address line.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(s: &TestStore, args: &[&str]) -> Server {
        let mut cmd = s.mlx_std();
        cmd.args(["serve", "--port", "0", "--poll-ms", "100"])
            .args(args);
        Server::spawn(cmd, "mlx serve: listening on http://")
    }

    /// Start a server command and wait for the line announcing its address.
    pub fn spawn(mut cmd: Command, announce: &str) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(addr) = line.strip_prefix(announce) {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = kept.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            port,
            lines: kept,
        }
    }

    /// One HTTP/1.1 request (Host: 127.0.0.1 unless `headers` has one); returns (status, headers lowercased, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        // A test may give its own Host.
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str("Host: 127.0.0.1\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        (status, headers, raw[split + 4..].to_vec())
    }

    pub fn post_json(
        &self,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, String) {
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend_from_slice(extra);
        let (s, h, b) = self.request("POST", path, &headers, body.as_bytes());
        (s, h, String::from_utf8(b).unwrap())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        unsafe_free_sigterm(self.child.id());
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

/// SIGTERM through the `kill` command (the crate forbids unsafe code).
fn unsafe_free_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe_free_sigterm(self.child.id());
        let _ = self.child.wait();
    }
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const TWO_ROWS: &str = r#"{"dataframe_split":{"columns":["Pclass","Sex","Age","Fare"],"data":[[3,"male",22.0,7.25],[1,"female",38.0,71.2833]]}}"#;

pub fn registered(s: &TestStore) -> Vec<String> {
    let mut runs = Vec::new();
    for model in ["logistic-regression", "decision-tree"] {
        let r = train(
            s,
            &[
                "--experiment",
                "serve",
                "--model",
                model,
                "--max-depth",
                "2",
                "--register",
                "titanic",
            ],
        );
        runs.push(r["run_id"].as_str().unwrap().to_string());
    }
    s.ok(&["alias", "set", "Champion", "1"]);
    runs
}

#[test]
fn a_client_written_for_mlflow_works_unchanged() {
    let s = TestStore::new();
    registered(&s);
    let server = Server::start(&s, &["--model", "models:/titanic@Champion"]);
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/scoring_client.py"))
        .arg(format!("http://127.0.0.1:{}", server.port))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn original_app_endpoints_and_model_info() {
    let s = TestStore::new();
    let runs = registered(&s);
    let server = Server::start(&s, &["--model", "models:/titanic@Champion"]);
    let (status, _, body) = server.post_json("/predict", r#"[{"Pclass":3,"Sex":"male","Age":22,"Fare":7.25},{"Pclass":1,"Sex":"female","Age":38,"Fare":71.28}]"#, &[]);
    assert_eq!((status, body.as_str()), (200, r#"{"prediction": [0, 1]}"#));
    let (_, _, body) = server.post_json(
        "/predict",
        r#"{"Pclass":[3],"Sex":["male"],"Age":[22],"Fare":[7.25]}"#,
        &[],
    );
    assert_eq!(body, r#"{"prediction": [0]}"#);
    let (_, _, body) = server.post_json(
        "/predict",
        r#"{"Pclass":1,"Sex":"female","Age":38,"Fare":71.28}"#,
        &[],
    );
    assert_eq!(body, r#"{"prediction": [1]}"#);
    let (status, _, body) = server.post_json("/predict", r#"{"Pclass":1}"#, &[]);
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = server.request("GET", "/model", &[], b"");
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(info["name"], "titanic");
    assert_eq!(info["version"], 1);
    assert_eq!(info["run_id"], runs[0].as_str());
    assert_eq!(info["signature"]["inputs"][1]["name"], "Sex");
    // Admin endpoints are off without a token.
    let (status, _, body) = server.post_json("/rollback", "", &[]);
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = server.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    // The server serves no files, whatever the path says.
    for path in [
        "/../../etc/passwd",
        "/mlruns",
        "/artifacts/MLmodel",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/model/../../x",
    ] {
        let (status, _, body) = server.request("GET", path, &[], b"");
        assert!(status == 404 || status == 400, "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }
}

#[test]
fn serving_by_alias_follows_moves_with_zero_failed_requests() {
    let s = TestStore::new();
    registered(&s);
    let server = Server::start(&s, &["--model", "models:/titanic@Champion"]);
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let stop = AtomicBool::new(false);
    let answered = AtomicUsize::new(0);
    let seen_v2 = AtomicBool::new(false);
    // Conditions, not windows: the load runs until the test has seen what it waits for (or a generous
    // deadline says the server never got there).
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let failures = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let mut failures = 0;
            while !stop.load(Ordering::Relaxed) {
                let (status, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
                if status != 200 {
                    failures += 1;
                }
                if header(&headers, "x-mlx-model-version") == Some("titanic/2") {
                    seen_v2.store(true, Ordering::Relaxed);
                }
                answered.fetch_add(1, Ordering::Relaxed);
            }
            failures
        });
        wait_for("the load to start", &|| {
            answered.load(Ordering::Relaxed) >= 20
        });
        s.ok(&["alias", "set", "Champion", "2"]);
        wait_for("the server to follow the alias", &|| {
            let (_, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
            header(&headers, "x-mlx-model-version") == Some("titanic/2")
        });
        wait_for("the load to see version 2", &|| {
            seen_v2.load(Ordering::Relaxed)
        });
        let after = answered.load(Ordering::Relaxed);
        wait_for("more load after the move", &|| {
            answered.load(Ordering::Relaxed) >= after + 20
        });
        stop.store(true, Ordering::Relaxed);
        load.join().unwrap()
    });
    assert_eq!(failures, 0);
    assert!(seen_v2.load(Ordering::Relaxed));
    // A rollback in another terminal is followed too.
    assert_eq!(s.ok(&["rollback"]).trim(), "Champion: v2 -> v1");
    wait_for("the server to follow the rollback", &|| {
        let (_, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
        header(&headers, "x-mlx-model-version") == Some("titanic/1")
    });
}

#[test]
fn champion_challenger_split_and_metrics() {
    let s = TestStore::new();
    registered(&s);
    s.ok(&["alias", "set", "Challenger", "2"]);
    let server = Server::start(
        &s,
        &[
            "--model",
            "models:/titanic@Champion",
            "--challenger",
            "models:/titanic@Challenger",
            "--split",
            "0.25",
        ],
    );
    let mut challenger = 0;
    for _ in 0..40 {
        let (status, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
        assert_eq!(status, 200);
        match header(&headers, "x-mlx-variant") {
            Some("challenger") => {
                challenger += 1;
                assert_eq!(header(&headers, "x-mlx-model-version"), Some("titanic/2"));
            }
            Some("champion") => {
                assert_eq!(header(&headers, "x-mlx-model-version"), Some("titanic/1"))
            }
            other => panic!("variant header {other:?}"),
        }
    }
    assert_eq!(challenger, 10, "exactly a quarter");
    let (_, _, body) = server.request("GET", "/metrics", &[], b"");
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("mlx_predictions_total{variant=\"challenger\"} 20"),
        "{text}"
    );
    assert!(
        text.contains("mlx_predictions_total{variant=\"champion\"} 60"),
        "{text}"
    );
    assert!(
        text.contains("mlx_requests_total{path=\"/invocations\",status=\"200\"} 40"),
        "{text}"
    );
    assert!(text.contains("mlx_request_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(
        text.contains("mlx_model_info{variant=\"challenger\",name=\"titanic\",version=\"2\"} 1"),
        "{text}"
    );
}

#[test]
fn update_model_retrains_and_swaps_and_rollback_swaps_back() {
    let s = TestStore::new();
    registered(&s);
    let server = Server::start(
        &s,
        &[
            "--model",
            "models:/titanic@Champion",
            "--token",
            "s3cret",
            "--data-dir",
            crate::train::titanic().parent().unwrap().to_str().unwrap(),
        ],
    );
    let (status, _, _) = server.post_json("/update_model", "", &[]);
    assert_eq!(status, 401);
    let (status, _, _) =
        server.post_json("/update_model", "", &[("Authorization", "Bearer wrong")]);
    assert_eq!(status, 401);
    let (status, _, body) =
        server.post_json("/update_model", "", &[("Authorization", "Bearer s3cret")]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], 3);
    assert_eq!(
        v["metrics"]["accuracy"], 0.7552447552447552,
        "retrained from the recorded params"
    );
    let (_, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
    assert_eq!(header(&headers, "x-mlx-model-version"), Some("titanic/3"));
    assert_eq!(
        s.json(&["alias", "list"])["Champion"],
        3,
        "the alias moved to the new version"
    );
    let (status, _, body) =
        server.post_json("/rollback", "", &[("Authorization", "Bearer s3cret")]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["from_version"].as_u64(), v["to_version"].as_u64()),
        (Some(3), Some(1))
    );
    let (_, headers, _) = server.post_json("/invocations", TWO_ROWS, &[]);
    assert_eq!(header(&headers, "x-mlx-model-version"), Some("titanic/1"));
    let (status, _, body) = server.post_json(
        "/rollback",
        r#"{"to": 99}"#,
        &[("Authorization", "Bearer s3cret")],
    );
    assert_eq!(status, 409, "{body}");
}

#[test]
fn bad_requests_never_hurt_the_next_and_shutdown_is_graceful() {
    let s = TestStore::new();
    registered(&s);
    let server = Server::start(&s, &["--model", "models:/titanic/1", "--max-body-mb", "1"]);
    for body in [
        "{bad",
        "[]",
        "{}",
        r#"{"inputs":{"Pclass":[1e400]}}"#,
        "\u{0}\u{1}",
    ] {
        let (status, _, _) = server.post_json("/invocations", body, &[]);
        assert!(status == 400, "{body}: {status}");
        let (status, _, _) = server.post_json("/invocations", TWO_ROWS, &[]);
        assert_eq!(status, 200);
    }
    // MLflow's scoring server speaks UTF-8 only: another charset is a 415 with its text, UTF-8 in any case is fine.
    for (charset, want) in [
        ("latin-1", 415),
        ("utf-16", 415),
        ("UTF-8", 200),
        ("utf-8", 200),
    ] {
        let content_type = format!("application/json; charset={charset}");
        let (status, _, body) = server.request(
            "POST",
            "/invocations",
            &[("Content-Type", content_type.as_str())],
            TWO_ROWS.as_bytes(),
        );
        assert_eq!(status, want, "{charset}");
        if want == 415 {
            assert_eq!(
                String::from_utf8_lossy(&body),
                "The scoring server only supports UTF-8"
            );
        }
    }
    let big = vec![b' '; 2 * 1024 * 1024];
    let (status, _, _) = server.request(
        "POST",
        "/invocations",
        &[("Content-Type", "application/json")],
        &big,
    );
    assert_eq!(status, 413, "the body limit holds");
    let (status, _, _) = server.post_json("/invocations", TWO_ROWS, &[]);
    assert_eq!(status, 200);
    assert!(server.stop().success(), "SIGTERM ends the server cleanly");
}

/// What a bare `mlx serve` (no --model) says it chose: its first line on stderr.
fn bare_serve_choice(s: &TestStore) -> String {
    let mut child = s
        .mlx_std()
        .args(["serve", "--port", "0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let chose = lines.next().unwrap().unwrap();
    unsafe_free_sigterm(child.id());
    child.wait().unwrap();
    chose
}

#[test]
fn without_a_model_it_serves_the_latest_finished_run() {
    let s = TestStore::new();
    let r = train(&s, &["--experiment", "serve"]);
    assert_eq!(
        bare_serve_choice(&s),
        format!(
            "mlx serve: no --model given; chose runs:/{}/model",
            r["run_id"].as_str().unwrap()
        )
    );

    // Once the store's only registered model has a Champion, that is what a bare `mlx serve` serves, even
    // when a newer run exists.
    s.ok(&[
        "register",
        &format!("runs:/{}/model", r["run_id"].as_str().unwrap()),
        "--name",
        "only",
    ]);
    s.ok(&["alias", "set", "Champion", "1"]);
    let newer = train(&s, &["--experiment", "serve", "--model", "decision-tree"]);
    assert_ne!(newer["run_id"], r["run_id"]);
    assert_eq!(
        bare_serve_choice(&s),
        "mlx serve: no --model given; chose models:/only@Champion"
    );
}

#[test]
fn a_batch_over_the_request_timeout_is_a_504_and_the_server_goes_on() {
    // kNN on 6,000 rows predicting 5,000: 24 M distances, far beyond the 1 ms timeout on any machine.
    let s = TestStore::new();
    let mut csv = String::from("a,b,c,y\n");
    for i in 0..6_000u64 {
        let (a, b, c) = (i % 97, (i * 7) % 89, (i * 13) % 83);
        csv.push_str(&format!("{a},{b},{c},{}\n", (a + b + c) % 2));
    }
    let data = s.dir.path().join("big.csv");
    std::fs::write(&data, csv).unwrap();
    let r = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "y",
        "--model",
        "knn",
        "--task",
        "classification",
    ]);
    let run = r["run_id"].as_str().unwrap();
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("runs:/{run}/model"),
            "--timeout",
            "0.001",
        ],
    );
    let rows: Vec<String> = (0..5_000u64)
        .map(|i| format!("[{},{},{}]", i % 101, i % 79, i % 61))
        .collect();
    let big = format!(
        r#"{{"dataframe_split":{{"columns":["a","b","c"],"data":[{}]}}}}"#,
        rows.join(",")
    );
    let (status, _, body) = server.post_json("/invocations", &big, &[]);
    assert_eq!(status, 504, "{body}");
    assert_eq!(body, "Request processing time exceeded limit");
    // Small batches are answered in place, and the server is still there.
    let (status, _, body) = server.post_json(
        "/invocations",
        r#"{"dataframe_split":{"columns":["a","b","c"],"data":[[1,2,3]]}}"#,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    s.mlx()
        .args(["serve", "--timeout", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "'0' is not a positive number of seconds",
        ));
}
