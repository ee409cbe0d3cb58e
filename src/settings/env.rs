//! The environment, read in one place: every variable mlx reads is listed in [`VARS`] (what it sets, its
//! default, whether its value is a secret), and read only through [`get`]. `mlx config show` prints the list
//! with each variable's value in effect, so nothing mlx honours is hidden.
//!
//! This module sits at the bottom of the layers: the store, `ml` and the runner may read their variables
//! here; the precedence between flags, the config file and these variables is settled in [`super`].

use std::path::PathBuf;

/// One environment variable mlx reads.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    /// What it sets, for `mlx config show`.
    pub what: &'static str,
    /// The value used when it is unset.
    pub default: &'static str,
    /// Shown as `(set)` rather than its value.
    pub secret: bool,
}

const fn var(name: &'static str, what: &'static str, default: &'static str) -> Var {
    Var {
        name,
        what,
        default,
        secret: false,
    }
}

/// Every variable mlx reads, grouped by what it sets (in precedence order within a group).
pub const VARS: &[Var] = &[
    var(
        "MLX_CONFIG",
        "config file",
        "<user config dir>/mlx/config.toml",
    ),
    var(
        "MLX_TRACKING_URI",
        "tracking store (after --tracking-uri)",
        "-",
    ),
    var(
        "MLFLOW_TRACKING_URI",
        "tracking store (after MLX_TRACKING_URI)",
        "-",
    ),
    var("MLX_OUTPUT", "output format (after --output)", "-"),
    var("MLX_RUN_ID", "active run (after --run)", "-"),
    var("MLFLOW_RUN_ID", "active run (after MLX_RUN_ID)", "-"),
    var(
        "MLX_EXPERIMENT_NAME",
        "experiment (after --experiment)",
        "-",
    ),
    var(
        "MLFLOW_EXPERIMENT_NAME",
        "experiment (after MLX_EXPERIMENT_NAME)",
        "-",
    ),
    var(
        "MLX_MODEL",
        "registered model name (after --model/--name)",
        "-",
    ),
    Var {
        secret: true,
        ..var(
            "MLX_SERVE_TOKEN",
            "serve/ui admin token (after --token, --token-file)",
            "-",
        )
    },
    var(
        "MLX_CACHE_DIR",
        "cache of models downloaded from a server",
        "<user cache dir>/mlx",
    ),
    var("MLX_MAX_DATA_MB", "largest --data download (MB)", "2048"),
    var(
        "MLX_PYTHON",
        "Python for `mlx models import` (after --python); for `mlx serve` and `mlx predict`, runs models mlx cannot read (unset: refused)",
        "python3",
    ),
    var(
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        "CA bundle for an https server (after --ca-cert)",
        "built-in roots",
    ),
    Var {
        secret: true,
        ..var("MLFLOW_TRACKING_TOKEN", "server auth: bearer token", "-")
    },
    var("MLFLOW_TRACKING_USERNAME", "server auth: basic user", "-"),
    Var {
        secret: true,
        ..var(
            "MLFLOW_TRACKING_PASSWORD",
            "server auth: basic password",
            "-",
        )
    },
    var(
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "server: seconds to wait for an answer",
        "15",
    ),
    var("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "server: retries", "5"),
    var(
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "server: first retry wait (s), doubling",
        "0.5",
    ),
    var(
        "MLX_HTTP_TOTAL_TIMEOUT",
        "server: no retry starts after (s)",
        "30",
    ),
    var("COLUMNS", "table width", "the terminal's"),
    var("LOGNAME", "user recorded on runs (mlflow.user)", "-"),
    var("USER", "user recorded on runs (after LOGNAME)", "-"),
    var("LNAME", "user recorded on runs (after USER)", "-"),
    var(
        "USERNAME",
        "user recorded on runs (after LNAME)",
        "the passwd entry",
    ),
    var(
        "MLFLOW_ALLOW_FILE_STORE",
        "passed on to commands run by `mlx run`/`log exec`",
        "true for a folder store",
    ),
    var(
        "PATH",
        "where commands run by `mlx run`/`log exec` are found",
        "-",
    ),
];

/// The value of `name` when it is set and not empty. `name` must be listed in [`VARS`].
pub fn get(name: &str) -> Option<String> {
    debug_assert!(
        VARS.iter().any(|v| v.name == name),
        "{name} is read but not listed in settings::env::VARS"
    );
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The value of `name` when it is set, even empty (for a variable where empty is itself an error to report,
/// such as an empty token).
pub fn get_even_empty(name: &str) -> Option<String> {
    debug_assert!(VARS.iter().any(|v| v.name == name));
    std::env::var(name).ok()
}

/// The first of `names` that is set (and not empty), with its name.
pub fn first(names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| get(n).map(|v| (*n, v)))
}

/// A number from `name`; unset or unparsable is None (the caller's default applies).
pub fn number<T: std::str::FromStr>(name: &str) -> Option<T> {
    get(name)?.trim().parse().ok()
}

/// A path from `name` (not empty).
pub fn path(name: &str) -> Option<PathBuf> {
    debug_assert!(VARS.iter().any(|v| v.name == name));
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Whether `name` is set at all (even empty).
pub fn is_set(name: &str) -> bool {
    debug_assert!(VARS.iter().any(|v| v.name == name));
    std::env::var_os(name).is_some()
}

/// `PATH` as the OS gives it (not necessarily UTF-8).
pub fn path_list() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

/// The value shown for `v` by `mlx config show`: None when unset, `(set)` for a secret.
pub fn shown(v: &Var) -> Option<String> {
    let value = std::env::var(v.name).ok().filter(|s| !s.is_empty())?;
    Some(if v.secret {
        "(set)".into()
    } else {
        crate::redact::uris(&value)
    })
}

#[cfg(test)]
mod tests {
    use super::VARS;

    #[test]
    fn every_variable_is_listed_once() {
        let mut names: Vec<&str> = VARS.iter().map(|v| v.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
