//! `mlx models show NAME`: a registered model's description, aliases, tags and versions, and whether mlx
//! can serve its newest version (`ops::models::show`).

use crate::ops::models::Servable;
use crate::output::{self, Listing, OutputFormat};
use crate::store::TrackingStore;
use crate::timefmt;
use anyhow::Result;

pub fn show(store: &dyn TrackingStore, format: OutputFormat, name: &str) -> Result<()> {
    let r = crate::ops::models::show(store, name)?;
    let mut listing = Listing::new(&["field", "value"]);
    let mut row = |k: String, v: String| listing.rows.push(vec![k, v]);
    row("name".into(), r.model.name.clone());
    row(
        "description".into(),
        r.model.description.clone().unwrap_or_default(),
    );
    for (a, v) in &r.model.aliases {
        row(format!("alias {a}"), format!("v{v}"));
    }
    let history = |k: &String| k.starts_with("mlx.alias_history.");
    for (k, v) in r.model.tags.iter().filter(|(k, _)| !history(k)) {
        row(format!("tag {k}"), v.clone());
    }
    for v in &r.versions {
        let run = v.run_id.as_deref().unwrap_or("-");
        let created = timefmt::datetime(v.creation_timestamp);
        row(
            format!("version {}", v.version),
            format!("{created} run {run} {}", v.source),
        );
    }
    if let Some(latest) = &r.latest {
        let what = match &latest.load {
            Servable::Yes {
                estimator, inputs, ..
            } => {
                let inputs: Vec<String> = inputs
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.kind))
                    .collect();
                format!("{estimator} ({})", inputs.join(", "))
            }
            Servable::No { error } => format!("no: {error}"),
        };
        row(format!("serves v{}", latest.version), what);
    }
    output::print(format, &listing, &serde_json::to_value(&r)?)?;
    Ok(())
}
