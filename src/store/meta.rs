//! `meta.yaml` files: read with a real YAML parser, written the way `yaml.safe_dump` writes them (sorted keys,
//! block style, number-like strings quoted). Updates keep keys mlx does not know, so a file MLflow wrote
//! round-trips through mlx.

use super::{StoreError, atomic};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A meta.yaml as a sorted map; sorting gives MLflow's key order for free.
pub type Meta = BTreeMap<String, Value>;

pub fn read(path: &Path) -> Result<Meta, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Meta, StoreError> {
    if text.trim().is_empty() {
        return Err(StoreError::corrupt(path, "the file is empty"));
    }
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        StoreError::corrupt(
            path,
            format!("not valid YAML: {}", first_line(&e.to_string())),
        )
    })?;
    match value {
        Value::Mapping(m) => m
            .into_iter()
            .map(|(k, v)| match k {
                Value::String(k) => Ok((k, v)),
                other => Err(StoreError::corrupt(
                    path,
                    format!("a key is not a string: {other:?}"),
                )),
            })
            .collect(),
        _ => Err(StoreError::corrupt(path, "expected a mapping of keys")),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

pub fn render(meta: &Meta) -> String {
    // serde_yaml_ng quotes strings that would read back as another type ('0', 'null', ''), as PyYAML does.
    serde_yaml_ng::to_string(meta).expect("a map of YAML values always serializes")
}

pub fn write(path: &Path, meta: &Meta) -> Result<(), StoreError> {
    atomic::write(path, render(meta).as_bytes()).map_err(|e| StoreError::io(path, e))
}

pub fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

pub fn i(v: i64) -> Value {
    Value::Number(v.into())
}

pub fn opt_i(v: Option<i64>) -> Value {
    v.map(i).unwrap_or(Value::Null)
}

/// Typed access with errors that name the file and the key.
pub struct Fields<'a> {
    pub path: &'a Path,
    pub meta: &'a Meta,
}

impl Fields<'_> {
    /// A string; numbers are accepted (MLflow tolerates `experiment_id: 1`).
    pub fn string(&self, key: &str) -> Result<String, StoreError> {
        self.opt_string(key)?
            .ok_or_else(|| StoreError::corrupt(self.path, format!("missing key '{key}'")))
    }

    pub fn opt_string(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.meta.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(StoreError::corrupt(
                self.path,
                format!("key '{key}' is not a string"),
            )),
        }
    }

    pub fn int(&self, key: &str) -> Result<i64, StoreError> {
        self.opt_int(key)?
            .ok_or_else(|| StoreError::corrupt(self.path, format!("missing key '{key}'")))
    }

    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, StoreError> {
        match self.meta.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                StoreError::corrupt(self.path, format!("key '{key}' is not an integer: {n}"))
            }),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                StoreError::corrupt(self.path, format!("key '{key}' is not an integer: {s:?}"))
            }),
            Some(_) => Err(StoreError::corrupt(
                self.path,
                format!("key '{key}' is not an integer"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_safe_dump() {
        let mut m = Meta::new();
        m.insert("name".into(), s("Default"));
        m.insert("experiment_id".into(), s("0"));
        m.insert("artifact_location".into(), s("file:///tmp/mlruns/0"));
        m.insert("end_time".into(), Value::Null);
        m.insert("source_name".into(), s(""));
        m.insert("status".into(), i(3));
        m.insert("tags".into(), Value::Sequence(vec![]));
        let text = render(&m);
        assert_eq!(
            text,
            "artifact_location: file:///tmp/mlruns/0\nend_time: null\nexperiment_id: '0'\nname: Default\n\
             source_name: ''\nstatus: 3\ntags: []\n"
        );
        let back = parse(Path::new("x"), &text).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn number_like_strings_are_quoted() {
        for v in [
            "1", "1.5", "true", "null", "~", "1e5", "0x1f", ".inf", "yes",
        ] {
            let mut m = Meta::new();
            m.insert("k".into(), s(v));
            let back = parse(Path::new("x"), &render(&m)).unwrap();
            assert_eq!(back["k"], s(v), "{v} -> {}", render(&m));
        }
    }

    #[test]
    fn broken_files_are_errors() {
        assert!(parse(Path::new("x"), "").is_err());
        assert!(parse(Path::new("x"), "a: [").is_err());
        assert!(parse(Path::new("x"), "- 1\n- 2\n").is_err());
    }
}
