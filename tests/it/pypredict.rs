//! `mlx predict --python`: a model only Python can run (the guide's `CustomModel`, with a scikit-learn model
//! as its artifact), its rows streamed through Python workers in chunks and written in order; the same
//! answers as `mlflow.pyfunc.load_model(...).predict`; bounded memory; `--env-manager uv` building once.

use crate::common::{TestStore, python, short};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/custom_model.py");

fn script(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python())
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "custom_model.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The guide's CustomModel saved in `<tmp>/custom`, and `rows` rows of input in `<tmp>/data.csv`.
fn custom_model(s: &TestStore, rows: usize) -> (PathBuf, PathBuf) {
    let model = s.dir.path().join("custom");
    let data = s.dir.path().join("data.csv");
    script(&["save".as_ref(), model.as_os_str()]);
    write_data(&data, rows);
    (model, data)
}

fn write_data(path: &Path, rows: usize) {
    script(&["data".as_ref(), path.as_os_str(), rows.to_string().as_ref()]);
}

fn py() -> String {
    python().to_string_lossy().into_owned()
}

#[test]
fn custom_model_matches_mlflow_in_order_across_chunks_and_workers() {
    let s = TestStore::new();
    let (model, data) = custom_model(&s, 5000);
    let expected = script(&["predict".as_ref(), model.as_os_str(), data.as_os_str()]);
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    // 700-row chunks over two workers: answers come back out of order and are written in order.
    let got = s.ok(&[
        "predict",
        "--model",
        m,
        "--data",
        d,
        "--python",
        &py(),
        "--workers",
        "2",
        "--chunk-rows",
        "700",
    ]);
    assert_eq!(got.lines().count(), 5001);
    assert_eq!(got, expected, "mlx: {}", short(&got));
    // From stdin, with the id column first, as JSON.
    let out = s
        .mlx()
        .args(["predict", "--model", m, "--data", "-", "--python", &py()])
        .args([
            "--id-column",
            "id",
            "--output",
            "json",
            "--chunk-rows",
            "2000",
        ])
        .pipe_stdin(&data)
        .unwrap()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let preds = json["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 5000);
    let first = expected.lines().nth(1).unwrap();
    let (label, score) = first.split_once(',').unwrap();
    assert_eq!(
        preds[0],
        serde_json::json!({"id": "0", "label": label, "score": score.parse::<f64>().unwrap()})
    );
    assert_eq!(preds[4999]["id"], "4999");
    // --with-proba has nothing to add to what a Python model's predict returns.
    let err = s.fails(&[
        "predict",
        "--model",
        m,
        "--data",
        d,
        "--python",
        &py(),
        "--with-proba",
    ]);
    assert!(err.contains("--with-proba: a model run by Python"), "{err}");
}

/// Peak RSS (KiB) of `mlx ARGS` and the workers it waited for, by the kernel's own accounting: a
/// Python wrapper runs it and reads `getrusage(RUSAGE_CHILDREN).ru_maxrss`.
fn peak_rss_kib(s: &TestStore, args: &[&str]) -> u64 {
    let code = "import resource, subprocess, sys\n\
                r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
                assert r.returncode == 0, r.stderr.decode()[-2000:]\n\
                print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    let mut cmd = s.mlx_std();
    cmd.args(args);
    let mut wrapper = Command::new(python());
    wrapper
        .arg("-c")
        .arg(code)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapper.env(k, v),
            None => wrapper.env_remove(k),
        };
    }
    wrapper.current_dir(s.dir.path());
    let out = wrapper.output().expect("run the wrapper");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn peak_memory_does_not_grow_with_the_row_count() {
    let s = TestStore::new();
    let (model, small) = custom_model(&s, 60_000);
    let big = s.dir.path().join("big.csv");
    write_data(&big, 300_000);
    let m = model.to_str().unwrap();
    let run = |data: &Path| {
        peak_rss_kib(
            &s,
            &[
                "predict",
                "--model",
                m,
                "--data",
                data.to_str().unwrap(),
                "--python",
                &py(),
                "--workers",
                "2",
                "--output-file",
                "out.csv",
            ],
        )
    };
    let small_kib = run(&small);
    let big_kib = run(&big);
    let rows = std::fs::read_to_string(s.dir.path().join("out.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 300_001);
    eprintln!("peak RSS {small_kib} KiB for 60,000 rows, {big_kib} KiB for 300,000");
    // Five times the rows, both well past the read-ahead (two 8,192-row chunks per worker): the peak
    // stays within 16 MiB (reading the whole file ahead, it grows by about 150 MiB).
    assert!(
        big_kib < small_kib + 16 * 1024,
        "peak RSS {small_kib} KiB for 60,000 rows, {big_kib} KiB for 300,000"
    );
}

#[test]
fn a_missing_python_or_one_without_mlflow_is_a_one_line_error() {
    let s = TestStore::new();
    let model = s.dir.path().join("custom");
    script(&["save".as_ref(), model.as_os_str()]);
    let data = s.dir.path().join("data.csv");
    write_data(&data, 10);
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let err = s.fails(&[
        "predict",
        "--model",
        m,
        "--data",
        d,
        "--python",
        "/nonexistent/python3",
    ]);
    assert!(
        err.starts_with(
            "error: cannot run Python '/nonexistent/python3' (No such file or directory"
        ),
        "{err}"
    );
    // A fresh venv has no mlflow.
    let bare = s.dir.path().join("bare");
    let made = Command::new(python())
        .args(["-m", "venv", "--without-pip"])
        .arg(&bare)
        .status()
        .unwrap();
    assert!(made.success());
    let bare_py = bare.join("bin/python");
    let err = s.fails(&[
        "predict",
        "--model",
        m,
        "--data",
        d,
        "--python",
        bare_py.to_str().unwrap(),
    ]);
    assert_eq!(
        err,
        format!(
            "error: Python '{}' has no mlflow (ModuleNotFoundError: No module named mlflow); install it there \
             (pip install mlflow) or pass --python PATH to a Python that has it",
            bare_py.display()
        )
    );
    // Through MLX_PYTHON, the same check.
    let out = s
        .mlx()
        .env("MLX_PYTHON", "/nonexistent/python3")
        .args(["predict", "--model", m, "--data", d])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot run Python '/nonexistent/python3'")
    );
}

fn env_dirs(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache.join("envs"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn env_manager_uv_builds_once_from_the_model_requirements_and_reuses_it() {
    let s = TestStore::new();
    let (model, data) = custom_model(&s, 50);
    let expected = script(&["predict".as_ref(), model.as_os_str(), data.as_os_str()]);
    // uv comes with the test venv (tests/requirements.txt); the base Python needs no mlflow of its own.
    let bin = python().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = s.dir.path().join("cache");
    let run = || {
        let out = s
            .mlx()
            .env("PATH", &path)
            .args([
                "predict",
                "--model",
                model.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ])
            .args(["--python", &py(), "--env-manager", "uv", "--workers", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (first, note) = run();
    assert_eq!(first, expected);
    assert!(note.contains("building a Python environment for"), "{note}");
    let envs = env_dirs(&cache);
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert!(envs[0].starts_with("uv-"), "{envs:?}");
    let env_python = cache.join("envs").join(&envs[0]).join("bin/python");
    assert!(env_python.exists());
    let (second, note) = run();
    assert_eq!(second, expected);
    assert!(!note.contains("building"), "{note}");
    assert_eq!(
        env_dirs(&cache),
        envs,
        "the second call created nothing new"
    );
}
