//! Registry operations on top of the store: which model a command means when no name is given, moving an
//! alias (checked to be servable where something serves it) and rollback through an alias's history. The
//! CLI, `mlx serve`'s `/rollback` and `mlx ui`'s admin actions call these same functions.

use crate::store::entities::AliasMove;
use crate::store::{ModelUri, StoreError, TrackingStore};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    #[error("cannot find the model {uri}")]
    NoModel {
        uri: String,
        #[source]
        source: Box<StoreError>,
    },
}

/// The model a command means: `--model`, else `MLX_MODEL`, else the project name in `MLproject.toml` (when
/// it is registered), else the only registered model.
pub fn resolve_model_name(
    store: &dyn TrackingStore,
    flag: Option<&str>,
) -> Result<String, RegistryError> {
    if let Some(name) = flag {
        return Ok(name.to_string());
    }
    if let Some(name) = crate::settings::env::get("MLX_MODEL") {
        return Ok(name);
    }
    let models = store.list_registered_models()?;
    if let Ok(project) = crate::project::Project::load(std::path::Path::new("."))
        && let Some(name) = project.name
        && models.iter().any(|m| m.name == name)
    {
        return Ok(name);
    }
    match models.as_slice() {
        [only] => Ok(only.name.clone()),
        [] => Err(RegistryError::Refused(
            "no registered models; register one with `mlx register RUN_ID --name NAME`".into(),
        )),
        many => Err(RegistryError::Refused(format!(
            "which model? pass --model NAME or set MLX_MODEL (registered: {})",
            many.iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The versions an alias went through, oldest first, as rollbacks see them: a set pushes, a rollback pops,
/// a delete starts over.
pub fn lineage(history: &[AliasMove], current: Option<u64>) -> Vec<u64> {
    let mut stack: Vec<u64> = Vec::new();
    for e in history {
        match e.kind.as_str() {
            "rollback" => {
                stack.pop();
                if let Some(to) = e.to
                    && stack.last() != Some(&to)
                {
                    stack.push(to);
                }
            }
            "delete" => stack.clear(),
            _ => {
                if stack.is_empty()
                    && let Some(from) = e.from
                {
                    stack.push(from);
                }
                if let Some(to) = e.to
                    && stack.last() != Some(&to)
                {
                    stack.push(to);
                }
            }
        }
    }
    // The alias may have been moved by another client (MLflow itself) without history.
    if let Some(c) = current
        && stack.last() != Some(&c)
    {
        stack.push(c);
    }
    stack
}

/// Check a version can serve: not deleted, and its model files are there.
pub fn check_servable(
    store: &dyn TrackingStore,
    name: &str,
    version: u64,
) -> Result<(), RegistryError> {
    let v = store.get_model_version(name, version).map_err(|_| {
        RegistryError::Refused(format!(
            "version {version} of '{name}' does not exist or is deleted"
        ))
    })?;
    match ModelUri::parse(&v.source).and_then(|uri| store.resolve_model(&uri)) {
        Ok(dir) if dir.join("MLmodel").is_file() => Ok(()),
        _ => Err(RegistryError::Refused(format!(
            "version {version} of '{name}' has no model files at {} (missing artifacts)",
            v.source
        ))),
    }
}

/// Point `alias` of `name` at `version`; returns the version it pointed at before. With `servable`, the
/// version must be live and have its model files (what a server or the UI moves an alias to is served).
pub fn set_alias(
    store: &dyn TrackingStore,
    name: &str,
    alias: &str,
    version: u64,
    servable: bool,
) -> Result<Option<u64>, RegistryError> {
    if servable {
        check_servable(store, name, version)?;
    }
    Ok(store.set_alias(name, alias, version, "set")?)
}

/// Move `alias` back to the version before (or to `to`); returns (from, to).
pub fn rollback(
    store: &dyn TrackingStore,
    name: &str,
    alias: &str,
    to: Option<u64>,
) -> Result<(Option<u64>, u64), RegistryError> {
    let model = store.get_registered_model(name)?;
    let current = model.aliases.get(alias).copied();
    let (target, kind) = match to {
        Some(v) => (v, "set"),
        None => {
            let history = store.alias_history(name, alias)?;
            let stack = lineage(&history, current);
            if stack.len() < 2 {
                return Err(RegistryError::Refused(format!(
                    "nothing to roll back to: alias '{alias}' of '{name}' has no earlier version on record{}; use --to VERSION",
                    current
                        .map(|c| format!(" (it points at v{c})"))
                        .unwrap_or_default()
                )));
            }
            (stack[stack.len() - 2], "rollback")
        }
    };
    // Already there: nothing moves, so nothing goes into the alias history.
    if current == Some(target) {
        return Ok((current, target));
    }
    check_servable(store, name, target)?;
    store.set_alias(name, alias, target, kind)?;
    Ok((current, target))
}

/// A registration source as MLflow 3 records it, and its run.
pub fn registration_source(
    store: &dyn TrackingStore,
    source: &str,
) -> Result<(String, Option<String>), RegistryError> {
    let uri = if source.contains(":/") || source.contains('/') || source.starts_with('.') {
        source.to_string()
    } else {
        // A bare run id.
        format!("runs:/{source}/model")
    };
    let not_found = |source| RegistryError::NoModel {
        uri: uri.clone(),
        source: Box::new(source),
    };
    let parsed = ModelUri::parse(&uri).map_err(not_found)?;
    let dir = store.resolve_model(&parsed).map_err(not_found)?;
    let run_id = match &parsed {
        ModelUri::Run { run_id, .. } => Some(run_id.clone()),
        _ => None,
    };
    // A logged model (<exp>/models/m-<id>/artifacts) registers as models:/m-<id>, as MLflow 3 does.
    if let Some(id) = dir
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.starts_with("m-") && dir.file_name().is_some_and(|f| f == "artifacts"))
    {
        // The store owns the logged model's format: ask it for the run that produced it.
        let run_id = run_id.or_else(|| {
            store
                .get_logged_model(&id)
                .ok()
                .map(|m| m.source_run_id)
                .filter(|r| !r.is_empty())
        });
        return Ok((format!("models:/{id}"), run_id));
    }
    Ok((uri, run_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(kind: &str, from: Option<u64>, to: Option<u64>) -> AliasMove {
        AliasMove {
            alias: "Champion".into(),
            from,
            to,
            user: "u".into(),
            timestamp: 0,
            kind: kind.into(),
        }
    }

    #[test]
    fn rollbacks_step_back_through_the_history() {
        let h = vec![
            mv("set", None, Some(1)),
            mv("set", Some(1), Some(2)),
            mv("set", Some(2), Some(3)),
        ];
        assert_eq!(lineage(&h, Some(3)), [1, 2, 3]);
        let mut h2 = h.clone();
        h2.push(mv("rollback", Some(3), Some(2)));
        assert_eq!(lineage(&h2, Some(2)), [1, 2]);
        h2.push(mv("rollback", Some(2), Some(1)));
        assert_eq!(lineage(&h2, Some(1)), [1]);
        h2.push(mv("set", Some(1), Some(4)));
        assert_eq!(lineage(&h2, Some(4)), [1, 4]);
        // Moved by another client: the current version is on top.
        assert_eq!(lineage(&h, Some(7)), [1, 2, 3, 7]);
        assert_eq!(lineage(&[], Some(2)), [2]);
        let deleted = vec![
            mv("set", None, Some(1)),
            mv("delete", Some(1), None),
            mv("set", None, Some(5)),
        ];
        assert_eq!(lineage(&deleted, Some(5)), [5]);
    }
}
