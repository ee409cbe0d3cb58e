//! Adding MLflow's `python_function` flavor to an mlx model folder written before the flavor existed
//! (`mlx models add-pyfunc`), in place and without touching what predicts.

use super::SavedModel;
use super::pyfunc::{LOADER_MODULE, flavor, params_schema, write_files};
use crate::ml::core::ModelError;
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;

/// Add (or refresh) the flavor in an existing mlx model folder, in place. The loader and environment files
/// are written first and `MLmodel` last, each by an atomic rename, so an interrupted run leaves a model that
/// loads as before. `model.json` and `trees.bin` are not touched, so predictions cannot change. Returns
/// whether the folder already had the flavor.
pub fn add_to_folder(dir: &Path) -> Result<bool, ModelError> {
    let model = SavedModel::load(dir)?;
    let mlmodel = dir.join("MLmodel");
    let err = |why: String| ModelError::Save {
        path: mlmodel.display().to_string(),
        why,
    };
    let text = std::fs::read_to_string(&mlmodel).map_err(|e| err(e.to_string()))?;
    let mut meta: Value =
        serde_yaml_ng::from_str(&text).map_err(|e| err(format!("not valid YAML: {e}")))?;
    let Some(top) = meta.as_mapping_mut() else {
        return Err(err("MLmodel is not a mapping".into()));
    };
    let flavors = top
        .get_mut("flavors")
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| err("MLmodel has no flavors".into()))?;
    let had = flavors.contains_key("python_function");
    if let Some(other) = flavors
        .get("python_function")
        .and_then(|f| f.get("loader_module"))
        .and_then(Value::as_str)
        .filter(|m| *m != LOADER_MODULE)
    {
        return Err(err(format!(
            "it already has a python_function flavor with loader_module {other}; not replacing it"
        )));
    }
    flavors.insert("python_function".into(), flavor());
    let (inputs, outputs) = model.signature();
    let signature = top
        .entry("signature".into())
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if let Some(sig) = signature.as_mapping_mut() {
        sig.entry("inputs".into()).or_insert(Value::String(inputs));
        sig.entry("outputs".into())
            .or_insert(Value::String(outputs));
        if sig.get("params").is_none_or(Value::is_null) {
            sig.insert("params".into(), params_schema(model.task));
        }
    }
    write_files(dir).map_err(|e| err(e.to_string()))?;
    let yaml = serde_yaml_ng::to_string(&meta).map_err(|e| err(e.to_string()))?;
    crate::store::atomic::write(&mlmodel, yaml.as_bytes()).map_err(|e| err(e.to_string()))?;
    Ok(had)
}
