//! Issue 18: what an MLflow user or a script expects — foreign tracking URIs refused clearly, one JSON
//! document per `-o json`, forgiving data options, per-class reports, YAML MLproject, tidy tables.

use crate::common::{TestStore, mlx_bare};
use crate::train::titanic;

#[test]
fn tracking_uris_mlx_cannot_open_are_errors_that_say_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = titanic();
    for (uri, needle) in [
        ("databricks", "Databricks"),
        ("databricks-uc", "Databricks"),
        ("databricks://profile", "Databricks"),
        (
            "sqlite:///mlflow.db",
            "mlflow server --backend-store-uri sqlite:///mlflow.db",
        ),
        (
            "postgresql://db/mlflow",
            "mlflow server --backend-store-uri postgresql://db/mlflow",
        ),
        (
            "postgresql+psycopg2://db/m",
            "mlflow server --backend-store-uri",
        ),
        ("mysql://db/mlflow", "mlflow server --backend-store-uri"),
        // Credentials in the URI are not repeated.
        (
            "mysql://me:s3cret@db/mlflow",
            "mlflow server --backend-store-uri mysql://***@db/mlflow",
        ),
        ("s3://bucket/mlruns", "unsupported scheme"),
    ] {
        let out = mlx_bare(d)
            .env("MLFLOW_TRACKING_URI", uri)
            .args([
                "train",
                "--data",
                data.to_str().unwrap(),
                "--target",
                "Survived",
            ])
            .args(["--features", "Pclass,Fare"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{uri}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle) && !err.contains("s3cret"), "{err}");
        assert!(err.contains(uri) || uri.contains("s3cret"), "{err}");
        assert!(
            err.contains("http://host:port") && err.contains("file:"),
            "{err}"
        );
    }
    // Nothing was created where the URI would have been read as a folder.
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A folder that merely starts like one is still a folder.
    let s = TestStore::new();
    s.ok(&[
        "--tracking-uri",
        "databricks-runs",
        "experiments",
        "create",
        "x",
    ]);
    assert!(s.dir.path().join("databricks-runs/.trash").is_dir());
}
