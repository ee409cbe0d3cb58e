//! PNG plots recorded with a trained model: feature importance (trees) or coefficients (linear models),
//! and the ROC curve of binary classifiers. Text is drawn with a font embedded in the binary (no system
//! fonts needed).

use super::estimator::{Fitted, Task};
use super::metrics;
use super::model::SavedModel;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// Write every plot that applies to `model` into `dir`.
pub fn write_plots(
    model: &SavedModel,
    x_test: &[f64],
    y_test: &[f64],
    dir: &Path,
) -> anyhow::Result<()> {
    register_font();
    let names = &model.preprocessor.feature_names;
    let run = |result: PlotResult, what: &str| -> anyhow::Result<()> {
        result.map_err(|e| anyhow::anyhow!("cannot draw the {what} plot: {e}"))
    };
    if let Some(imp) = &model.feature_importance {
        run(
            bars(
                &dir.join("feature_importance.png"),
                "Feature importance",
                names,
                imp,
            ),
            "feature importance",
        )?;
    }
    if let Fitted::Linear { coef, .. } = &model.fitted
        && coef.len() == 1
    {
        run(
            bars(
                &dir.join("coefficients.png"),
                "Coefficients",
                names,
                &coef[0],
            ),
            "coefficients",
        )?;
    }
    if model.task == Task::Classification && model.n_classes() == 2 && !y_test.is_empty() {
        let proba = model
            .fitted
            .predict_proba(x_test, model.preprocessor.n_features(), 2);
        let scores: Vec<f64> = proba.chunks_exact(2).map(|p| p[1]).collect();
        let labels: Vec<bool> = y_test.iter().map(|v| *v == 1.0).collect();
        let auc = metrics::roc_auc(&labels, &scores).unwrap_or(f64::NAN);
        let points = metrics::roc_curve(&labels, &scores);
        run(roc(&dir.join("roc_curve.png"), &points, auc), "ROC")?;
    }
    Ok(())
}

/// Horizontal bars, largest magnitude at the top.
pub fn bars(path: &Path, title: &str, names: &[String], values: &[f64]) -> PlotResult {
    register_font();
    let mut order: Vec<usize> = (0..values.len().min(names.len())).collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()));
    order.truncate(30);
    order.reverse();
    let n = order.len().max(1);
    let lo = values.iter().copied().fold(0.0, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let height = 120 + 28 * n as u32;
    let root = BitMapBackend::new(path, (800, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let label_width = names
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(5)
        .min(28) as u32
        * 8
        + 20;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_width)
        .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n * 2 + 1)
        .y_label_formatter(&|y| {
            let i = (*y - 0.5).round();
            if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < order.len() {
                names[order[i as usize]].chars().take(28).collect()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(order.iter().enumerate().map(|(i, &f)| {
        let v = values[f];
        let color = if v >= 0.0 {
            RGBColor(52, 101, 164)
        } else {
            RGBColor(204, 0, 0)
        };
        Rectangle::new(
            [(0.0, i as f64 + 0.15), (v, i as f64 + 0.85)],
            color.filled(),
        )
    }))?;
    root.present()?;
    Ok(())
}

pub fn roc(path: &Path, points: &[(f64, f64)], auc: f64) -> PlotResult {
    register_font();
    let root = BitMapBackend::new(path, (640, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("ROC curve (AUC = {auc:.3})"), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("false positive rate")
        .y_desc("true positive rate")
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(LineSeries::new(
        vec![(0.0, 0.0), (1.0, 1.0)],
        RGBColor(180, 180, 180),
    ))?;
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        RGBColor(52, 101, 164).stroke_width(2),
    ))?;
    root.present()?;
    Ok(())
}
