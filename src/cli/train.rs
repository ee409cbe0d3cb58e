//! `mlx train`: fit a model on a CSV and record everything as a run.

use super::{active_run_id_opt, experiment_from_env, parse_pairs};
use crate::ml::boost::Objective;
use crate::ml::estimator::{GbHyper, Hyper, ModelKind, Task};
use crate::ml::preprocess::{self, Encoding, NaPolicy};
use crate::ml::train::{TrainOptions, TrainResult, data_location, train};
use crate::output::{self, Listing, OutputFormat};
use crate::settings::Settings;
use anyhow::{Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// CSV file with a header row, or an http(s) URL of one (streamed to a temp file)
    #[arg(long)]
    pub data: PathBuf,
    /// Field delimiter, e.g. ';' or '\t' [default: ',', or ';'/tab when the header has no comma]
    #[arg(long, value_parser = super::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Column to predict
    #[arg(long)]
    pub target: String,
    /// Feature columns, comma-separated [default: every other column except --drop and high-cardinality text]
    #[arg(long, value_delimiter = ',', conflicts_with = "drop")]
    pub features: Option<Vec<String>>,
    /// Columns to leave out, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Columns to treat as categories even if they look numeric, comma-separated
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Explicit encoding of a column, e.g. Sex=male:0,female:1 (repeatable)
    #[arg(long = "map", value_name = "COL=V:N,...")]
    pub maps: Vec<String>,
    /// How other text columns become numbers
    #[arg(long, value_parser = super::choice::<Encoding>(), default_value = "onehot")]
    pub encoding: Encoding,
    /// Missing values: drop rows (the original app's behaviour), fill with the training mean/median/zero, or
    /// keep them missing (gradient boosting learns where they go) [default: keep for gradient-boosting, else drop]
    #[arg(long, value_parser = super::choice::<NaPolicy>())]
    pub na: Option<NaPolicy>,
    /// Standardise numeric features (mean 0, variance 1), saved with the model
    #[arg(long)]
    pub scale: bool,
    /// Share of rows held out for evaluation; 0 fits on every row (metrics are then training_* on those rows)
    #[arg(long, default_value_t = 0.2)]
    pub test_size: f64,
    /// Seed of the split and the estimator (the split equals scikit-learn's train_test_split(random_state=SEED))
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep class proportions in both parts of the split
    #[arg(long)]
    pub stratify: bool,
    /// [default: logistic-regression for classification, linear-regression for regression]
    #[arg(long, value_parser = super::choice::<ModelKind>())]
    pub model: Option<ModelKind>,
    /// [default: classification for text or few-integer targets, else regression]
    #[arg(long, value_parser = super::choice::<Task>())]
    pub task: Option<Task>,
    /// Trees in a random forest, boosting iterations in gradient boosting
    #[arg(long, default_value_t = 100)]
    pub n_estimators: usize,
    /// Maximum tree depth [default: unlimited]
    #[arg(long)]
    pub max_depth: Option<usize>,
    #[arg(long, default_value_t = 2)]
    pub min_samples_split: usize,
    /// Fewest rows in a leaf [default: 20 for gradient-boosting, else 1]
    #[arg(long)]
    pub min_samples_leaf: Option<usize>,
    /// Features tried per split [default: sqrt(features) for forest classifiers, all otherwise]
    #[arg(long)]
    pub max_features: Option<usize>,
    /// Inverse regularisation strength of logistic regression
    #[arg(long = "c", default_value_t = 1.0)]
    pub c: f64,
    /// Regularisation strength of ridge and lasso
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Neighbours for k-nearest neighbours
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    #[arg(long, default_value_t = 1000)]
    pub max_iter: usize,
    /// Gradient boosting: shrinkage of each tree's values
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Gradient boosting: leaves per tree (grown leaf-wise, best split first)
    #[arg(long, default_value_t = 31)]
    pub num_leaves: usize,
    /// Gradient boosting: L2 penalty on leaf values
    #[arg(long, default_value_t = 0.0)]
    pub l2_regularization: f64,
    /// Gradient boosting: most bins per feature (2-255; missing values get a bin of their own)
    #[arg(long, default_value_t = 255)]
    pub max_bins: usize,
    /// Gradient boosting: share of rows each iteration fits on (seeded sample)
    #[arg(long, default_value_t = 1.0)]
    pub subsample: f64,
    /// Gradient boosting: share of features each tree may split on (seeded sample)
    #[arg(long, default_value_t = 1.0)]
    pub colsample: f64,
    /// Gradient boosting: hold out --validation-fraction of the training part and stop after N iterations
    /// without a better validation loss, keeping the best iteration
    #[arg(long, value_name = "N")]
    pub early_stopping: Option<usize>,
    /// Gradient boosting: share of the training part held out for early stopping
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Gradient boosting regression: the loss [default: squared_error]
    #[arg(long, value_parser = super::choice::<Objective>())]
    pub loss: Option<Objective>,
    /// Gradient boosting with --loss huber: residuals beyond it count as absolute error
    #[arg(long, default_value_t = 0.9)]
    pub huber_delta: f64,
    /// Cross-validate with K folds of the training part first (stratified for classification, seeded):
    /// logs cv_<metric>_mean, cv_<metric>_std and the per-fold values as steps of cv_<metric>
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,
    /// Threads for forests and gradient boosting [default: all cores]
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Experiment [default: $MLX_EXPERIMENT_NAME, $MLFLOW_EXPERIMENT_NAME, Default]
    #[arg(long, short = 'e')]
    pub experiment: Option<String>,
    /// Run name
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Run tag KEY=VALUE (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Also register the model under this name
    #[arg(long, value_name = "NAME")]
    pub register: Option<String>,
    /// Log into this run [default: $MLX_RUN_ID, $MLFLOW_RUN_ID, else a new run]
    #[arg(long = "run", value_name = "ID")]
    pub run: Option<String>,
}

impl TrainArgs {
    pub fn options(&self, command: String) -> Result<TrainOptions> {
        let mut maps = BTreeMap::new();
        for m in &self.maps {
            let (col, map) = preprocess::parse_map(m).map_err(anyhow::Error::msg)?;
            maps.insert(col, map);
        }
        let jobs = self
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        Ok(TrainOptions {
            data: self.data.clone(),
            target: self.target.clone(),
            features: self.features.as_deref().map(super::trimmed),
            drop: super::trimmed(&self.drop),
            categorical: super::trimmed(&self.categorical),
            delimiter: self.delimiter,
            maps,
            encoding: self.encoding,
            na: self
                .na
                .unwrap_or(if self.model == Some(ModelKind::GradientBoosting) {
                    NaPolicy::Keep
                } else {
                    NaPolicy::Drop
                }),
            scale: self.scale,
            test_size: self.test_size,
            seed: self.seed,
            stratify: self.stratify,
            model: self.model,
            task: self.task,
            hyper: Hyper {
                n_estimators: self.n_estimators,
                max_depth: self.max_depth,
                min_samples_split: self.min_samples_split,
                min_samples_leaf: self
                    .min_samples_leaf
                    .unwrap_or_else(|| crate::ml::estimator::default_min_samples_leaf(self.model)),
                max_features: self.max_features,
                c: self.c,
                alpha: self.alpha,
                k: self.k,
                max_iter: self.max_iter,
                seed: self.seed,
                jobs,
                gb: GbHyper {
                    learning_rate: self.learning_rate,
                    num_leaves: self.num_leaves,
                    l2_regularization: self.l2_regularization,
                    max_bins: self.max_bins,
                    subsample: self.subsample,
                    colsample: self.colsample,
                    early_stopping: self.early_stopping,
                    validation_fraction: self.validation_fraction,
                    loss: self.loss,
                    huber_delta: self.huber_delta,
                },
            },
            experiment: experiment_from_env(self.experiment.clone())
                .unwrap_or_else(|| "Default".into()),
            run_name: self.name.clone(),
            run_id: active_run_id_opt(self.run.clone()),
            tags: parse_pairs("tag", &self.tags)?,
            register: self.register.clone(),
            cv: self.cv,
            command,
        })
    }
}

/// Train with a progress bar on a terminal (forests), quiet otherwise.
pub fn run_training(
    store: &dyn crate::store::TrackingStore,
    opts: &TrainOptions,
) -> Result<TrainResult> {
    let many = matches!(
        opts.model,
        Some(ModelKind::RandomForest | ModelKind::GradientBoosting)
    );
    let bar = if many && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(opts.hyper.n_estimators as u64);
        let unit = if opts.model == Some(ModelKind::RandomForest) {
            "trees"
        } else {
            "iterations"
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "training {{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}}"
            ))
            .expect("a valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = train(store, opts, &|| bar.inc(1), &mut |note| {
        bar.suspend(|| eprintln!("note: {note}"))
    });
    bar.finish_and_clear();
    result.with_context(|| format!("training on {} failed", opts.data.display()))
}

pub fn exec(settings: &Settings, args: TrainArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    // Recorded for people to see how the run was made (nothing executes it; /update_model retrains from the
    // params): shell-quoted, as `mlx`, with credentials stripped (everyone who can read the store reads it).
    // `--data` is made absolute (as the `data` param) so that the command works from any folder.
    let mut after_data = false;
    let command = std::iter::once("mlx".to_string())
        .chain(std::env::args().skip(1).map(|a| {
            let value = std::mem::replace(&mut after_data, a == "--data");
            match a.strip_prefix("--data=") {
                Some(d) => format!("--data={}", data_location(Path::new(d))),
                None if value && a != "-" => data_location(Path::new(&a)),
                None => a,
            }
        }))
        .map(|a| crate::project::shell_quote(&crate::redact::uris(&a)))
        .collect::<Vec<_>>()
        .join(" ");
    let opts = args.options(command)?;
    let result = run_training(store.as_ref(), &opts)?;
    print_result(settings.output_format(), &result)?;
    Ok(ExitCode::SUCCESS)
}

pub fn print_result(format: OutputFormat, r: &TrainResult) -> Result<()> {
    let mut listing = Listing::new(&["field", "value"]);
    listing.rows.push(vec!["run id".into(), r.run_id.clone()]);
    listing.rows.push(vec!["model".into(), r.model_uri.clone()]);
    listing.rows.push(vec![
        "logged model".into(),
        format!("models:/{}", r.model_id),
    ]);
    if let Some(v) = r.registered_version {
        listing
            .rows
            .push(vec!["registered version".into(), v.to_string()]);
    }
    listing.rows.push(vec![
        "rows (train/test)".into(),
        format!("{}/{}", r.n_train, r.n_test),
    ]);
    for (k, v) in &r.metrics {
        listing.rows.push(vec![k.clone(), format!("{v:.4}")]);
    }
    output::print(format, &listing, r)?;
    Ok(())
}
