//! `mlx train`'s domain: read the CSV, prepare features, split, fit, cross-validate and evaluate, and say
//! what a run records of it (params with defaults, metric points, reports, the dataset input). Recording
//! the run itself is `ops::train`'s.

use super::data::preprocess::{self, Encoding, NaPolicy, PreprocessOptions, Preprocessor};
use super::data::split;
use super::data::{self, Column, ReadOptions, Table};
use super::estimator::{self, Hyper, ModelKind, Task, TrainSet};
use super::eval::metrics;
use super::model::SavedModel;
use crate::store::entities::{Dataset, MetricPoint};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    pub hyper: Hyper,
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

/// Distinct-value count above which a string column is left out unless named (ids, names, tickets).
const MAX_AUTO_CATEGORIES: usize = 50;

/// Preprocessing numbers the rows of a split part; say the file's row instead (`rows`: the part's rows of
/// the prepared table, `source_rows`: their rows in the file, header = 1).
fn at_file_row(
    e: preprocess::PreprocessError,
    rows: &[usize],
    source_rows: &[usize],
) -> preprocess::PreprocessError {
    match e {
        preprocess::PreprocessError::Cell { column, row, why } => {
            let row = row
                .checked_sub(2)
                .and_then(|i| rows.get(i))
                .and_then(|&r| source_rows.get(r))
                .copied()
                .unwrap_or(row);
            preprocess::PreprocessError::Cell { column, row, why }
        }
        other => other,
    }
}

/// An integer column with a distinct value in every row (PassengerId, customer_id): an id, not a feature.
fn is_row_id(column: &Column) -> bool {
    let Column::Numeric(v) = column else {
        return false;
    };
    // Few rows say little: 20 distinct small integers may well be a measurement.
    if v.len() < 20 || v.iter().any(|x| x.is_none_or(|x| x.fract() != 0.0)) {
        return false;
    }
    let mut values: Vec<i64> = v.iter().flatten().map(|x| *x as i64).collect();
    values.sort_unstable();
    values.windows(2).all(|w| w[0] != w[1])
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

/// The CSV of `opts`, read from `file`.
fn read_table(opts: &TrainOptions, file: &std::path::Path) -> anyhow::Result<Table> {
    let read = ReadOptions {
        categorical: opts.categorical.clone(),
        expected: BTreeMap::new(),
    };
    match Table::read_csv_delimited(file, &read, opts.delimiter) {
        Ok(t) => Ok(t),
        // A downloaded copy: name the URL, not the temp file.
        Err(e) if file != opts.data => anyhow::bail!(
            "{}",
            e.to_string().replace(
                &*file.to_string_lossy(),
                &crate::redact::uris(&opts.data.to_string_lossy())
            )
        ),
        Err(e) => Err(e.into()),
    }
}

/// The feature columns: those named by --features (checked), else every column but the target, --drop,
/// ids and high-cardinality text (each left out with a note).
fn select_features(
    opts: &TrainOptions,
    table: &Table,
    file: &str,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<String>> {
    use anyhow::bail;
    let features: Vec<String> = match &opts.features {
        Some(f) => {
            for name in f {
                if table.column(name).is_none() {
                    bail!(
                        "{file}: feature column '{name}' not found (columns: {})",
                        table.names.join(", ")
                    );
                }
                if name == &opts.target {
                    bail!("the target '{name}' cannot also be a feature");
                }
            }
            f.clone()
        }
        None => {
            for name in &opts.drop {
                if table.column(name).is_none() {
                    bail!(
                        "{file}: --drop column '{name}' not found (columns: {})",
                        table.names.join(", ")
                    );
                }
            }
            table
                .names
                .iter()
                .zip(&table.columns)
                .filter(|(n, _)| **n != opts.target && !opts.drop.contains(n))
                .filter(|(n, c)| {
                    if is_row_id(c) {
                        notes.push(format!(
                            "left out column '{n}': integers unique per row, most likely an id; name it in --features to use it"
                        ));
                        return false;
                    }
                    let Column::Text(v) = c else { return true };
                    if opts.maps.contains_key(*n) {
                        return true;
                    }
                    let mut distinct: Vec<&String> = v.iter().flatten().collect();
                    distinct.sort();
                    distinct.dedup();
                    let keep = distinct.len() <= MAX_AUTO_CATEGORIES;
                    if !keep {
                        notes.push(format!(
                            "left out string column '{n}' ({} distinct values); name it in --features to use it",
                            distinct.len()
                        ));
                    }
                    keep
                })
                .map(|(n, _)| n.clone())
                .collect()
        }
    };
    if features.is_empty() {
        bail!("no feature columns left to train on");
    }
    Ok(features)
}

/// Classification for text or a few distinct integers, else regression.
fn infer_task(target_col: &Column) -> Task {
    match target_col {
        Column::Text(_) => Task::Classification,
        Column::Numeric(v) => {
            let mut distinct: Vec<i64> = Vec::new();
            let integral = v.iter().flatten().all(|x| x.fract() == 0.0);
            if integral {
                distinct = v.iter().flatten().map(|x| *x as i64).collect();
                distinct.sort();
                distinct.dedup();
            }
            if integral && distinct.len() <= 20 {
                Task::Classification
            } else {
                Task::Regression
            }
        }
    }
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
    let model = opts.model.unwrap_or(match task {
        Task::Classification => ModelKind::LogisticRegression,
        Task::Regression => ModelKind::LinearRegression,
    });
    if !model.supports(task) {
        bail!("--model {} does not do {:?}", model.name(), task);
    }
    if opts.na == NaPolicy::Keep && model != ModelKind::GradientBoosting {
        bail!(
            "--na keep is for --model gradient-boosting; {} needs every value (use --na drop, mean, median or zero)",
            model.name()
        );
    }
    Ok(model)
}

/// The classes (sorted, numbers as numbers) and each row's class index, or the regression target.
fn labels(
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
fn split_rows(
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

/// Where the data is, as recorded: a URL without its credentials (userinfo and secret-looking query
/// values, see `redact::uris`; the dataset's digest still tells the data apart), a path made absolute.
pub fn data_location(data: &std::path::Path) -> String {
    let text = data.to_string_lossy();
    if super::data::fetch::is_url(&text) {
        return crate::redact::uris(&text);
    }
    std::path::absolute(data)
        .unwrap_or_else(|_| data.to_path_buf())
        .display()
        .to_string()
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
    let mut params = opts
        .hyper
        .recorded(p.model, n_features, p.task, p.classes.len());
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
    pub curves: Option<super::boost::Curves>,
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
    let (fitted, importance, curves) = estimator::fit_with_curves(
        p.model,
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
        fitted,
        feature_importance: importance,
    };
    Ok(Fit {
        model,
        curves,
        seconds,
    })
}

/// A fitted model scored on the test part: what the run logs as metrics and reports.
pub struct Evaluation {
    /// The test metrics (`training_*` when nothing was held out) and `training_time`.
    pub metrics: BTreeMap<String, f64>,
    /// `reports/evaluation.json`.
    pub report: serde_json::Map<String, serde_json::Value>,
    /// `reports/evaluation.txt`.
    pub text: String,
    /// `reports/test_predictions.csv`: the test rows' predictions, kept so anyone can check a reloaded
    /// model against them.
    pub test_predictions: Vec<u8>,
    /// Rows held out (0 with --test-size 0).
    pub n_test: usize,
}

/// Score `model` on the test part of `p` (`fit_seconds` is recorded as `training_time`).
pub fn evaluate(
    p: &Prepared,
    model: &SavedModel,
    x_test: &[f64],
    y_test: &[f64],
    n_train: usize,
    fit_seconds: f64,
) -> anyhow::Result<Evaluation> {
    let predictions = model.predict_matrix(x_test);
    let mut test_csv = csv::Writer::from_writer(Vec::new());
    test_csv.write_record(["row", "actual", "prediction"])?;
    for (i, &r) in p.split.test.iter().enumerate() {
        let actual = match p.task {
            Task::Classification => p.classes[y_test[i] as usize].clone(),
            Task::Regression => y_test[i].to_string(),
        };
        let predicted = match &predictions.values[i] {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        test_csv.write_record([p.source_rows[r].to_string(), actual, predicted])?;
    }
    let test_predictions = test_csv.into_inner().map_err(|e| e.into_error())?;
    let mut report = serde_json::Map::new();
    let mut per_class_text = None;
    let mut values = test_metrics(p.task, p.classes.len(), &predictions, y_test);
    if let Some(proba) = &predictions.proba {
        let k = p.classes.len();
        let y: Vec<usize> = y_test.iter().map(|v| *v as usize).collect();
        let pred: Vec<usize> = proba.chunks_exact(k).map(super::model::argmax).collect();
        let cm = metrics::confusion_matrix(&y, &pred, k);
        report.insert("labels".into(), serde_json::json!(p.classes));
        report.insert("confusion_matrix".into(), serde_json::json!(cm));
        let per_class = metrics::classification_report(&y, &pred, k);
        report.insert(
            "classification_report".into(),
            per_class.to_json(&p.classes),
        );
        per_class_text = Some(per_class.to_text(&p.classes));
    }
    if !p.held_out {
        // MLflow autologging's names for metrics on the training rows.
        values = values
            .into_iter()
            .map(|(k, v)| (format!("training_{k}"), v))
            .collect();
    }
    values.insert("training_time".into(), fit_seconds);
    report.insert("metrics".into(), serde_json::json!(values));
    report.insert("n_train".into(), serde_json::json!(n_train));
    let n_test = if p.held_out { y_test.len() } else { 0 };
    report.insert("n_test".into(), serde_json::json!(n_test));
    let text = text_report(
        model,
        &values,
        &report,
        per_class_text.as_deref(),
        p.held_out,
    );
    Ok(Evaluation {
        metrics: values,
        report,
        text,
        test_predictions,
        n_test,
    })
}

/// The training data as MLflow's dataset input: name, digest, source, schema and profile.
pub fn dataset(opts: &TrainOptions, table: &Table) -> Dataset {
    let schema = serde_json::json!({"mlflow_colspec": data::colspec(table, &table.names)});
    let location = data_location(&opts.data);
    let is_url = super::data::fetch::is_url(&location);
    // A URL's name is its last path segment (of the redacted URL: never a query value).
    let named = if is_url {
        let path = location.split(['?', '#']).next().unwrap_or_default();
        std::path::PathBuf::from(path.rsplit('/').next().unwrap_or_default())
    } else {
        opts.data.clone()
    };
    Dataset {
        name: named
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into()),
        digest: data::digest(table),
        source_type: if is_url { "http" } else { "local" }.into(),
        source: if is_url {
            serde_json::json!({"url": location})
        } else {
            serde_json::json!({"uri": location})
        }
        .to_string(),
        schema: schema.to_string(),
        profile: serde_json::json!({"num_rows": table.n_rows, "num_elements": table.n_rows * table.names.len()}).to_string(),
    }
}

/// The test metrics of `predictions` (accuracy, f1, ... or rmse, mae, r2).
fn test_metrics(
    task: Task,
    n_classes: usize,
    predictions: &super::model::Predictions,
    y_test: &[f64],
) -> BTreeMap<String, f64> {
    match task {
        Task::Classification => {
            let proba = predictions
                .proba
                .as_ref()
                .expect("classifiers give probabilities");
            let y: Vec<usize> = y_test.iter().map(|v| *v as usize).collect();
            let pred: Vec<usize> = proba
                .chunks_exact(n_classes)
                .map(super::model::argmax)
                .collect();
            metrics::classification(&y, &pred, proba, n_classes)
        }
        Task::Regression => {
            let pred: Vec<f64> = predictions
                .values
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect();
            metrics::regression(y_test, &pred)
        }
    }
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
        let (fitted, _) = estimator::fit(
            p.model,
            &opts.hyper,
            &TrainSet {
                x: &x_fit,
                n_features: pre.n_features(),
                y: &y_fit,
                n_classes: p.classes.len(),
                task: p.task,
            },
            &|| {},
        )?;
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

/// Cross-validation as metric points: `cv_<metric>` per fold (step = fold), `cv_<metric>_mean` and
/// `cv_<metric>_std` (population standard deviation, numpy's default), stamped `now`.
pub fn cv_points(cv: &BTreeMap<String, Vec<f64>>, now: i64) -> Vec<(String, MetricPoint)> {
    let point = |value: f64, step: i64| MetricPoint {
        timestamp: now,
        value,
        step,
    };
    let mut points = Vec::new();
    for (name, values) in cv {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        for (fold, v) in values.iter().enumerate() {
            points.push((format!("cv_{name}"), point(*v, fold as i64)));
        }
        points.push((format!("cv_{name}_mean"), point(mean, 0)));
        points.push((format!("cv_{name}_std"), point(std, 0)));
    }
    points
}

/// Gradient boosting's learning curves as metric histories (step = iteration), stamped `now`.
pub fn curve_points(
    task: Task,
    curves: &super::boost::Curves,
    now: i64,
) -> Vec<(String, MetricPoint)> {
    let main = match task {
        Task::Classification => "validation_accuracy",
        Task::Regression => "validation_rmse",
    };
    let mut points = Vec::new();
    for (name, values) in [
        ("train_loss", &curves.train_loss),
        ("validation_loss", &curves.validation_loss),
        (main, &curves.validation_metric),
    ] {
        points.extend(values.iter().enumerate().map(|(i, v)| {
            (
                name.to_string(),
                MetricPoint {
                    timestamp: now,
                    value: *v,
                    step: i as i64 + 1,
                },
            )
        }));
    }
    if let Some(best) = curves.best_iteration {
        points.push((
            "best_iteration".into(),
            MetricPoint {
                timestamp: now,
                value: best as f64,
                step: 0,
            },
        ));
    }
    points
}

fn text_report(
    model: &SavedModel,
    values: &BTreeMap<String, f64>,
    report: &serde_json::Map<String, serde_json::Value>,
    per_class: Option<&str>,
    held_out: bool,
) -> String {
    let mut out = format!(
        "model: {}\ntask: {}\n\nmetrics ({}):\n",
        model.kind.name(),
        format!("{:?}", model.task).to_lowercase(),
        if held_out {
            "test split"
        } else {
            "training rows: --test-size 0 held none out"
        }
    );
    for (k, v) in values {
        out.push_str(&format!("  {k:<14} {v:.6}\n"));
    }
    if let Some(cm) = report.get("confusion_matrix").and_then(|c| c.as_array()) {
        out.push_str("\nconfusion matrix (rows: true, columns: predicted):\n");
        out.push_str(&format!("  {:>10}", ""));
        for c in &model.classes {
            out.push_str(&format!(" {c:>10}"));
        }
        out.push('\n');
        for (label, row) in model.classes.iter().zip(cm) {
            out.push_str(&format!("  {label:>10}"));
            for v in row.as_array().into_iter().flatten() {
                out.push_str(&format!(" {:>10}", v.as_u64().unwrap_or(0)));
            }
            out.push('\n');
        }
    }
    if let Some(text) = per_class {
        out.push_str("\nper class (scikit-learn's classification_report):\n");
        out.push_str(text);
    }
    if let Some(imp) = &model.feature_importance {
        out.push_str("\nfeature importance:\n");
        let mut pairs: Vec<(&String, &f64)> =
            model.preprocessor.feature_names.iter().zip(imp).collect();
        pairs.sort_by(|a, b| b.1.total_cmp(a.1));
        for (n, v) in pairs {
            out.push_str(&format!("  {n:<20} {v:.4}\n"));
        }
    }
    out
}
