//! `mlx models import URI`: convert a pickled model once (with the user's Python) into a format mlx reads
//! natively, stored beside the original; the conversion itself is `ml::import`.

use super::args::print_value;
use crate::ml::import::{self, Plan};
use crate::settings::Settings;
use crate::store::ModelUri;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;

pub fn exec(settings: &Settings, uri: &str, python: Option<&str>) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let parsed = ModelUri::parse(uri).with_context(|| format!("cannot find model {uri}"))?;
    let dir = store
        .resolve_model(&parsed)
        .with_context(|| format!("cannot find model {uri}"))?;
    let conv = match import::plan(&dir)? {
        Plan::Native(what) => {
            eprintln!("Nothing to import: {uri} is {what}, which mlx reads as it is");
            print_value(
                settings,
                uri,
                serde_json::json!({"uri": uri, "imported": false}),
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        Plan::Convert(c) => c,
    };
    let python = import::default_python(python);
    // Where the model came from: a registered version (registered again), a run's logged model, or a
    // bare folder.
    let version = match parsed.version() {
        Some(v) => Some(store.resolve_model_version(v)?),
        None => None,
    };
    let run_id = match (&version, &parsed) {
        (Some(v), _) => v.run_id.clone(),
        (None, ModelUri::Run { run_id, .. }) => Some(run_id.clone()),
        (None, ModelUri::Logged(id)) => Some(store.get_logged_model(id)?.source_run_id),
        _ => None,
    }
    .filter(|r| !r.is_empty());
    // Unpickling runs code from the store: say whose, before it runs.
    let logged_by = match &run_id {
        Some(id) => match store.get_run(id)?.data.tags.get("mlflow.user") {
            Some(user) if !user.is_empty() => user.clone(),
            _ => "an unknown user (its run has no mlflow.user tag)".into(),
        },
        None => "an unknown user (a folder outside a store)".into(),
    };
    eprintln!("{}", unpickle_warning(uri, &logged_by, &python));
    let staging = tempfile::tempdir()?;
    let out = staging.path().join("model");
    let class = import::convert(&dir, &conv, &python, &out)
        .with_context(|| format!("cannot import {uri}"))?;
    let Some(run_id) = run_id else {
        let dest = import::sibling_out(&dir);
        // A rename within the destination's folder is atomic: stage there, then move into place.
        let parent = dest.parent().unwrap_or(Path::new("."));
        let stage = tempfile::tempdir_in(parent)?;
        let staged = stage.path().join("model");
        copy_dir(&out, &staged)?;
        std::fs::rename(&staged, &dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        eprintln!("Imported {uri} ({class}) into {}", dest.display());
        print_value(
            settings,
            &dest.display().to_string(),
            serde_json::json!({"uri": uri, "imported": true, "path": dest, "class": class}),
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    // A logged model's folder is <id>/artifacts; a run's is its artifact path.
    let name = match dir.file_name().map(|n| n.to_string_lossy().into_owned()) {
        Some(n) if n != "artifacts" => n,
        _ => "model".into(),
    };
    let logged = store.create_logged_model(&run_id, &format!("{name}-imported"))?;
    import::set_ids(&out, &run_id, &logged.model_id, &logged.artifact_location)?;
    store
        .log_model(&logged, &out, &[])
        .with_context(|| format!("cannot store the imported copy of {uri}"))?;
    let new_uri = format!("models:/{}", logged.model_id);
    let mut doc =
        serde_json::json!({"uri": uri, "imported": true, "model_uri": new_uri, "class": class});
    if let Some(v) = version {
        let description = format!("{uri} converted from {} by mlx models import", conv.format);
        let nv = store.register_model(&v.name, &new_uri, Some(&run_id), Some(&description))?;
        eprintln!(
            "Imported {uri} ({class}) as {new_uri}, registered as '{}' version {} (move an alias with `mlx alias set ALIAS {} --model {}`)",
            v.name, nv.version, nv.version, v.name
        );
        doc["name"] = v.name.clone().into();
        doc["version"] = nv.version.into();
        print_value(settings, &format!("models:/{}/{}", v.name, nv.version), doc)?;
    } else {
        eprintln!("Imported {uri} ({class}) as {new_uri}");
        print_value(settings, &new_uri, doc)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The line printed before a pickle is loaded: the model, who logged it, and that its code will run.
fn unpickle_warning(uri: &str, logged_by: &str, python: &str) -> String {
    format!(
        "warning: importing {} unpickles it with {}: code in the model, logged by {}, will run on this machine (import only models you trust)",
        one_line(uri),
        one_line(python),
        one_line(logged_by)
    )
}

/// Text from the store or the command line for a line of its own: shortened, control characters
/// (a newline in a tag) shown as `?`.
fn one_line(text: &str) -> String {
    crate::redact::brief(text)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Copies the regular files of a flat model folder (what `import::convert` writes).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unpickle_warning_is_one_line_whatever_the_store_holds() {
        assert_eq!(
            unpickle_warning("models:/m/1", "eve\nerror: fake", "python3"),
            "warning: importing models:/m/1 unpickles it with python3: code in the model, logged by \
             eve?error: fake, will run on this machine (import only models you trust)"
        );
        let long = "x".repeat(10_000);
        assert!(unpickle_warning("models:/m/1", &long, "python3").len() < 400);
    }
}
