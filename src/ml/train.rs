//! `mlx train`'s domain: read the CSV, prepare features, split, fit, cross-validate and evaluate, and say
//! what a run records of it (params with defaults, metric points, reports, the dataset input). Recording
//! the run itself is `ops::train`'s.
//!
//! Here: the options, [`prepare`] (with the estimator check), the matrices, the recorded params, the fit and
//! cross-validation. Beside it in `train/`: `features` (columns and task), `target` (labels and the split),
//! `evaluation` (test metrics and reports), `recorded` (dataset input and metric points).

use super::core::params::Params;
use super::core::{PreprocessError, Task};
use super::data::preprocess::{self, Encoding, NaPolicy, PreprocessOptions, Preprocessor};
use super::data::split;
use super::data::{self, Column, Table};
use super::learners::{self, ModelKind, Shape, TrainSet};
use super::model::SavedModel;
use std::collections::BTreeMap;
use std::path::PathBuf;

mod evaluation;
mod features;
mod recorded;
mod target;

use evaluation::test_metrics;
pub use evaluation::{Evaluation, evaluate};
use features::{infer_task, read_table, select_features};
pub use recorded::{curve_points, cv_points, data_location, dataset};
use target::{labels, split_rows};

/// Everything `mlx train` needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub data: PathBuf,
    /// When `data` is a URL: prefixes it and every redirect must stay under (`mlx serve --data-url`);
    /// `None` allows any http(s) URL (`mlx train --data`, the operator's own choice).
    pub data_prefixes: Option<crate::ml::data::fetch::UrlPrefixes>,
    pub target: String,
    pub features: Option<Vec<String>>,
    pub drop: Vec<String>,
    pub categorical: Vec<String>,
    /// CSV delimiter (None: detected from the header).
    pub delimiter: Option<u8>,
    pub maps: BTreeMap<String, BTreeMap<String, f64>>,
    pub encoding: Encoding,
    pub na: NaPolicy,
    pub scale: bool,
    pub test_size: f64,
    pub seed: u64,
    pub stratify: bool,
    /// None: logistic regression for classification, linear regression for regression.
    pub model: Option<ModelKind>,
    pub task: Option<Task>,
    /// Hyperparameters given (`--n-estimators`, ...; the learner's defaults fill the rest) and the seed.
    pub hyper: Params,
    pub experiment: String,
    pub run_name: Option<String>,
    /// Log into this existing run (e.g. from `mlx run` or `mlx log exec`) instead of starting one.
    pub run_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub register: Option<String>,
    /// K-fold cross-validation on the training part before the final fit.
    pub cv: Option<usize>,
    /// The command line, recorded as a tag.
    pub command: String,
}

/// Preprocessing numbers the rows of a split part; say the file's row instead (`rows`: the part's rows of
/// the prepared table, `source_rows`: their rows in the file, header = 1).
fn at_file_row(e: PreprocessError, rows: &[usize], source_rows: &[usize]) -> PreprocessError {
    match e {
        PreprocessError::Cell { column, row, why } => {
            let row = row
                .checked_sub(2)
                .and_then(|i| rows.get(i))
                .and_then(|&r| source_rows.get(r))
                .copied()
                .unwrap_or(row);
            PreprocessError::Cell { column, row, why }
        }
        other => other,
    }
}

/// Data prepared for fitting: everything before a run exists, so bad input fails before anything is logged.
pub struct Prepared {
    pub table: Table,
    /// The estimator: --model, else the task's default.
    pub model: ModelKind,
    /// False with --test-size 0: the "test" rows are the training rows.
    pub held_out: bool,
    pub features: Vec<String>,
    pub task: Task,
    pub classes: Vec<String>,
    pub label_type: String,
    /// Class index or value per row of `table`.
    pub y: Vec<f64>,
    pub split: split::Split,
    /// CSV row number (header = 1) of each row of `table`.
    pub source_rows: Vec<usize>,
    /// What a person should know about the preparation (columns left out, rows dropped).
    pub notes: Vec<String>,
}

/// Read and prepare the data of `opts` from `file` (a local copy when `opts.data` is a URL).
pub fn prepare(opts: &TrainOptions, file: &std::path::Path) -> anyhow::Result<Prepared> {
    use anyhow::{Context, bail};
    let table = read_table(opts, file)?;
    // What errors call the data: a URL without its credentials.
    let file = crate::redact::uris(&opts.data.display().to_string());
    let target_col = table.column(&opts.target).with_context(|| {
        format!(
            "{file}: target column '{}' not found (columns: {})",
            opts.target,
            table.names.join(", ")
        )
    })?;
    let mut notes = Vec::new();
    let features = select_features(opts, &table, &file, &mut notes)?;
    let mut used = features.clone();
    used.push(opts.target.clone());
    table.check_numeric(std::path::Path::new(&file), &used)?;
    for col in opts.maps.keys() {
        if !features.contains(col) {
            bail!("--map names column '{col}', which is not a feature");
        }
    }
    // Rows: the target must be present; with --na drop, every feature too.
    let mut keep: Vec<usize> = (0..table.n_rows)
        .filter(|&r| !target_col.is_missing(r))
        .collect();
    if opts.na == NaPolicy::Drop {
        let missing = preprocess::rows_with_missing(&table, &features);
        keep.retain(|r| missing.binary_search(r).is_err());
    }
    let dropped = table.n_rows - keep.len();
    if dropped > 0 {
        notes.push(format!("dropped {dropped} rows with missing values"));
    }
    if keep.len() < 4 {
        bail!(
            "{file}: only {} usable rows; need at least 4 to train and test",
            keep.len()
        );
    }
    let table = table.select_rows(&keep);
    let target_col = table.column(&opts.target).expect("checked above");
    let task = opts.task.unwrap_or_else(|| infer_task(target_col));
    let model = estimator_for(opts, target_col, task)?;
    let label_type = target_col.mlflow_type().to_string();
    let (classes, y) = labels(opts, task, target_col, table.n_rows)?;
    let (held_out, split) = split_rows(opts, task, &y, table.n_rows, &mut notes)?;
    Ok(Prepared {
        table,
        model,
        held_out,
        features,
        task,
        classes,
        label_type,
        y,
        split,
        source_rows: keep.iter().map(|r| r + 2).collect(),
        notes,
    })
}

/// The estimator for `task` (--model, else the task's default), checked against the target and --na.
fn estimator_for(
    opts: &TrainOptions,
    target_col: &Column,
    task: Task,
) -> anyhow::Result<ModelKind> {
    use anyhow::bail;
    if task == Task::Classification
        && matches!(target_col, Column::Numeric(v) if v.iter().flatten().any(|x| x.fract() != 0.0))
    {
        bail!(
            "target '{}' has fractional values; classification needs labels (use --task regression)",
            opts.target
        );
    }
    if task == Task::Regression && matches!(target_col, Column::Text(_)) {
        bail!("target '{}' is text; regression needs numbers", opts.target);
    }
    let model = opts.model.unwrap_or(ModelKind::named(match task {
        Task::Classification => "logistic-regression",
        Task::Regression => "linear-regression",
    }));
    if !model.supports(task) {
        bail!("--model {} does not do {:?}", model.name(), task);
    }
    if opts.na == NaPolicy::Keep && !model.keeps_missing() {
        bail!(
            "--na keep is for --model gradient-boosting; {} needs every value (use --na drop, mean, median or zero)",
            model.name()
        );
    }
    Ok(model)
}

/// The prepared data as matrices: preprocessing fitted on the training part, both parts transformed.
pub struct Matrices {
    pub pre: Preprocessor,
    /// The training part's rows (the model's input example comes from them).
    pub train_table: Table,
    pub x_train: Vec<f64>,
    pub x_test: Vec<f64>,
    pub y_train: Vec<f64>,
    pub y_test: Vec<f64>,
}

/// How the features of `p` are preprocessed under `opts`.
fn preprocess_options(opts: &TrainOptions, p: &Prepared) -> PreprocessOptions {
    PreprocessOptions {
        features: p.features.clone(),
        maps: opts.maps.clone(),
        encoding: opts.encoding,
        na: opts.na,
        scale: opts.scale,
    }
}

/// Fit the preprocessing on the training part and transform both parts (errors name the file's row).
pub fn matrices(opts: &TrainOptions, p: &Prepared) -> anyhow::Result<Matrices> {
    let train_table = p.table.select_rows(&p.split.train);
    let test_table = p.table.select_rows(&p.split.test);
    let (train_rows, test_rows) = (&p.split.train, &p.split.test);
    let pre = Preprocessor::fit(&train_table, &preprocess_options(opts, p))
        .map_err(|e| at_file_row(e, train_rows, &p.source_rows))?;
    let x_train = pre
        .transform(&train_table, 2)
        .map_err(|e| at_file_row(e, train_rows, &p.source_rows))?;
    let x_test = pre
        .transform(&test_table, 2)
        .map_err(|e| at_file_row(e, test_rows, &p.source_rows))?;
    Ok(Matrices {
        pre,
        train_table,
        x_train,
        x_test,
        y_train: p.split.train.iter().map(|&r| p.y[r]).collect(),
        y_test: p.split.test.iter().map(|&r| p.y[r]).collect(),
    })
}

/// The run's params: the estimator's hyperparameters with defaults, and how the data was prepared.
pub fn recorded_params(
    opts: &TrainOptions,
    p: &Prepared,
    n_features: usize,
) -> BTreeMap<String, String> {
    let shape = Shape {
        n_features,
        task: p.task,
        n_classes: p.classes.len(),
    };
    let mut params = learners::recorded(p.model.0, &opts.hyper, &shape);
    params.insert("model".into(), p.model.name().into());
    params.insert("task".into(), format!("{:?}", p.task).to_lowercase());
    // Absolute, so that a retrain works from any folder (a URL stays as given).
    params.insert("data".into(), data_location(&opts.data));
    params.insert("target".into(), opts.target.clone());
    params.insert("features".into(), p.features.join(","));
    params.insert(
        "test_size".into(),
        crate::store::metric_file::format_value(opts.test_size),
    );
    params.insert(
        "stratify".into(),
        if opts.stratify { "True" } else { "False" }.into(),
    );
    params.insert("na".into(), format!("{:?}", opts.na).to_lowercase());
    if let Some(k) = opts.cv {
        params.insert("cv".into(), k.to_string());
    }
    params.insert(
        "encoding".into(),
        format!("{:?}", opts.encoding).to_lowercase(),
    );
    params.insert(
        "scale".into(),
        if opts.scale { "True" } else { "False" }.into(),
    );
    for (col, map) in &opts.maps {
        let text: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{k}:{}", data::format_number(*v)))
            .collect();
        params.insert(format!("map.{col}"), text.join(","));
    }
    params
}

/// The final model, fitted on the training part, with gradient boosting's learning curves.
pub struct Fit {
    pub model: SavedModel,
    pub curves: Option<super::learners::gbdt::Curves>,
    /// Wall time of the estimator's fit (logged as `training_time`).
    pub seconds: f64,
}

/// Fit the estimator of `p` on `x_train` (features from `pre`); `params` are saved with the model.
pub fn fit(
    opts: &TrainOptions,
    p: &Prepared,
    pre: Preprocessor,
    x_train: &[f64],
    y_train: &[f64],
    params: BTreeMap<String, String>,
    progress: &(dyn Fn() + Sync),
) -> anyhow::Result<Fit> {
    let started = std::time::Instant::now();
    let fit = learners::fit(
        p.model.0,
        &opts.hyper,
        &TrainSet {
            x: x_train,
            n_features: pre.n_features(),
            y: y_train,
            n_classes: p.classes.len(),
            task: p.task,
        },
        progress,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let model = SavedModel {
        format_version: 1,
        kind: p.model,
        task: p.task,
        target: opts.target.clone(),
        classes: p.classes.clone(),
        label_type: p.label_type.clone(),
        params,
        preprocessor: pre,
        fitted: fit.form,
        feature_importance: fit.importance,
    };
    Ok(Fit {
        model,
        curves: fit.curves,
        seconds,
    })
}

/// K-fold cross-validation on the training part (folds from `split::kfold`, stratified for
/// classification): per fold, preprocessing and the estimator are fitted on the other folds and scored on
/// it. Returns each metric's per-fold values.
pub fn cross_validate(
    opts: &TrainOptions,
    p: &Prepared,
    k: usize,
) -> anyhow::Result<BTreeMap<String, Vec<f64>>> {
    let pre_opts = &preprocess_options(opts, p);
    let rows = &p.split.train;
    if k < 2 || k > rows.len() {
        anyhow::bail!(
            "--cv {k}: need at least 2 folds and at most the {} training rows",
            rows.len()
        );
    }
    let labels: Vec<usize> = rows.iter().map(|&r| p.y[r] as usize).collect();
    let folds = split::kfold(
        rows.len(),
        (p.task == Task::Classification).then_some(&labels[..]),
        k,
        opts.seed,
    );
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for fold in 0..k {
        let part = |inside: bool| -> Vec<usize> {
            rows.iter()
                .zip(&folds)
                .filter(|(_, f)| (**f == fold) == inside)
                .map(|(r, _)| *r)
                .collect()
        };
        let (fit_rows, score_rows) = (part(false), part(true));
        let fit_table = p.table.select_rows(&fit_rows);
        let pre = Preprocessor::fit(&fit_table, pre_opts)
            .map_err(|e| at_file_row(e, &fit_rows, &p.source_rows))?;
        let x_fit = pre
            .transform(&fit_table, 2)
            .map_err(|e| at_file_row(e, &fit_rows, &p.source_rows))?;
        let x_score = pre
            .transform(&p.table.select_rows(&score_rows), 2)
            .map_err(|e| at_file_row(e, &score_rows, &p.source_rows))?;
        let y_fit: Vec<f64> = fit_rows.iter().map(|&r| p.y[r]).collect();
        let y_score: Vec<f64> = score_rows.iter().map(|&r| p.y[r]).collect();
        let fitted = learners::fit(
            p.model.0,
            &opts.hyper,
            &TrainSet {
                x: &x_fit,
                n_features: pre.n_features(),
                y: &y_fit,
                n_classes: p.classes.len(),
                task: p.task,
            },
            &|| {},
        )?
        .form;
        let model = SavedModel {
            format_version: 1,
            kind: p.model,
            task: p.task,
            target: opts.target.clone(),
            classes: p.classes.clone(),
            label_type: p.label_type.clone(),
            params: BTreeMap::new(),
            preprocessor: pre,
            fitted,
            feature_importance: None,
        };
        let values = test_metrics(
            p.task,
            p.classes.len(),
            &model.predict_matrix(&x_score),
            &y_score,
        );
        for (name, v) in values {
            out.entry(name).or_default().push(v);
        }
    }
    Ok(out)
}
