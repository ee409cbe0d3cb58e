//! Where the store is: flag > MLX_TRACKING_URI > MLFLOW_TRACKING_URI > config file > ./mlruns.

use crate::common::mlx_bare;
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
    let csv = mlx_bare(d)
        .env("MLX_CONFIG", &cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(
        csv.starts_with("setting,value,source\n"),
        "config's output format applies: {csv}"
    );
    assert!(csv.contains("output,csv,config file"), "{csv}");

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
        ("sqlite:///mlflow.db", "is a database"),
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
    assert!(err.contains("config.toml"), "{err}");
}
