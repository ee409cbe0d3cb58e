//! Resolved settings: where the store is and how to print, each with where its value came from.
//!
//! Precedence: command-line flag > `MLX_TRACKING_URI` > `MLFLOW_TRACKING_URI` > user config file > `./mlruns`.
//! The config file is `config.toml` in the user config dir (`MLX_CONFIG` names another file).

pub mod env;

use crate::output::OutputFormat;
use crate::store::{FileStore, RestStore, SqliteStore, TrackingStore, uri::file_uri_to_path};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Flag,
    Env(&'static str),
    ConfigFile(PathBuf),
    Default,
    /// No setting: the store found in the working folder, as MLflow picks its default (why, in words).
    Detected(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => write!(f, "command-line flag"),
            Source::Env(v) => write!(f, "environment variable {v}"),
            Source::ConfigFile(p) => write!(f, "config file {}", p.display()),
            Source::Default => write!(f, "default"),
            Source::Detected(why) => write!(f, "default: {why}"),
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
const SUPPORTED: &str = "mlx supports a local folder, a file: URI (e.g. file:///path/to/mlruns), an MLflow SQLite database (sqlite:///mlflow.db) or an MLflow tracking server (http://host:port)";

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
        "tracking URI '{0}' is a database mlx cannot open itself (mlx opens SQLite files); run `mlflow server --backend-store-uri {0}` and point mlx at the server (--tracking-uri http://127.0.0.1:5000); {SUPPORTED}"
    )]
    Database(String),
    #[error(
        "tracking URI '{0}': {1}; a SQLite database is named as SQLAlchemy names it: sqlite:///relative/path.db or sqlite:////absolute/path.db; {SUPPORTED}"
    )]
    BadSqlite(String, &'static str),
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
            .unwrap_or_else(|| default_store(std::path::Path::new(".")));
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
            "postgresql" | "postgres" | "mysql" | "mssql" | "oracle"
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
    if lower.starts_with("sqlite:") {
        return Ok(Box::new(SqliteStore::new(sqlite_path(uri)?)));
    }
    let is_windows_drive = uri.len() > 2 && uri.as_bytes()[1] == b':';
    if uri.contains(':') && !lower.starts_with("file:") && !is_windows_drive {
        return Err(SettingsError::UnsupportedScheme(crate::redact::uris(uri)));
    }
    let path = file_uri_to_path(uri)
        .ok_or_else(|| SettingsError::UnsupportedScheme(crate::redact::uris(uri)))?;
    Ok(Box::new(FileStore::new(path).with_notes(stderr_notes())))
}

/// The file a `sqlite:` URI names, read as SQLAlchemy reads it: `sqlite:///rel.db` is `rel.db` in the
/// working folder, `sqlite:////abs/path.db` is `/abs/path.db`. An in-memory database (`sqlite://`,
/// `:memory:`) or a driver (`sqlite+pysqlite:`) is refused: it could not be shared with MLflow.
pub fn sqlite_path(uri: &str) -> Result<PathBuf, SettingsError> {
    let bad = |why| SettingsError::BadSqlite(crate::redact::uris(uri), why);
    let rest = uri
        .get("sqlite:".len()..)
        .filter(|_| uri[.."sqlite:".len()].eq_ignore_ascii_case("sqlite:"))
        .ok_or_else(|| bad("not a sqlite: URI"))?;
    if rest == "//" {
        return Err(bad("an in-memory database cannot be shared; name a file"));
    }
    let Some(path) = rest.strip_prefix("///") else {
        return Err(bad(
            "expected three slashes after sqlite: and then the file's path",
        ));
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if path.is_empty() || path == ":memory:" {
        return Err(bad("an in-memory database cannot be shared; name a file"));
    }
    Ok(PathBuf::from(path))
}

/// The store when nothing names one, decided as MLflow 3 decides its default: `./mlruns` holding
/// experiments (a numeric folder with a `meta.yaml`) is the folder store; else an existing `./mlflow.db`
/// is MLflow's SQLite store; else the folder store `./mlruns` (mlx's default for a new folder).
pub fn default_store(dir: &std::path::Path) -> Setting<String> {
    let mlruns = dir.join("mlruns");
    let has_experiments = std::fs::read_dir(&mlruns).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let numeric = name
                .to_str()
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            numeric && e.path().is_dir() && e.path().join("meta.yaml").symlink_metadata().is_ok()
        })
    });
    if has_experiments {
        return Setting {
            value: "./mlruns".into(),
            source: Source::Detected("./mlruns holds experiments (MLflow's folder store)"),
        };
    }
    if dir.join("mlflow.db").is_file() {
        return Setting {
            value: "sqlite:///mlflow.db".into(),
            source: Source::Detected(
                "./mlflow.db is present and ./mlruns holds no experiments (MLflow 3's default store)",
            ),
        };
    }
    Setting {
        value: "./mlruns".into(),
        source: Source::Default,
    }
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

#[cfg(test)]
mod sqlite_tests {
    use super::*;

    #[test]
    fn sqlite_uris_are_read_as_sqlalchemy_reads_them() {
        assert_eq!(
            sqlite_path("sqlite:///mlflow.db").unwrap(),
            PathBuf::from("mlflow.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///sub/m.db").unwrap(),
            PathBuf::from("sub/m.db")
        );
        assert_eq!(
            sqlite_path("sqlite:////abs/m.db").unwrap(),
            PathBuf::from("/abs/m.db")
        );
        assert_eq!(
            sqlite_path("SQLITE:///m.db?mode=rw").unwrap(),
            PathBuf::from("m.db")
        );
        for bad in [
            "sqlite://",
            "sqlite:///:memory:",
            "sqlite:///",
            "sqlite:m.db",
        ] {
            assert!(sqlite_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_store_is_decided_as_mlflow_decides_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(default_store(d).value, "./mlruns");
        assert_eq!(default_store(d).source, Source::Default);
        std::fs::write(d.join("mlflow.db"), "").unwrap();
        // An mlruns folder without experiments (MLflow's artifacts beside its database) does not count.
        std::fs::create_dir_all(d.join("mlruns/1/abc/artifacts")).unwrap();
        std::fs::create_dir_all(d.join("mlruns/.trash")).unwrap();
        assert_eq!(default_store(d).value, "sqlite:///mlflow.db");
        std::fs::write(d.join("mlruns/1/meta.yaml"), "name: x\n").unwrap();
        assert_eq!(default_store(d).value, "./mlruns");
        assert!(matches!(default_store(d).source, Source::Detected(_)));
    }
}
