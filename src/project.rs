//! `MLproject.toml`: a project's name and entry points with typed parameters (MLflow Projects' model), the
//! substitution of parameters into an entry point's command, and parameter grids for sweeps. Without it,
//! MLflow's own YAML `MLproject` is read into the same model.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "MLproject.toml";
/// MLflow's project file (YAML), read when there is no `MLproject.toml`.
pub const MLFLOW_FILE_NAME: &str = "MLproject";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: Option<String>,
    #[serde(default)]
    pub entry_points: BTreeMap<String, EntryPoint>,
    /// The file it was read from.
    #[serde(skip)]
    pub source: PathBuf,
    /// The environment an MLflow project asks for (`conda_env`, `python_env`, `docker_env`), which mlx does
    /// not build: it runs in the current one, as `mlflow run --env-manager local`.
    #[serde(skip)]
    pub environment: Option<&'static str>,
}

/// MLflow's `MLproject` (YAML). Keys mlx has no use for are ignored, as MLflow does.
#[derive(Debug, Deserialize)]
struct YamlProject {
    name: Option<String>,
    #[serde(default)]
    entry_points: BTreeMap<String, YamlEntry>,
    conda_env: Option<serde_yaml_ng::Value>,
    python_env: Option<serde_yaml_ng::Value>,
    docker_env: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
struct YamlEntry {
    command: String,
    #[serde(default)]
    parameters: BTreeMap<String, YamlParam>,
}

/// `name: float` or `name: {type: float, default: 0.1}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum YamlParam {
    Type(String),
    Full {
        #[serde(rename = "type")]
        kind: Option<String>,
        default: Option<serde_yaml_ng::Value>,
    },
}

impl YamlProject {
    fn into_project(self, path: &Path) -> Result<Project, ProjectError> {
        let bad = |why: String| ProjectError::File {
            path: path.to_path_buf(),
            why,
        };
        let environment = [
            ("conda_env", self.conda_env.is_some()),
            ("python_env", self.python_env.is_some()),
            ("docker_env", self.docker_env.is_some()),
        ]
        .into_iter()
        .find_map(|(k, set)| set.then_some(k));
        let mut entry_points = BTreeMap::new();
        for (name, ep) in self.entry_points {
            let mut parameters = BTreeMap::new();
            for (pname, param) in ep.parameters {
                let (kind, default) = match param {
                    YamlParam::Type(t) => (Some(t), None),
                    YamlParam::Full { kind, default } => (kind, default),
                };
                let kind = match kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("string" | "str") => ParamType::String,
                    Some("float") => ParamType::Float,
                    Some("int") => ParamType::Int,
                    Some("path") => ParamType::Path,
                    Some("uri") => ParamType::Uri,
                    Some(other) => {
                        return Err(bad(format!(
                            "entry point '{name}', parameter '{pname}': unknown type '{other}' (expected float, int, string, path or uri)"
                        )));
                    }
                };
                let default = match default {
                    None | Some(serde_yaml_ng::Value::Null) => None,
                    Some(serde_yaml_ng::Value::String(s)) => Some(toml::Value::String(s)),
                    Some(serde_yaml_ng::Value::Bool(b)) => Some(toml::Value::Boolean(b)),
                    Some(serde_yaml_ng::Value::Number(n)) => Some(match n.as_i64() {
                        Some(i) => toml::Value::Integer(i),
                        None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    }),
                    Some(_) => {
                        return Err(bad(format!(
                            "entry point '{name}', parameter '{pname}': the default is not a single value"
                        )));
                    }
                };
                parameters.insert(pname, Parameter { kind, default });
            }
            entry_points.insert(
                name,
                EntryPoint {
                    command: ep.command,
                    parameters,
                },
            );
        }
        Ok(Project {
            name: self.name,
            entry_points,
            source: path.to_path_buf(),
            environment,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryPoint {
    pub command: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Int,
    Float,
    String,
    Path,
    Uri,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(rename = "type", default = "default_type")]
    pub kind: ParamType,
    pub default: Option<toml::Value>,
}

fn default_type() -> ParamType {
    ParamType::String
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("no entry point '{name}' in {path} (entry points: {known})")]
    UnknownEntry {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("parameter '{name}': {why}")]
    Param { name: String, why: String },
}

impl Project {
    /// Load `MLproject.toml` from `dir`, else MLflow's YAML `MLproject`.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(FILE_NAME);
        let yaml = dir.join(MLFLOW_FILE_NAME);
        if !path.exists() && yaml.is_file() {
            let text = std::fs::read_to_string(&yaml).map_err(|e| ProjectError::File {
                path: yaml.clone(),
                why: e.to_string(),
            })?;
            return Project::parse_yaml(&yaml, &text);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ProjectError::File {
            path: path.clone(),
            why: e.to_string(),
        })?;
        Project::parse(&path, &text)
    }

    /// Parse MLflow's YAML `MLproject`.
    pub fn parse_yaml(path: &Path, text: &str) -> Result<Project, ProjectError> {
        let yaml: YamlProject = serde_yaml_ng::from_str(text).map_err(|e| ProjectError::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        yaml.into_project(path)?.checked()
    }

    pub fn parse(path: &Path, text: &str) -> Result<Project, ProjectError> {
        let mut project: Project = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {col}: ")
            });
            ProjectError::File {
                path: path.to_path_buf(),
                why: format!("{}{}", at.unwrap_or_default(), e.message().trim()),
            }
        })?;
        project.source = path.to_path_buf();
        project.checked()
    }

    /// Every placeholder is a parameter, every default has its parameter's type.
    fn checked(self) -> Result<Project, ProjectError> {
        let project = self;
        let path = &project.source;
        for (name, ep) in &project.entry_points {
            for p in placeholders(&ep.command) {
                if !ep.parameters.contains_key(&p) {
                    return Err(ProjectError::File {
                        path: path.to_path_buf(),
                        why: format!("entry point '{name}' uses {{{p}}}, which is not a parameter"),
                    });
                }
            }
            for (pname, param) in &ep.parameters {
                if let Some(d) = &param.default {
                    let text = toml_text(d);
                    check_value(pname, param.kind, &text).map_err(|e| ProjectError::File {
                        path: path.to_path_buf(),
                        why: format!("entry point '{name}': default of {e}"),
                    })?;
                }
            }
        }
        Ok(project)
    }

    pub fn entry(&self, name: &str, path: &Path) -> Result<&EntryPoint, ProjectError> {
        self.entry_points
            .get(name)
            .ok_or_else(|| ProjectError::UnknownEntry {
                name: name.into(),
                path: path.to_path_buf(),
                known: self
                    .entry_points
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn toml_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `{name}` placeholders of a command.
fn placeholders(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = command;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            out.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    out
}

fn check_value(name: &str, kind: ParamType, value: &str) -> Result<(), ProjectError> {
    let bad = |why: String| ProjectError::Param {
        name: name.into(),
        why,
    };
    match kind {
        ParamType::Int => value
            .trim()
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| bad(format!("'{value}' is not an int"))),
        ParamType::Float => value
            .trim()
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| bad(format!("'{value}' is not a float"))),
        ParamType::Uri if value.is_empty() => Err(bad("an empty uri".into())),
        ParamType::Path if value.is_empty() => Err(bad("an empty path".into())),
        _ => Ok(()),
    }
}

/// Values given on the command line (`-P k=v`); numeric values may list several (`50,100,200`) and
/// string/path values several separated by `|`, which makes a grid.
pub fn resolve_grid(
    entry: &EntryPoint,
    given: &[(String, String)],
    project_dir: &Path,
) -> Result<Vec<BTreeMap<String, String>>, ProjectError> {
    let mut axes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in given {
        let Some(param) = entry.parameters.get(name) else {
            return Err(ProjectError::Param {
                name: name.clone(),
                why: format!(
                    "not a parameter of this entry point (parameters: {})",
                    entry
                        .parameters
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        let sep = match param.kind {
            ParamType::Int | ParamType::Float => ',',
            _ => '|',
        };
        let mut values: Vec<String> = value.split(sep).map(|v| v.trim().to_string()).collect();
        for v in values.iter_mut() {
            check_value(name, param.kind, v)?;
            // One spelling per number ("0.20" and "0.2" are the same param value).
            match param.kind {
                ParamType::Int => *v = v.parse::<i64>().expect("checked").to_string(),
                ParamType::Float => {
                    *v = crate::store::metric_file::format_value(v.parse::<f64>().expect("checked"))
                }
                _ => {}
            }
        }
        axes.insert(name.clone(), values);
    }
    for (name, param) in &entry.parameters {
        if axes.contains_key(name) {
            continue;
        }
        match &param.default {
            Some(d) => {
                axes.insert(name.clone(), vec![toml_text(d)]);
            }
            None => {
                return Err(ProjectError::Param {
                    name: name.clone(),
                    why: "required (it has no default); pass -P NAME=VALUE".into(),
                });
            }
        }
    }
    // Paths are relative to the project folder, as MLflow resolves them.
    for (name, param) in &entry.parameters {
        if param.kind == ParamType::Path
            && let Some(values) = axes.get_mut(name)
        {
            for v in values.iter_mut() {
                let p = Path::new(v.as_str());
                if p.is_relative() {
                    *v = project_dir.join(p).to_string_lossy().into_owned();
                }
            }
        }
    }
    let mut grid = vec![BTreeMap::new()];
    for (name, values) in &axes {
        grid = grid
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.insert(name.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(grid)
}

/// The entry point's command with `{name}` replaced by shell-quoted values.
pub fn render_command(entry: &EntryPoint, values: &BTreeMap<String, String>) -> String {
    let mut out = entry.command.clone();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), &shell_quote(v));
    }
    out
}

/// Quote for `sh` only when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
name = "titanic"
[entry_points.main]
command = "mlx train --data {data} --n-estimators {n_estimators} --model {model}"
[entry_points.main.parameters]
data = { type = "path", default = "examples/titanic.csv" }
n_estimators = { type = "int", default = 100 }
model = { type = "string" }
"#;

    #[test]
    fn reads_mlflows_yaml_mlproject() {
        let text = "name: tutorial\nconda_env: conda.yaml\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.5}\n      n: {type: int, default: 3}\n      data: path\n      label: {default: x}\n    command: \"python train.py {alpha} {n} {data} {label}\"\n";
        let p = Project::parse_yaml(Path::new("MLproject"), text).unwrap();
        assert_eq!(p.name.as_deref(), Some("tutorial"));
        assert_eq!(p.environment, Some("conda_env"));
        let ep = p.entry("main", Path::new("MLproject")).unwrap();
        assert_eq!(ep.parameters["data"].kind, ParamType::Path);
        assert!(ep.parameters["data"].default.is_none());
        assert_eq!(ep.parameters["label"].kind, ParamType::String);
        let grid = resolve_grid(ep, &[("data".into(), "d.csv".into())], Path::new("/p")).unwrap();
        assert_eq!(
            render_command(ep, &grid[0]),
            "python train.py 0.5 3 /p/d.csv x"
        );
        for (bad, why) in [
            (
                "entry_points:\n  main:\n    parameters:\n      a: {type: list}\n    command: x\n",
                "unknown type 'list'",
            ),
            (
                "entry_points:\n  main:\n    parameters:\n      a: {type: int, default: 0.5}\n    command: x {a}\n",
                "not an int",
            ),
            ("entry_points:\n  main:\n    command: x {b}\n", "{b}"),
        ] {
            let e = Project::parse_yaml(Path::new("MLproject"), bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("MLproject") && e.contains(why), "{e}");
        }
    }

    #[test]
    fn parses_and_renders_with_defaults_and_grids() {
        let p = Project::parse(Path::new("MLproject.toml"), TEXT).unwrap();
        let ep = p.entry("main", Path::new("x")).unwrap();
        let err = resolve_grid(ep, &[], Path::new("/proj"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'model'") && err.contains("required"), "{err}");
        let grid = resolve_grid(
            ep,
            &[
                ("model".into(), "random-forest|knn".into()),
                ("n_estimators".into(), "50,100".into()),
            ],
            Path::new("/proj"),
        )
        .unwrap();
        assert_eq!(grid.len(), 4);
        assert_eq!(
            render_command(ep, &grid[0]),
            "mlx train --data /proj/examples/titanic.csv --n-estimators 50 --model random-forest"
        );
        let err = resolve_grid(
            ep,
            &[("n_estimators".into(), "many".into())],
            Path::new("/p"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not an int"), "{err}");
        let err = resolve_grid(ep, &[("nope".into(), "1".into())], Path::new("/p"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a parameter"), "{err}");
        assert!(p.entry("other", Path::new("x")).is_err());
    }

    #[test]
    fn bad_files_are_errors() {
        for (text, needle) in [
            ("name = [", "MLproject.toml"),
            ("[entry_points.m]\ncommand = \"x {y}\"\n", "{y}"),
            (
                "[entry_points.m]\ncommand = \"x\"\nparameters.a = { type = \"int\", default = \"z\" }\n",
                "not an int",
            ),
            (
                "[entry_points.m]\ncommand = \"x\"\nparameters.a = { type = \"blob\" }\n",
                "MLproject.toml",
            ),
            ("bogus = 1\n", "bogus"),
        ] {
            let e = Project::parse(Path::new("MLproject.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_quote("x.csv"), "x.csv");
    }
}
