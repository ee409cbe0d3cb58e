//! The Python that runs a model only Python can run: the interpreter the operator named (`--python`,
//! `MLX_PYTHON`) as it is (`--env-manager local`), or, like `mlflow models predict --env-manager uv|virtualenv`,
//! an environment built from that interpreter and the model's `python_env.yaml`/`requirements.txt`, once,
//! kept under mlx's cache dir by a hash of what went into it (the manager, the interpreter, both files).
//!
//! Nothing in the model chooses an interpreter or a command: the base Python is always the operator's, the
//! model's files only list what `pip`/`uv pip` installs, and only when the manager was asked for.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the Python for a model is prepared (`--env-manager`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvManager {
    /// The named Python as it is.
    #[default]
    Local,
    /// A venv made with `uv venv`, the model's requirements installed with `uv pip install`.
    Uv,
    /// A venv made with `PYTHON -m venv`, the model's requirements installed with its `pip`.
    Virtualenv,
}

impl super::core::Choice for EnvManager {
    const ALL: &'static [Self] = &[EnvManager::Local, EnvManager::Uv, EnvManager::Virtualenv];
    fn name(self) -> &'static str {
        match self {
            EnvManager::Local => "local",
            EnvManager::Uv => "uv",
            EnvManager::Virtualenv => "virtualenv",
        }
    }
    fn help(self) -> &'static str {
        match self {
            EnvManager::Local => "the named Python as it is",
            EnvManager::Uv => "an environment built with uv from the model's requirements (cached)",
            EnvManager::Virtualenv => {
                "an environment built with venv and pip from the model's requirements (cached)"
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PyEnvError {
    #[error(
        "cannot run Python '{python}' ({why}); pass --python PATH (or set MLX_PYTHON) to a Python with mlflow installed"
    )]
    NoPython { python: String, why: String },
    #[error(
        "Python '{python}' has no mlflow ({why}); install it there (pip install mlflow) or pass --python PATH to a Python that has it"
    )]
    NoMlflow { python: String, why: String },
    #[error("cannot run '{program}' for --env-manager {manager} ({why})")]
    NoTool {
        program: String,
        manager: &'static str,
        why: String,
    },
    #[error("building the environment for {model} with {manager} failed: {why}")]
    Build {
        model: String,
        manager: &'static str,
        why: String,
    },
    #[error("{path}: {why}")]
    Model { path: String, why: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a build reports to the operator (that it started, where it went).
pub type Notes<'a> = &'a dyn Fn(&str);

/// The interpreter to run the model in `model_dir` with: `python` itself (`Local`), or the cached
/// environment built from it for the model (built now if missing). Checks that it has mlflow.
pub fn prepare(
    python: &str,
    manager: EnvManager,
    model_dir: &Path,
    cache: &Path,
    notes: Notes,
) -> Result<PathBuf, PyEnvError> {
    let base = check_python(python, false)?;
    let python = match manager {
        EnvManager::Local => PathBuf::from(python),
        EnvManager::Uv | EnvManager::Virtualenv => {
            build_env(&base, manager, model_dir, cache, notes)?
        }
    };
    check_python(&python.to_string_lossy(), true)?;
    Ok(python)
}

/// A Python's `sys.executable` and `major.minor.micro`; with `mlflow`, also that mlflow can be found
/// (without importing it: a check costs milliseconds, not the seconds `import mlflow` takes).
fn check_python(python: &str, mlflow: bool) -> Result<BasePython, PyEnvError> {
    let code = "import sys, platform\n\
                print(sys.executable)\nprint(platform.python_version())\n\
                if sys.argv[1] == '1':\n    import importlib.util\n    \
                spec = importlib.util.find_spec('mlflow')\n    \
                print('mlflow' if spec else 'ModuleNotFoundError: No module named mlflow')\n";
    let work = tempfile::tempdir()?;
    let out = Command::new(python)
        .args(["-B", "-c", code, if mlflow { "1" } else { "0" }])
        // From an empty folder, so nothing in the caller's folder shadows a module.
        .current_dir(work.path())
        .output()
        .map_err(|e| PyEnvError::NoPython {
            python: python.to_string(),
            why: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    if !out.status.success() || lines.len() < 2 {
        return Err(PyEnvError::NoPython {
            python: python.to_string(),
            why: last_line(&out.stderr, "it printed nothing"),
        });
    }
    if mlflow && lines.get(2) != Some(&"mlflow") {
        return Err(PyEnvError::NoMlflow {
            python: python.to_string(),
            why: lines.get(2).unwrap_or(&"no answer").to_string(),
        });
    }
    Ok(BasePython {
        executable: PathBuf::from(lines[0]),
        version: lines[1].to_string(),
    })
}

#[derive(Debug, Clone)]
struct BasePython {
    executable: PathBuf,
    version: String,
}

/// The last non-empty line of a process's stderr, at most 300 characters.
pub fn last_line(stderr: &[u8], none: &str) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(none)
        .chars()
        .take(300)
        .collect()
}

/// What the model asks for: python_env.yaml's Python version, build dependencies and the requirements file.
#[derive(Debug, Clone, PartialEq, Default)]
struct Wanted {
    python: Option<String>,
    build: Vec<String>,
    /// requirements.txt as written (empty when the model has none).
    requirements: String,
}

fn read_wanted(model_dir: &Path) -> Result<Wanted, PyEnvError> {
    let model_err = |path: &Path, why: String| PyEnvError::Model {
        path: path.display().to_string(),
        why,
    };
    let mut wanted = Wanted::default();
    let env_path = model_dir.join("python_env.yaml");
    if env_path.is_file() {
        let text =
            std::fs::read_to_string(&env_path).map_err(|e| model_err(&env_path, e.to_string()))?;
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| model_err(&env_path, format!("not valid YAML: {e}")))?;
        wanted.python = yaml.get("python").and_then(|v| match v {
            serde_yaml_ng::Value::String(s) => Some(s.clone()),
            serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        if let Some(list) = yaml.get("build_dependencies").and_then(|v| v.as_sequence()) {
            for item in list {
                let dep = item.as_str().ok_or_else(|| {
                    model_err(
                        &env_path,
                        "build_dependencies: not a list of strings".into(),
                    )
                })?;
                wanted.build.push(dep.to_string());
            }
        }
    }
    let req_path = model_dir.join("requirements.txt");
    if req_path.is_file() {
        wanted.requirements =
            std::fs::read_to_string(&req_path).map_err(|e| model_err(&req_path, e.to_string()))?;
    }
    if wanted.requirements.trim().is_empty() {
        return Err(model_err(
            &req_path,
            "the model lists no requirements to build an environment from; use --env-manager local"
                .into(),
        ));
    }
    Ok(wanted)
}

/// The cache key: the manager, the base interpreter and what the model asks for.
fn env_key(manager: EnvManager, base: &BasePython, wanted: &Wanted) -> String {
    use super::core::Choice;
    let mut h = Sha256::new();
    for part in [
        manager.name(),
        &base.executable.to_string_lossy(),
        &base.version,
        &wanted.build.join("\n"),
        &wanted.requirements,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// `<cache>/envs/<manager>-<key>`: reused when it is complete; else built in a folder beside it and
/// renamed into place, so an interrupted build leaves nothing that looks finished.
fn build_env(
    base: &BasePython,
    manager: EnvManager,
    model_dir: &Path,
    cache: &Path,
    notes: Notes,
) -> Result<PathBuf, PyEnvError> {
    use super::core::Choice;
    let wanted = read_wanted(model_dir)?;
    let envs = cache.join("envs");
    let dir = envs.join(format!(
        "{}-{}",
        manager.name(),
        env_key(manager, base, &wanted)
    ));
    let python = dir.join("bin").join("python");
    if python.exists() {
        return Ok(python);
    }
    if let Some(v) = &wanted.python
        && minor(v) != minor(&base.version)
    {
        notes(&format!(
            "note: the model was saved with Python {v}; building its environment on Python {} ({})",
            base.version,
            base.executable.display()
        ));
    }
    std::fs::create_dir_all(&envs)?;
    let tmp = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(&envs)?;
    let work = tmp.path().join("env");
    notes(&format!(
        "building a Python environment for {} with {} in {} (once; reused after)",
        model_dir.display(),
        manager.name(),
        dir.display()
    ));
    let req = tmp.path().join("requirements.txt");
    std::fs::write(&req, &wanted.requirements)?;
    let fail = |why: String| PyEnvError::Build {
        model: model_dir.display().to_string(),
        manager: manager.name(),
        why,
    };
    let (create, install) = commands(manager, base, &work, &wanted, &req);
    for mut cmd in [create, install] {
        // Relative `-r other.txt` lines inside requirements.txt are the model's own files.
        cmd.current_dir(model_dir);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let out = cmd.output().map_err(|e| PyEnvError::NoTool {
            program: program.clone(),
            manager: manager.name(),
            why: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(fail(last_line(&out.stderr, "no message")));
        }
    }
    match std::fs::rename(&work, &dir) {
        Ok(()) => {}
        // Another mlx finished the same environment first: use theirs.
        Err(_) if python.exists() => {}
        Err(e) => return Err(fail(format!("cannot move it to {}: {e}", dir.display()))),
    }
    Ok(python)
}

/// The two commands that make the environment and install the model's requirements into it.
fn commands(
    manager: EnvManager,
    base: &BasePython,
    work: &Path,
    wanted: &Wanted,
    req: &Path,
) -> (Command, Command) {
    let env_python = work.join("bin").join("python");
    match manager {
        EnvManager::Uv => {
            let mut create = Command::new("uv");
            create
                .args(["venv", "--quiet", "--relocatable", "--python"])
                .arg(&base.executable)
                .arg(work)
                .env("UV_PYTHON_DOWNLOADS", "never");
            let mut install = Command::new("uv");
            install
                .args(["pip", "install", "--quiet", "--python"])
                .arg(&env_python)
                .args(&wanted.build)
                .arg("-r")
                .arg(req);
            (create, install)
        }
        EnvManager::Virtualenv | EnvManager::Local => {
            let mut create = Command::new(&base.executable);
            create.args(["-m", "venv"]).arg(work);
            let mut install = Command::new(&env_python);
            install
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(&wanted.build)
                .arg("-r")
                .arg(req);
            (create, install)
        }
    }
}

/// `3.11` of `3.11.7`.
fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Where built environments go: `MLX_CACHE_DIR`, else the user cache dir.
pub fn cache_root() -> PathBuf {
    if let Some(d) = crate::settings::env::path("MLX_CACHE_DIR") {
        return d;
    }
    directories::ProjectDirs::from("", "", "mlx")
        .map(|d| d.cache_dir().to_path_buf())
        .unwrap_or_else(|| std::env::temp_dir().join("mlx-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BasePython {
        BasePython {
            executable: PathBuf::from("/usr/bin/python3"),
            version: "3.11.7".into(),
        }
    }

    #[test]
    fn reads_python_env_and_requirements() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("python_env.yaml"),
            "python: 3.11.7\nbuild_dependencies:\n- pip==26.3\n- wheel\ndependencies:\n- -r requirements.txt\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "mlflow==3.17.2\n").unwrap();
        let w = read_wanted(dir.path()).unwrap();
        assert_eq!(w.python.as_deref(), Some("3.11.7"));
        assert_eq!(w.build, ["pip==26.3", "wheel"]);
        assert_eq!(w.requirements, "mlflow==3.17.2\n");
    }

    #[test]
    fn no_requirements_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_wanted(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("requirements.txt: the model lists no requirements"),
            "{err}"
        );
    }

    #[test]
    fn key_changes_with_each_input() {
        let w = Wanted {
            python: None,
            build: vec!["pip".into()],
            requirements: "mlflow==3.17.2\n".into(),
        };
        let k = env_key(EnvManager::Uv, &base(), &w);
        assert_eq!(k, env_key(EnvManager::Uv, &base(), &w.clone()));
        assert_ne!(k, env_key(EnvManager::Virtualenv, &base(), &w));
        let other_req = Wanted {
            requirements: "mlflow==3.17.1\n".into(),
            ..w.clone()
        };
        assert_ne!(k, env_key(EnvManager::Uv, &base(), &other_req));
        let other_python = BasePython {
            version: "3.12.1".into(),
            ..base()
        };
        assert_ne!(k, env_key(EnvManager::Uv, &other_python, &w));
    }

    #[test]
    fn minor_version() {
        assert_eq!(minor("3.11.7"), "3.11");
        assert_eq!(minor("3.11"), "3.11");
    }
}
