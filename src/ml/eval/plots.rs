//! PNG plots recorded with a trained model: feature importance (trees) or coefficients (linear models),
//! and the ROC curve of binary classifiers. Text is drawn with a font embedded in the binary (no system
//! fonts needed).

use super::metrics;
use crate::ml::core::Task;
use crate::ml::forms::Fitted;
use crate::ml::model::SavedModel;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../../assets/DejaVuSans.ttf"),
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

/// One labelled series of (x, y) points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(52, 101, 164),
    RGBColor(204, 0, 0),
    RGBColor(78, 154, 6),
    RGBColor(245, 121, 0),
    RGBColor(117, 80, 123),
    RGBColor(193, 125, 17),
    RGBColor(6, 152, 154),
    RGBColor(85, 87, 83),
];

fn draw_series<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    lines: bool,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| {
        if (b - a).abs() < 1e-12 {
            0.5
        } else {
            (b - a) * 0.05
        }
    };
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 13))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        if lines {
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        let anno = chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        if !lines {
            anno.label(s.label.clone())
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
    }
    if series.len() > 1 || !series.is_empty() && !series[0].label.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// Write `stem.png` and `stem.svg`: lines for histories (`lines`), points for a scatter.
pub fn write_chart(
    stem: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    lines: bool,
) -> PlotResult {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw_series(
        BitMapBackend::new(&png, (900, 560)).into_drawing_area(),
        title,
        x_desc,
        y_desc,
        series,
        lines,
    )?;
    draw_series(
        SVGBackend::new(&svg, (900, 560)).into_drawing_area(),
        title,
        x_desc,
        y_desc,
        series,
        lines,
    )?;
    Ok(())
}

/// A one-line sparkline of values (for terminals).
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else if hi - lo < 1e-300 {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}
