//! The target as the numbers a learner fits (class indices, or the values for regression) and the rows
//! held out to test on (--test-size, --seed, --stratify).

use super::TrainOptions;
use crate::ml::core::Task;
use crate::ml::data::Column;
use crate::ml::data::split;

/// The classes (sorted, numbers as numbers) and each row's class index, or the regression target.
pub(super) fn labels(
    opts: &TrainOptions,
    task: Task,
    target_col: &Column,
    n_rows: usize,
) -> anyhow::Result<(Vec<String>, Vec<f64>)> {
    match task {
        Task::Classification => {
            let labels: Vec<String> = (0..n_rows)
                .map(|r| target_col.text(r).expect("kept rows have a target"))
                .collect();
            let mut classes = labels.clone();
            // Numeric labels sort as numbers.
            classes.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => a.cmp(b),
            });
            classes.dedup();
            if classes.len() < 2 {
                anyhow::bail!(
                    "target '{}' has only one class ({}); a classifier needs at least two",
                    opts.target,
                    classes.first().map(String::as_str).unwrap_or("")
                );
            }
            let y: Vec<f64> = labels
                .iter()
                .map(|l| classes.iter().position(|c| c == l).expect("a known class") as f64)
                .collect();
            Ok((classes, y))
        }
        Task::Regression => {
            let Column::Numeric(v) = target_col else {
                unreachable!("checked above")
            };
            Ok((
                Vec::new(),
                v.iter()
                    .map(|x| x.expect("kept rows have a target"))
                    .collect(),
            ))
        }
    }
}

/// The train/test split of --test-size (seeded, stratified on request); with 0, the test rows are the
/// training rows. Returns whether rows were held out, and the split.
pub(super) fn split_rows(
    opts: &TrainOptions,
    task: Task,
    y: &[f64],
    n_rows: usize,
    notes: &mut Vec<String>,
) -> anyhow::Result<(bool, split::Split)> {
    if !(0.0..1.0).contains(&opts.test_size) {
        anyhow::bail!(
            "--test-size must be at least 0 and below 1, not {}",
            opts.test_size
        );
    }
    let held_out = opts.test_size > 0.0;
    let split = if !held_out {
        // Fit the final model on every row; it is evaluated on those same rows (training_* metrics).
        notes.push(format!(
            "--test-size 0: fitting on all {n_rows} rows; metrics are training_* on those rows, not a held-out estimate"
        ));
        let all: Vec<usize> = (0..n_rows).collect();
        split::Split {
            train: all.clone(),
            test: all,
        }
    } else if opts.stratify && task == Task::Classification {
        let labels: Vec<usize> = y.iter().map(|v| *v as usize).collect();
        split::stratified_split(&labels, opts.test_size, opts.seed)
    } else {
        split::train_test_split(n_rows, opts.test_size, opts.seed)
    };
    if split.train.is_empty() || split.test.is_empty() {
        anyhow::bail!(
            "--test-size {} leaves an empty train or test part",
            opts.test_size
        );
    }
    Ok((held_out, split))
}
