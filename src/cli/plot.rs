//! `mlx runs plot`: metric histories over steps (one line per run), or a metric against a param across runs.

use super::report_parse_error;
use crate::ml::{Series, write_chart};
use crate::ops::experiment_ids;
use crate::search::Query;
use crate::settings::Settings;
use crate::store::entities::{Run, ViewType};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PlotArgs {
    /// Runs to plot [default: the runs of --experiment matching --filter]
    runs: Vec<String>,
    /// The metric to draw
    #[arg(long)]
    metric: String,
    /// Draw the metric's latest value against this param, one point per run
    #[arg(long, value_name = "PARAM")]
    by_param: Option<String>,
    #[arg(long, short = 'e')]
    experiment: Vec<String>,
    #[arg(long)]
    filter: Option<String>,
    /// At most this many runs
    #[arg(long, default_value_t = 20)]
    max: usize,
    /// Output file stem: writes STEM.png and STEM.svg [default: <metric>[_by_<param>]]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn exec(settings: &Settings, args: PlotArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let runs: Vec<Run> = if args.runs.is_empty() {
        let query = match Query::parse(args.filter.as_deref(), &[]) {
            Ok(q) => q,
            Err(e) => return Ok(report_parse_error(&e)),
        };
        let ids = experiment_ids(store, &args.experiment)?;
        query.run(store, &ids, ViewType::ActiveOnly, Some(args.max))?
    } else {
        args.runs
            .iter()
            .map(|r| store.get_run(r))
            .collect::<Result<_, _>>()?
    };
    let label = |r: &Run| {
        format!(
            "{} {}",
            &r.info.run_id[..8.min(r.info.run_id.len())],
            r.info.run_name
        )
    };
    let safe = |s: &str| s.replace(|c: char| !c.is_alphanumeric() && c != '-' && c != '_', "_");
    let (series, title, x_desc, lines, stem) = match &args.by_param {
        Some(param) => {
            let mut points = Vec::new();
            for r in &runs {
                let (Some(p), Some(m)) =
                    (r.data.params.get(param), r.data.metrics.get(&args.metric))
                else {
                    continue;
                };
                let x: f64 = p.parse().with_context(|| {
                    format!(
                        "param '{param}' of run {} is '{p}', not a number",
                        r.info.run_id
                    )
                })?;
                points.push((x, m.value));
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (
                vec![Series {
                    label: String::new(),
                    points,
                }],
                format!("{} by {param}", args.metric),
                param.clone(),
                false,
                format!("{}_by_{}", safe(&args.metric), safe(param)),
            )
        }
        None => {
            let mut series = Vec::new();
            let histories = crate::store::parallel(&runs, 8, |r| {
                store.metric_history(&r.info.run_id, &args.metric)
            })?;
            for (r, hist) in runs.iter().zip(histories) {
                if hist.is_empty() {
                    continue;
                }
                let mut points: Vec<(f64, f64)> =
                    hist.iter().map(|p| (p.step as f64, p.value)).collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                series.push(Series {
                    label: label(r),
                    points,
                });
            }
            (
                series,
                args.metric.clone(),
                "step".to_string(),
                true,
                safe(&args.metric),
            )
        }
    };
    if series.iter().all(|s| s.points.is_empty()) {
        bail!(
            "none of the {} runs has the metric '{}'{}",
            runs.len(),
            args.metric,
            args.by_param
                .as_ref()
                .map(|p| format!(" and the param '{p}'"))
                .unwrap_or_default()
        );
    }
    let stem = args.out.unwrap_or_else(|| PathBuf::from(stem));
    write_chart(&stem, &title, &x_desc, &args.metric, &series, lines)
        .map_err(|e| anyhow::anyhow!("cannot draw the plot: {e}"))?;
    eprintln!(
        "wrote {} and {}",
        stem.with_extension("png").display(),
        stem.with_extension("svg").display()
    );
    Ok(ExitCode::SUCCESS)
}
