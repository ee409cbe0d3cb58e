//! Resolved settings: where the store is and how to print, each with where its value came from.
//!
//! Precedence: command-line flag > `MLX_TRACKING_URI` > `MLFLOW_TRACKING_URI` > user config file > `./mlruns`.
//! The config file is `config.toml` in the user config dir (`MLX_CONFIG` names another file).

pub mod env;

use crate::output::OutputFormat;
use crate::store::{FileStore, RestStore, TrackingStore, uri::file_uri_to_path};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Flag,
    Env(&'static str),
    ConfigFile(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => write!(f, "command-line flag"),
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::ConfigFile(p) => write!(f, "config file {}", p.display()),
            Source::Default => write!(f, "default"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    tracking_uri: Option<String>,
    output: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub tracking_uri: Setting<String>,
    /// None: table on a terminal, json otherwise.
    pub output: Setting<Option<OutputFormat>>,
    pub config_path: Option<PathBuf>,
    pub config_exists: bool,
}

/// What every "cannot open this tracking URI" error ends with.
const SUPPORTED: &str = "mlx supports a local folder, a file: URI (e.g. file:///path/to/mlruns) or an MLflow tracking server (http://host:port)";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("config file {path}: {why}")]
    Config { path: PathBuf, why: String },
    #[error("environment variable {name}: {why}")]
    Env { name: &'static str, why: String },
    #[error("tracking URI '{0}' uses an unsupported scheme; {SUPPORTED}")]
    UnsupportedScheme(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(
        "tracking URI '{0}' is a database, which mlx cannot open; run `mlflow server --backend-store-uri {0}` and point mlx at the server (--tracking-uri http://127.0.0.1:5000); {SUPPORTED}"
    )]
    Database(String),
    #[error("tracking URI '{0}' is Databricks, which mlx does not support; {SUPPORTED}")]
    Databricks(String),
}

pub fn config_path() -> Option<PathBuf> {
    if let Some(p) = env::path("MLX_CONFIG") {
        return Some(p);
    }
    directories::ProjectDirs::from("", "", "mlx").map(|d| d.config_dir().join("config.toml"))
}

fn from_env(name: &'static str) -> Option<Setting<String>> {
    env::get(name).map(|value| Setting {
        value,
        source: Source::Env(name),
    })
}

impl Settings {
    pub fn resolve(
        flag_uri: Option<String>,
        flag_output: Option<OutputFormat>,
    ) -> Result<Settings, SettingsError> {
        let config_path = config_path();
        let mut config = ConfigFile::default();
        let mut config_exists = false;
        if let Some(path) = &config_path {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    config_exists = true;
                    config = toml::from_str(&text).map_err(|e| SettingsError::Config {
                        path: path.clone(),
                        why: e.message().to_string(),
                    })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SettingsError::Config {
                        path: path.clone(),
                        why: e.to_string(),
                    });
                }
            }
        }
        let from_config = |value: Option<String>| {
            value.zip(config_path.clone()).map(|(value, p)| Setting {
                value,
                source: Source::ConfigFile(p),
            })
        };
        let tracking_uri = flag_uri
            .map(|value| Setting {
                value,
                source: Source::Flag,
            })
            .or_else(|| from_env("MLX_TRACKING_URI"))
            .or_else(|| from_env("MLFLOW_TRACKING_URI"))
            .or_else(|| from_config(config.tracking_uri))
            .unwrap_or(Setting {
                value: "./mlruns".into(),
                source: Source::Default,
            });
        // `MLX_OUTPUT` is how `mlx run` tells a nested mlx (whose stdout is a pipe) to keep to a table.
        let output = match (
            flag_output,
            from_env("MLX_OUTPUT").or_else(|| from_config(config.output)),
        ) {
            (Some(f), _) => Setting {
                value: Some(f),
                source: Source::Flag,
            },
            (None, Some(s)) => {
                let parsed: OutputFormat = s.value.parse().map_err(|why| match &s.source {
                    Source::Env(name) => SettingsError::Env { name, why },
                    _ => SettingsError::Config {
                        path: config_path.clone().unwrap_or_default(),
                        why: format!("output: {why}"),
                    },
                })?;
                Setting {
                    value: Some(parsed),
                    source: s.source,
                }
            }
            (None, None) => Setting {
                value: None,
                source: Source::Default,
            },
        };
        Ok(Settings {
            tracking_uri,
            output,
            config_path,
            config_exists,
        })
    }

    /// `-o json` was given on the command line: commands that print a bare value for `$(...)` (a run id, a
    /// version) print a JSON document instead. A pipe or config alone keeps the bare value.
    pub fn json_flag(&self) -> bool {
        self.output.source == Source::Flag && self.output.value == Some(OutputFormat::Json)
    }

    /// The output format in effect for this process.
    pub fn output_format(&self) -> OutputFormat {
        self.output.value.unwrap_or_else(OutputFormat::auto)
    }

    pub fn open_store(&self) -> Result<Box<dyn TrackingStore>, SettingsError> {
        open_store(&self.tracking_uri.value)
    }
}

/// Refuse the tracking URIs MLflow knows but mlx cannot open, before anything treats them as a folder:
/// MLflow reads a bare `databricks` as Databricks, not as `./databricks`.
fn refuse_foreign(uri: &str) -> Result<(), SettingsError> {
    let lower = uri.to_ascii_lowercase();
    let scheme = lower.split_once(':').map_or(lower.as_str(), |(s, _)| s);
    // SQLAlchemy URIs may name a driver: `postgresql+psycopg2://`.
    let dialect = scheme.split('+').next().unwrap_or(scheme);
    if matches!(scheme, "databricks" | "databricks-uc") {
        return Err(SettingsError::Databricks(crate::redact::uris(uri)));
    }
    if lower.contains(':')
        && matches!(
            dialect,
            "sqlite" | "postgresql" | "postgres" | "mysql" | "mssql" | "oracle"
        )
    {
        return Err(SettingsError::Database(crate::redact::uris(uri)));
    }
    Ok(())
}

/// Open the store a tracking URI names.
pub fn open_store(uri: &str) -> Result<Box<dyn TrackingStore>, SettingsError> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Box::new(RestStore::new(uri)?.with_notes(stderr_notes())));
    }
    refuse_foreign(uri)?;
    let is_windows_drive = uri.len() > 2 && uri.as_bytes()[1] == b':';
    if uri.contains(':') && !lower.starts_with("file:") && !is_windows_drive {
        return Err(SettingsError::UnsupportedScheme(crate::redact::uris(uri)));
    }
    let path = file_uri_to_path(uri)
        .ok_or_else(|| SettingsError::UnsupportedScheme(crate::redact::uris(uri)))?;
    Ok(Box::new(FileStore::new(path).with_notes(stderr_notes())))
}

/// The store's notes on stderr, where a person running mlx (or reading the server's log) sees them.
pub fn stderr_notes() -> crate::store::Notes {
    std::sync::Arc::new(|note| eprintln!("{note}"))
}

/// One line of `mlx config show`: a setting, its value in effect and where that came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Shown {
    pub setting: String,
    pub value: String,
    pub source: String,
    /// What it sets (for environment variables).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub what: String,
}

impl Settings {
    /// Every setting mlx reads — the resolved store and output, the config file, and each environment
    /// variable of [`env::VARS`] — with its value (secrets as `(set)`) and source.
    pub fn shown(&self) -> Vec<Shown> {
        let output = self
            .output
            .value
            .map(|f| f.name().to_string())
            .unwrap_or_else(|| "auto (table on a terminal, json otherwise)".into());
        let config_file = match &self.config_path {
            Some(p) if self.config_exists => p.display().to_string(),
            Some(p) => format!("{} (not present)", p.display()),
            None => "(no config dir on this system)".into(),
        };
        let mut out = vec![
            Shown {
                setting: "tracking_uri".into(),
                value: crate::redact::uris(&self.tracking_uri.value),
                source: self.tracking_uri.source.to_string(),
                what: String::new(),
            },
            Shown {
                setting: "output".into(),
                value: output,
                source: self.output.source.to_string(),
                what: String::new(),
            },
            Shown {
                setting: "config_file".into(),
                value: config_file,
                source: if env::path("MLX_CONFIG").is_some() {
                    Source::Env("MLX_CONFIG").to_string()
                } else {
                    Source::Default.to_string()
                },
                what: String::new(),
            },
        ];
        for v in env::VARS {
            let (value, source) = match env::shown(v) {
                Some(value) => (value, "environment".to_string()),
                None => (
                    format!("(unset; {})", v.default),
                    Source::Default.to_string(),
                ),
            };
            out.push(Shown {
                setting: v.name.into(),
                value,
                source,
                what: v.what.into(),
            });
        }
        out
    }
}
