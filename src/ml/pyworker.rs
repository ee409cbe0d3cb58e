//! Models only Python can run, run by Python: a pool of worker processes, each loading the model once with
//! MLflow's own `mlflow.pyfunc.load_model`, fed by a queue that merges requests arriving together into one
//! `predict` call (adaptive batching).
//!
//! # The worker program and its wire protocol
//!
//! The worker is [`WORKER`] (`pyworker.py`, shipped inside the binary), started as
//! `PYTHON -B -c <program> MODEL_DIR` in an empty folder of its own (so nothing beside the model can shadow a
//! module), with its stdin and stdout as pipes and its stderr shared with mlx (the model's logs and prints
//! land there: the worker points its file descriptor 1 at stderr before loading the model, and keeps a
//! private copy of the original stdout for the protocol). Python runs only when the operator named it
//! (`--python PATH` or `MLX_PYTHON`); nothing in a model, a request or a run tag picks an interpreter.
//!
//! Every message, both ways, is one **frame**: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
//!
//! 1. Once the model is loaded the worker sends `{"ready": true, "pid": N}`; if anything fails first (no
//!    `mlflow` module, a model that cannot load), it sends `{"error": "<the Python error's last line>"}`
//!    and exits 2.
//! 2. mlx sends a request `{"columns": ["a", "b"], "values": [[a0, a1, ...], [b0, b1, ...]], "params": {...}}`
//!    (column-major; `params` may be absent or null). The worker builds
//!    `pandas.DataFrame({"a": [...], "b": [...]})` and calls `model.predict(df)` (with `params=` when given).
//! 3. The worker answers `{"predictions": P, "rows": N}`, where `P` is MLflow's own JSON form of the output
//!    (`mlflow.utils.proto_json_utils._get_jsonable_obj`: a DataFrame as records, a Series or array as a
//!    list) and `N` is `len(P)` when `P` is a list, else null; or `{"error": "<ExceptionType: message>"}`
//!    when `predict` raised. Either way the worker waits for the next request.
//! 4. mlx closes the worker's stdin to stop it; the worker exits 0 on end of input.
//!
//! JSON rather than Arrow IPC (through `pyarrow`), by measurement of the worker's side (decode the request
//! into a DataFrame, encode the answer; 4 numeric columns, on this shared 2-core machine): one row, JSON
//! 216 µs against Arrow 1,128 µs; 1,000 rows, JSON 4.6 ms against Arrow 0.36 ms. `mlx serve`'s batches of
//! one-row requests are a few to a few tens of rows, where JSON costs least, and it needs no Arrow crate in
//! mlx. A frame is self-describing, so an Arrow request kind can be added for large batches later.
//!
//! # Batching
//!
//! A worker thread that is free takes the oldest request and, behind it, every queued request with the same
//! columns and params up to `max_batch_rows` in all: requests that queued while every worker was busy become
//! one `predict`. A request that arrives to a free worker and an empty queue is sent at once. With
//! `max_batch_wait` above zero, a free worker waits up to that long (from the oldest request's arrival) for
//! more rows, but only while another worker is busy. When a merged batch's output is not one row per input
//! row, the requests are predicted one by one and the pool stops merging for good (served unbatched); when
//! a merged batch raises, its requests are retried one by one, so only the ones that raise fail.
//!
//! # Faults
//!
//! A worker that exits (a crash, SIGKILL) or does not answer within `predict_timeout` (it is killed) fails
//! only the requests of the batch it held, and is replaced by a new process loading the model again. The
//! queue holds at most `max_queue_rows` rows; past that, [`Pool::submit`] answers [`PyError::Full`].
//! Dropping the [`Pool`] drains it: queued requests are still answered, then the workers are stopped.

use serde_json::Value;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The worker program (see the module documentation for its protocol).
pub const WORKER: &str = include_str!("pyworker.py");

/// Why a Python prediction failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PyError {
    #[error("cannot run Python {python:?}: {why}")]
    NoPython { python: String, why: String },
    #[error("{0}")]
    Load(String),
    /// `predict` raised: the model's message.
    #[error("{0}")]
    Model(String),
    #[error(
        "the model's Python worker did not answer within {0:?}; it was stopped and is being replaced"
    )]
    Timeout(Duration),
    #[error("the model's Python worker exited ({0}) while predicting; it is being replaced")]
    Crashed(String),
    #[error("the prediction queue is full")]
    Full,
    #[error("the model is no longer served")]
    Closed,
}

/// How to run a pool.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The Python the operator named.
    pub python: String,
    pub workers: usize,
    /// Most rows merged into one `predict`.
    pub max_batch_rows: usize,
    /// Longest a free worker waits for more rows while another is busy (zero: never).
    pub max_batch_wait: Duration,
    /// Longest one `predict` may take before its worker is killed.
    pub predict_timeout: Duration,
    /// Longest a worker may take to load the model.
    pub load_timeout: Duration,
    /// Most rows waiting in the queue.
    pub max_queue_rows: usize,
}

impl PoolOptions {
    /// The defaults, for `python` and `workers`.
    pub fn new(python: impl Into<String>, workers: usize) -> PoolOptions {
        PoolOptions {
            python: python.into(),
            workers: workers.max(1),
            max_batch_rows: DEFAULT_MAX_BATCH_ROWS,
            max_batch_wait: Duration::ZERO,
            predict_timeout: Duration::from_secs(60),
            load_timeout: Duration::from_secs(300),
            max_queue_rows: 100_000,
        }
    }
}

/// Default for `--max-batch-rows`.
pub const DEFAULT_MAX_BATCH_ROWS: usize = 256;

/// Rows for `predict`, column-major, and the request's `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub columns: Vec<String>,
    pub values: Vec<Vec<Value>>,
    pub params: Option<Value>,
}

impl Request {
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }

    fn mergeable(&self, other: &Request) -> bool {
        self.columns == other.columns && self.params == other.params
    }

    fn frame(&self) -> Vec<u8> {
        let doc = serde_json::json!({"columns": self.columns, "values": self.values, "params": self.params});
        serde_json::to_vec(&doc).expect("JSON values serialize")
    }
}

/// Where a request's answer goes: the predictions (MLflow's JSON form) or the error.
pub type Reply = Box<dyn FnOnce(Result<Value, PyError>) + Send>;

/// One worker process.
struct Process {
    child: Child,
    stdin: ChildStdin,
    frames: mpsc::Receiver<Value>,
}

fn read_frame(r: &mut impl Read) -> Option<Value> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(head) as usize];
    r.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap_or_else(
        |e| serde_json::json!({"error": format!("the worker sent a frame that is not JSON: {e}")}),
    ))
}

fn exit_text(child: &mut Child) -> String {
    use std::os::unix::process::ExitStatusExt;
    match child.wait() {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => s.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

impl Process {
    fn spawn(opts: &PoolOptions, model_dir: &Path, workdir: &Path) -> Result<Process, PyError> {
        let mut child = Command::new(&opts.python)
            .arg("-B")
            .arg("-c")
            .arg(WORKER)
            .arg(model_dir)
            .current_dir(workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| PyError::NoPython {
                python: opts.python.clone(),
                why: e.to_string(),
            })?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            while let Some(frame) = read_frame(&mut stdout) {
                if tx.send(frame).is_err() {
                    break;
                }
            }
        });
        let mut p = Process {
            child,
            stdin,
            frames,
        };
        match p.frames.recv_timeout(opts.load_timeout) {
            Ok(doc) if doc.get("ready").is_some() => Ok(p),
            Ok(doc) => {
                let _ = p.child.kill();
                let _ = p.child.wait();
                Err(PyError::Load(
                    doc.get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("the worker sent an unexpected first message")
                        .to_string(),
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = p.child.kill();
                let _ = p.child.wait();
                Err(PyError::Load(format!(
                    "the model did not load within {:?}",
                    opts.load_timeout
                )))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(PyError::Load(format!(
                "{} exited before loading the model ({})",
                opts.python,
                exit_text(&mut p.child)
            ))),
        }
    }

    /// One round trip. `Err` with `Timeout` or `Crashed` means this process is gone.
    fn call(
        &mut self,
        req: &Request,
        timeout: Duration,
    ) -> Result<(Value, Option<usize>), PyError> {
        let frame = req.frame();
        let sent = u32::try_from(frame.len())
            .map_err(|_| PyError::Model("the batch is larger than 4 GiB".into()))
            .and_then(|n| {
                self.stdin
                    .write_all(&n.to_be_bytes())
                    .and_then(|_| self.stdin.write_all(&frame))
                    .and_then(|_| self.stdin.flush())
                    .map_err(|_| PyError::Crashed(String::new()))
            });
        if let Err(e) = sent {
            if matches!(e, PyError::Crashed(_)) {
                let _ = self.child.kill();
                return Err(PyError::Crashed(exit_text(&mut self.child)));
            }
            return Err(e);
        }
        match self.frames.recv_timeout(timeout) {
            Ok(mut doc) => {
                if let Some(e) = doc.get("error") {
                    return Err(PyError::Model(
                        e.as_str().map_or_else(|| e.to_string(), str::to_string),
                    ));
                }
                let rows = doc.get("rows").and_then(Value::as_u64).map(|n| n as usize);
                Ok((doc["predictions"].take(), rows))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(PyError::Timeout(timeout))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(PyError::Crashed(exit_text(&mut self.child)))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

struct Job {
    req: Request,
    at: Instant,
    reply: Reply,
}

struct State {
    jobs: VecDeque<Job>,
    queued_rows: usize,
    busy: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    opts: PoolOptions,
    model_dir: PathBuf,
    workdir: tempfile::TempDir,
    /// Set once a merged batch's output was not one row per input row.
    unbatched: AtomicBool,
    pids: Mutex<Vec<u32>>,
    /// `predict` calls sent to the workers.
    calls: std::sync::atomic::AtomicU64,
}

/// A pool of Python workers serving one model.
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("model_dir", &self.shared.model_dir)
            .field("workers", &self.shared.opts.workers)
            .finish()
    }
}

impl Pool {
    /// Start `opts.workers` workers on the model in `model_dir`, each loading it; the first failure (with
    /// the Python error's last line) stops them all.
    pub fn start(model_dir: &Path, opts: PoolOptions) -> Result<Pool, PyError> {
        let workdir = tempfile::tempdir().map_err(|e| PyError::NoPython {
            python: opts.python.clone(),
            why: format!("cannot create a working folder: {e}"),
        })?;
        let model_dir = std::path::absolute(model_dir).unwrap_or_else(|_| model_dir.to_path_buf());
        let spawned: Vec<Result<Process, PyError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..opts.workers.max(1))
                .map(|_| s.spawn(|| Process::spawn(&opts, &model_dir, workdir.path())))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(PyError::Load("a worker thread panicked".into())))
                })
                .collect()
        });
        let mut procs = Vec::new();
        let mut first_err = None;
        for p in spawned {
            match p {
                Ok(p) => procs.push(p),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        if let Some(e) = first_err {
            for mut p in procs {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
            return Err(e);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                queued_rows: 0,
                busy: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            pids: Mutex::new(procs.iter().map(Process::pid).collect()),
            opts,
            model_dir,
            workdir,
            unbatched: AtomicBool::new(false),
            calls: std::sync::atomic::AtomicU64::new(0),
        });
        for (slot, p) in procs.into_iter().enumerate() {
            let sh = shared.clone();
            std::thread::spawn(move || run_worker(sh, slot, p));
        }
        Ok(Pool { shared })
    }

    /// Queue a request; `reply` is called once with its answer (on a pool thread).
    pub fn submit(&self, req: Request, reply: Reply) -> Result<(), PyError> {
        let rows = req.rows();
        let mut st = self.shared.state.lock().expect("pool lock");
        if st.closed {
            return Err(PyError::Closed);
        }
        if !st.jobs.is_empty() && st.queued_rows + rows > self.shared.opts.max_queue_rows {
            return Err(PyError::Full);
        }
        st.queued_rows += rows;
        st.jobs.push_back(Job {
            req,
            at: Instant::now(),
            reply,
        });
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Predict one request and wait for the answer.
    pub fn predict(&self, req: Request) -> Result<Value, PyError> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            req,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.recv().unwrap_or(Err(PyError::Closed))
    }

    /// The worker processes' ids, in slot order.
    pub fn pids(&self) -> Vec<u32> {
        self.shared.pids.lock().expect("pids lock").clone()
    }

    /// Whether the pool stopped merging requests (the model's output is not one row per input row).
    pub fn unbatched(&self) -> bool {
        self.shared.unbatched.load(Ordering::Relaxed)
    }

    /// Rows waiting for a worker.
    pub fn queued_rows(&self) -> usize {
        self.shared.state.lock().expect("pool lock").queued_rows
    }

    /// `predict` calls sent to the workers so far (a merged batch is one).
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }

    pub fn options(&self) -> &PoolOptions {
        &self.shared.opts
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.state.lock().expect("pool lock").closed = true;
        self.shared.wake.notify_all();
    }
}

/// The next batch for a free worker, or `None` once the pool is closed and drained.
fn next_batch(shared: &Shared) -> Option<Vec<Job>> {
    let opts = &shared.opts;
    let mut st = shared.state.lock().expect("pool lock");
    while st.jobs.is_empty() {
        if st.closed {
            return None;
        }
        st = shared.wake.wait(st).expect("pool lock");
    }
    let first = st.jobs.pop_front().expect("not empty");
    let mut rows = first.req.rows();
    let mut batch = vec![first];
    let merge = !shared.unbatched.load(Ordering::Relaxed);
    let take_more = |st: &mut State, batch: &mut Vec<Job>, rows: &mut usize| {
        while let Some(next) = st.jobs.front() {
            if !batch[0].req.mergeable(&next.req) || *rows + next.req.rows() > opts.max_batch_rows {
                break;
            }
            let job = st.jobs.pop_front().expect("front exists");
            *rows += job.req.rows();
            batch.push(job);
        }
    };
    if merge {
        take_more(&mut st, &mut batch, &mut rows);
        let deadline = batch[0].at + opts.max_batch_wait;
        while rows < opts.max_batch_rows && st.busy > 0 && !st.closed {
            let now = Instant::now();
            if now >= deadline || st.jobs.front().is_some() {
                break;
            }
            st = shared
                .wake
                .wait_timeout(st, deadline - now)
                .expect("pool lock")
                .0;
            take_more(&mut st, &mut batch, &mut rows);
        }
    }
    st.queued_rows -= rows;
    st.busy += 1;
    // More work may be waiting for another worker.
    if !st.jobs.is_empty() {
        shared.wake.notify_one();
    }
    Some(batch)
}

fn run_worker(shared: Arc<Shared>, slot: usize, first: Process) {
    let mut proc = Some(first);
    while let Some(batch) = next_batch(&shared) {
        execute(&shared, slot, &mut proc, batch);
        shared.state.lock().expect("pool lock").busy -= 1;
    }
    // Closed and drained: end of input stops the worker.
    if let Some(mut p) = proc {
        drop(p.stdin);
        let _ = p.child.wait();
    }
}

/// A live process for `slot`, replacing a dead one.
fn ensure(shared: &Shared, slot: usize, proc: &mut Option<Process>) -> Result<(), PyError> {
    if proc.is_none() {
        let p = Process::spawn(&shared.opts, &shared.model_dir, shared.workdir.path())?;
        eprintln!(
            "mlx: Python worker {} started for {} (pid {})",
            slot,
            shared.model_dir.display(),
            p.pid()
        );
        if let Some(s) = shared.pids.lock().expect("pids lock").get_mut(slot) {
            *s = p.pid();
        }
        *proc = Some(p);
    }
    Ok(())
}

/// One round trip on `slot`'s process, dropping the process when it died or hung.
fn call(
    shared: &Shared,
    slot: usize,
    proc: &mut Option<Process>,
    req: &Request,
) -> Result<(Value, Option<usize>), PyError> {
    ensure(shared, slot, proc)?;
    let p = proc.as_mut().expect("ensured");
    shared.calls.fetch_add(1, Ordering::Relaxed);
    let result = p.call(req, shared.opts.predict_timeout);
    if let Err(e @ (PyError::Timeout(_) | PyError::Crashed(_))) = &result {
        eprintln!("mlx: Python worker {slot} (pid {}): {e}", p.pid());
        *proc = None;
    }
    result
}

fn merged(batch: &[Job]) -> Request {
    let first = &batch[0].req;
    let mut values = first.values.clone();
    for job in &batch[1..] {
        for (col, more) in values.iter_mut().zip(&job.req.values) {
            col.extend(more.iter().cloned());
        }
    }
    Request {
        columns: first.columns.clone(),
        values,
        params: first.params.clone(),
    }
}

fn execute(shared: &Shared, slot: usize, proc: &mut Option<Process>, batch: Vec<Job>) {
    if batch.len() == 1 {
        let job = batch.into_iter().next().expect("one job");
        let result = call(shared, slot, proc, &job.req).map(|(v, _)| v);
        (job.reply)(result);
        return;
    }
    let total: usize = batch.iter().map(|j| j.req.rows()).sum();
    match call(shared, slot, proc, &merged(&batch)) {
        Ok((Value::Array(mut all), Some(n))) if n == total && all.len() == total => {
            // Split back, last request first so each split is a cheap tail.
            let mut answers = Vec::with_capacity(batch.len());
            for job in batch.iter().rev() {
                let tail = all.split_off(all.len() - job.req.rows());
                answers.push(Value::Array(tail));
            }
            for (job, answer) in batch.into_iter().zip(answers.into_iter().rev()) {
                (job.reply)(Ok(answer));
            }
        }
        Ok(_) => {
            if !shared.unbatched.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "mlx: the model at {} does not answer one row per input row: serving it unbatched",
                    shared.model_dir.display()
                );
            }
            one_by_one(shared, slot, proc, batch);
        }
        Err(PyError::Model(_)) => one_by_one(shared, slot, proc, batch),
        Err(e) => {
            for job in batch {
                (job.reply)(Err(e.clone()));
            }
        }
    }
}

fn one_by_one(shared: &Shared, slot: usize, proc: &mut Option<Process>, batch: Vec<Job>) {
    for job in batch {
        let result = call(shared, slot, proc, &job.req).map(|(v, _)| v);
        (job.reply)(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cols: &[&str], rows: usize, params: Option<Value>) -> Request {
        Request {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            values: cols
                .iter()
                .map(|_| (0..rows).map(|i| Value::from(i as u64)).collect())
                .collect(),
            params,
        }
    }

    #[test]
    fn merged_batches_concatenate_columns() {
        let jobs: Vec<Job> = [1, 2]
            .iter()
            .map(|&n| Job {
                req: req(&["a", "b"], n, None),
                at: Instant::now(),
                reply: Box::new(|_| {}),
            })
            .collect();
        let m = merged(&jobs);
        assert_eq!(m.rows(), 3);
        assert_eq!(
            m.values[0],
            vec![Value::from(0), Value::from(0), Value::from(1)]
        );
    }

    #[test]
    fn only_same_columns_and_params_merge() {
        let a = req(&["a"], 1, None);
        assert!(a.mergeable(&req(&["a"], 5, None)));
        assert!(!a.mergeable(&req(&["b"], 1, None)));
        assert!(!a.mergeable(&req(&["a"], 1, Some(serde_json::json!({"k": 1})))));
    }

    #[test]
    fn frames_read_back() {
        let r = req(&["x"], 2, None);
        let body = r.frame();
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let doc = read_frame(&mut bytes.as_slice()).expect("a frame");
        assert_eq!(doc["columns"], serde_json::json!(["x"]));
        assert_eq!(doc["values"], serde_json::json!([[0, 1]]));
        assert!(read_frame(&mut &bytes[..3]).is_none());
    }

    #[test]
    fn a_missing_python_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = Pool::start(dir.path(), PoolOptions::new("/nonexistent/python3", 1)).unwrap_err();
        assert!(
            matches!(&err, PyError::NoPython { python, .. } if python == "/nonexistent/python3"),
            "{err:?}"
        );
    }
}
