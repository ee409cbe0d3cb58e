//! Where the store is: flag > MLX_TRACKING_URI > MLFLOW_TRACKING_URI > config file > ./mlruns.

use crate::common::mlx_bare;
use crate::snap::snap;
use serde_json::Value;

fn show(cmd: &mut assert_cmd::Command) -> Value {
    let out = cmd
        .args(["config", "show", "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn precedence_and_sources() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v = show(&mut mlx_bare(d));
    assert_eq!(v["tracking_uri"]["value"], "./mlruns");
    assert_eq!(v["tracking_uri"]["source"], "default");

    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        "tracking_uri = \"/data/team-store\"\noutput = \"csv\"\n",
    )
    .unwrap();
    let v = show(mlx_bare(d).env("MLX_CONFIG", &cfg));
    assert_eq!(v["tracking_uri"]["value"], "/data/team-store");
    assert!(
        v["tracking_uri"]["source"]
            .as_str()
            .unwrap()
            .starts_with("config file")
    );
    assert_eq!(v["output"]["source"], "command-line flag");
    // The variables `config show` lists besides MLX_/MLFLOW_ ones, unset or fixed for a snapshot that
    // holds on any machine (CI's PATH is not this one's).
    let mut cmd = mlx_bare(d);
    for name in ["COLUMNS", "LOGNAME", "USER", "LNAME", "USERNAME"] {
        cmd.env_remove(name);
    }
    cmd.env("PATH", "/usr/bin:/bin");
    let csv = cmd
        .env("MLX_CONFIG", &cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    // The config file's output format (csv) applies.
    snap!(&dir, "show_csv_from_config_file", csv);

    let v = show(
        mlx_bare(d)
            .env("MLX_CONFIG", &cfg)
            .env("MLFLOW_TRACKING_URI", "file:/b"),
    );
    assert_eq!(v["tracking_uri"]["value"], "file:/b");
    assert_eq!(
        v["tracking_uri"]["source"],
        "environment variable MLFLOW_TRACKING_URI"
    );

    let v = show(
        mlx_bare(d)
            .env("MLFLOW_TRACKING_URI", "file:/b")
            .env("MLX_TRACKING_URI", "/a"),
    );
    assert_eq!(
        v["tracking_uri"]["source"],
        "environment variable MLX_TRACKING_URI"
    );

    let v = show(
        mlx_bare(d)
            .env("MLX_TRACKING_URI", "/a")
            .args(["--tracking-uri", "/flag"]),
    );
    assert_eq!(v["tracking_uri"]["value"], "/flag");
    assert_eq!(v["tracking_uri"]["source"], "command-line flag");
}

#[test]
fn default_store_is_mlruns_in_cwd_and_file_uris_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = mlx_bare(d).args(["log", "start"]).output().unwrap();
    assert!(out.status.success());
    assert!(d.join("mlruns/0/meta.yaml").is_file());
    let uri = format!("file://{}", d.join("other store").display()).replace(' ', "%20");
    mlx_bare(d)
        .args(["--tracking-uri", &uri, "log", "start"])
        .assert()
        .success();
    assert!(d.join("other store/0/meta.yaml").is_file());
    mlx_bare(d)
        .env(
            "MLFLOW_TRACKING_URI",
            format!("file:{}", d.join("third").display()),
        )
        .args(["experiments", "create", "x"])
        .assert()
        .success();
    assert!(d.join("third/.trash").is_dir());
}

#[test]
fn unreachable_servers_unknown_uris_and_bad_config_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (uri, needle) in [
        // Nothing listens on port 9: refused, retried twice, then a one-line error.
        (
            "http://127.0.0.1:9",
            "cannot reach the tracking server at http://127.0.0.1:9/api/2.0/mlflow/experiments/search",
        ),
        ("http://127.0.0.1:9", "gave up after 3 attempts"),
        ("https://mlflow.invalid", "cannot reach the tracking server"),
        ("mssql://db/mlflow", "is a database"),
        ("ftp://host/mlruns", "unsupported scheme"),
    ] {
        let out = mlx_bare(d)
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            .env("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.01")
            .args(["--tracking-uri", uri, "runs", "list"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle) && err.contains(uri), "{err}");
    }
    let cfg = d.join("config.toml");
    std::fs::write(&cfg, "tracking_uri = 5\n").unwrap();
    let out = mlx_bare(d)
        .env("MLX_CONFIG", &cfg)
        .args(["runs", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    snap!(&dir, "bad_config_file_error", err);
}

/// `config show` lists every environment variable mlx reads, with its value and source; secrets never show.
#[test]
fn config_show_lists_every_variable_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let v = show(
        mlx_bare(dir.path())
            .env("MLX_MODEL", "titanic")
            .env("MLFLOW_TRACKING_PASSWORD", "s3cret")
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
    );
    let env = v["environment"].as_array().unwrap();
    let find = |name: &str| {
        env.iter()
            .find(|e| e["setting"] == name)
            .unwrap_or_else(|| panic!("{name} in {v}"))
            .clone()
    };
    for name in [
        "MLX_RUN_ID",
        "MLX_EXPERIMENT_NAME",
        "MLX_SERVE_TOKEN",
        "MLX_CACHE_DIR",
        "MLX_MAX_DATA_MB",
        "MLFLOW_TRACKING_TOKEN",
        "MLX_HTTP_TOTAL_TIMEOUT",
        "COLUMNS",
    ] {
        assert_eq!(find(name)["source"], "default", "{name}");
    }
    assert_eq!(find("MLX_MODEL")["value"], "titanic");
    assert_eq!(find("MLX_MODEL")["source"], "environment");
    assert_eq!(find("MLFLOW_HTTP_REQUEST_MAX_RETRIES")["value"], "2");
    assert_eq!(find("MLFLOW_TRACKING_PASSWORD")["value"], "(set)");
    assert!(!v.to_string().contains("s3cret"), "{v}");
}

/// `--output` is a format: a typo is a usage error (2) that writes nothing, and a file name only means a
/// file to `predict` (which has `--output-file` for it).
#[test]
fn output_is_a_format_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for bad in ["jsno", "out.csv"] {
        let out = mlx_bare(d)
            .args(["experiments", "list", "-o", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = mlx_bare(d)
        .args([
            "predict",
            "-m",
            "runs:/x/model",
            "--data",
            "d.csv",
            "-o",
            "jsno",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    snap!(
        &dir,
        "predict_output_is_not_a_file_error",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0, "nothing written");
}
