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

/// Read a flat meta.yaml for reading only (never to write back): MLflow's run and experiment files are
/// `key: scalar` lines, which this parses without a YAML parser; anything else falls back to [`read`].
pub fn read_for_lookup(path: &Path) -> Result<Meta, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    match parse_flat(&text) {
        Some(m) if !m.is_empty() => Ok(m),
        _ => parse(path, &text),
    }
}

/// `key: value` lines with plain or single-quoted one-line scalars; None when the text needs real YAML.
fn parse_flat(text: &str) -> Option<Meta> {
    let mut m = Meta::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        let (key, raw) = line.split_once(':')?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let raw = raw.strip_prefix(' ').unwrap_or(raw);
        let value = if raw.is_empty() || raw == "null" || raw == "~" {
            Value::Null
        } else if raw == "[]" {
            Value::Sequence(Vec::new())
        } else if raw == "{}" {
            Value::Mapping(Default::default())
        } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            if inner.replace("''", "").contains('\'') {
                return None;
            }
            Value::String(inner.replace("''", "'"))
        } else if raw.starts_with(|c: char| "'\"[]{}|>&*!%@`#,?-".contains(c))
            || raw.contains(": ")
            || raw.contains(" #")
            || raw.ends_with(':')
        {
            return None;
        } else if let Ok(n) = raw.parse::<i64>() {
            Value::Number(n.into())
        } else {
            Value::String(raw.to_string())
        };
        m.insert(key.to_string(), value);
    }
    Some(m)
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
pub struct MetaFields<'a> {
    pub path: &'a Path,
    pub meta: &'a Meta,
}

impl MetaFields<'_> {
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
    fn flat_fast_path_agrees_with_yaml() {
        let text = "artifact_uri: file:///tmp/x/1/abc/artifacts\nend_time: null\nentry_point_name: ''\n\
                    experiment_id: '12'\nlifecycle_stage: active\nrun_id: abc\nrun_name: it''s a-b c\n\
                    source_type: 4\nstart_time: 1795420953076\nstatus: 3\ntags: []\nuser_id: root\n";
        let text = text.replace("run_name: it''s a-b c", "run_name: 'it''s a-b c'");
        let fast = parse_flat(&text).unwrap();
        let full = parse(Path::new("x"), &text).unwrap();
        assert_eq!(fast, full);
        for needs_yaml in [
            "a: [1, 2]\n",
            "a: \"x\"\n",
            "a: |\n  text\n",
            "a: 'folded\n  line'\n",
            "a: b: c\n",
            "  indented: 1\n",
            "tags:\n  k: v\n",
        ] {
            assert!(parse_flat(needs_yaml).is_none(), "{needs_yaml:?}");
        }
    }

    #[test]
    fn broken_files_are_errors() {
        assert!(parse(Path::new("x"), "").is_err());
        assert!(parse(Path::new("x"), "a: [").is_err());
        assert!(parse(Path::new("x"), "- 1\n- 2\n").is_err());
    }
}
