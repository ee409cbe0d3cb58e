//! Test helpers: a temp store, an `mlx` command bound to it, the real MLflow client.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct TestStore {
    pub dir: tempfile::TempDir,
    /// What `--tracking-uri` says: the temp folder's `mlruns`, or the test MLflow server.
    pub uri: String,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let uri = dir.path().join("mlruns").to_string_lossy().into_owned();
        TestStore { dir, uri }
    }

    /// A store on the real MLflow tracking server that `scripts/test.sh` starts (PostgreSQL backend,
    /// proxied artifacts). Shared by every test: each names its experiments and models uniquely.
    pub fn on_server() -> Self {
        let uri = server_uri();
        TestStore {
            dir: tempfile::tempdir().expect("temp dir"),
            uri,
        }
    }

    /// A store in an MLflow SQLite database, `sqlite:////<tmp>/mlflow.db` (created by the first command).
    pub fn on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
        TestStore { dir, uri }
    }

    /// The store folder (`<tmp>/mlruns`).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("mlruns")
    }

    /// `mlx` run inside the temp dir, isolated from the caller's environment and config.
    pub fn mlx(&self) -> Command {
        let mut cmd = mlx_bare(self.dir.path());
        cmd.env("MLX_CACHE_DIR", self.dir.path().join("cache"));
        // The user recorded on runs (mlflow.user), the same on every machine for the snapshots.
        cmd.env("LOGNAME", "tester");
        cmd.arg("--tracking-uri").arg(&self.uri);
        cmd
    }

    /// The same as [`TestStore::mlx`], as a std Command (for long-running children such as a server).
    pub fn mlx_std(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mlx"));
        for (k, _) in std::env::vars() {
            if k.starts_with("MLX_") || k.starts_with("MLFLOW_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("MLX_CONFIG", self.dir.path().join("no-config.toml"));
        cmd.env("MLX_CACHE_DIR", self.dir.path().join("cache"));
        cmd.current_dir(self.dir.path());
        cmd.arg("--tracking-uri").arg(&self.uri);
        cmd
    }

    /// Run `mlx ARGS`, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.mlx().args(args).output().expect("run mlx");
        assert!(
            out.status.success(),
            "mlx {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Run `mlx ARGS`, assert exit code 2 (an error, not a failed check), return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.mlx().args(args).output().expect("run mlx");
        assert_eq!(
            out.status.code(),
            Some(2),
            "mlx {args:?} should fail with 2 (an error); stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8(out.stderr).expect("utf-8 stderr");
        // Notes may precede it, but the error itself is one line.
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| {
                !l.starts_with("note: ") && !l.starts_with("mlx: ") && !l.starts_with("warning: ")
            })
            .collect();
        assert_eq!(errors.len(), 1, "one-line error: {err}");
        assert!(errors[0].starts_with("error: "), "{err}");
        errors[0].to_string()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&full)).expect("valid JSON")
    }

    /// Start a run and return its id.
    pub fn start(&self, args: &[&str]) -> String {
        let mut full = vec!["log", "start"];
        full.extend(args);
        let id = self.ok(&full).trim().to_string();
        assert_eq!(id.len(), 32, "run id: {id:?}");
        id
    }

    /// Every file under the store (relative paths), sorted.
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root(), &self.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(base, &p, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

/// `mlx` with no store flag, in `cwd`, with every MLX_/MLFLOW_ variable removed.
pub fn mlx_bare(cwd: &Path) -> Command {
    let mut cmd = Command::cargo_bin("mlx").expect("mlx binary");
    for (k, _) in std::env::vars() {
        if k.starts_with("MLX_") || k.starts_with("MLFLOW_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("MLX_CONFIG", cwd.join("no-config.toml"));
    cmd.current_dir(cwd);
    cmd
}

/// The test MLflow tracking server's URI. Missing is a failure, not a skip.
pub fn server_uri() -> String {
    std::env::var("MLX_TEST_SERVER_URI").ok().filter(|u| !u.is_empty()).expect(
        "MLX_TEST_SERVER_URI is not set — run `bash scripts/test.sh`, which starts a real MLflow server \
         (PostgreSQL backend) and sets it, or start one with `scripts/team-server.sh start DIR`",
    )
}

/// A short unique suffix for names on the shared server.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The Python interpreter with mlflow 3.17.2 installed. Missing is a failure, not a skip.
pub fn python() -> PathBuf {
    let p = std::env::var_os("MLX_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/mlx-ci/venv/bin/python")
        });
    assert!(
        p.exists(),
        "no Python with mlflow at {} — run `bash scripts/test.sh`, which installs it, or set MLX_TEST_PYTHON",
        p.display()
    );
    p
}

fn interop_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

/// Run a script of tests/interop with the test Python; returns its stdout.
fn run_script(script: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new(python())
        .arg(interop_script(script))
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn run_python(script: &str, store: &Path) -> String {
    run_script(script, &[store.as_os_str()])
}

/// Run a script of tests/interop with the test Python and parse its stdout as JSON.
pub fn interop_json(script: &str, args: &[&std::ffi::OsStr]) -> Value {
    serde_json::from_str(&run_script(script, args)).expect("JSON on stdout")
}

/// What the real MLflow client reads from a store (see tests/interop/mlflow_dump.py).
pub fn mlflow_dump(store: &Path) -> Value {
    serde_json::from_str(&run_python("mlflow_dump.py", store)).expect("dump is JSON")
}

/// Have the real MLflow client write a store; returns the ids it created.
pub fn mlflow_write(store: &Path) -> Value {
    let out = run_python("mlflow_write.py", store);
    serde_json::from_str(out.lines().last().expect("a line")).expect("ids JSON")
}

/// Copy the committed MLflow-written fixture store to `<dest>/mlruns`, recreating the empty folders git drops.
pub fn copy_fixture(dest: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlflow-mlruns");
    let root = dest.join("mlruns");
    copy_dir(&src, &root);
    for exp in [root.clone(), root.join(".trash")] {
        for e in std::fs::read_dir(&exp).unwrap().flatten() {
            for run in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                if run.path().join("meta.yaml").is_file() {
                    for sub in ["params", "metrics", "artifacts"] {
                        std::fs::create_dir_all(run.path().join(sub)).unwrap();
                    }
                }
            }
        }
    }
    root
}

/// Copy a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// At most the first 300 bytes of `text`, for assertion messages about output that may be huge.
pub fn short(text: &str) -> String {
    let cut = (0..=text.len().min(300))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    text[..cut].to_string()
}
