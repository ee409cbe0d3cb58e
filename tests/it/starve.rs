//! Issue 30, point 2 (and point 3's last bullet): one request must not freeze or starve `mlx serve` or
//! `mlx ui`. Too many columns are a 400 naming the cap; SIGTERM ends the server while a huge request is
//! being parsed; a body that does not arrive in time is a 408 and its connection closed, on the admin
//! endpoints too; trickled chunked bodies hold only what they sent of the in-flight budget, and /ping keeps
//! answering; a server following an alias to a model it cannot load keeps the old one and says so once.
//! Every wait has a generous bound so that a regression fails instead of hanging.

use crate::common::{TestStore, unique};
use crate::serve::{Server, header};
use crate::train::train;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A model registered under a unique name, version 1 at Champion; returns the name.
fn champion(s: &TestStore) -> String {
    let name = unique("starve");
    train(s, &["--experiment", &unique("starve"), "--register", &name]);
    s.ok(&["alias", "set", "--model", &name, "Champion", "1"]);
    name
}

/// One record with `n` keys `k0`, `k1`, ...
fn wide_record(n: usize) -> String {
    let mut out = String::with_capacity(n * 12);
    out.push('{');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"k{i}\":1"));
    }
    out.push('}');
    out
}

/// Open a connection with a read timeout that makes a hang fail the test.
fn connect(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c
}

/// Everything the server sends until it closes the connection (a read timeout fails the test).
fn read_until_closed(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    match c.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "the server kept the connection open: {e} (got {:?})",
            String::from_utf8_lossy(&out)
        ),
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait for a process to end, at most `bound` (then kill it and fail).
fn wait_for_exit(child: &mut Child, bound: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running {bound:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn too_many_columns_is_a_400_naming_the_cap() {
    let s = TestStore::new();
    let name = champion(&s);
    let server = Server::start(&s, &["--model", &format!("models:/{name}/1")]);
    let over = wide_record(10_001);
    let (status, _, body) = server.post_json(
        "/invocations",
        &format!("{{\"dataframe_records\":[{over}]}}"),
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        "{\"error_code\": \"BAD_REQUEST\", \"message\": \"Invalid input. The request has more than 10000 \
         columns, the most a request may have.\", \"sqlstate\": \"KAM00\", \"error_class\": \
         \"INVALID_PARAMETER_VALUE\"}"
    );
    let (status, _, body) = server.post_json("/predict", &format!("[{over}]"), &[]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        "{\"error\": \"Invalid input. The request has more than 10000 columns, the most a request may have.\"}"
    );
    // A request within the cap is answered as before.
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    assert_eq!(server.post_json("/invocations", row, &[]).0, 200);
}

/// A body of a million keys (14 MB) once froze the server for over ten minutes, /ping and SIGTERM
/// included. Now /ping answers while it is parsed, the request gets its 400, and SIGTERM ends the server.
#[test]
fn sigterm_ends_the_server_while_a_huge_request_is_parsing() {
    let s = TestStore::new();
    let name = champion(&s);
    let mut cmd = s.mlx_std();
    cmd.args([
        "serve",
        "--port",
        "0",
        "--model",
        &format!("models:/{name}/1"),
        "--workers",
        "1",
    ]);
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed if the test fails before the server ends (a frozen server must not outlive the test).
    let mut child = KillOnDrop(child);
    let child = &mut child.0;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(addr) = line.strip_prefix("mlx serve: listening on http://") {
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let body = format!("[{}]", wide_record(1_000_000));
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let huge = std::thread::spawn(move || {
        let mut c = connect(port);
        let head = format!(
            "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(body.as_bytes()).unwrap();
        sent_tx.send(()).unwrap();
        read_until_closed(&mut c)
    });
    sent_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    // On its one worker thread, the server still answers /ping while the body is parsed.
    let mut ping = connect(port);
    ping.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_until_closed(&mut ping).starts_with("HTTP/1.1 200"));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = wait_for_exit(child, Duration::from_secs(90), "mlx serve");
    assert!(status.success(), "{status:?}");
    let answer = huge.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("more than 10000 columns"),
        "{}",
        &answer[..answer.len().min(300)]
    );
}

/// `--timeout` holds for parsing too: an 8 MB body of 4,000 records (few enough rows to be predicted in
/// place) cannot be parsed in a millisecond on any machine, so it is a 504, and the server goes on.
#[test]
fn a_big_body_is_parsed_within_the_request_timeout() {
    let s = TestStore::new();
    let name = champion(&s);
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("models:/{name}/1"),
            "--timeout",
            "0.001",
        ],
    );
    let pad = " ".repeat(2_000);
    let record = format!(r#"{{"Pclass":3,{pad}"Sex":"male",{pad}"Age":22.0,{pad}"Fare":7.25}}"#);
    let body = format!("[{}]", vec![record; 4_000].join(","));
    assert!(body.len() > 8_000_000);
    let (status, _, answer) = server.post_json("/predict", &body, &[]);
    let brief = &answer[..answer.len().min(200)];
    assert_eq!(
        (status, brief),
        (504, "Request processing time exceeded limit")
    );
    let row = r#"[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]"#;
    assert_eq!(server.post_json("/predict", row, &[]).0, 200);
}

/// Send a request head and the first bytes of its body, then nothing more.
fn start_slow(port: u16, path: &str, head: &str, first: &[u8]) -> TcpStream {
    let mut c = connect(port);
    let request = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n");
    c.write_all(request.as_bytes()).unwrap();
    c.write_all(first).unwrap();
    c
}

const CHUNKED: &str = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n";
const SHORT: &str = "Content-Type: application/json\r\nContent-Length: 100\r\n";

/// Every body has a read deadline (`--body-timeout`, short here): a slow body gets 408 and its connection
/// is closed, on /invocations, /predict and the admin /update_model and /rollback of `mlx serve`, and the
/// alias admin of `mlx ui`; /ping answers while they are held.
#[test]
fn a_slow_body_gets_408_and_its_connection_closed() {
    let s = TestStore::new();
    let name = champion(&s);
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("models:/{name}/1"),
            "--allow-unauthenticated-admin",
            "--body-timeout",
            "1",
        ],
    );
    let held: Vec<TcpStream> = [
        ("/invocations", CHUNKED, &b"1\r\n{\r\n"[..]),
        ("/predict", SHORT, b"[{"),
        ("/update_model", SHORT, b"{"),
        ("/rollback", CHUNKED, b"1\r\n{\r\n"),
    ]
    .into_iter()
    .map(|(path, head, first)| start_slow(server.port, path, head, first))
    .collect();
    assert_eq!(server.request("GET", "/ping", &[], b"").0, 200);
    for (mut c, path) in
        held.into_iter()
            .zip(["/invocations", "/predict", "/update_model", "/rollback"])
    {
        let answer = read_until_closed(&mut c);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("connection: close"), "{path}: {answer}");
        assert!(
            answer.ends_with(
                "the request body did not arrive within --body-timeout (1 s), plus a second per 256 KiB received"
            ),
            "{path}: {answer}"
        );
    }
    let ui = crate::ui::start_ui(
        &s,
        &["--allow-unauthenticated-admin", "--body-timeout", "1"],
    );
    let mut slow = start_slow(ui.port, &format!("/admin/models/{name}/alias"), SHORT, b"{");
    assert_eq!(ui.request("GET", "/api/experiments", &[], b"").0, 200);
    let answer = read_until_closed(&mut slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "ui: {answer}");
}

/// Trickled chunked bodies hold the in-flight budget only for what they sent: four of them no longer take
/// a 4 MiB budget of 1 MiB bodies, so the next request is answered, and /ping answers throughout.
#[test]
fn trickled_chunked_bodies_do_not_take_the_in_flight_budget() {
    let s = TestStore::new();
    let name = champion(&s);
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("models:/{name}/1"),
            "--max-body-mb",
            "1",
            "--max-inflight-mb",
            "4",
            // Long enough that the trickles are still held while the next requests are made.
            "--body-timeout",
            "120",
        ],
    );
    let held: Vec<TcpStream> = (0..6)
        .map(|_| start_slow(server.port, "/invocations", CHUNKED, b"1\r\n{\r\n"))
        .collect();
    assert_eq!(server.request("GET", "/ping", &[], b"").0, 200);
    assert_eq!(server.request("GET", "/health", &[], b"").0, 200);
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    let (status, _, body) = server.post_json("/invocations", row, &[]);
    assert_eq!(status, 200, "{body}");
    drop(held);
}

/// Slow clients holding every connection do not silence the health checks: a few connections past
/// --max-connections may ask /ping and /health (anything else is 503), each closed after its answer.
#[test]
fn health_checks_answer_while_slow_clients_hold_every_connection() {
    let s = TestStore::new();
    let name = champion(&s);
    let server = Server::start(
        &s,
        &[
            "--model",
            &format!("models:/{name}/1"),
            "--max-connections",
            "4",
            "--body-timeout",
            "120",
        ],
    );
    let held: Vec<TcpStream> = (0..4)
        .map(|_| start_slow(server.port, "/invocations", SHORT, b"{"))
        .collect();
    for _ in 0..3 {
        for path in ["/ping", "/health"] {
            let (status, headers, _) = server.request("GET", path, &[], b"");
            assert_eq!(status, 200, "{path}");
            assert_eq!(header(&headers, "connection"), Some("close"), "{path}");
        }
    }
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    let (status, _, body) = server.post_json("/invocations", row, &[]);
    assert_eq!(
        (status, body.as_str()),
        (503, "{\"error\":\"too many connections; try again later\"}")
    );
    drop(held);
}

/// A running `mlx serve` whose stderr lines are kept.
struct Logged {
    server: Server,
    lines: Arc<Mutex<Vec<String>>>,
}

fn start_logged(s: &TestStore, args: &[&str]) -> Logged {
    let mut cmd = s.mlx_std();
    cmd.args(["serve", "--port", "0", "--poll-ms", "50"])
        .args(args);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("mlx serve: listening on http://") {
                let _ = port_tx.send(addr.rsplit(':').next().unwrap().parse::<u16>().unwrap());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let port = port_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    Logged {
        server: Server::from_child(child, port),
        lines,
    }
}

/// Every `model.json` under the store.
fn model_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().map_while(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n == "model.json") {
                out.push(p);
            }
        }
    }
    out
}

/// Issue 30, point 3: an alias moved to a version that cannot be loaded leaves the old model served, and
/// the server says so in one line, not one per poll. The challenger's alias, moved twice and followed each
/// time, proves the follower polled again after the bad version.
#[test]
fn an_alias_moved_to_a_bad_model_keeps_the_old_one_and_is_reported_once() {
    let s = TestStore::new();
    let name = champion(&s);
    let exp = unique("starve");
    let before = model_files(s.dir.path());
    train(&s, &["--experiment", &exp, "--register", &name]);
    let bad: Vec<_> = model_files(s.dir.path())
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(!bad.is_empty(), "version 2 has a model.json");
    for p in &bad {
        std::fs::write(p, "{not a model").unwrap();
    }
    train(&s, &["--experiment", &exp, "--register", &name]);
    s.ok(&["alias", "set", "--model", &name, "Challenger", "3"]);
    let champion_uri = format!("models:/{name}@Champion");
    let logged = start_logged(
        &s,
        &[
            "--model",
            &champion_uri,
            "--challenger",
            &format!("models:/{name}@Challenger"),
            "--split",
            "0",
        ],
    );
    let server = &logged.server;
    let bad_lines = || -> Vec<String> {
        logged
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("cannot be loaded"))
            .cloned()
            .collect()
    };
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    s.ok(&["alias", "set", "--model", &name, "Champion", "2"]);
    wait_for("the bad version to be reported", &|| {
        !bad_lines().is_empty()
    });
    let challenger_version = || {
        let (_, _, body) = server.request("GET", "/model", &[], b"");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["challenger"]["version"].as_u64()
    };
    for to in [1, 3] {
        s.ok(&[
            "alias",
            "set",
            "--model",
            &name,
            "Challenger",
            &to.to_string(),
        ]);
        wait_for("the challenger to follow its alias", &|| {
            challenger_version() == Some(to)
        });
    }
    let lines = bad_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let expected = format!(
        "mlx serve: {champion_uri} moved to v2 but it cannot be loaded; still serving {name}/1: "
    );
    assert!(lines[0].starts_with(&expected), "{}", lines[0]);
    let row = r#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    let (status, headers, body) = server.post_json("/invocations", row, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-mlx-model-version"),
        Some(format!("{name}/1").as_str())
    );
}
