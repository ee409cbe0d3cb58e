//! Validation of user-supplied keys, names and ids before they become file names.
//!
//! MLflow's rules (`mlflow/utils/validation.py`): metric/param/tag keys match `^[/\w.\- :]*$`, are at most 250
//! characters and are safe relative paths; experiment and run ids match `^[a-zA-Z0-9][\w\-]{0,63}$` /
//! `{0,255}`. Anything else is refused here, so no user input can name a path outside the store.

use super::StoreError;

pub const MAX_KEY_LEN: usize = 250;
pub const MAX_PARAM_VALUE_LEN: usize = 6000;
pub const MAX_TAG_VALUE_LEN: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LEN: usize = 500;

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A metric, param or tag key: MLflow's character set, and a relative path with no `.`/`..`/empty parts.
pub fn key(kind: &str, key: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidKey {
        kind: kind.to_string(),
        key: key.to_string(),
        why: why.to_string(),
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.chars().count() > MAX_KEY_LEN {
        return Err(bad("it is longer than 250 characters"));
    }
    if let Some(c) = key
        .chars()
        .find(|&c| !(is_word(c) || matches!(c, '/' | '.' | '-' | ' ' | ':')))
    {
        return Err(bad(&format!(
            "character {c:?} is not allowed (use letters, digits, '_', '-', '.', ' ', ':', '/')"
        )));
    }
    if key.starts_with('/') {
        return Err(bad("it is an absolute path"));
    }
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad("a path component is empty, '.' or '..'"));
    }
    Ok(())
}

/// A run or experiment id as found on disk or given by a user.
pub fn id(kind: &str, id: &str) -> Result<(), StoreError> {
    let mut chars = id.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && id.len() <= 256
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidId {
            kind: kind.to_string(),
            id: id.to_string(),
        })
    }
}

pub fn experiment_name(name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidName {
        kind: "experiment".into(),
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > MAX_EXPERIMENT_NAME_LEN {
        return Err(bad("it is longer than 500 characters"));
    }
    if name.contains('\0') {
        return Err(bad("it contains a NUL character"));
    }
    Ok(())
}

pub fn param_value(key: &str, value: &str) -> Result<(), StoreError> {
    if value.chars().count() > MAX_PARAM_VALUE_LEN {
        return Err(StoreError::InvalidValue {
            what: format!("param '{key}'"),
            why: format!("its value is longer than {MAX_PARAM_VALUE_LEN} characters"),
        });
    }
    Ok(())
}

pub fn tag_value(key: &str, value: &str) -> Result<(), StoreError> {
    if value.chars().count() > MAX_TAG_VALUE_LEN {
        return Err(StoreError::InvalidValue {
            what: format!("tag '{key}'"),
            why: format!("its value is longer than {MAX_TAG_VALUE_LEN} characters"),
        });
    }
    Ok(())
}

/// A registered model name: MLflow's rules (no path separator, no `%`), plus nothing that is a path
/// trick; `catalog.schema.model` names are fine.
pub fn model_name(name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidName {
        kind: "registered model".into(),
        name: name.to_string(),
        why: why.to_string(),
    };
    if name.trim().is_empty() {
        return Err(bad("it is empty"));
    }
    if name.chars().count() > 256 {
        return Err(bad("it is longer than 256 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\' | '%' | '\0' | ':'))
    {
        return Err(bad(&format!("character {c:?} is not allowed")));
    }
    if name == "." || name == ".." || name.starts_with('.') {
        return Err(bad("it may not start with '.'"));
    }
    Ok(())
}

/// An alias: `^[\w\-]+$`, not `latest` and not `v<digits>` (MLflow reserves those).
pub fn alias(alias: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidName {
        kind: "alias".into(),
        name: alias.to_string(),
        why: why.to_string(),
    };
    if alias.is_empty() || alias.chars().count() > 255 {
        return Err(bad("it must be 1 to 255 characters"));
    }
    if !alias.chars().all(|c| is_word(c) || c == '-') {
        return Err(bad("use letters, digits, '_' and '-'"));
    }
    let lower = alias.to_ascii_lowercase();
    if lower == "latest"
        || (lower.starts_with('v')
            && lower.len() > 1
            && lower[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("'latest' and 'v<number>' are reserved"));
    }
    Ok(())
}

/// An artifact destination path inside a run's `artifacts/`: relative, no `..`.
pub fn artifact_path(path: &str) -> Result<(), StoreError> {
    let bad = |why: &str| StoreError::InvalidValue {
        what: format!("artifact path '{path}'"),
        why: why.to_string(),
    };
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(bad(
            "it is absolute; give a path relative to the run's artifacts",
        ));
    }
    if path.contains('\0') {
        return Err(bad("it contains a NUL character"));
    }
    if path.split(['/', '\\']).any(|p| p == "..") {
        return Err(bad("it contains a '..' component"));
    }
    Ok(())
}

/// Every key and value of a batch, checked before anything is written.
pub fn batch(batch: &super::Batch) -> Result<(), StoreError> {
    for (k, _) in &batch.metrics {
        key("metric", k)?;
    }
    for (k, v) in &batch.params {
        key("param", k)?;
        param_value(k, v)?;
    }
    for (k, v) in &batch.tags {
        key("tag", k)?;
        tag_value(k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["acc", "eval/auc", "a b:c-d.e_f", "métrique", "model/kind"] {
            assert!(key("metric", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "../x", "a/../b", "/abs", "a//b", "a/./b", "x\0", "a;b", "a\\b", "..",
        ] {
            assert!(key("metric", bad).is_err(), "{bad:?}");
        }
        assert!(key("param", &"k".repeat(251)).is_err());
    }

    #[test]
    fn ids_are_plain() {
        assert!(id("run", "9a75e3debb9f4674bef544872f953930").is_ok());
        assert!(id("experiment", "0").is_ok());
        for bad in ["", "..", "../0", "a/b", "-x", ".trash"] {
            assert!(id("run", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn artifact_paths_stay_inside() {
        assert!(artifact_path("plots/roc.png").is_ok());
        assert!(artifact_path("").is_ok());
        assert!(artifact_path("../x").is_err());
        assert!(artifact_path("/etc").is_err());
        assert!(artifact_path("a/../../b").is_err());
    }
}
