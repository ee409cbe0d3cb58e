//! Issue 30, points 4, 5 and 7: `mlx serve --data-url` holds after redirects and normalisation and never
//! echoes fetched data; credentials in a data URL are never recorded; tests for bugs that once passed every
//! test (tie-breaks in search ordering and the latest-metric rule, the streamed listing's held ±inf runs,
//! sync's metric history, server paging and alias following on the local store).

use crate::common::TestStore;
use crate::serve::Server;
use crate::train::titanic;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

/// What a route answers: status, extra header lines, body.
type Answer = (u16, String, Vec<u8>);

/// A tiny HTTP/1.1 server on 127.0.0.1 for the test: `route(path)` answers each request (path as sent,
/// undecoded); every path asked for is kept in the returned log. Runs until the test process ends.
fn http_server(route: impl Fn(&str) -> Answer + Send + 'static) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            seen.lock().unwrap().push(path.clone());
            let (status, extra, body) = route(&path);
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body));
        }
    });
    (port, log)
}

const TOKEN: (&str, &str) = ("Authorization", "Bearer s3cret");

const APP: [&str; 6] = [
    "--target",
    "Survived",
    "--features",
    "Pclass,Sex,Age,Fare",
    "--map",
    "Sex=male:0,female:1",
];

#[test]
fn data_url_prefix_holds_after_redirects_and_normalisation_and_errors_never_echo_the_data() {
    let s = TestStore::new();
    let csv = std::fs::read(titanic()).unwrap();
    // Another port: what a redirect out of the prefix leads to (valid data, so following it would train).
    let other_csv = csv.clone();
    let (other, other_log) = http_server(move |_| (200, String::new(), other_csv.clone()));
    let (port, log) = http_server(move |path| match path {
        "/data/redir" => (
            302,
            format!("Location: http://127.0.0.1:{other}/secret.csv\r\n"),
            Vec::new(),
        ),
        "/data/inside" => (302, "Location: t.csv\r\n".into(), Vec::new()),
        "/data/bad.csv" => (
            200,
            String::new(),
            b"TOPSECRETHEADER,Pclass\n1,2\n".to_vec(),
        ),
        "/data/t.csv" | "/secret2.csv" | "/" => (200, String::new(), csv.clone()),
        _ => (404, String::new(), Vec::new()),
    });
    let data = titanic();
    let mut args = vec!["train", "--data", data.to_str().unwrap(), "--register", "t"];
    args.extend(APP);
    s.json(&args);
    s.ok(&["alias", "set", "Champion", "1", "--model", "t"]);
    let project = s.dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let prefix = format!("http://127.0.0.1:{port}/data/");
    let server = Server::start(
        &s,
        &[
            "--model",
            "models:/t@Champion",
            "--token",
            "s3cret",
            "--project",
            project.to_str().unwrap(),
            "--data-url",
            &prefix,
        ],
    );
    let retrain = |url: String| {
        let body = serde_json::json!({ "data": url }).to_string();
        let (status, _, answer) = server.post_json("/update_model", &body, &[TOKEN]);
        (status, answer)
    };
    // A redirect out of the prefix is refused, and the other host is never asked.
    let (status, answer) = retrain(format!("{prefix}redir"));
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains(&format!(
            "redirected to http://127.0.0.1:{other}/secret.csv: a URL outside every --data-url prefix"
        )),
        "{answer}"
    );
    assert!(other_log.lock().unwrap().is_empty());
    // Dot segments, plain or percent-encoded, and encoded slashes: refused before any request.
    for tail in [
        "%2e%2e/secret2.csv",
        "%2E%2e/secret2.csv",
        "..",
        "../secret2.csv",
        "..%2fsecret2.csv",
    ] {
        let (status, answer) = retrain(format!("{prefix}{tail}"));
        assert_eq!(status, 422, "{tail}: {answer}");
        assert!(answer.contains("is refused"), "{tail}: {answer}");
    }
    // A failed training says where its reason is, never the data's content.
    let (status, answer) = retrain(format!("{prefix}bad.csv"));
    assert_eq!(status, 500, "{answer}");
    assert!(!answer.contains("TOPSECRETHEADER"), "{answer}");
    assert!(
        answer.contains("the reason is in mlx serve's log"),
        "{answer}"
    );
    // A redirect inside the prefix is followed: the first new version.
    let (status, answer) = retrain(format!("{prefix}inside"));
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["version"], 2, "{answer}");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "/data/redir",
            "/data/bad.csv",
            "/data/inside",
            "/data/t.csv"
        ]
    );
    assert!(other_log.lock().unwrap().is_empty());
}

/// Every file under `dir` as text (lossy), with its path.
fn files_text(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_text(&p, out);
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            out.push((p.display().to_string(), text));
        }
    }
}

#[test]
fn credentials_in_a_data_url_are_never_recorded_or_printed() {
    let s = TestStore::new();
    let csv = std::fs::read(titanic()).unwrap();
    let (port, log) = http_server(move |path| match path.split('?').next() {
        Some("/data/t.csv") => (200, String::new(), csv.clone()),
        Some("/moved") => (301, "Location: /data/t.csv\r\n".into(), Vec::new()),
        _ => (404, String::new(), Vec::new()),
    });
    let url = format!("http://alice:Pw0rdX@127.0.0.1:{port}/data/t.csv?token=T0kenX&x=1");
    let mut args = vec!["train", "--data", url.as_str()];
    args.extend(APP);
    let trained = s.json(&args);
    assert_eq!(
        *log.lock().unwrap(),
        ["/data/t.csv?token=T0kenX&x=1"],
        "the download itself uses the whole URL"
    );
    let run_id = trained["run_id"].as_str().unwrap();
    let run = s.json(&["runs", "show", run_id]);
    let redacted = format!("http://***@127.0.0.1:{port}/data/t.csv?token=***&x=1");
    assert_eq!(run["params"]["data"], redacted.as_str(), "{run}");
    assert_eq!(run["inputs"][0]["name"], "t", "{run}");
    // The data is still told apart by its digest: the same as the local file's.
    let local = titanic();
    let mut args = vec!["train", "--data", local.to_str().unwrap()];
    args.extend(APP);
    let local_trained = s.json(&args);
    let local = s.json(&["runs", "show", local_trained["run_id"].as_str().unwrap()]);
    assert_eq!(run["inputs"][0]["digest"], local["inputs"][0]["digest"]);
    let shown = s.ok(&["runs", "show", run_id]);
    assert!(shown.contains(&redacted), "{shown}");
    let mut files = Vec::new();
    files_text(&s.root(), &mut files);
    assert!(files.iter().any(|(_, t)| t.contains(&redacted)));
    for (path, text) in &files {
        assert!(
            !text.contains("Pw0rdX") && !text.contains("T0kenX"),
            "{path}: {text}"
        );
    }
    // A password with an unencoded # (no URL parser reads it): the error hides it too.
    let bad = format!("http://alice:Pw0#rdX@127.0.0.1:{port}/data/t.csv");
    let out = s
        .mlx()
        .args(["train", "--data", bad.as_str(), "--target", "Survived"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("http://***@127.0.0.1:{port}/data/t.csv")),
        "{err}"
    );
    assert!(!err.contains("Pw0") && !err.contains("rdX"), "{err}");
    // `mlx train --data` (the operator's own URL, no --data-url) follows redirects.
    let moved = format!("http://127.0.0.1:{port}/moved");
    let mut args = vec!["train", "--data", moved.as_str()];
    args.extend(APP);
    let trained = s.json(&args);
    assert_eq!(
        trained["metrics"]["roc_auc"],
        local_trained["metrics"]["roc_auc"]
    );
}

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// MLflow writes a folder store with ties everywhere: runs with one start time and one value of `m`, in two
/// experiments whose runs interleave by id (so that reading one experiment after the other is not already
/// the order), and a metric `v` with two points at the same step and timestamp. mlx orders and picks the
/// latest as MLflow does.
#[test]
fn ties_in_order_and_latest_metric_are_broken_as_mlflow_does() {
    let s = TestStore::new();
    let script = "import sys, json\n\
        from mlflow.tracking import MlflowClient\n\
        from mlflow.entities import Metric\n\
        c = MlflowClient(sys.argv[1]); e = c.create_experiment('ties'); f = c.create_experiment('ties2')\n\
        new = lambda x: c.create_run(x, start_time=1700000000000).info.run_id\n\
        a = [new(e) for i in range(4)]; b = [new(f) for i in range(4)]\n\
        while not (min(a) < max(b) and min(b) < max(a)):\n\
        \x20   b.append(new(f))\n\
        ids = a + b\n\
        for r in ids:\n\
        \x20   c.log_metric(r, 'm', 1.0, timestamp=5, step=0)\n\
        c.log_batch(ids[0], metrics=[Metric('v', 0.7, 5, 1), Metric('v', 0.3, 5, 1)])\n\
        c.log_batch(ids[1], metrics=[Metric('v', 0.3, 5, 1), Metric('v', 0.7, 5, 1)])\n\
        order = lambda o: [r.info.run_id for r in c.search_runs([e, f], order_by=o)]\n\
        print(json.dumps({'ids': ids, 'default': order([]), 'by_m': order(['metrics.m DESC']),\n\
        \x20   'v': [c.get_run(r).data.metrics['v'] for r in ids[:2]]}))\n";
    let out = std::process::Command::new(crate::common::python())
        .args(["-c", script, &format!("file://{}", s.root().display())])
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mlflow: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sorted: Vec<String> = serde_json::from_value(mlflow["ids"].clone()).unwrap();
    sorted.sort();
    // MLflow's own order is by run id on these ties.
    assert_eq!(mlflow["default"], serde_json::json!(sorted));
    assert_eq!(mlflow["by_m"], serde_json::json!(sorted));
    for both in [["ties", "ties2"], ["ties2", "ties"]] {
        let listed = s.json(&["runs", "list", "-e", both[0], "-e", both[1], "-o", "json"]);
        assert_eq!(ids(&listed), sorted);
    }
    let listed = s.json(&[
        "runs",
        "list",
        "-e",
        "ties",
        "-e",
        "ties2",
        "--order-by",
        "metrics.m DESC",
        "-o",
        "json",
    ]);
    assert_eq!(ids(&listed), sorted);
    assert_eq!(mlflow["v"], serde_json::json!([0.7, 0.7]));
    for id in mlflow["ids"].as_array().unwrap()[..2].iter() {
        let run = s.json(&["runs", "show", id.as_str().unwrap()]);
        assert_eq!(run["metrics"]["v"]["latest"], 0.7, "{run}");
    }
}

/// The lines of a run's metric file in a folder store, as MLflow wrote them.
fn metric_lines(s: &TestStore, run: &str, key: &str) -> Vec<String> {
    let rel = s
        .files()
        .into_iter()
        .find(|f| f.contains(run) && f.ends_with(&format!("/metrics/{key}")))
        .unwrap_or_else(|| panic!("no metric file {key} of run {run}"));
    let text = std::fs::read_to_string(s.root().join(rel)).unwrap();
    text.lines().map(str::to_string).collect()
}

/// Folder to folder, no server: the whole metric history is copied, point by point (repeated steps, equal
/// timestamps, NaN), and a second sync after the run went on copies just the new points.
#[test]
fn sync_between_folders_copies_the_whole_metric_history_and_then_only_new_points() {
    let from = TestStore::new();
    let to = TestStore::new();
    let run = from.start(&["--experiment", "hist", "--name", "going"]);
    let log = |value: &str, step: &str, ts: &str| {
        from.ok(&[
            "log",
            "metric",
            "--run",
            &run,
            "loss",
            value,
            "--step",
            step,
            "--timestamp",
            ts,
        ]);
    };
    for (value, step, ts) in [
        ("0.9", "0", "1000"),
        ("0.7", "1", "1000"),
        ("0.8", "1", "1000"),
        ("nan", "2", "1001"),
        ("0.5", "3", "999"),
    ] {
        log(value, step, ts);
    }
    let sync = || -> serde_json::Value {
        let out = from
            .mlx()
            .args(["sync", "--to", &to.uri, "-e", "hist", "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = sync();
    assert_eq!(
        (&first["runs_copied"], &first["metric_points"]),
        (&serde_json::json!(1), &serde_json::json!(5)),
        "{first}"
    );
    // The copy keeps the source's run id in a fresh store.
    let want = metric_lines(&from, &run, "loss");
    assert_eq!(want.len(), 5, "{want:?}");
    assert_eq!(metric_lines(&to, &run, "loss"), want);
    let shown = to.json(&["runs", "show", &run]);
    assert_eq!(shown["metrics"]["loss"]["points"], 5, "{shown}");
    assert_eq!(shown["metrics"]["loss"]["latest"], 0.5, "{shown}");

    // The run goes on: the next sync brings the two new points, no point twice.
    log("0.4", "4", "1002");
    log("0.3", "4", "1002");
    let second = sync();
    assert_eq!(
        (&second["runs_updated"], &second["metric_points"]),
        (&serde_json::json!(1), &serde_json::json!(2)),
        "{second}"
    );
    let want = metric_lines(&from, &run, "loss");
    assert_eq!(want.len(), 7);
    assert_eq!(metric_lines(&to, &run, "loss"), want);
    assert_eq!(sync()["metric_points"], 0);
}

/// The served version of `server` (the `x-mlx-model-version` header of one prediction).
fn served_version(server: &Server) -> String {
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    let (status, headers, body) = server.post_json("/invocations", row, &[]);
    assert_eq!(status, 200, "{body}");
    crate::serve::header(&headers, "x-mlx-model-version")
        .unwrap_or_default()
        .to_string()
}

/// Wait (a generous deadline, then fail) until `server` serves `want`.
fn follows(server: &Server, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = served_version(server);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still serving {got}, never {want}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Alias and `latest` following, on a folder store: two replicas by alias and one by `latest` follow a
/// version registered and aliases moved by other processes, each to the version the store says.
#[test]
fn replicas_on_a_folder_store_follow_latest_and_aliases_moved_elsewhere() {
    let s = TestStore::new();
    let runs = crate::serve::registered(&s);
    let latest = Server::start(&s, &["--model", "models:/titanic/latest"]);
    let replicas = [
        Server::start(&s, &["--model", "models:/titanic@Champion"]),
        Server::start(&s, &["--model", "models:/titanic@Champion"]),
    ];
    assert_eq!(served_version(&latest), "titanic/2");
    for r in &replicas {
        assert_eq!(served_version(r), "titanic/1");
    }
    // A third version, registered by another process: `latest` moves to it, the alias does not.
    s.ok(&[
        "register",
        &format!("runs:/{}/model", runs[0]),
        "--name",
        "titanic",
    ]);
    follows(&latest, "titanic/3");
    s.ok(&["alias", "set", "Champion", "2"]);
    for r in &replicas {
        follows(r, "titanic/2");
    }
    assert_eq!(served_version(&latest), "titanic/3");
    s.ok(&["alias", "set", "Champion", "3"]);
    for r in &replicas {
        follows(r, "titanic/3");
    }
}

/// A real `mlflow server` over a folder store (MLflow's own file backend), on a free loopback port; its
/// process group is ended on drop. Only Python and the folder: no database.
struct FolderServer {
    child: std::process::Child,
    uri: String,
}

impl FolderServer {
    fn start(root: &std::path::Path) -> FolderServer {
        use std::os::unix::process::CommandExt;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = root.with_extension("log");
        let child = std::process::Command::new(crate::common::python())
            .args(["-m", "mlflow", "server", "--backend-store-uri"])
            .arg(root)
            .arg("--artifacts-destination")
            .arg(root.with_extension("artifacts"))
            .args(["--host", "127.0.0.1", "--workers", "1", "--port"])
            .arg(port.to_string())
            .env("MLFLOW_ALLOW_FILE_STORE", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = FolderServer {
            child,
            uri: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut c| {
                use std::io::Read;
                let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let req = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                let mut answer = String::new();
                c.write_all(req.as_bytes()).is_ok()
                    && c.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
            });
            if up {
                return server;
            }
            let ended = server.child.try_wait().unwrap();
            assert!(
                ended.is_none() && std::time::Instant::now() < deadline,
                "mlflow server did not come up ({ended:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

impl Drop for FolderServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        let _ = self.child.wait();
    }
}

/// Server paging without the team's server: MLflow's own server over a folder store MLflow wrote (130 runs,
/// so `runs list` reads a page of 100 and then the rest; pairs of runs share a start time; ±infinity and
/// ±f64::MAX at both ends of the loss order, the low ones on the last page). Every listing through the
/// server, streamed page by page, equals the same listing of the folder itself.
#[test]
fn listings_paged_through_an_mlflow_server_over_a_folder_equal_the_folders_own() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let script = "import sys, math\n\
        from mlflow.store.tracking.file_store import FileStore\n\
        from mlflow.entities import Metric, Param\n\
        s = FileStore(sys.argv[1]); e = s.create_experiment('paged')\n\
        big = sys.float_info.max\n\
        ends = {0: math.inf, 1: big, 128: -big, 129: -math.inf}\n\
        for i in range(130):\n\
        \x20   r = s.create_run(e, 'u', 1700000000000 + i // 2, [], f'r{i}').info.run_id\n\
        \x20   s.log_metric(r, Metric('loss', ends.get(i, (i * 37 % 101) / 7.0), 5, 0))\n\
        \x20   s.log_param(r, Param('g', 'abc'[i % 3]))\n";
    let out = std::process::Command::new(crate::common::python())
        .args(["-c", script])
        .arg(&root)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = FolderServer::start(&root);
    let folder = TestStore {
        dir,
        uri: root.display().to_string(),
    };
    let through = TestStore {
        dir: tempfile::tempdir().unwrap(),
        uri: server.uri.clone(),
    };
    let queries: &[&[&str]] = &[
        &[],
        &["--order-by", "metrics.loss DESC"],
        &["--order-by", "metrics.loss"],
        &["--order-by", "params.g", "--order-by", "metrics.loss DESC"],
        // The OR stays on the client: pages of 20, 40, ... until 40 runs pass.
        &[
            "--filter",
            "params.g = 'a' OR params.g = 'c'",
            "--order-by",
            "metrics.loss DESC",
            "--max",
            "40",
        ],
        &[
            "--filter",
            "params.g = 'a' OR params.g = 'c'",
            "--order-by",
            "metrics.loss DESC",
        ],
    ];
    for extra in queries {
        let mut args = vec!["runs", "list", "-e", "paged", "-o", "json"];
        args.extend_from_slice(extra);
        let want = ids(&folder.json(&args));
        let got = ids(&through.json(&args));
        assert!(want.len() >= 40, "{extra:?}: {}", want.len());
        // The count first: a short answer says so in one line.
        assert_eq!(got.len(), want.len(), "{extra:?}");
        assert_eq!(got, want, "{extra:?}");
    }
}
