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

/// `mlx serve` of version 1 of `name`, with `extra` flags.
fn serve_v1(s: &TestStore, name: &str, extra: &[&str]) -> Server {
    let model = format!("models:/{name}/1");
    let mut args = vec!["--model", model.as_str()];
    args.extend_from_slice(extra);
    Server::start(s, &args)
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

/// One request to `server`; returns the status and the body as text.
fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let (status, _, body) = server.request(method, path, headers, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const TEXT: (&str, &str) = ("Content-Type", "text/plain");
const JSON: (&str, &str) = ("Content-Type", "application/json");
const EVIL_HOST: (&str, &str) = ("Host", "rebind.evil.example");
const EVIL_ORIGIN: (&str, &str) = ("Origin", "https://evil.example");

/// Point 2 on `mlx serve`: admin posts need a JSON body; a foreign Host (DNS rebinding) and a foreign Origin
/// (CSRF) are refused even with --allow-unauthenticated-admin; --allowed-hosts admits a name.
#[test]
fn serve_refuses_forms_foreign_hosts_and_origins() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let server = serve_v1(&s, &name, &["--allow-unauthenticated-admin"]);
    let p = &server;
    for path in ["/update_model", "/rollback"] {
        for ct in [FORM, TEXT] {
            let (status, body) = send(p, "POST", path, &[ct], b"a=b");
            assert_eq!(status, 415, "{path} {ct:?}: {body}");
        }
        // No body and no Content-Type (what a bare form or fetch sends) is refused too.
        let (status, body) = send(p, "POST", path, &[], b"");
        assert_eq!(status, 415, "{path}: {body}");
        let (status, body) = send(p, "POST", path, &[JSON, EVIL_HOST], b"{}");
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("--allowed-hosts"), "{body}");
        let (status, body) = send(p, "POST", path, &[JSON, EVIL_ORIGIN], b"{}");
        assert_eq!(status, 403, "{path}: {body}");
    }
    for path in ["/model", "/ping", "/metrics"] {
        assert_eq!(send(p, "GET", path, &[EVIL_HOST], b"").0, 403, "{path}");
        assert_eq!(
            send(p, "GET", path, &[("Host", "localhost:1")], b"").0,
            200,
            "{path}"
        );
    }
    let rows = br#"{"dataframe_records":[{"Pclass":3,"Sex":"male","Age":22.0,"Fare":7.25}]}"#;
    assert_eq!(
        send(p, "POST", "/invocations", &[JSON, EVIL_ORIGIN], rows).0,
        403
    );
    let own = format!("http://127.0.0.1:{}", server.port);
    let (status, body) = send(
        p,
        "POST",
        "/invocations",
        &[
            JSON,
            ("Origin", &own),
            ("Host", &format!("127.0.0.1:{}", server.port)),
        ],
        rows,
    );
    assert_eq!(status, 200, "same origin: {body}");
    // A JSON rollback goes through (to a version that does not exist: a 409 from the registry, not a refusal).
    let (status, body) = send(p, "POST", "/rollback", &[JSON], br#"{"to": 99}"#);
    assert_eq!(status, 409, "{body}");
    drop(server);

    let server = serve_v1(
        &s,
        &name,
        &["--allowed-hosts", "models.example,rebind.evil.example"],
    );
    assert_eq!(send(&server, "GET", "/ping", &[EVIL_HOST], b"").0, 200);
    assert_eq!(
        send(&server, "GET", "/ping", &[("Host", "other.example")], b"").0,
        403
    );
}

/// Issue 30, points 5 and 7: a `Host` is exactly an allowed name or address with an optional port. Names that
/// only start like one, a trailing dot, bytes after `]`, and bytes outside ASCII (which the header check once
/// skipped) are refused, on both servers.
#[test]
fn hosts_that_only_start_like_an_allowed_name_are_refused() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let server = serve_v1(&s, &name, &[]);
    let ui = crate::ui::start_ui(&s, &[]);
    let port = server.port.to_string();
    for bad in [
        "127.0.0.1.evil.example".to_string(),
        format!("127.0.0.1.evil.example:{port}"),
        "localhost.evil".into(),
        "localhost.".into(),
        format!("localhost.:{port}"),
        "[::1]evil.com".into(),
        "rebind.evil.example\u{ff}".into(),
        "localhost\u{ff}".into(),
    ] {
        let (status, body) = send(&server, "GET", "/ping", &[("Host", &bad)], b"");
        assert_eq!(status, 403, "serve, Host {bad:?}: {body}");
        assert!(body.contains("is not this server's name"), "{body}");
        let (status, _) = send(&ui, "GET", "/api/experiments", &[("Host", &bad)], b"");
        assert_eq!(status, 403, "ui, Host {bad:?}");
    }
    for good in [
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "[::1]:1".into(),
    ] {
        assert_eq!(
            send(&server, "GET", "/ping", &[("Host", &good)], b"").0,
            200,
            "{good}"
        );
    }
}

/// Point 2 on `mlx ui`: the same rules for its API and its admin posts.
#[test]
fn ui_refuses_forms_foreign_hosts_and_origins() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let ui = crate::ui::start_ui(&s, &["--allow-unauthenticated-admin"]);
    let p = &ui;
    let alias = format!("/admin/models/{name}/alias");
    let body = br#"{"alias": "Staging", "version": 1}"#;
    for ct in [FORM, TEXT] {
        let (status, answer) = send(p, "POST", &alias, &[ct], body);
        assert_eq!(status, 415, "{ct:?}: {answer}");
    }
    assert_eq!(send(p, "GET", "/api/experiments", &[EVIL_HOST], b"").0, 403);
    assert_eq!(send(p, "GET", "/", &[EVIL_HOST], b"").0, 403);
    assert_eq!(send(p, "POST", &alias, &[JSON, EVIL_HOST], body).0, 403);
    assert_eq!(send(p, "POST", &alias, &[JSON, EVIL_ORIGIN], body).0, 403);
    assert_eq!(
        send(p, "POST", &alias, &[JSON, ("Origin", "null")], body).0,
        403
    );
    assert_eq!(send(p, "GET", "/api/experiments", &[], b"").0, 200);
    let (status, answer) = send(p, "POST", &alias, &[JSON], body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(s.json(&["alias", "list", "--model", &name])["Staging"], 1);
}

/// Point 11: an empty token is refused at start by both servers (from the flag, a file or the environment);
/// --token-file works; the `Bearer` scheme is case-insensitive.
#[test]
fn tokens_empty_refused_from_file_and_any_case_scheme() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let model = format!("models:/{name}/1");
    let empty = s.dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.to_str().unwrap();
    for cmd in [
        vec!["serve", "--model", &model, "--port", "0"],
        vec!["ui", "--port", "0"],
    ] {
        for (flags, env) in [
            (vec!["--token", ""], None),
            (vec!["--token-file", empty], None),
            (vec![], Some("")),
        ] {
            let mut c = s.mlx();
            c.args(&cmd).args(&flags).timeout(Duration::from_secs(60));
            if let Some(v) = env {
                c.env("MLX_SERVE_TOKEN", v);
            }
            let out = c.output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{cmd:?} {flags:?} {env:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("is empty"), "{err}");
        }
    }
    let file = s.dir.path().join("token");
    std::fs::write(&file, "t0k-from-file\n").unwrap();
    let server = Server::start(
        &s,
        &["--model", &model, "--token-file", file.to_str().unwrap()],
    );
    let p = &server;
    let rollback = |auth: &str| {
        send(
            p,
            "POST",
            "/rollback",
            &[JSON, ("Authorization", auth)],
            br#"{"to": 99}"#,
        )
        .0
    };
    assert_eq!(rollback("Bearer t0k-from-file-"), 401);
    assert_eq!(rollback("Bearer t0k-from-fil"), 401);
    assert_eq!(rollback("Basic t0k-from-file"), 401);
    // Past the token check: the registry answers (no version 99).
    assert_eq!(rollback("Bearer t0k-from-file"), 409);
    assert_eq!(rollback("bearer t0k-from-file"), 409);
    assert_eq!(rollback("BEARER t0k-from-file"), 409);
}

/// `cmd` run through `sh` with at most `n` open files, as on a host with a low descriptor limit.
fn with_fd_limit(cmd: &std::process::Command, n: u32) -> std::process::Command {
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh
}

/// Point 4: 300 idle sockets against a server limited to 256 file descriptors and 100 connections do not
/// stop /ping; a connection that never finishes its request head, or sits idle after a response, is closed
/// after --header-timeout; a body that never finishes arriving is a 408 after --body-timeout.
#[test]
fn idle_and_slow_connections_cannot_starve_the_server() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let mut cmd = s.mlx_std();
    cmd.args([
        "serve",
        "--port",
        "0",
        "--model",
        &format!("models:/{name}/1"),
        "--max-connections",
        "100",
        "--header-timeout",
        "2",
        "--timeout",
        "1",
    ]);
    let server = Server::spawn(with_fd_limit(&cmd, 256), "mlx serve: listening on http://");
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    // The idle ones past the cap are shed at once, the rest closed after the header timeout: /ping answers
    // while all 300 are still open on this side.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answered = TcpStream::connect(("127.0.0.1", server.port))
            .ok()
            .and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                c.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .ok()?;
                let mut out = String::new();
                c.read_to_string(&mut out).ok()?;
                Some(out)
            });
        if answered.is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/ping never answered under 300 idle sockets"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed = |mut c: &TcpStream| {
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        // Whatever the server sent first (a 503), it then hangs up: the read ends instead of timing out.
        match c.read_to_end(&mut Vec::new()) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    };
    assert!(closed(&idle[0]) && closed(&idle[299]));
    drop(idle);

    // A slow header: the head never ends; the server hangs up.
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let started = Instant::now();
    assert!(closed(&slow));
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "held {:?}",
        started.elapsed()
    );

    // Idle after a response on a kept-alive connection: closed too.
    let mut kept = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    kept.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed(&kept), "an idle kept-alive connection is held");

    // A body trickled in (it would hold its share of the in-flight budget): 408 after --body-timeout.
    let mut trickle = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    trickle
        .write_all(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{")
        .unwrap();
    trickle
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut status = [0u8; 12];
    trickle.read_exact(&mut status).unwrap();
    assert_eq!(&status, b"HTTP/1.1 408");
}

/// A /proc/<pid>/status field in kB.
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// `n` MB of `/predict` records.
fn big_records(mb: usize) -> Vec<u8> {
    let row = br#"{"Pclass":3,"Sex":"male","Age":22.5,"Fare":7.25},"#;
    let mut body = Vec::with_capacity(mb * 1_000_000 + 2);
    body.push(b'[');
    while body.len() + row.len() < mb * 1_000_000 {
        body.extend_from_slice(row);
    }
    body.pop();
    body.push(b']');
    body
}

/// POST a big JSON body to /predict; the status, or 0 when the server hung up before answering.
fn post_big(port: u16, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = c
        .write_all(head.as_bytes())
        .and_then(|()| c.write_all(body));
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer[..answer.len().min(20)])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Point 3: a 60 MB /predict body keeps the server within a few times its size; two at once stay within the
/// in-flight budget (503 for what does not fit) and /ping still answers.
#[test]
fn big_predict_bodies_stay_within_a_memory_bound() {
    let s = TestStore::new();
    let (name, _) = champion(&s);
    let server = serve_v1(&s, &name, &["--max-inflight-mb", "64"]);
    let pid = server.pid();
    let body = big_records(60);
    let before = proc_kb(pid, "VmRSS:");
    // Body, parsed cells and the typed table: about 4.4 times the body when measured alone (it was 33 times:
    // 1.97 GB); allocator arenas of other threads add some when the machine is busy.
    let bound_kb = 6 * 60 * 1024;
    let within_bound = |what: &str, pid: u32, before: u64| {
        let grown = proc_kb(pid, "VmHWM:") - before;
        eprintln!("{what}: peak +{} MB", grown / 1024);
        assert!(grown < bound_kb, "{what}: peak grew by {} MB", grown / 1024);
    };
    let post_ok = |path: &str, body: &[u8]| {
        let (status, _, answer) = server.request("POST", path, &[JSON], body);
        let text = String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned();
        assert_eq!(status, 200, "{path}: {text}");
        answer
    };
    let answer = post_ok("/predict", &body);
    let rows = body.iter().filter(|&&b| b == b'{').count();
    let v: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["prediction"].as_array().unwrap().len(), rows);
    drop((v, answer));
    within_bound("one 60 MB /predict", pid, before);
    // The same rows through MLflow's protocol.
    let mut wrapped = b"{\"dataframe_records\":".to_vec();
    wrapped.extend_from_slice(&body[..body.len() - 30]);
    wrapped.truncate(wrapped.iter().rposition(|&b| b == b'}').unwrap() + 1);
    wrapped.extend_from_slice(b"]}");
    drop(post_ok("/invocations", &wrapped));
    drop(wrapped);
    within_bound("and /invocations", pid, before);

    // A fresh server for the pair, so its peak is theirs alone.
    drop(server);
    let server = serve_v1(&s, &name, &["--max-inflight-mb", "64"]);
    let pid = server.pid();
    let before = proc_kb(pid, "VmRSS:");
    let body = std::sync::Arc::new(body);
    let server = std::sync::Arc::new(server);
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let (server, body) = (server.clone(), body.clone());
            std::thread::spawn(move || post_big(server.port, &body))
        })
        .collect();
    let (ping, _, _) = server.request("GET", "/ping", &[], b"");
    assert_eq!(ping, 200);
    let statuses: Vec<u16> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    // What does not fit in the budget is a 503 (0 if the client saw only the connection end).
    assert!(
        statuses.iter().all(|s| [0, 200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    within_bound(
        &format!("two 60 MB /predict at once ({statuses:?})"),
        pid,
        before,
    );
    assert_eq!(server.request("GET", "/ping", &[], b"").0, 200);
}
