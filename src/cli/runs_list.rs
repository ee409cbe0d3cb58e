//! `mlx runs list`'s argument side: `--columns` and the metrics a query names (the listing itself is
//! printed by `output::runs`).

use crate::output::runs::Column;
use crate::search::Query;
use anyhow::{Context, Result};

/// `--columns metrics.roc_auc,params.C,tags.team` (MLflow's prefixes, singular forms too).
pub(super) fn parse_columns(specs: &[String]) -> Result<Vec<Column>> {
    specs
        .iter()
        .map(|spec| {
            let (kind, key) = spec.split_once('.').unwrap_or(("", spec));
            let key = key.trim_matches('`').to_string();
            match kind {
                _ if key.is_empty() => None,
                "metrics" | "metric" => Some(Column::Metric(key)),
                "params" | "param" => Some(Column::Param(key)),
                "tags" | "tag" => Some(Column::Tag(key)),
                _ => None,
            }
            .with_context(|| {
                format!("--columns: '{spec}' is not metrics.KEY, params.KEY or tags.KEY")
            })
        })
        .collect()
}

/// The metrics a query filters or sorts on, sort keys first.
pub(super) fn query_metrics(query: &Query) -> Vec<String> {
    let mut parts: Vec<crate::search::Needed> = query
        .order_by
        .iter()
        .map(|o| {
            let mut n = crate::search::Needed::default();
            n.add_key(&o.key);
            n
        })
        .collect();
    if let Some(e) = &query.filter {
        let mut n = crate::search::Needed::default();
        n.add_expr(e);
        parts.push(n);
    }
    let mut out: Vec<String> = Vec::new();
    for name in parts.into_iter().flat_map(|n| n.metrics) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}
