//! A model URI, parsed once: `runs:/RUN_ID[/PATH]`, `models:/NAME/N`, `models:/NAME@ALIAS`,
//! `models:/NAME/latest`, `models:/m-ID` (a logged model), `mlflow-artifacts:/...` (a server's proxied
//! artifacts) or a folder (a path or a `file:` URI). Every command and both stores take this type, so the
//! rules (what `models:/` requires, the default `model` path of `runs:/ID`) live in one place.

use super::{StoreError, validate};
use std::path::PathBuf;

/// Which version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Latest,
    Number(u64),
    Alias(String),
}

/// A registered model's version as a URI names it: `models:/NAME/3`, `@ALIAS` or `/latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub name: String,
    pub which: Which,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `runs:/RUN_ID/PATH` (PATH defaults to `model`).
    Run { run_id: String, path: String },
    /// `models:/NAME/N`, `models:/NAME@ALIAS`, `models:/NAME/latest`.
    Version(VersionRef),
    /// `models:/m-ID`: an MLflow 3 logged model.
    Logged(String),
    /// `mlflow-artifacts:/...`: a folder of a tracking server's proxied artifacts.
    Proxied(String),
    /// A local folder (a path or a `file:` URI).
    Folder(PathBuf),
}

impl VersionRef {
    /// `NAME/3`, `NAME/latest` or `NAME@alias` (the part after `models:/`).
    pub fn parse(spec: &str) -> Result<VersionRef, StoreError> {
        let (name, which) = if let Some((name, alias)) = spec.split_once('@') {
            (name, Err(alias))
        } else if let Some((name, v)) = spec.rsplit_once('/') {
            (name, Ok(v))
        } else {
            return Err(StoreError::ModelNotFound(format!(
                "models:/{spec} (expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest)"
            )));
        };
        validate::model_name(name)?;
        let which = match which {
            Ok("latest") | Err("latest") => Which::Latest,
            Ok(v) => Which::Number(v.parse::<u64>().map_err(|_| {
                StoreError::ModelNotFound(format!("models:/{spec}: '{v}' is not a version number"))
            })?),
            Err(alias) => {
                validate::alias(alias)?;
                Which::Alias(alias.to_string())
            }
        };
        Ok(VersionRef {
            name: name.to_string(),
            which,
        })
    }
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.which {
            Which::Latest => write!(f, "models:/{}/latest", self.name),
            Which::Number(n) => write!(f, "models:/{}/{n}", self.name),
            Which::Alias(a) => write!(f, "models:/{}@{a}", self.name),
        }
    }
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<ModelUri, StoreError> {
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, "model"));
            let path = path.trim_matches('/');
            let path = if path.is_empty() { "model" } else { path };
            validate::id("run", run_id)?;
            validate::artifact_path(path)?;
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            if rest.starts_with("m-") && !rest.contains('/') && !rest.contains('@') {
                return Ok(ModelUri::Logged(rest.to_string()));
            }
            return VersionRef::parse(rest).map(ModelUri::Version);
        }
        if uri.starts_with("mlflow-artifacts:") {
            return Ok(ModelUri::Proxied(uri.to_string()));
        }
        super::uri::file_uri_to_path(uri)
            .map(ModelUri::Folder)
            .ok_or_else(|| {
                StoreError::ModelNotFound(format!(
                    "{uri} (expected runs:/ID/PATH, models:/NAME/VERSION, models:/NAME@ALIAS, models:/m-ID or a folder)"
                ))
            })
    }

    /// The registered-model version this URI names, if it names one.
    pub fn version(&self) -> Option<&VersionRef> {
        match self {
            ModelUri::Version(v) => Some(v),
            _ => None,
        }
    }
}

impl std::str::FromStr for ModelUri {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        ModelUri::parse(s)
    }
}

impl std::fmt::Display for ModelUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelUri::Run { run_id, path } => write!(f, "runs:/{run_id}/{path}"),
            ModelUri::Version(v) => v.fmt(f),
            ModelUri::Logged(id) => write!(f, "models:/{id}"),
            ModelUri::Proxied(uri) => f.write_str(uri),
            ModelUri::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in [
            "runs:/0123456789abcdef0123456789abcdef/model",
            "runs:/0123456789abcdef0123456789abcdef/sub/model",
            "models:/titanic/3",
            "models:/titanic@Champion",
            "models:/titanic/latest",
            "models:/m-0123456789abcdef",
            "mlflow-artifacts:/1/abc/artifacts",
            "/tmp/some/model",
        ] {
            assert_eq!(ModelUri::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            ModelUri::parse("runs:/0123456789abcdef0123456789abcdef").unwrap(),
            ModelUri::Run {
                run_id: "0123456789abcdef0123456789abcdef".into(),
                path: "model".into()
            }
        );
        assert_eq!(
            ModelUri::parse("file:///tmp/m%20x").unwrap(),
            ModelUri::Folder("/tmp/m x".into())
        );
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        for (text, needle) in [
            ("models:/titanic", "expected models:/NAME/VERSION"),
            ("models:/titanic/three", "'three' is not a version number"),
            ("runs:/../etc/model", "run"),
            ("runs:/0123456789abcdef0123456789abcdef/../x", ".."),
            ("s3://bucket/model", "expected runs:/"),
        ] {
            let err = ModelUri::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
