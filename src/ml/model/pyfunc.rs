//! MLflow's `python_function` flavor for mlx models, so `mlflow.pyfunc.load_model`, `mlflow models serve`
//! and `mlflow.pyfunc.spark_udf` run them: a small numpy+pandas loader (`mlx_pyfunc.py`, embedded here)
//! written into the model folder's `code/`, the environment files MLflow reads, and the flavor entry in
//! `MLmodel`. `add_pyfunc::add_to_folder` adds all of it to a model written before the flavor existed.

use crate::ml::core::Task;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// The loader MLflow imports (`loader_module: mlx_pyfunc`); it replays `mlx predict` in Python.
pub const LOADER: &str = include_str!("../mlx_pyfunc.py");
pub const LOADER_MODULE: &str = "mlx_pyfunc";
const CODE_DIR: &str = "code";
/// mlx runs no Python, so the version is a fixed one the loader is tested with. MLflow only warns when the
/// serving Python differs; `--env-manager virtualenv` needs a full version to install.
pub const PYTHON_VERSION: &str = "3.11.7";
/// What the loader imports, nothing else (factorize's `use_na_sentinel` needs pandas 1.5).
const REQUIREMENTS: [&str; 2] = ["numpy>=1.23", "pandas>=1.5"];

/// The files of the flavor, as (relative path, contents).
fn files() -> Vec<(String, String)> {
    let requirements: String = REQUIREMENTS.iter().map(|r| format!("{r}\n")).collect();
    let python_env = format!(
        "python: {PYTHON_VERSION}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n"
    );
    let pip: String = REQUIREMENTS.iter().map(|r| format!("  - {r}\n")).collect();
    let conda = format!(
        "channels:\n- conda-forge\ndependencies:\n- python={PYTHON_VERSION}\n- pip\n- pip:\n{pip}name: mlflow-env\n"
    );
    vec![
        (format!("{CODE_DIR}/{LOADER_MODULE}.py"), LOADER.to_string()),
        ("requirements.txt".into(), requirements),
        ("python_env.yaml".into(), python_env),
        ("conda.yaml".into(), conda),
    ]
}

/// Write the loader and the environment files into `dir` (each file atomically).
pub fn write_files(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join(CODE_DIR))?;
    for (name, text) in files() {
        crate::store::atomic::write(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// The `python_function` entry of `MLmodel.flavors`.
pub fn flavor() -> Value {
    let s = |v: &str| Value::String(v.into());
    let mut env = Mapping::new();
    env.insert(s("conda"), s("conda.yaml"));
    env.insert(s("virtualenv"), s("python_env.yaml"));
    let mut f = Mapping::new();
    f.insert(s("code"), s(CODE_DIR));
    f.insert(s("env"), Value::Mapping(env));
    f.insert(s("loader_module"), s(LOADER_MODULE));
    f.insert(s("predict_fn"), s("predict"));
    f.insert(s("python_version"), s(PYTHON_VERSION));
    Value::Mapping(f)
}

/// The signature's params schema: classifiers take `predict_proba` (MLflow drops params a signature does
/// not declare).
pub fn params_schema(task: Task) -> Value {
    match task {
        Task::Classification => Value::String(
            serde_json::json!([{"name": "predict_proba", "default": false, "shape": null, "type": "boolean"}])
                .to_string(),
        ),
        Task::Regression => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_files_list_only_what_the_loader_imports() {
        let imports: Vec<&str> = LOADER
            .lines()
            .filter(|l| l.starts_with("import ") || l.starts_with("from "))
            .collect();
        assert_eq!(
            imports,
            [
                "import json",
                "import os",
                "import numpy as np",
                "import pandas as pd"
            ]
        );
        let f = files();
        let get = |n: &str| &f.iter().find(|(p, _)| p == n).unwrap().1;
        assert_eq!(get("requirements.txt"), "numpy>=1.23\npandas>=1.5\n");
        let conda: Value = serde_yaml_ng::from_str(get("conda.yaml")).unwrap();
        assert_eq!(conda["dependencies"][0], "python=3.11.7");
        let env: Value = serde_yaml_ng::from_str(get("python_env.yaml")).unwrap();
        assert_eq!(env["python"], "3.11.7");
        assert_eq!(env["dependencies"][0], "-r requirements.txt");
    }
}
