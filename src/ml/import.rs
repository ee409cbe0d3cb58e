//! `mlx models import`: a pickled MLflow model (MLflow 2, or `serialization_format="cloudpickle"`/
//! `"pickle"`) converted once into a format mlx reads natively. mlx never unpickles: the shipped script
//! `import_model.py` runs in a Python the user names (one that has the model's libraries) and re-saves
//! the model with skops (scikit-learn, LightGBM's scikit-learn wrappers) or as XGBoost's UBJSON. The
//! copy is written to a staging folder with its `MLmodel` rewritten to the new format; the caller stores
//! it as a new model (the original is never changed).

use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("import_model.py");

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {why}")]
    Model { path: String, why: String },
    #[error(
        "cannot run Python '{python}' ({why}); pass --python PATH to a Python that has the model's libraries \
         (e.g. scikit-learn and skops, lightgbm, xgboost)"
    )]
    NoPython { python: String, why: String },
    #[error("the conversion with Python '{python}' failed: {why}")]
    Convert { python: String, why: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a model folder needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// mlx reads it as it is (skops, LightGBM text, XGBoost json/ubj, or an mlx model).
    Native(String),
    Convert(Conversion),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The flavor to rewrite: sklearn, lightgbm or xgboost.
    pub flavor: String,
    /// The file to convert, inside the model folder.
    pub file: String,
    /// The format it is in (pickle, cloudpickle, xgb, deprecated...).
    pub format: String,
    pub model_class: String,
}

fn model_err(path: &Path, why: impl Into<String>) -> ImportError {
    ImportError::Model {
        path: path.display().to_string(),
        why: why.into(),
    }
}

fn read_mlmodel(dir: &Path) -> Result<Value, ImportError> {
    let path = dir.join("MLmodel");
    let text = std::fs::read_to_string(&path).map_err(|e| model_err(&path, e.to_string()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| model_err(&path, format!("not valid YAML: {e}")))
}

/// A file name the flavor names: plain, inside the folder.
fn plain_file(path: &Path, file: &str) -> Result<String, ImportError> {
    let ok = !file.is_empty()
        && !file.starts_with('.')
        && file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(file.to_string())
    } else {
        Err(model_err(path, format!("bad model file name {file:?}")))
    }
}

/// Decides what the model in `dir` needs.
pub fn plan(dir: &Path) -> Result<Plan, ImportError> {
    let meta = read_mlmodel(dir)?;
    let path = dir.join("MLmodel");
    let flavors = meta
        .get("flavors")
        .and_then(Value::as_mapping)
        .ok_or_else(|| model_err(&path, "no flavors"))?;
    let text = |f: &Value, k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if flavors.contains_key("mlx") {
        return Ok(Plan::Native("an mlx model".into()));
    }
    if let Some(f) = flavors.get("sklearn") {
        let format = text(f, "serialization_format");
        if format == "skops" {
            return Ok(Plan::Native("a scikit-learn model in skops format".into()));
        }
        return Ok(Plan::Convert(Conversion {
            flavor: "sklearn".into(),
            file: plain_file(&path, &text(f, "pickled_model"))?,
            format: if format.is_empty() {
                "pickle".into()
            } else {
                format
            },
            model_class: String::new(),
        }));
    }
    if let Some(f) = flavors.get("lightgbm") {
        let file = plain_file(&path, &text(f, "data"))?;
        let format = text(f, "serialization_format");
        if !(file.ends_with(".pkl") || file.ends_with(".pickle")) {
            return Ok(Plan::Native("a LightGBM model mlx reads as it is".into()));
        }
        return Ok(Plan::Convert(Conversion {
            flavor: "lightgbm".into(),
            file,
            format: if format.is_empty() {
                "pickle".into()
            } else {
                format
            },
            model_class: text(f, "model_class"),
        }));
    }
    if let Some(f) = flavors.get("xgboost") {
        let format = text(f, "model_format");
        if matches!(format.as_str(), "ubj" | "json") {
            return Ok(Plan::Native(format!("an XGBoost model in {format} format")));
        }
        return Ok(Plan::Convert(Conversion {
            flavor: "xgboost".into(),
            file: plain_file(&path, &text(f, "data"))?,
            format: if format.is_empty() {
                "xgb".into()
            } else {
                format
            },
            model_class: text(f, "model_class"),
        }));
    }
    let names: Vec<String> = flavors
        .keys()
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    Err(model_err(
        &path,
        format!(
            "no flavor mlx can import (flavors: {}); it converts MLflow's sklearn, lightgbm and xgboost flavors",
            names.join(", ")
        ),
    ))
}

/// What the script reported.
#[derive(Debug, serde::Deserialize)]
struct Report {
    file: String,
    format: String,
    #[serde(default)]
    trusted_types: Vec<String>,
    #[serde(default)]
    class: String,
}

/// Converts the model in `dir` into `out` (created; must not exist) with `python`. Returns the Python
/// class of the converted model.
pub fn convert(
    dir: &Path,
    conv: &Conversion,
    python: &str,
    out: &Path,
) -> Result<String, ImportError> {
    std::fs::create_dir(out)?;
    // Everything but the pickle and MLmodel comes along as it is (environment files, examples).
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == *conv.file.as_str() || name == "MLmodel" || !entry.file_type()?.is_file() {
            continue;
        }
        std::fs::copy(entry.path(), out.join(&name))?;
    }
    // The script runs from a folder of its own, so nothing beside the model can shadow a module.
    let work = tempfile::tempdir()?;
    let script = work.path().join("mlx_import_model.py");
    std::fs::write(&script, SCRIPT)?;
    let kind = if conv.flavor == "xgboost" {
        "xgboost"
    } else {
        "pickle"
    };
    let output = Command::new(python)
        .arg("-B")
        .arg(&script)
        .arg(kind)
        .arg(dir.join(&conv.file))
        .arg(out)
        .arg(&conv.model_class)
        .current_dir(work.path())
        .output()
        .map_err(|e| ImportError::NoPython {
            python: python.to_string(),
            why: e.to_string(),
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(ImportError::Convert {
            python: python.to_string(),
            why: last.chars().take(300).collect(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("");
    let report: Report = serde_json::from_str(line).map_err(|e| ImportError::Convert {
        python: python.to_string(),
        why: format!("unexpected output from the script ({e})"),
    })?;
    let written = out.join(plain_file(out, &report.file)?);
    if !written.is_file() {
        return Err(ImportError::Convert {
            python: python.to_string(),
            why: format!("the script did not write {}", report.file),
        });
    }
    let mut meta = read_mlmodel(dir)?;
    rewrite_flavors(&mut meta, conv, &report)
        .map_err(|why| model_err(&dir.join("MLmodel"), why))?;
    let text = serde_yaml_ng::to_string(&meta)
        .map_err(|e| model_err(&dir.join("MLmodel"), e.to_string()))?;
    std::fs::write(out.join("MLmodel"), text)?;
    Ok(if report.class.is_empty() {
        conv.model_class.clone()
    } else {
        report.class
    })
}

/// Points the flavor (and python_function) at the new file, as MLflow writes a model in that format.
fn rewrite_flavors(meta: &mut Value, conv: &Conversion, report: &Report) -> Result<(), String> {
    let flavors = meta
        .get_mut("flavors")
        .and_then(Value::as_mapping_mut)
        .ok_or("no flavors")?;
    let set = |m: &mut Mapping, k: &str, v: Value| {
        m.insert(Value::from(k), v);
    };
    let trusted = Value::Sequence(
        report
            .trusted_types
            .iter()
            .map(|t| Value::from(t.as_str()))
            .collect(),
    );
    let file = Value::from(report.file.as_str());
    let flavor = flavors
        .get_mut(conv.flavor.as_str())
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| format!("no {} flavor", conv.flavor))?;
    match (conv.flavor.as_str(), report.format.as_str()) {
        ("sklearn", "skops") => {
            set(flavor, "pickled_model", file.clone());
            set(flavor, "serialization_format", Value::from("skops"));
            set(flavor, "skops_trusted_types", trusted);
        }
        ("lightgbm", "skops") => {
            set(flavor, "data", file.clone());
            set(flavor, "serialization_format", Value::from("skops"));
            set(flavor, "skops_trusted_types", trusted);
        }
        ("xgboost", "ubj") => {
            set(flavor, "data", file.clone());
            set(flavor, "model_format", Value::from("ubj"));
        }
        (f, fmt) => return Err(format!("the script wrote {fmt} for the {f} flavor")),
    }
    if let Some(py) = flavors
        .get_mut("python_function")
        .and_then(Value::as_mapping_mut)
    {
        let key = if py.contains_key("model_path") {
            "model_path"
        } else {
            "data"
        };
        set(py, key, file);
    }
    Ok(())
}

/// Rewrites the ids a logged model's `MLmodel` carries, for the copy stored as `model_id`.
pub fn set_ids(
    dir: &Path,
    run_id: &str,
    model_id: &str,
    artifact_path: &str,
) -> Result<(), ImportError> {
    let mut meta = read_mlmodel(dir)?;
    if let Some(m) = meta.as_mapping_mut() {
        m.insert("run_id".into(), run_id.into());
        m.insert("model_id".into(), model_id.into());
        m.insert("model_uuid".into(), model_id.into());
        m.insert("artifact_path".into(), artifact_path.into());
    }
    let text = serde_yaml_ng::to_string(&meta)
        .map_err(|e| model_err(&dir.join("MLmodel"), e.to_string()))?;
    std::fs::write(dir.join("MLmodel"), text)?;
    Ok(())
}

/// The Python to convert with: `--python`, else `$MLX_PYTHON`, else `python3` on the PATH.
pub fn default_python(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| crate::settings::env::get("MLX_PYTHON"))
        .unwrap_or_else(|| "python3".into())
}

/// A folder beside `dir` for a converted copy when the model is not in a store: `<name>-imported`
/// (`-imported-2`, ... when taken).
pub fn sibling_out(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let parent = dir.parent().unwrap_or(Path::new("."));
    let mut out = parent.join(format!("{name}-imported"));
    let mut i = 2;
    while out.exists() {
        out = parent.join(format!("{name}-imported-{i}"));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(mlmodel: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("MLmodel"), mlmodel).unwrap();
        d
    }

    #[test]
    fn plans() {
        let d = folder(
            "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n",
        );
        assert_eq!(
            plan(d.path()).unwrap(),
            Plan::Convert(Conversion {
                flavor: "sklearn".into(),
                file: "model.pkl".into(),
                format: "cloudpickle".into(),
                model_class: String::new(),
            })
        );
        let d = folder(
            "flavors:\n  sklearn:\n    pickled_model: model.skops\n    serialization_format: skops\n",
        );
        assert!(matches!(plan(d.path()).unwrap(), Plan::Native(_)));
        let d = folder("flavors:\n  lightgbm:\n    data: model.lgb\n");
        assert!(matches!(plan(d.path()).unwrap(), Plan::Native(_)));
        let d = folder("flavors:\n  xgboost:\n    data: model.xgb\n    model_format: xgb\n");
        assert!(matches!(plan(d.path()).unwrap(), Plan::Convert(c) if c.format == "xgb"));
        let d = folder("flavors:\n  sklearn:\n    pickled_model: ../../etc/passwd\n");
        assert!(
            plan(d.path())
                .unwrap_err()
                .to_string()
                .contains("bad model file name")
        );
        let d = folder("flavors:\n  pytorch:\n    data: x\n");
        assert!(
            plan(d.path())
                .unwrap_err()
                .to_string()
                .contains("flavors: pytorch")
        );
    }

    #[test]
    fn a_missing_python_is_a_clear_error() {
        let d = folder("flavors:\n  sklearn:\n    pickled_model: model.pkl\n");
        std::fs::write(d.path().join("model.pkl"), b"not run").unwrap();
        let Plan::Convert(c) = plan(d.path()).unwrap() else {
            panic!()
        };
        let out = d.path().join("out");
        let e = convert(d.path(), &c, "/nonexistent/python3", &out)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot run Python '/nonexistent/python3'") && e.contains("--python PATH"),
            "{e}"
        );
    }

    #[test]
    fn flavors_are_rewritten_as_mlflow_writes_skops() {
        let mut meta: Value = serde_yaml_ng::from_str(
            "flavors:\n  python_function:\n    model_path: model.pkl\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n",
        )
        .unwrap();
        let conv = Conversion {
            flavor: "sklearn".into(),
            file: "model.pkl".into(),
            format: "cloudpickle".into(),
            model_class: String::new(),
        };
        let report = Report {
            file: "model.skops".into(),
            format: "skops".into(),
            trusted_types: vec!["sklearn.linear_model.LogisticRegression".into()],
            class: String::new(),
        };
        rewrite_flavors(&mut meta, &conv, &report).unwrap();
        let sk = &meta["flavors"]["sklearn"];
        assert_eq!(sk["pickled_model"], Value::from("model.skops"));
        assert_eq!(sk["serialization_format"], Value::from("skops"));
        assert_eq!(
            sk["skops_trusted_types"][0],
            Value::from("sklearn.linear_model.LogisticRegression")
        );
        assert_eq!(
            meta["flavors"]["python_function"]["model_path"],
            Value::from("model.skops")
        );
    }
}
