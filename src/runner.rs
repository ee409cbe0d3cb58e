//! Running a command inside a tracked run: the run id and store are handed to it through the environment
//! (`MLX_RUN_ID`/`MLFLOW_RUN_ID`, `MLX_TRACKING_URI`/`MLFLOW_TRACKING_URI`) so its own logging lands in the
//! run; its output passes through and is kept as the artifacts `stdout.txt` and `stderr.txt`; the run ends
//! FINISHED, FAILED or KILLED from its exit status.

use crate::store::entities::RunStatus;
use crate::store::{StoreError, TrackingStore, now_ms};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot run '{program}': {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The command ran longer than allowed; its whole process group was killed.
    #[error("the command ran longer than {0:?} and was killed")]
    Timeout(std::time::Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: RunStatus,
    /// The exit code to pass on (128 + signal for a killed command).
    pub code: i32,
}

impl RunnerError {
    /// The exit code a shell would give: 127 for a command not found, 126 for one that cannot be executed.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunnerError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                127
            }
            RunnerError::Spawn { .. } => 126,
            // Not the command's failure but ours (the store): an error.
            _ => 2,
        }
    }
}

/// How to run the command.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunOptions<'a> {
    /// Working folder (default: ours).
    pub cwd: Option<&'a Path>,
    /// Pass the command's stdout on to our stderr, keeping our stdout for one JSON document.
    pub stdout_to_stderr: bool,
    /// Output format for a nested `mlx` (`MLX_OUTPUT`): its stdout is a pipe, so it would pick JSON.
    pub child_output: Option<&'a str>,
    /// Keep the command's output only as the run's artifacts (a server has no terminal to pass it to).
    pub quiet: bool,
    /// Kill the command — its whole process group, so what it started too — after this long.
    pub timeout: Option<std::time::Duration>,
}

/// Run `program args` inside run `run_id` of the store at `tracking_uri`.
pub fn run_in(
    store: &dyn TrackingStore,
    tracking_uri: &str,
    run_id: &str,
    program: &str,
    args: &[String],
    opts: RunOptions<'_>,
) -> Result<Outcome, RunnerError> {
    let outdir = tempfile::tempdir()?;
    let mut cmd = command_in_run(tracking_uri, run_id, program, args, opts);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(source) => {
            let err = RunnerError::Spawn {
                program: program.into(),
                source,
            };
            // The FAILED run says why, as `mlx train` does.
            let batch = crate::store::Batch {
                tags: vec![("mlx.error".into(), err.to_string())],
                ..Default::default()
            };
            store.log_batch(run_id, &batch)?;
            store.update_run(run_id, RunStatus::Failed, Some(now_ms()))?;
            return Err(err);
        }
    };
    let out_path = outdir.path().join("stdout.txt");
    let err_path = outdir.path().join("stderr.txt");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (out_to, err_to) = output_sinks(opts);
    let out_tee = tee(stdout, out_to, out_path.clone());
    let err_tee = tee(stderr, err_to, err_path.clone());
    let status = match opts.timeout {
        None => Ok(child.wait()?),
        Some(limit) => wait_at_most(&mut child, limit)?.ok_or(RunnerError::Timeout(limit)),
    };
    out_tee.join().ok();
    err_tee.join().ok();
    for p in [&out_path, &err_path] {
        if p.exists() {
            store.log_artifact(run_id, p, None)?;
        }
    }
    let outcome = match status {
        Ok(status) => outcome_of(status),
        Err(timeout) => {
            store.update_run(run_id, RunStatus::Killed, Some(now_ms()))?;
            return Err(timeout);
        }
    };
    // The command may have ended the run itself (e.g. a nested `mlx log end`); ours is the final word.
    store.update_run(run_id, outcome.status, Some(now_ms()))?;
    Ok(outcome)
}

/// `program args` with the run and the store in its environment (MLX_ and MLFLOW_ names), this mlx first
/// on its PATH, and its stdout and stderr piped to us.
fn command_in_run(
    tracking_uri: &str,
    run_id: &str,
    program: &str,
    args: &[String],
    opts: RunOptions<'_>,
) -> Command {
    let uri = absolute_tracking_uri(tracking_uri);
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("MLX_RUN_ID", run_id)
        .env("MLFLOW_RUN_ID", run_id)
        .env("MLX_TRACKING_URI", &uri)
        .env("MLFLOW_TRACKING_URI", &uri)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = opts.cwd {
        cmd.current_dir(dir);
    }
    if opts.timeout.is_some() {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    // The CA that --ca-cert named is trusted by the command's own MLflow client (or mlx) too.
    if let Some(ca) = crate::store::rest::http::ca_cert_path() {
        cmd.env("MLFLOW_TRACKING_SERVER_CERT_PATH", ca);
    }
    // MLflow 3 refuses a folder store unless told; mlx hands the command one, so an MLflow script inside
    // would fail to log to its own run.
    if !uri.starts_with("http://")
        && !uri.starts_with("https://")
        && !crate::settings::env::is_set("MLFLOW_ALLOW_FILE_STORE")
    {
        cmd.env("MLFLOW_ALLOW_FILE_STORE", "true");
    }
    if let Some(format) = opts.child_output {
        cmd.env("MLX_OUTPUT", format);
    }
    // `mlx` inside the command is this mlx, whatever PATH says.
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let path = crate::settings::env::path_list();
        let mut dirs = vec![bin_dir];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            cmd.env("PATH", joined);
        }
    }
    cmd
}

/// Where the command's stdout and stderr pass on to (besides the artifacts): nowhere when quiet, stdout
/// to our stderr when our stdout is kept for a JSON document.
fn output_sinks(opts: RunOptions<'_>) -> (Box<dyn Write + Send>, Box<dyn Write + Send>) {
    let out_to: Box<dyn Write + Send> = if opts.quiet {
        Box::new(std::io::sink())
    } else if opts.stdout_to_stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let err_to: Box<dyn Write + Send> = if opts.quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    (out_to, err_to)
}

/// FINISHED for exit code 0, FAILED for another code, KILLED (128 + signal) for a signal.
fn outcome_of(status: std::process::ExitStatus) -> Outcome {
    match status.code() {
        Some(0) => Outcome {
            status: RunStatus::Finished,
            code: 0,
        },
        Some(c) => Outcome {
            status: RunStatus::Failed,
            code: c,
        },
        None => {
            use std::os::unix::process::ExitStatusExt;
            Outcome {
                status: RunStatus::Killed,
                code: 128 + status.signal().unwrap_or(0),
            }
        }
    }
}

/// Wait for `child` at most `limit`; past it, kill its process group and return None.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if std::time::Instant::now() >= deadline {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        // Polled: std has no wait with a timeout; 50 ms is nothing beside a training.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Copy a child's stream to our own and to a file, on a thread.
fn tee(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
    file: PathBuf,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(mut f) = std::fs::File::create(&file) else {
            return;
        };
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = to.write_all(&buf[..n]);
            let _ = to.flush();
            let _ = f.write_all(&buf[..n]);
        }
    })
}

/// Child processes may run elsewhere: hand them an absolute store location.
pub fn absolute_tracking_uri(uri: &str) -> String {
    // `sqlite:///rel.db` (SQLAlchemy's relative form) becomes `sqlite:////abs/rel.db`.
    if let Some(rel) = uri.strip_prefix("sqlite:///")
        && !rel.starts_with('/')
        && !rel.is_empty()
    {
        let path = std::path::Path::new(rel);
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        return format!("sqlite:///{}", abs.display());
    }
    match crate::store::uri::file_uri_to_path(uri) {
        Some(p) => std::path::absolute(&p)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned(),
        None => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::absolute_tracking_uri;

    #[test]
    fn children_get_an_absolute_store_location() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_tracking_uri("sqlite:///mlflow.db"),
            format!("sqlite:///{}", cwd.join("mlflow.db").display())
        );
        assert_eq!(
            absolute_tracking_uri("sqlite:////abs/m.db"),
            "sqlite:////abs/m.db"
        );
        assert_eq!(
            absolute_tracking_uri("mlruns"),
            cwd.join("mlruns").display().to_string()
        );
        assert_eq!(absolute_tracking_uri("http://h:5000"), "http://h:5000");
    }
}
