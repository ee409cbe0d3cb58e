//! `mlx ui`: the JSON API (driven over HTTP) and the page itself in headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`): it filters runs, opens a comparison and draws charts. A screenshot of each main
//! page is saved under `target/ui-screenshots/`.

use crate::common::TestStore;
use crate::serve::Server;
use crate::train::train;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn start_ui(s: &TestStore, args: &[&str]) -> Server {
    let mut cmd = s.mlx_std();
    cmd.args(["ui", "--port", "0"]).args(args);
    Server::spawn(cmd, "mlx ui: listening on http://")
}

pub fn get(server: &Server, path: &str) -> (u16, Value) {
    let (status, _, body) = server.request("GET", path, &[], b"");
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, v)
}

/// An experiment with three trained runs (two estimators, one logged by hand with a metric history)
/// and a registered model with two versions.
pub fn populated(s: &TestStore) -> (String, Vec<String>) {
    let mut runs = Vec::new();
    for model in ["logistic-regression", "decision-tree"] {
        let r = train(
            s,
            &[
                "--experiment",
                "ui",
                "--model",
                model,
                "--max-depth",
                "3",
                "--register",
                "titanic",
            ],
        );
        runs.push(r["run_id"].as_str().unwrap().to_string());
    }
    let hand = s.start(&["--experiment", "ui", "--name", "by-hand"]);
    for (step, loss) in [(0, "0.9"), (1, "0.6"), (2, "0.4"), (3, "0.35")] {
        s.ok(&[
            "log",
            "metric",
            "--run",
            &hand,
            "loss",
            loss,
            "--step",
            &step.to_string(),
        ]);
    }
    s.ok(&["log", "metric", "--run", &hand, "accuracy", "0.5"]);
    s.ok(&["log", "param", "--run", &hand, "model", "by-hand"]);
    s.ok(&["log", "end", "--run", &hand]);
    runs.push(hand);
    s.ok(&["alias", "set", "Champion", "1"]);
    let exp = s.json(&["experiments", "show", "ui"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    (exp, runs)
}

#[test]
fn api_lists_filters_shows_compares_and_guards_admin_actions() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    let ui = start_ui(&s, &["--token", "t0ken"]);

    let (status, exps) = get(&ui, "/api/experiments");
    assert_eq!(status, 200);
    assert!(exps.as_array().unwrap().iter().any(|e| e["name"] == "ui"));

    let (_, all) = get(&ui, &format!("/api/experiments/{exp}/runs"));
    assert_eq!(all["total"], 3);
    assert!(
        all["metric_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "loss")
    );
    // The same filter grammar as the CLI, ordering and paging.
    let (_, some) = get(
        &ui,
        &format!(
            "/api/experiments/{exp}/runs?filter=params.model%20!%3D%20%27by-hand%27&order_by=metrics.accuracy%20DESC&limit=1"
        ),
    );
    assert_eq!(some["total"], 2);
    // The column picker offers every metric of the experiment, also those of runs off the page.
    assert!(
        some["metric_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "loss"),
        "{some}"
    );
    assert_eq!(some["runs"].as_array().unwrap().len(), 1);
    let best = some["runs"][0]["metrics"]["accuracy"].as_f64().unwrap();
    let (_, second) = get(
        &ui,
        &format!(
            "/api/experiments/{exp}/runs?filter=params.model%20!%3D%20%27by-hand%27&order_by=metrics.accuracy%20DESC&limit=1&offset=1"
        ),
    );
    assert!(second["runs"][0]["metrics"]["accuracy"].as_f64().unwrap() <= best);
    let (status, bad) = get(
        &ui,
        &format!("/api/experiments/{exp}/runs?filter=metrics.loss%20%3C"),
    );
    assert_eq!(status, 400);
    assert!(
        bad["error"].as_str().unwrap().contains("column 15"),
        "{bad}"
    );

    let (status, run) = get(&ui, &format!("/api/runs/{}", runs[0]));
    assert_eq!(status, 200);
    assert_eq!(run["params"]["model"], "logistic-regression");
    assert_eq!(run["inputs"][0]["name"], "titanic");
    let sig: Vec<&str> = run["signature"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(sig, vec!["Pclass", "Sex", "Age", "Fare"]);
    let png = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .find(|p| p.ends_with(".png"))
        .expect("a plot artifact")
        .to_string();
    let (status, headers, bytes) = ui.request(
        "GET",
        &format!("/api/runs/{}/artifact?path={png}", runs[0]),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "image/png")
    );
    assert_eq!(&bytes[..4], b"\x89PNG");
    let (status, err) = get(
        &ui,
        &format!("/api/runs/{}/artifact?path=../meta.yaml", runs[0]),
    );
    assert_eq!(status, 400, "{err}");
    let (status, _) = get(&ui, "/api/runs/0123456789abcdef0123456789abcdef");
    assert_eq!(status, 404);

    let (_, hist) = get(&ui, &format!("/api/runs/{}/metrics/loss", runs[2]));
    let steps: Vec<i64> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, vec![0, 1, 2, 3]);

    let (_, cmp) = get(&ui, &format!("/api/compare?runs={},{}", runs[0], runs[1]));
    assert!(
        cmp["params_differ"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "model")
    );
    assert!(
        !cmp["params_differ"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "target")
    );
    assert_eq!(cmp["histories"]["accuracy"].as_object().unwrap().len(), 2);

    let (_, models) = get(&ui, "/api/models");
    assert_eq!(models[0]["name"], "titanic");
    let (_, model) = get(&ui, "/api/models/titanic");
    assert_eq!(model["versions"].as_array().unwrap().len(), 2);
    assert_eq!(model["alias_history"]["Champion"][0]["to"], 1);

    // Admin actions: the token rule of `mlx serve`.
    let body = r#"{"alias":"Champion","version":2}"#;
    let (status, _, _) = ui.post_json("/admin/models/titanic/alias", body, &[]);
    assert_eq!(status, 401);
    let (status, _, _) = ui.post_json(
        "/admin/models/titanic/alias",
        body,
        &[("Authorization", "Bearer nope")],
    );
    assert_eq!(status, 401);
    let (status, _, answer) = ui.post_json(
        "/admin/models/titanic/alias",
        body,
        &[("Authorization", "Bearer t0ken")],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        s.json(&["models", "show", "titanic"])["model"]["aliases"]["Champion"],
        2
    );
    let (status, _, answer) = ui.post_json(
        "/admin/models/titanic/rollback",
        r#"{"alias":"Champion"}"#,
        &[("Authorization", "Bearer t0ken")],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        s.json(&["models", "show", "titanic"])["model"]["aliases"]["Champion"],
        1
    );
    drop(ui);

    // No token configured: admin actions are off unless explicitly allowed.
    let ui = start_ui(&s, &[]);
    let (status, _, answer) = ui.post_json("/admin/models/titanic/alias", body, &[]);
    assert_eq!(status, 403, "{answer}");
    let ui = start_ui(&s, &["--allow-unauthenticated-admin"]);
    let (status, _, answer) = ui.post_json("/admin/models/titanic/alias", body, &[]);
    assert_eq!(status, 200, "{answer}");
    // The page and its assets come from the binary.
    let (status, headers, page) = ui.request("GET", "/", &[], b"");
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/html"))
    );
    assert!(String::from_utf8_lossy(&page).contains("/app.js"));
    let (status, _, js) = ui.request("GET", "/app.js", &[], b"");
    assert_eq!(status, 200);
    assert!(
        !String::from_utf8_lossy(&js).contains("http://")
            && !String::from_utf8_lossy(&js).contains("https://"),
        "no CDN"
    );
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("MLX_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no Chromium at {} — `.ci/run` installs Debian's chromium package (apt-get install chromium)",
        path.display()
    );
    path
}

/// Headless Chromium as the machine allows it: no sandbox as root, no background networking.
fn headless(profile: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=8000",
        "--window-size=1280,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Run Chromium on `url` with one extra flag; fails the test if Chromium fails.
fn chromium_on(profile: &Path, flag: &str, url: &str) -> Vec<u8> {
    let out = headless(profile).arg(flag).arg(url).output().unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The page's DOM after its scripts ran.
fn dom(profile: &Path, url: &str) -> String {
    let out = chromium_on(profile, "--dump-dom", url);
    let html = String::from_utf8(out).unwrap();
    assert!(
        html.contains(r#"data-ready="1""#),
        "the page never finished: {html}"
    );
    html
}

fn screenshot(profile: &Path, url: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&file);
    chromium_on(profile, &format!("--screenshot={}", file.display()), url);
    let bytes = std::fs::read(&file).expect("a screenshot");
    assert!(
        bytes.len() > 5_000 && bytes.starts_with(b"\x89PNG"),
        "{name}: not a real screenshot"
    );
    file
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[test]
fn the_page_filters_runs_compares_and_draws_charts_in_chromium() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    let ui = start_ui(&s, &[]);
    let base = format!("http://127.0.0.1:{}", ui.port);
    let profile = tempfile::tempdir().unwrap();
    let p = profile.path();

    let home = dom(p, &format!("{base}/#/"));
    assert!(home.contains(&format!("#/experiments/{exp}")), "{home}");

    let all = dom(p, &format!("{base}/#/experiments/{exp}"));
    assert_eq!(count(&all, r#"<tr class="run""#), 3, "{all}");
    // Filtered through the page's own state (the hash it sets when the filter form is submitted).
    let filtered = dom(
        p,
        &format!("{base}/#/experiments/{exp}?filter=params.model%20%3D%20%27by-hand%27"),
    );
    assert_eq!(count(&filtered, r#"<tr class="run""#), 1, "{filtered}");
    assert!(filtered.contains(&runs[2]) && !filtered.contains(&runs[0]));
    let broken = dom(
        p,
        &format!("{base}/#/experiments/{exp}?filter=metrics.loss%20%3C"),
    );
    assert!(
        broken.contains(r#"id="filter-error""#) && broken.contains("column 15"),
        "{broken}"
    );

    let compare = dom(
        p,
        &format!("{base}/#/compare?runs={},{},{}", runs[0], runs[1], runs[2]),
    );
    assert!(compare.contains(r#"id="compare-params""#));
    assert!(
        compare.contains(r#"class="differ""#),
        "differing params are marked"
    );
    // uPlot charts: the loss histories overlaid, the single-value metrics as one bar chart, the scatter.
    assert!(
        count(&compare, r#"class="uplot"#) >= 3,
        "metric charts: {compare}"
    );
    assert!(
        compare.contains(r#"id="bars""#) && compare.contains(r#"id="scatter" data-points="3""#),
        "{compare}"
    );

    let run = dom(p, &format!("{base}/#/runs/{}", runs[2]));
    assert!(
        run.contains(r#"data-metric="loss""#) && run.contains(r#"class="uplot"#),
        "the loss history is drawn: {run}"
    );
    let run0 = dom(p, &format!("{base}/#/runs/{}", runs[0]));
    assert!(
        run0.contains(r#"<img class="artifact""#),
        "plots are shown inline"
    );
    assert!(run0.contains(r#"id="signature""#));

    // Thousands of runs stay quick: the table pages through them.
    s.ok(&["bench", "populate", "--n", "250", "--experiment", "many"]);
    let many = s.json(&["experiments", "show", "many"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = dom(p, &format!("{base}/#/experiments/{many}?page=2"));
    assert_eq!(
        count(&page, r#"<tr class="run""#),
        50,
        "the third page holds the last 50"
    );
    assert!(
        page.contains("page 3 of 3") && page.contains("250 runs"),
        "{page}"
    );

    let model = dom(p, &format!("{base}/#/models/titanic"));
    assert!(
        model.contains(r#"id="versions""#) && model.contains("Roll back Champion"),
        "{model}"
    );

    for (name, url) in [
        ("experiments", format!("{base}/#/")),
        ("runs", format!("{base}/#/experiments/{exp}")),
        ("run", format!("{base}/#/runs/{}", runs[0])),
        (
            "compare",
            format!("{base}/#/compare?runs={},{},{}", runs[0], runs[1], runs[2]),
        ),
        ("models", format!("{base}/#/models")),
        ("model", format!("{base}/#/models/titanic")),
    ] {
        screenshot(p, &url, name);
    }
}

/// Chromium driven over the DevTools protocol (through `--remote-debugging-pipe`, on two FIFOs), so the test
/// types into the page and clicks like a user.
pub struct Browser {
    child: std::process::Child,
    to: std::fs::File,
    from: std::fs::File,
    buf: Vec<u8>,
    next_id: u64,
    session: String,
    /// Uncaught exceptions, console errors and failed loads (a favicon 404 too) seen so far.
    pub errors: Vec<String>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Chromium with one page open at `url`.
    pub fn start(url: &str) -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let (cin, cout) = (dir.path().join("cin"), dir.path().join("cout"));
        for f in [&cin, &cout] {
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(f)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        // As `headless`, but without the virtual-time budget, which ends the page when it runs out.
        let flags: Vec<String> = headless(&dir.path().join("profile"))
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.starts_with("--virtual-time-budget"))
            .collect();
        let script = format!(
            "exec '{}' {} --remote-debugging-pipe about:blank 3<'{}' 4>'{}'",
            chromium().display(),
            flags.join(" "),
            cin.display(),
            cout.display()
        );
        let child = std::process::Command::new("bash")
            .args(["-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A hung browser must fail the test, not stall it: kill it after two minutes (the pipe then closes).
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, pid) = (done.clone(), child.id());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                if start.elapsed() > std::time::Duration::from_secs(120) {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        // Opened in the order the shell opens its ends: both block until the other side is there.
        let to = std::fs::OpenOptions::new().write(true).open(&cin).unwrap();
        let from = std::fs::File::open(&cout).unwrap();
        let mut b = Browser {
            child,
            to,
            from,
            buf: Vec::new(),
            next_id: 0,
            session: String::new(),
            errors: Vec::new(),
            done,
            _dir: dir,
        };
        let target = b.call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let attached = b.call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        // Listen for errors before the page loads, so its first view is checked too.
        b.call("Runtime.enable", serde_json::json!({}));
        b.call("Log.enable", serde_json::json!({}));
        b.call("Page.navigate", serde_json::json!({"url": url}));
        b.wait_ready();
        b
    }

    /// Send a command (to the page once attached) and wait for its answer, skipping events.
    fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params) {
            Ok(result) => result,
            Err(answer) => panic!("{method}: {answer}"),
        }
    }

    /// As [`Browser::call`], with Chromium's error answer (e.g. the page navigated meanwhile) as `Err`.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        use std::io::{Read as _, Write as _};
        self.next_id += 1;
        let mut msg = serde_json::json!({"id": self.next_id, "method": method, "params": params});
        if !self.session.is_empty() && !method.starts_with("Target.") {
            msg["sessionId"] = Value::String(self.session.clone());
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        loop {
            while let Some(end) = self.buf.iter().position(|b| *b == 0) {
                let raw: Vec<u8> = self.buf.drain(..=end).collect();
                let answer: Value = serde_json::from_slice(&raw[..raw.len() - 1]).unwrap();
                if answer["id"] == self.next_id {
                    if answer.get("error").is_some() {
                        return Err(answer);
                    }
                    return Ok(answer["result"].clone());
                }
                let p = &answer["params"];
                match answer["method"].as_str() {
                    Some("Runtime.exceptionThrown") => self.errors.push(p.to_string()),
                    Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                        self.errors.push(p.to_string())
                    }
                    // A 400/404 from the JSON API is an answer the page shows in its view (a bad filter, an
                    // unknown run); any other failed load (an asset, the favicon) is an error.
                    Some("Log.entryAdded")
                        if p["entry"]["level"] == "error"
                            && !(p["entry"]["source"] == "network"
                                && p["entry"]["url"]
                                    .as_str()
                                    .is_some_and(|u| u.contains("/api/"))) =>
                    {
                        self.errors.push(p.to_string())
                    }
                    _ => {}
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.from.read(&mut chunk).unwrap();
            assert!(n > 0, "Chromium closed the pipe");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Evaluate JavaScript in the page (promises awaited) and return its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Wait until the page has rendered its current view. A poll that meets a navigation in progress
    /// ("Inspected target navigated or closed", a destroyed context) is only a poll too early: poll again.
    fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let poll = self.try_call(
                "Runtime.evaluate",
                serde_json::json!({"expression": "document.body && document.body.dataset.ready === '1'", "returnByValue": true}),
            );
            if poll.is_ok_and(|r| r["result"]["value"] == Value::Bool(true)) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the page never finished rendering"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Run an action that changes the view, then wait for the new view.
    pub fn act(&mut self, js: &str) {
        self.eval(&format!("document.body.dataset.ready = ''; {js}; true"));
        self.wait_ready();
    }

    /// Give the window `width` px, wait until the app has seen it (its resize handler took the new width
    /// and scheduled drawing the view again), then draw the view now, which cancels the scheduled one:
    /// nothing re-renders the page under a later check. (Not waiting for the app's timer: headless
    /// Chromium may hold a page's timers back for long.)
    pub fn resize(&mut self, width: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        let seen = format!(
            "new Promise(r => {{ const ok = () => lastWidth === {width}; if (ok()) return r(true); \
             const f = () => {{ if (ok()) {{ removeEventListener('resize', f); r(true); }} }}; addEventListener('resize', f); }})"
        );
        assert_eq!(self.eval(&seen), Value::Bool(true));
        self.act("route()");
    }

    /// Open a view of the app by its hash and wait for it.
    pub fn open(&mut self, hash: &str) {
        self.act(&format!("location.hash = {}", Value::String(hash.into())));
    }

    /// The page as the window shows it, saved as target/ui-screenshots/{name}.png.
    pub fn screenshot(&mut self, name: &str) {
        use base64::Engine as _;
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png"}),
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
            "{name}"
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_user_types_a_filter_ticks_runs_and_compares_them() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    let ui = start_ui(&s, &[]);
    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/experiments/{exp}", ui.port));
    assert_eq!(b.eval("document.querySelectorAll('tr.run').length"), 3);

    // Type a filter and press the button.
    b.act("document.getElementById('filter').value = \"params.model != 'by-hand'\"; document.querySelector('#filter-form button[type=submit]').click()");
    assert_eq!(b.eval("document.querySelectorAll('tr.run').length"), 2);
    assert!(
        b.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("filter=")
    );
    // A bad filter: the error shows inline, with its column.
    b.act("document.getElementById('filter').value = 'metrics.loss <'; document.querySelector('#filter-form button[type=submit]').click()");
    let err = b.eval("document.getElementById('filter-error').textContent");
    assert!(err.as_str().unwrap().contains("column 15"), "{err}");
    b.act("document.getElementById('clear').click()");
    assert_eq!(b.eval("document.querySelectorAll('tr.run').length"), 3);

    // Sort by a header click: accuracy, best first.
    b.act("[...document.querySelectorAll('th.sortable')].find(t => t.dataset.key === 'metrics.accuracy').click()");
    let order = |dir: &str| -> Value {
        let listed = s.json(&[
            "runs",
            "list",
            "--experiment",
            "ui",
            "--order-by",
            &format!("metrics.accuracy {dir}"),
        ]);
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].clone())
            .collect()
    };
    let shown = || "[...document.querySelectorAll('tr.run')].map(r => r.dataset.run)";
    let best_first = order("DESC");
    assert_ne!(best_first, order("ASC"), "the runs' accuracies differ");
    assert_eq!(b.eval(shown()), best_first);
    // A second click on the same header turns the order round.
    b.act("[...document.querySelectorAll('th.sortable')].find(t => t.dataset.key === 'metrics.accuracy').click()");
    assert_eq!(b.eval(shown()), order("ASC"));

    // Tick all three runs and compare them.
    assert_eq!(b.eval("document.getElementById('compare').disabled"), true);
    b.eval("document.querySelectorAll('input.pick').forEach(c => c.click()); true");
    assert_eq!(b.eval("document.getElementById('compare').disabled"), false);
    b.act("document.getElementById('compare').click()");
    assert!(
        b.eval("location.hash")
            .as_str()
            .unwrap()
            .starts_with("#/compare?runs=")
    );
    for id in &runs {
        assert!(
            b.eval("location.hash")
                .as_str()
                .unwrap()
                .contains(id.as_str())
        );
    }
    // The loss history chart: one uPlot series per run (x first), in the runs' legend colours.
    let drawn =
        b.eval("document.querySelectorAll('#compare-charts .uplot .u-legend .u-series').length");
    assert_eq!(drawn, 4, "x and three runs");
    assert_eq!(
        b.eval("document.getElementById('scatter').dataset.points"),
        "3"
    );
    assert!(
        b.eval("document.querySelectorAll('#compare-params tr.differ').length")
            .as_u64()
            .unwrap()
            >= 1
    );
    // Picking another metric for the scatter redraws it.
    b.eval("const m = document.getElementById('sc-metric'); m.value = 'loss'; m.dispatchEvent(new Event('change')); true");
    assert!(
        b.eval("document.querySelector('#scatter').textContent")
            .as_str()
            .unwrap()
            .contains("loss")
    );
    assert_eq!(
        b.eval("document.getElementById('scatter').dataset.points"),
        "1",
        "only the hand-logged run has a loss"
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// A sweep as `mlx run --sweep` leaves it: a parent, children tagged with `mlflow.parentRunId`, the parent's
/// `mlx.best_run_id`; rmse values a careless formatter shows wrong; one very long `mlx.command` tag.
/// Returns (experiment id, parent, children).
fn sweep(s: &TestStore) -> (String, String, Vec<String>) {
    let parent = s.start(&["--experiment", "sweep", "--name", "grid"]);
    let mut children = Vec::new();
    for (i, (lr, rmse, auc)) in [
        ("0.1", "2500.2", "0.81"),
        ("0.01", "1200.4", "0.93"),
        ("0.001", "31234.5", "0.62"),
    ]
    .into_iter()
    .enumerate()
    {
        let tag = format!("mlflow.parentRunId={parent}");
        let name = format!("child-{i}");
        let c = s.start(&["--experiment", "sweep", "--name", &name, "--tag", &tag]);
        for (k, v) in [("lr", lr), ("criterion", "gini")] {
            s.ok(&["log", "param", "--run", &c, k, v]);
        }
        for (k, v) in [("rmse", rmse), ("roc_auc", auc)] {
            s.ok(&["log", "metric", "--run", &c, k, v]);
        }
        for step in 0..5 {
            let loss = format!("{}", 1.0 / (step as f64 + 1.0) + i as f64);
            s.ok(&[
                "log",
                "metric",
                "--run",
                &c,
                "loss",
                &loss,
                "--step",
                &step.to_string(),
            ]);
        }
        s.ok(&["log", "end", "--run", &c]);
        children.push(c);
    }
    let long = format!("mlx train --data {}", "x".repeat(600));
    s.ok(&["log", "tag", "--run", &children[0], "mlx.command", &long]);
    s.ok(&[
        "log",
        "tag",
        "--run",
        &parent,
        "mlx.best_run_id",
        &children[1],
    ]);
    s.ok(&["log", "end", "--run", &parent]);
    let exp = s.json(&["experiments", "show", "sweep"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    (exp, parent, children)
}

#[test]
fn numbers_sweeps_compare_and_layout_at_800px_without_console_errors() {
    let s = TestStore::new();
    let (exp, parent, kids) = sweep(&s);
    train(
        &s,
        &[
            "--experiment",
            "ui",
            "--model",
            "decision-tree",
            "--register",
            "titanic",
        ],
    );
    let ui = start_ui(&s, &[]);
    let (status, nope) = get(&ui, "/api/models/nope");
    assert_eq!(status, 404);
    assert_eq!(nope["error"], "registered model 'nope' not found");
    let (_, cmp) = get(&ui, &format!("/api/compare?runs={},{}", kids[0], kids[1]));
    assert_eq!(cmp["lower_is_better"]["rmse"], true);
    assert_eq!(cmp["lower_is_better"]["roc_auc"], false);
    let (status, _, css) = ui.request("GET", "/vendor/uPlot.min.css", &[], b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&css).contains(".uplot"));

    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/experiments/{exp}", ui.port));
    b.resize(800);
    let fits =
        "document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === 800";
    let texts = |sel: &str| {
        format!("[...document.querySelectorAll({sel:?})].map(e => e.textContent.trim())")
    };
    // Drawn again at the new width.
    b.act("location.reload()");
    assert_eq!(b.eval(fits), true, "the runs table scrolls in its own box");
    b.screenshot("800-runs");

    // Default columns: the params that vary (lr, not the constant criterion) and every metric (roc_auc too).
    let heads = b.eval(&texts("#runs thead th"));
    let heads: Vec<&str> = heads
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for want in ["rmse", "roc_auc", "loss", "params.lr"] {
        assert!(heads.contains(&want), "{want} in {heads:?}");
    }
    assert!(!heads.contains(&"params.criterion"), "{heads:?}");
    // Numbers keep their integer digits.
    let cells = b.eval(&texts("#runs td.num"));
    for want in ["2500.2", "1200.4", "31234.5"] {
        assert!(
            cells.as_array().unwrap().iter().any(|c| c == want),
            "{want} in {cells}"
        );
    }
    assert_eq!(
        b.eval("[...document.querySelectorAll('#runs td.num')].some(t => t.textContent === '25' || t.textContent.includes('e+'))"),
        false
    );
    // The sweep: its children nested under it, the best one marked, collapsible.
    // Parent first, then its children in the page's order (newest first).
    let mut nested = vec![parent.clone()];
    nested.extend(kids.iter().rev().cloned());
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.run')].map(r => r.dataset.run)"),
        serde_json::json!(nested)
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.child')].every(r => r.dataset.parent === document.querySelector('tr.parent').dataset.run)"),
        true
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.best')].map(r => r.dataset.run)"),
        serde_json::json!([kids[1]])
    );
    assert!(
        b.eval("document.querySelector('tr.best td.name').textContent")
            .as_str()
            .unwrap()
            .contains("best")
    );
    // The columns panel stays open while ticking; the choice goes into the URL.
    b.eval("document.querySelector('details.columns summary').click(); true");
    b.act("document.querySelector('details.columns input[data-col=\"p:criterion\"]').click()");
    assert_eq!(
        b.eval("document.querySelector('details.columns').open"),
        true
    );
    assert!(
        b.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("p%3Acriterion")
    );
    assert_eq!(b.eval("[...document.querySelectorAll('#runs th')].some(t => t.textContent === 'params.criterion')"), true);
    b.act("history.back()");
    b.eval("document.querySelector('button.toggle').click(); true");
    assert_eq!(
        b.eval("document.querySelectorAll('tr.child.hidden').length"),
        3
    );
    b.eval("document.querySelector('button.toggle').click(); true");
    assert_eq!(
        b.eval("document.querySelectorAll('tr.child.hidden').length"),
        0
    );
    // Parallel coordinates: a line per run (the parent, with no param or metric, through the missing bands),
    // each in its row's colour.
    assert_eq!(
        b.eval("document.querySelectorAll('#parallel polyline.pline').length"),
        4
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('#parallel polyline.pline')].every(l => getComputedStyle(l).stroke === getComputedStyle(document.querySelector(`tr[data-run=\"${l.dataset.run}\"] .swatch`)).backgroundColor)"),
        true
    );
    let colours = b.eval("new Set([...document.querySelectorAll('#runs .swatch')].map(s => getComputedStyle(s).backgroundColor)).size");
    assert_eq!(colours, 4, "one colour per run");

    // The run page: full precision on hover, the long tag does not widen the page, params beside metrics.
    b.open(&format!("#/runs/{}", kids[0]));
    assert_eq!(
        b.eval("document.querySelector('#metrics td[title=\"2500.2\"]').textContent"),
        "2500.2"
    );
    assert_eq!(b.eval(fits), true, "a long mlx.command tag wraps");
    b.screenshot("800-run");
    assert!(
        b.eval("document.querySelectorAll('#histories .uplot').length")
            .as_u64()
            .unwrap()
            >= 1
    );
    b.resize(1400);
    b.open(&format!("#/runs/{}", kids[1]));
    assert_eq!(
        b.eval("(() => { const m = document.getElementById('metrics').getBoundingClientRect(), p = document.getElementById('params').getBoundingClientRect(); return p.left >= m.right && p.top < m.bottom; })()"),
        true,
        "params beside the metrics at 1400 px"
    );
    b.screenshot("1400-run");
    b.open(&format!(
        "#/compare?runs={},{},{}",
        kids[0], kids[1], kids[2]
    ));
    b.screenshot("1400-compare");
    // The same view, drawn again at 800 px.
    b.resize(800);

    // Compare: the best rmse (lowest) and roc_auc (highest) marked, deltas against the first run.
    assert_eq!(b.eval(fits), true);
    b.screenshot("800-compare");
    let row = |k: &str| {
        format!(
            "[...document.querySelectorAll('#compare-metrics tbody tr')].find(r => r.querySelector('th').textContent.startsWith('{k}'))"
        )
    };
    assert_eq!(
        b.eval(&format!(
            "[...{}.querySelectorAll('td')].map(t => t.textContent)",
            row("rmse")
        )),
        serde_json::json!(["2500.2", "★ 1200.4 (-1299.8)", "31234.5 (+28734.3)"])
    );
    assert_eq!(
        b.eval(&format!(
            "{}.querySelector('td.best').textContent",
            row("roc_auc")
        )),
        "★ 0.93 (+0.12)"
    );
    // Another baseline: the deltas follow it.
    b.act(&format!("const bs = document.getElementById('baseline'); bs.value = '{}'; bs.dispatchEvent(new Event('change'))", kids[1]));
    assert_eq!(
        b.eval(&format!(
            "[...{}.querySelectorAll('td')].map(t => t.textContent)",
            row("rmse")
        )),
        serde_json::json!(["2500.2 (+1299.8)", "★ 1200.4", "31234.5 (+30034.1)"])
    );
    b.open(&format!(
        "#/compare?runs={},{},{}",
        kids[0], kids[1], kids[2]
    ));
    // The loss histories in the colours of the legend.
    assert_eq!(
        b.eval("JSON.stringify([...document.querySelectorAll('#compare-charts .u-legend .u-series:not(:first-child) .u-marker')].map(m => getComputedStyle(m).borderColor)) === JSON.stringify([...document.querySelectorAll('.legend .swatch')].map(s => getComputedStyle(s).backgroundColor))"),
        true
    );
    // Smoothing and wall time on x redraw the chart from the same points.
    let loss_chart = "charts.find(c => c.root.closest('#compare-charts'))";
    let first = format!("{loss_chart}.data[1].slice()");
    let raw = b.eval(&first);
    b.eval("const sm = document.querySelector('#compare-charts .smoothing'); sm.value = '0.9'; sm.dispatchEvent(new Event('change')); true");
    let smoothed = b.eval(&first);
    assert_eq!(raw[0], smoothed[0], "the first point is kept");
    assert_ne!(raw[4], smoothed[4], "later points are averaged");
    b.eval("const xa = document.querySelector('#compare-charts .x-axis'); xa.value = 'time'; xa.dispatchEvent(new Event('change')); true");
    assert!(
        b.eval(&format!("{loss_chart}.data[0][0]"))
            .as_f64()
            .unwrap()
            > 1.7e9,
        "seconds since the epoch"
    );
    b.eval("const lg = document.querySelector('#compare-charts .log-scale'); lg.click(); true");
    assert_eq!(
        b.eval(&format!("{loss_chart}.scales.y.distr")),
        3,
        "log scale"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#bars .uplot').length"),
        1,
        "single values: one bar chart"
    );
    // Differences only: the constant criterion row goes, lr stays.
    let visible = "[...document.querySelectorAll('#compare-params tbody tr')].filter(r => r.offsetParent !== null).map(r => r.querySelector('th').textContent)";
    assert_eq!(b.eval(visible), serde_json::json!(["criterion", "lr"]));
    b.eval("document.getElementById('diff-only').click(); true");
    assert_eq!(b.eval(visible), serde_json::json!(["lr"]));
    assert!(b.eval("location.hash").as_str().unwrap().contains("diff=1"));

    // The registered version a run produced, linked from the runs table and the run page.
    b.open(&format!(
        "#/experiments/{}",
        s.json(&["experiments", "show", "ui"])["experiment"]["experiment_id"]
            .as_str()
            .unwrap()
    ));
    assert_eq!(
        b.eval("document.querySelector('#runs a.version').getAttribute('href')"),
        "#/models/titanic"
    );
    b.act("document.querySelector('#runs td.name a').click()");
    assert_eq!(
        b.eval("document.querySelector('#registered a.version').textContent"),
        "titanic v1"
    );
    b.open("#/models");
    assert_eq!(b.eval(fits), true);
    b.screenshot("800-models");
    b.open("#/models/titanic");
    assert_eq!(b.eval(fits), true);
    b.open("#/");
    assert_eq!(b.eval(fits), true);

    // Unknown things: a 404 view with a way back, the message quoted once.
    b.open("#/runs/0123456789abcdef0123456789abcdef");
    assert_eq!(
        b.eval("!!document.querySelector('#not-found a[href=\"#/\"]')"),
        true
    );
    b.screenshot("800-not-found");
    b.open("#/models/nope");
    assert_eq!(
        b.eval("document.getElementById('page-error').textContent"),
        "registered model 'nope' not found"
    );
    assert_eq!(
        b.eval("!!document.querySelector('#not-found a[href=\"#/models\"]')"),
        true
    );
    // A bad filter keeps the title and the columns, with a caret under the column.
    b.open(&format!("#/experiments/{exp}?filter=metrics.rmse%20%3C"));
    assert_eq!(
        b.eval("document.querySelector('h1').textContent"),
        "Runs of sweep"
    );
    assert!(
        b.eval("document.querySelectorAll('details.columns input').length")
            .as_u64()
            .unwrap()
            > 3
    );
    assert!(
        b.eval("document.getElementById('filter-error').textContent")
            .as_str()
            .unwrap()
            .ends_with("^")
    );

    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// A registered model whose `meta.yaml` names another model than its folder is skipped with a warning
/// (the runs list and run pages still answer) and `mlx doctor` reports it.
#[test]
fn a_registered_model_named_unlike_its_folder_is_skipped_and_reported() {
    let s = TestStore::new();
    let run = train(&s, &["--register", "churn"])["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    train(&s, &["--register", "kept"]);
    let meta = s.root().join("models/churn/meta.yaml");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("name: churn", "name: other")).unwrap();
    let server = start_ui(&s, &[]);
    let (status, runs) = get(&server, "/api/experiments/0/runs");
    assert_eq!(status, 200, "{runs}");
    assert_eq!(runs["runs"].as_array().unwrap().len(), 2);
    let (status, shown) = get(&server, &format!("/api/runs/{run}"));
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["model_versions"], serde_json::json!([]));
    let (_, models) = get(&server, "/api/models");
    let names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kept"]);
    let out = s.mlx().args(["models", "list"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "warning: skipping {}: registered model name 'other' differs from its folder 'churn'",
            meta.display()
        )
    );
    let out = s.mlx().args(["doctor", "-o", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let findings: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        findings,
        serde_json::json!([{
            "path": meta,
            "problem": "registered model name 'other' differs from its folder 'churn' (listings skip the model)",
            "fix": null,
            "fixed": false
        }])
    );
}

/// The long flags of `mlx ui --help` or `mlx serve --help`, each with its short flag if it has one.
fn flags(s: &TestStore, command: &str) -> std::collections::BTreeMap<String, Option<String>> {
    let help = s.ok(&[command, "--help"]);
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (short, rest) = match line.strip_prefix('-') {
                Some(r) if !r.starts_with('-') => {
                    (Some(r[..1].to_string()), r[1..].trim_start_matches(", "))
                }
                _ => (None, line),
            };
            let long = rest.strip_prefix("--")?.split([' ', '=']).next()?;
            Some((long.to_string(), short))
        })
        .collect()
}

/// `mlx ui -p 5078` works as `mlx serve -p` does: every flag the two share has the same short flag.
#[test]
fn ui_and_serve_share_their_short_flags() {
    let s = TestStore::new();
    let (ui, serve) = (flags(&s, "ui"), flags(&s, "serve"));
    let shared: Vec<(&String, &Option<String>, &Option<String>)> = ui
        .iter()
        .filter_map(|(long, short)| serve.get(long).map(|other| (long, short, other)))
        .collect();
    assert!(shared.len() >= 8, "{shared:?}");
    for (long, a, b) in &shared {
        assert_eq!(a, b, "--{long}: ui {a:?}, serve {b:?}");
    }
    assert_eq!(ui["port"].as_deref(), Some("p"));
    assert_eq!(ui["host"].as_deref(), Some("H"));
    let mut cmd = s.mlx_std();
    cmd.args(["ui", "-p", "0", "-H", "127.0.0.1"]);
    let server = crate::serve::Server::spawn(cmd, "mlx ui: listening on http://127.0.0.1:");
    let (status, _) = get(&server, "/api/experiments");
    assert_eq!(status, 200);
}

/// An experiment mixing estimators, as a real one does: logistic regressions with `C`, forests with
/// `n_estimators` and `max_depth`, so no run has every param; the forests log a loss history. A sweep parent
/// marks a forest with a long name as its best run. Returns (experiment id, runs in creation order:
/// lr-1, lr-2, rf-1, the parent, the long-named forest).
fn mixed(s: &TestStore) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    let run = |name: &str, tags: &[&str], params: &[(&str, &str)], acc: &str, loss: bool| {
        let mut args = vec!["--experiment", "mixed", "--name", name];
        for t in tags {
            args.extend(["--tag", t]);
        }
        let id = s.start(&args);
        for (k, v) in params {
            s.ok(&["log", "param", "--run", &id, k, v]);
        }
        s.ok(&["log", "metric", "--run", &id, "accuracy", acc]);
        for step in 0..3 {
            if loss {
                let v = format!("{}", 0.9 - 0.2 * step as f64);
                s.ok(&[
                    "log",
                    "metric",
                    "--run",
                    &id,
                    "loss",
                    &v,
                    "--step",
                    &step.to_string(),
                ]);
            }
        }
        s.ok(&["log", "end", "--run", &id]);
        id
    };
    let lr = [("model", "logistic-regression")];
    ids.push(run("lr-1", &[], &[lr[0], ("C", "1.0")], "0.75", false));
    ids.push(run("lr-2", &[], &[lr[0], ("C", "0.1")], "0.70", false));
    let rf = ("model", "random-forest");
    let forest = [rf, ("n_estimators", "100"), ("max_depth", "5")];
    ids.push(run("rf-1", &[], &forest, "0.80", true));
    let parent = s.start(&["--experiment", "mixed", "--name", "grid"]);
    ids.push(parent.clone());
    let tag = format!("mlflow.parentRunId={parent}");
    let long = "random-forest-with-fifty-trees-at-depth-three-on-every-column";
    let forest = [rf, ("n_estimators", "50"), ("max_depth", "3")];
    let best = run(long, &[&tag], &forest, "0.78", true);
    s.ok(&["log", "tag", "--run", &parent, "mlx.best_run_id", &best]);
    s.ok(&["log", "end", "--run", &parent]);
    ids.push(best);
    let exp = s.json(&["experiments", "show", "mixed"])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    (exp, ids)
}

#[test]
fn parallel_coordinates_and_the_chart_view_draw_every_run_of_a_mixed_experiment() {
    let s = TestStore::new();
    let (exp, ids) = mixed(&s);
    let ui = start_ui(&s, &[]);
    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/experiments/{exp}", ui.port));
    b.resize(800);
    b.act("location.reload()");
    let fits =
        "document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === 800";
    assert_eq!(b.eval(fits), true);
    // A line per run, the parent (no params, no metric) too; every point on the plot.
    let lines = "[...document.querySelectorAll('#parallel polyline.pline')]";
    let drawn = b.eval(&format!("{lines}.map(l => l.dataset.run).sort()"));
    let mut want = ids.clone();
    want.sort();
    assert_eq!(drawn, serde_json::json!(want));
    assert_eq!(
        b.eval(&format!("{lines}.every(l => l.points.length === document.querySelectorAll('#parallel .axis').length && [...l.points].every(p => isFinite(p.x) && isFinite(p.y)))")),
        true
    );
    // Default axes: the params that vary, then the metric; a logistic regression misses the forests' two.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#parallel .axis-label')].map(t => t.querySelector('title').textContent)"),
        serde_json::json!(["params.C", "params.max_depth", "params.model", "params.n_estimators", "accuracy"])
    );
    assert_eq!(
        b.eval(&format!(
            "document.querySelector('#parallel .pline[data-run=\"{}\"]').dataset.missing",
            ids[0]
        )),
        "2"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#parallel .missing-label').length"),
        5,
        "a missing band on every axis: the parent has no value at all"
    );
    // Axes chosen in the URL; ticking one more adds it to the URL.
    b.open(&format!("#/experiments/{exp}?pcaxes=p:C,m:accuracy"));
    let labels = "[...document.querySelectorAll('#parallel .axis-label')].map(t => t.querySelector('title').textContent)";
    assert_eq!(b.eval(labels), serde_json::json!(["params.C", "accuracy"]));
    assert_eq!(b.eval(&format!("{lines}.length")), 5);
    b.eval("document.querySelector('#pc-axes summary').click(); true");
    b.act("document.querySelector('#pc-axes input[data-axis=\"m:loss\"]').click()");
    assert!(
        b.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("pcaxes=p%3AC%2Cm%3Aaccuracy%2Cm%3Aloss"),
    );
    assert_eq!(
        b.eval(labels),
        serde_json::json!(["params.C", "accuracy", "loss"])
    );
    assert_eq!(b.eval("document.getElementById('pc-axes').open"), true);
    assert_eq!(b.eval(fits), true);
    b.screenshot("800-parallel");
    // Text contrast of 4.5:1 or more in the light scheme too (the table's view and the chart view).
    let worst = b.eval(WORST_CONTRAST);
    assert!(worst[0].as_f64().unwrap() >= 4.5, "{worst}");
    b.act("document.getElementById('view-toggle').click()");
    let worst = b.eval(WORST_CONTRAST);
    assert!(worst[0].as_f64().unwrap() >= 4.5, "{worst}");
    b.act("history.back()");
    // Badges are never cut: the sweep's ★ best beside a long run name.
    assert_eq!(
        b.eval("document.querySelector('tr.best .best-mark').textContent"),
        "★ best"
    );
    assert_eq!(
        b.eval("[...document.querySelectorAll('#runs .badge')].every(e => { const td = e.closest('td').getBoundingClientRect(), r = e.getBoundingClientRect(); return e.scrollWidth <= e.clientWidth && r.right <= td.right + 0.5; })"),
        true
    );

    // The chart view: a chart per metric, a series per run that has it; bars for single values.
    b.act("document.getElementById('view-toggle').click()");
    assert!(
        b.eval("location.hash")
            .as_str()
            .unwrap()
            .contains("view=charts")
    );
    let kinds = "[...document.querySelectorAll('#run-charts .run-chart')].map(c => [c.dataset.metric, c.dataset.kind, c.dataset.series])";
    assert_eq!(
        b.eval(kinds),
        serde_json::json!([["accuracy", "bars", "4"], ["loss", "history", "2"]])
    );
    let series = |m: &str| {
        format!(
            "charts.find(c => c.root.closest('[data-metric=\"{m}\"]')).series.slice(1).map(s => s.label)"
        )
    };
    assert_eq!(
        b.eval(&series("loss")),
        serde_json::json!([
            "random-forest-with-fifty-trees-at-depth-three-on-every-column",
            "rf-1"
        ])
    );
    // Bar labels (run names) cut to their bar's room, so they never run into each other.
    assert_eq!(
        b.eval("(() => { const c = charts.find(c => c.root.closest('[data-metric=\"accuracy\"]')); const labels = c.axes[0].values(c, [0, 1, 2, 3]); return labels.every(l => l.length * 7 <= c.width / 4) && labels[3] === 'lr-1'; })()"),
        true
    );
    assert_eq!(b.eval(fits), true);
    b.screenshot("800-run-charts");
    // The list's filter picks the runs.
    b.open(&format!(
        "#/experiments/{exp}?view=charts&filter=params.model%20%3D%20'logistic-regression'"
    ));
    assert_eq!(
        b.eval(kinds),
        serde_json::json!([["accuracy", "bars", "2"]])
    );
    assert_eq!(
        b.eval(&series("accuracy")),
        serde_json::json!(["lr-2", "lr-1"])
    );
    b.act("document.getElementById('view-toggle').click()");
    assert_eq!(
        b.eval("document.querySelectorAll('#runs tr.run').length"),
        2
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// The contrast of the page's worst text against what is behind it (WCAG's formula), with that text.
const WORST_CONTRAST: &str = r#"(() => {
  const rgb = s => s.match(/[\d.]+/g).map(Number);
  const lin = c => (c /= 255) <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  const ratio = el => { const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el)); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
  const texts = [...document.body.querySelectorAll("*")].filter(e => e.getClientRects().length && !(e instanceof SVGElement)
    && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
  return texts.map(e => [ratio(e), e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 40)]).sort((a, b) => a[0] - b[0])[0];
})()"#;

#[test]
fn dark_mode_version_aliases_and_artifact_sizes_in_chromium() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    let dir = tempfile::tempdir().unwrap();
    let file = dir
        .path()
        .join("feature_importance_of_every_column_of_the_titanic_passenger_list.txt");
    std::fs::write(&file, "Age 0.31\nFare 0.27\n").unwrap();
    s.ok(&["log", "artifact", "--run", &runs[2], file.to_str().unwrap()]);
    let ui = start_ui(&s, &[]);
    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/experiments/{exp}", ui.port));
    b.resize(800);
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    b.act("location.reload()");
    let fits =
        "document.documentElement.scrollWidth <= window.innerWidth && window.innerWidth === 800";
    // The version badge names its alias.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#runs a.version')].map(a => a.textContent).sort()"),
        serde_json::json!(["titanic v1 @Champion", "titanic v2"])
    );
    let dark_bg = "(() => { const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number); return Math.max(...c) < 40; })()";
    // The runs table is open already: every page is another view (a hash change).
    let pages = [
        format!("#/runs/{}", runs[2]),
        format!("#/compare?runs={},{},{}", runs[0], runs[1], runs[2]),
        "#/models/titanic".to_string(),
        "#/models".to_string(),
        format!("#/experiments/{exp}"),
    ];
    for (i, page) in pages.iter().enumerate() {
        b.open(page);
        b.screenshot(&format!("800-dark-{i}"));
        assert_eq!(b.eval(dark_bg), true, "{page}: a dark background");
        let worst = b.eval(WORST_CONTRAST);
        assert!(worst[0].as_f64().unwrap() >= 4.5, "{page}: {worst}");
        assert_eq!(b.eval(fits), true, "{page}");
    }
    // Charts too: axis text in the page's light text colour, not black.
    b.open(&format!("#/runs/{}", runs[2]));
    assert_eq!(
        b.eval("charts[0].axes[1].stroke(charts[0], 1)"),
        b.eval("getComputedStyle(document.documentElement).getPropertyValue('--fg').trim()")
    );
    b.screenshot("800-dark-run");
    // The artifact's size shows in full beside its long name, inside its row of the tree.
    assert_eq!(
        b.eval("(() => { const li = [...document.querySelectorAll('#artifacts li.file')].find(l => l.dataset.path.includes('feature_importance')); const size = li.querySelector('.size'); const r = size.getBoundingClientRect(); return size.textContent === '19 B' && r.width > 0 && size.scrollWidth <= size.clientWidth + 0.5 && r.right <= li.getBoundingClientRect().right + 0.5; })()"),
        true
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}
