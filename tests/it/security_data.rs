//! Issue 13, the store half: credentials never written down, bounded model-URI resolution, artifact reads
//! that stay in the store, bounded field sizes, umask-respecting file modes, unreadable metadata, typed
//! JSON values. Each test reproduces a point of the review and checks the fix.

use crate::common::{TestStore, python, server_uri, unique};
use crate::train::titanic;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const PASSWORD: &str = "Sw0rdf1shPW";

/// `http://host:port` → `http://mlxuser:PASSWORD@host:port` (the test server has no auth, so it ignores
/// the credentials; what matters is where they end up).
fn with_password(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").expect("a URL");
    format!("{scheme}://mlxuser:{PASSWORD}@{rest}")
}

/// Assert a finished command succeeded, showing its stderr if not.
fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_no_password(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} contains the password: {text}"
    );
}

fn grep_tree(dir: &std::path::Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            grep_tree(&p);
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert_no_password(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
}

/// Point 5: a tracking URI with `user:pass@` — the recorded `mlx.command`, the tracking server's copy of
/// every tag and param, a file store synced from it, stdout, stderr, `mlx config`, `mlx ui`'s start line
/// and a "cannot reach" error never carry the password.
#[test]
fn credentials_in_the_tracking_uri_are_never_written_down() {
    let server = server_uri();
    let secret_uri = with_password(&server);
    let mut s = TestStore::on_server();
    s.uri = secret_uri.clone();
    let exp = unique("sec-cred");
    let data = titanic();
    let out = s
        .mlx()
        .args(["train", "--data", data.to_str().unwrap()])
        .args(["--features", "Pclass,Fare", "--target", "Survived"])
        .args(["--experiment", &exp, "--output", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "train failed: {stderr}");
    assert_no_password("train stdout", &stdout);
    assert_no_password("train stderr", &stderr);
    let run_id = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    // What every user of the server reads back, through MLflow's own client.
    let script = r#"
import json, sys, mlflow
c = mlflow.MlflowClient(sys.argv[1])
r = c.get_run(sys.argv[2])
print(json.dumps({"tags": r.data.tags, "params": r.data.params, "info": dict(r.info)}, default=str))
"#;
    let py = std::process::Command::new(python())
        .args(["-c", script, &server, &run_id])
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let recorded = String::from_utf8_lossy(&py.stdout).into_owned();
    assert!(recorded.contains("mlx.command"), "{recorded}");
    assert!(
        recorded.contains("***@"),
        "the URI is recorded redacted: {recorded}"
    );
    assert_no_password("the run on the tracking server", &recorded);

    // A file store synced from the server (with the password in --from) holds no copy either.
    let local = TestStore::new();
    let out = local
        .mlx()
        .args([
            "sync",
            "--from",
            &secret_uri,
            "--to",
            &local.uri,
            "-e",
            &exp,
        ])
        .output()
        .unwrap();
    succeeded(&out);
    assert_no_password("sync stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_password("sync stderr", &String::from_utf8_lossy(&out.stderr));
    grep_tree(&local.root());

    // A command run in a run is recorded (mlflow.source.name) without the credentials in its arguments.
    let out = local
        .mlx()
        .args(["log", "exec", "--experiment", "cmd", "--", "true"])
        .arg(with_password("http://example.invalid/x"))
        .output()
        .unwrap();
    succeeded(&out);
    assert_no_password("log exec stderr", &String::from_utf8_lossy(&out.stderr));
    let source_tags: Vec<String> = local
        .files()
        .into_iter()
        .filter(|f| f.ends_with("mlflow.source.name"))
        .collect();
    assert!(
        source_tags
            .iter()
            .any(|f| std::fs::read_to_string(local.root().join(f))
                .unwrap()
                .contains("true http://***@example.invalid/x")),
        "{source_tags:?}"
    );
    grep_tree(&local.root());

    // Printing the settings.
    let cfg = s.ok(&["config", "show"]);
    assert!(cfg.contains("***@"), "{cfg}");
    assert_no_password("mlx config show", &cfg);

    // mlx ui's start lines.
    let mut ui = s
        .mlx_std()
        .args(["ui", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(ui.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    ui.kill().unwrap();
    ui.wait().unwrap();
    assert!(seen.contains("store http://***@"), "{seen}");
    assert_no_password("mlx ui start lines", &seen);

    // A server that is not there: the error names it without the password.
    let mut gone = TestStore::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    gone.uri = with_password(&format!("http://127.0.0.1:{port}"));
    let out = gone
        .mlx()
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .args(["experiments", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert_no_password("the cannot-reach error", &err);
}

/// Point 6: a model version whose source is itself, or a cycle of two, gives a clear error (not a stack
/// overflow) in `models show`, `predict` and `serve`.
#[test]
fn a_model_version_pointing_at_itself_is_a_clear_error() {
    let s = TestStore::new();
    let data = titanic();
    let data = data.to_str().unwrap();
    for name in ["selfref", "ping", "pong"] {
        let r = s.json(&[
            "train",
            "--data",
            data,
            "--features",
            "Pclass,Fare",
            "--target",
            "Survived",
        ]);
        s.ok(&["register", r["run_id"].as_str().unwrap(), "--name", name]);
    }
    let point = |name: &str, source: &str| {
        let meta = s
            .root()
            .join("models")
            .join(name)
            .join("version-1/meta.yaml");
        let text = std::fs::read_to_string(&meta).unwrap();
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("source:") {
                    format!("source: {source}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(&meta, out.join("\n") + "\n").unwrap();
    };
    point("selfref", "models:/selfref/1");
    point("ping", "models:/pong/1");
    point("pong", "models:/ping/1");
    s.ok(&["alias", "set", "champion", "1", "--model", "selfref"]);

    for uri in [
        "models:/selfref/1",
        "models:/selfref@champion",
        "models:/ping/1",
    ] {
        let err = s.fails(&["predict", "--model", uri, "--data", data]);
        assert!(err.contains("leads back to itself"), "{uri}: {err}");
        let out = s
            .mlx()
            .args(["serve", "--model", uri, "--port", "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some() && !out.status.success(),
            "serve {uri} should exit with an error, not a signal: {stderr}"
        );
        assert!(
            stderr.contains("leads back to itself"),
            "serve {uri}: {stderr}"
        );
    }
    let out = s
        .mlx()
        .args(["models", "show", "selfref"])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "models show must not die of a signal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Point 7: a symlink out of the store and a FIFO among a run's artifacts are refused by the UI's artifact
/// endpoint and by `mlx sync` (which copies artifacts); a FIFO answers an error at once instead of blocking
/// a worker; links that stay inside the store and plain files are served.
#[test]
fn artifact_reads_refuse_links_out_of_the_store_and_fifos() {
    let s = TestStore::new();
    std::fs::write(s.dir.path().join("ok.txt"), "fine").unwrap();
    let run = s.start(&["--experiment", "arts"]);
    s.ok(&["log", "artifact", "--run", &run, "ok.txt"]);
    let shown = s.json(&["runs", "show", &run]);
    let exp = shown["info"]["experiment_id"].as_str().unwrap().to_string();
    let arts = s.root().join(&exp).join(&run).join("artifacts");
    std::os::unix::fs::symlink("/etc/passwd", arts.join("passwd.txt")).unwrap();
    std::os::unix::fs::symlink(arts.join("ok.txt"), arts.join("inside.txt")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(arts.join("pipe.txt"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");

    let ui = crate::serve::Server::spawn(
        {
            let mut cmd = s.mlx_std();
            cmd.args(["ui", "--port", "0"]);
            cmd
        },
        "mlx ui: listening on http://",
    );
    let get = |path: &str| {
        let (status, _, body) = ui.request(
            "GET",
            &format!("/api/runs/{run}/artifact?path={path}"),
            &[],
            b"",
        );
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(get("ok.txt"), (200, "fine".to_string()));
    assert_eq!(get("inside.txt"), (200, "fine".to_string()));
    let (status, body) = get("passwd.txt");
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("root:"), "{body}");
    assert!(body.contains("out of the store"), "{body}");
    // The request helper waits up to 30 s; a blocked worker would never answer.
    let (status, body) = get("pipe.txt");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not a regular file"), "{body}");
    // The run page still lists and shows the run.
    let (status, _, _) = ui.request("GET", &format!("/api/runs/{run}"), &[], b"");
    assert_eq!(status, 200);

    // Copying the artifacts elsewhere refuses the link instead of copying /etc/passwd.
    let dest = TestStore::new();
    let out = s
        .mlx()
        .args(["sync", "--to", &dest.uri, "-e", "arts"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("out of the store") || err.contains("not a regular file"),
        "{err}"
    );
    assert!(
        !dest.files().iter().any(|f| f.ends_with("passwd.txt")),
        "{:?}",
        dest.files()
    );
}

/// A model trained on Pclass (long) and Fare (double) with `--na drop`, and its `runs:/` URI.
fn small_model(s: &TestStore) -> String {
    let data = titanic();
    let r = s.json(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--features",
        "Pclass,Fare",
        "--target",
        "Survived",
        "--na",
        "drop",
    ]);
    format!("runs:/{}/model", r["run_id"].as_str().unwrap())
}

/// The one error line of a failed `mlx ARGS` (any non-zero exit).
fn error_line(s: &TestStore, args: &[&str]) -> String {
    let out = s.mlx().args(args).output().unwrap();
    assert!(!out.status.success(), "mlx {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        err.lines().count(),
        1,
        "one line: {}",
        crate::common::short(&err)
    );
    err
}

/// Point 8: a header or field over 1 MiB, or a row over 16 MiB, is refused with a short error that says
/// the limit and quotes at most ~100 bytes; a server's 400 never echoes a huge value back.
#[test]
fn oversized_csv_fields_and_json_values_give_short_errors() {
    let s = TestStore::new();
    let model = small_model(&s);
    let big = "x".repeat(2 << 20);
    let cases = [
        (
            "header.csv",
            format!("Pclass,Fare,{big}\n3,7.25,1\n"),
            "1 MiB per field",
        ),
        (
            "field.csv",
            format!("Pclass,Fare\n3,{big}\n"),
            "1 MiB per field",
        ),
        (
            "row.csv",
            format!("Pclass,Fare\n3,{}\n", "y".repeat(40 << 20)),
            "longer than 16 MiB",
        ),
    ];
    for (name, text, says) in &cases {
        let path = s.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        for args in [
            vec!["predict", "--model", &model, "--data", path],
            vec!["train", "--data", path, "--target", "Fare"],
        ] {
            let err = error_line(&s, &args);
            assert!(
                err.contains(says),
                "{name} {args:?}: {}",
                crate::common::short(&err)
            );
            assert!(err.contains(name), "names the file: {err}");
            assert!(err.len() < 600, "{name}: a {}-byte error", err.len());
        }
    }

    // The scoring server: a 5 MB string where a number belongs, a 5 MB column name.
    let server = crate::serve::Server::start(&s, &["--model", &model]);
    let huge = "z".repeat(5 << 20);
    for body in [
        format!(r#"{{"dataframe_split":{{"columns":["Pclass","Fare"],"data":[[3,"{huge}"]]}}}}"#),
        format!(r#"{{"dataframe_records":[{{"Pclass":3,"{huge}":1}}]}}"#),
        format!(r#"{{"inputs":{{"Pclass":[3],"Fare":[["{huge}"]]}}}}"#),
    ] {
        let (status, _, answer) = server.post_json("/invocations", &body, &[]);
        assert_eq!(status, 400, "{}", crate::common::short(&answer));
        assert!(answer.len() < 2000, "a {}-byte answer", answer.len());
    }
}

/// Point 12 (values): JSON strings "NaN"/"null" are missing values exactly as in a CSV body or file,
/// "inf" is refused on every path, and a long column refuses 1.5 and 2^70.
#[test]
fn json_strings_and_integer_columns_are_typed_like_csv() {
    let s = TestStore::new();
    let model = small_model(&s);
    let server = crate::serve::Server::start(&s, &["--model", &model]);
    let post = |body: &str| {
        let (status, _, answer) = server.post_json("/invocations", body, &[]);
        (status, answer)
    };
    let split = |fare: &str| {
        format!(
            r#"{{"dataframe_split":{{"columns":["Pclass","Fare"],"data":[[3,{fare}],[1,80.0]]}}}}"#
        )
    };
    let records = |fare: &str| {
        format!(
            r#"{{"dataframe_records":[{{"Pclass":3,"Fare":{fare}}},{{"Pclass":1,"Fare":80.0}}]}}"#
        )
    };
    let csv_body = |fare: &str| {
        let (status, _, b) = server.request(
            "POST",
            "/invocations",
            &[("Content-Type", "text/csv")],
            format!("Pclass,Fare\n3,{fare}\n1,80.0\n").as_bytes(),
        );
        (status, String::from_utf8(b).unwrap())
    };
    let missing = post(&split("null"));
    let csv_missing = csv_body("");
    assert_eq!(missing.0, csv_missing.0, "{missing:?} vs {csv_missing:?}");
    for na in [r#""NaN""#, r#""nan""#, r#""""#, r#""null""#] {
        assert_eq!(post(&split(na)), missing, "split {na}");
        assert_eq!(post(&records(na)), missing, "records {na}");
    }
    for inf in [r#""inf""#, r#""-Infinity""#] {
        let (status, answer) = post(&split(inf));
        assert_eq!(status, 400, "{inf}: {answer}");
        assert!(answer.contains("Fare"), "{answer}");
        assert_eq!(post(&records(inf)).0, 400, "{inf}");
    }
    assert_eq!(csv_body("inf").0, 400);
    let predict_file = |text: &str| {
        let file = s.dir.path().join("rows.csv");
        std::fs::write(&file, text).unwrap();
        error_line(
            &s,
            &[
                "predict",
                "--model",
                &model,
                "--data",
                file.to_str().unwrap(),
            ],
        )
    };
    let err = predict_file("Pclass,Fare\n3,inf\n");
    assert!(err.contains("not a number"), "{err}");

    for pclass in ["1.5", "1180591620717411303424", r#""2.5""#] {
        let body = format!(
            r#"{{"dataframe_split":{{"columns":["Pclass","Fare"],"data":[[{pclass},7.25]]}}}}"#
        );
        let (status, answer) = post(&body);
        assert_eq!(status, 400, "Pclass {pclass}: {answer}");
        assert!(answer.contains("Pclass"), "{answer}");
        assert!(
            answer.contains("not a whole number") || answer.contains("out of range"),
            "{answer}"
        );
    }
    assert_eq!(post(&split("7.25")).0, 200);
    let err = predict_file("Pclass,Fare\n1.5,7.25\n");
    assert!(err.contains("not a whole number"), "{err}");
}

/// Every file and folder under `root` with its permission bits, those that differ from `file`/`dir`.
fn wrong_modes(root: &std::path::Path, file: u32, dir: u32) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut wrong = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let md = e.metadata().unwrap();
            let mode = md.permissions().mode() & 0o777;
            let want = if md.is_dir() { dir } else { file };
            if mode != want {
                wrong.push(format!("{:o} {}", mode, e.path().display()));
            }
            if md.is_dir() {
                stack.push(e.path());
            }
        }
    }
    wrong
}

/// Point 9: files mlx creates get the umask's mode (0644 under umask 022, 0664 under 002), like MLflow's,
/// not tempfile's private 0600 — other users of a shared store can read them.
#[test]
fn store_files_get_the_umasks_mode() {
    for (umask, file, dir) in [("022", 0o644, 0o755), ("002", 0o664, 0o775)] {
        let s = TestStore::new();
        let data = titanic();
        let script = format!(
            "umask {umask}; \"$0\" \"$@\" >/dev/null || exit 1; \
             run=$(\"$0\" --tracking-uri \"$2\" log start --experiment modes) || exit 1; \
             \"$0\" --tracking-uri \"$2\" log param --run \"$run\" k v && \
             \"$0\" --tracking-uri \"$2\" log metric --run \"$run\" m 1 && \
             \"$0\" --tracking-uri \"$2\" log end --run \"$run\""
        );
        let out = std::process::Command::new("sh")
            .current_dir(s.dir.path())
            .env("MLX_CONFIG", s.dir.path().join("no-config.toml"))
            .env_remove("MLFLOW_TRACKING_URI")
            .env_remove("MLX_TRACKING_URI")
            .args(["-c", &script])
            .arg(assert_cmd::cargo::cargo_bin("mlx"))
            .args(["--tracking-uri", &s.uri, "train", "--data"])
            .arg(&data)
            .args(["--features", "Pclass,Fare", "--target", "Survived"])
            .args(["--register", "modes-model"])
            .output()
            .unwrap();
        succeeded(&out);
        assert!(
            s.files().iter().any(|f| f.ends_with("meta.yaml")),
            "{:?}",
            s.files()
        );
        let wrong = wrong_modes(&s.root(), file, dir);
        assert!(wrong.is_empty(), "umask {umask}: {wrong:#?}");
    }
}

/// Point 10: an experiment whose `meta.yaml` cannot be read stops a lookup by name with an error naming
/// the file, instead of `log start --experiment Default` creating a second "Default".
#[test]
fn an_unreadable_experiment_meta_stops_lookups_by_name() {
    for breakage in ["garbage", "a folder"] {
        let s = TestStore::new();
        s.start(&["--experiment", "Default"]);
        s.start(&["--experiment", "other"]);
        let meta = s.root().join("0/meta.yaml");
        assert!(meta.is_file(), "{:?}", s.files());
        std::fs::remove_file(&meta).unwrap();
        if breakage == "garbage" {
            std::fs::write(&meta, "name: [unclosed\n\t: :").unwrap();
        } else {
            std::fs::create_dir(&meta).unwrap();
        }
        let before = s.files();
        for args in [
            &["log", "start", "--experiment", "Default"][..],
            &["experiments", "create", "Default"][..],
        ] {
            let err = s.fails(args);
            assert!(err.contains("0/meta.yaml"), "{breakage}: {args:?}: {err}");
            assert!(err.contains("'Default'"), "{err}");
        }
        assert_eq!(s.files(), before, "{breakage}: nothing was created");
        // A readable experiment is still found by name.
        s.start(&["--experiment", "other"]);
    }
}

/// A stand-in tracking server (Python's http.server): every GET/POST answers `body` as JSON; with
/// `cert`/`key` it speaks TLS. Killed on drop.
struct Stub {
    child: std::process::Child,
    port: u16,
}

impl Stub {
    fn start(body: &str, tls: Option<(&std::path::Path, &std::path::Path)>) -> Stub {
        let script = r#"
import http.server, ssl, sys
body = sys.argv[1].encode()
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
        let mut cmd = std::process::Command::new(python());
        cmd.args(["-c", script, body]);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the stub printed its port");
        Stub { child, port }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mlx --tracking-uri URI ARGS` in a fresh folder: (success, stderr).
fn against(uri: &str, envs: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = crate::common::mlx_bare(dir.path());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("--tracking-uri")
        .arg(uri)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Point 12 (REST): a wrongly typed field in a server's answer is an error naming the field, not an
/// empty string that fails later as `run '' does not exist`.
#[test]
fn wrongly_typed_server_answers_name_the_field() {
    let stub = Stub::start(
        r#"{"run": {"info": {"run_id": 12, "experiment_id": "0"}, "data": {}}}"#,
        None,
    );
    let (ok, err) = against(
        &format!("http://127.0.0.1:{}", stub.port),
        &[],
        &["runs", "show", "0123456789abcdef0123456789abcdef"],
    );
    assert!(!ok, "{err}");
    assert!(err.contains("'run.info.run_id'"), "{err}");
    assert!(err.contains("expected a string"), "{err}");
    assert!(!err.contains("run ''"), "{err}");
}

/// Point 12 (retries): a server that accepts connections and never answers is given up on within the
/// default budget (30 s; well under a minute), and the error says how long it waited.
#[test]
fn a_hung_server_is_given_up_on_with_the_total_wait() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Hold every connection open, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let start = std::time::Instant::now();
    let (ok, err) = against(
        &format!("http://127.0.0.1:{port}"),
        &[],
        &["experiments", "list"],
    );
    let took = start.elapsed();
    assert!(!ok, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains("gave up after 2 attempts over 3"), "{err}");
    assert!(err.contains("MLX_HTTP_TOTAL_TIMEOUT"), "{err}");
    // The defaults: two 15 s waits for an answer and a 0.5 s backoff, then no retry past 30 s.
    assert!(took < std::time::Duration::from_secs(60), "{took:?}: {err}");
}

/// Point 12 (TLS): `--ca-cert` and `MLFLOW_TRACKING_SERVER_CERT_PATH` make mlx trust a private CA, as
/// MLflow's client does; without it the self-signed server is refused; a bad path is a clear error.
#[test]
fn a_private_ca_is_trusted_with_ca_cert_or_mlflows_variable() {
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &str| {
        let made = std::process::Command::new("openssl")
            .args(args.split(' '))
            .current_dir(dir.path())
            .output()
            .expect("openssl (installed by .ci/run)");
        assert!(
            made.status.success(),
            "openssl {args}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    };
    // A private CA, and a server certificate for 127.0.0.1 that it signed.
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mlx-test-ca -keyout ca.key -out ca.pem",
    );
    openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out server.csr");
    std::fs::write(dir.path().join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out cert.pem",
    );
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let stub = Stub::start(
        r#"{"experiments": [{"experiment_id": "0", "name": "Default", "artifact_location": "mlflow-artifacts:/0", "lifecycle_stage": "active"}]}"#,
        Some((&cert, &key)),
    );
    let uri = format!("https://127.0.0.1:{}", stub.port);
    let ca = dir.path().join("ca.pem");
    let cert = ca.to_str().unwrap();
    let no_retry = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0");

    let (ok, err) = against(&uri, &[no_retry], &["experiments", "list"]);
    assert!(!ok, "a self-signed server is refused by default: {err}");
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"),
        "{err}"
    );

    let (ok, err) = against(
        &uri,
        &[no_retry],
        &["--ca-cert", cert, "experiments", "list"],
    );
    assert!(ok, "--ca-cert: {err}");
    let (ok, err) = against(
        &uri,
        &[no_retry, ("MLFLOW_TRACKING_SERVER_CERT_PATH", cert)],
        &["experiments", "list"],
    );
    assert!(ok, "MLFLOW_TRACKING_SERVER_CERT_PATH: {err}");

    let missing = dir.path().join("nope.pem");
    let (ok, err) = against(
        &uri,
        &[(
            "MLFLOW_TRACKING_SERVER_CERT_PATH",
            missing.to_str().unwrap(),
        )],
        &["experiments", "list"],
    );
    assert!(!ok);
    assert!(
        err.contains("nope.pem") && err.contains("CA certificate"),
        "{err}"
    );
    let (ok, err) = against(
        &uri,
        &[],
        &[
            "--ca-cert",
            dir.path().join("key.pem").to_str().unwrap(),
            "experiments",
            "list",
        ],
    );
    assert!(!ok);
    assert!(err.contains("no PEM certificate"), "{err}");
}
