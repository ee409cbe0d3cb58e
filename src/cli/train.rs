//! `mlx train`: fit a model on a CSV and record everything as a run (`ops::train`).

use super::hyper::HyperArgs;
use super::{active_run_id_opt, experiment_from_env, parse_pairs};
use crate::ml::core::Task;
use crate::ml::data::preprocess::{self, Encoding, NaPolicy};
use crate::ml::learners::ModelKind;
use crate::ops::train::{TrainOptions, TrainReport, recorded_command, train};
use crate::output::{self, Listing};
use crate::settings::Settings;
use anyhow::{Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
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
    #[arg(long, value_parser = super::hyper::model_parser())]
    pub model: Option<ModelKind>,
    /// [default: classification for text or few-integer targets, else regression]
    #[arg(long, value_parser = super::choice::<Task>())]
    pub task: Option<Task>,
    // --n-estimators ... --jobs: the estimator's hyperparameters (cli/hyper.rs).
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Cross-validate with K folds of the training part first (stratified for classification, seeded):
    /// logs cv_<metric>_mean, cv_<metric>_std and the per-fold values as steps of cv_<metric>
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,
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
    /// The options `ops::train` takes: defaults that depend on other flags, the experiment and run from the
    /// environment, maps and tags parsed.
    pub fn options(&self, command: String) -> Result<TrainOptions> {
        let mut maps = BTreeMap::new();
        for m in &self.maps {
            let (col, map) = preprocess::parse_map(m).map_err(anyhow::Error::msg)?;
            maps.insert(col, map);
        }
        Ok(TrainOptions {
            data: self.data.clone(),
            data_prefixes: None,
            target: self.target.clone(),
            features: self.features.as_deref().map(super::trimmed),
            drop: super::trimmed(&self.drop),
            categorical: super::trimmed(&self.categorical),
            delimiter: self.delimiter,
            maps,
            encoding: self.encoding,
            na: self
                .na
                .unwrap_or(if self.model.is_some_and(|m| m.keeps_missing()) {
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
            hyper: self.hyper.params(self.seed),
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

/// Train with a progress bar on a terminal (forests and boosting), quiet otherwise.
fn run_training(
    store: &dyn crate::store::TrackingStore,
    opts: &TrainOptions,
) -> Result<TrainReport> {
    let unit = opts.model.and_then(|m| m.progress_unit());
    let bar = if let Some(unit) = unit
        && std::io::stderr().is_terminal()
    {
        let steps = match opts.hyper.get("n_estimators") {
            Some(crate::ml::core::params::Value::Count(n)) => n,
            _ => 0,
        };
        let bar = indicatif::ProgressBar::new(steps as u64);
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
    let result = train(store, opts, &|| bar.inc(1), &|note| {
        bar.suspend(|| eprintln!("note: {note}"))
    });
    bar.finish_and_clear();
    result.with_context(|| {
        let data = crate::redact::uris(&opts.data.display().to_string());
        format!("training on {data} failed")
    })
}

pub fn exec(settings: &Settings, args: TrainArgs) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let opts = args.options(recorded_command(std::env::args().skip(1)))?;
    let r = run_training(store.as_ref(), &opts)?;
    let mut listing = Listing::new(&["field", "value"]);
    let mut row = |k: &str, v: String| listing.rows.push(vec![k.to_string(), v]);
    row("run id", r.run_id.clone());
    row("model", r.model_uri.clone());
    row("logged model", format!("models:/{}", r.model_id));
    if let Some(v) = r.registered_version {
        row("registered version", v.to_string());
    }
    row("rows (train/test)", format!("{}/{}", r.n_train, r.n_test));
    for (k, v) in &r.metrics {
        row(k, format!("{v:.4}"));
    }
    output::print(settings.output_format(), &listing, &r)?;
    Ok(ExitCode::SUCCESS)
}
