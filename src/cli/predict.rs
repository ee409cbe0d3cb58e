//! `mlx predict`: batch predictions from a model URI on a CSV file.

use super::OutputArg;
use crate::ml::{
    EnvManager, LoadedModel, PoolOptions, PredictFormat, PredictOptions, predict_csv,
    predict_csv_python,
};
use crate::output::OutputFormat;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PredictArgs {
    /// runs:/ID/model, models:/NAME/3, models:/NAME@ALIAS, models:/NAME/latest, models:/m-ID or a folder
    #[arg(long, short = 'm')]
    model: String,
    /// CSV file to predict (`-`: stdin)
    #[arg(long)]
    data: PathBuf,
    /// Field delimiter, e.g. ';' or '\t' [default: ',', or ';'/tab when the header has no comma]
    #[arg(long, value_parser = super::parse_delimiter)]
    delimiter: Option<u8>,
    /// Add one probability column per class
    #[arg(long)]
    with_proba: bool,
    /// Copy this column of the input beside each prediction
    #[arg(long, value_name = "COLUMN")]
    id_column: Option<String>,
    /// Write the predictions to FILE (.json: JSON, anything else: CSV) instead of stdout
    #[arg(long, value_name = "FILE")]
    output_file: Option<PathBuf>,
    /// Rows per chunk (memory stays bounded by this)
    #[arg(long, default_value_t = 8192, hide = true)]
    chunk_rows: usize,
    /// Run a model mlx cannot read natively (a custom PythonModel, any pyfunc flavor) with MLflow in this
    /// Python [env: MLX_PYTHON]
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
    /// With --python: the Python as it is (local), or an environment built once from the model's
    /// requirements with uv or venv+pip, cached under mlx's cache dir
    #[arg(long, value_parser = super::args::choice::<EnvManager>(), default_value = "local")]
    env_manager: EnvManager,
    /// With --python: worker processes [default: the number of cores]
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// With --python: seconds one chunk's predict may take before its worker is stopped (an error)
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    predict_timeout: u64,
}

/// `--output` for predict: a format for stdout (csv, json), or (kept from before `--output-file`) a file.
pub fn exec(settings: &Settings, args: PredictArgs, output: Option<OutputArg>) -> Result<ExitCode> {
    let output_format = match &output {
        Some(OutputArg::Format(f)) => Some(*f),
        _ => None,
    };
    let file = match (output, &args.output_file) {
        (Some(OutputArg::File(_)), Some(_)) => {
            bail!("--output FILE and --output-file FILE both name a file; give one")
        }
        (Some(OutputArg::File(p)), None) => Some(p),
        (_, Some(p)) => Some(p.clone()),
        (Some(OutputArg::Format(OutputFormat::Markdown)), None) => {
            bail!("--output: predict writes csv or json, not markdown")
        }
        (Some(OutputArg::Format(_)), None) | (None, None) => None,
    };
    // A file's format follows its extension; stdout is CSV unless `-o json`.
    let json = match &file {
        Some(path) => path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json")),
        None => matches!(output_format, Some(OutputFormat::Json)),
    };
    let format = if json {
        PredictFormat::Json
    } else {
        PredictFormat::Csv
    };
    let store = settings.open_store()?;
    let dir = crate::store::ModelUri::parse(&args.model)
        .and_then(|uri| store.resolve_model(&uri))
        .with_context(|| format!("cannot find model {}", args.model))?;
    let python = args
        .python
        .clone()
        .or_else(|| crate::settings::env::get("MLX_PYTHON"));
    let model = load(&dir, &args, python.as_deref())?;
    let opts = PredictOptions {
        with_proba: args.with_proba,
        id_column: args.id_column,
        chunk_rows: args.chunk_rows,
        delimiter: args.delimiter,
    };
    let total = std::fs::metadata(&args.data).map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() && total > 50_000_000 {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "predicting {bar:40} {bytes}/{total_bytes} {elapsed}",
            )
            .expect("a valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |pos: u64| bar.set_position(pos);
    let rows = match &file {
        Some(path) => {
            // Write beside the target and rename, so a failed run leaves no half-written file.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = crate::store::atomic::temp_file_in(dir)
                // tempfile's error names its random temp file; the user named `path`.
                .map_err(|e| crate::store::atomic::for_target(path, dir, e))?;
            let mut w = std::io::BufWriter::new(tmp.as_file_mut());
            let rows = run(&model, &args.data, &opts, format, &mut w, &progress)?;
            w.flush()?;
            drop(w);
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            rows
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            run(&model, &args.data, &opts, format, &mut w, &progress)?
        }
    };
    bar.finish_and_clear();
    if let Some(path) = file {
        eprintln!("wrote {rows} predictions to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The model, natively when mlx reads it; else, when the operator named a Python, run by a pool of
/// Python workers in that Python (or the environment `--env-manager` builds from it).
fn load(dir: &std::path::Path, args: &PredictArgs, python: Option<&str>) -> Result<LoadedModel> {
    let cannot = || format!("cannot load model {}", args.model);
    let native = LoadedModel::load(dir);
    let (Err(_), Some(python)) = (&native, python) else {
        return native.with_context(cannot);
    };
    if args.with_proba {
        bail!(
            "--with-proba: a model run by Python answers what its predict returns; there are no probability columns to add"
        );
    }
    let notes = |line: &str| eprintln!("{line}");
    let python = crate::ml::prepare_python_env(
        python,
        args.env_manager,
        dir,
        &crate::ml::python_env_cache_root(),
        &notes,
    )?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let mut opts = PoolOptions::new(python.to_string_lossy(), workers);
    // One chunk is one predict; the queue holds what is read ahead.
    opts.max_batch_rows = args.chunk_rows.max(1);
    opts.max_queue_rows = args.chunk_rows.max(1) * (2 * workers.max(1) + 1);
    opts.predict_timeout = std::time::Duration::from_secs(args.predict_timeout.max(1));
    LoadedModel::load_with(dir, Some(&opts)).with_context(cannot)
}

/// Predict natively, or stream the chunks through the Python workers.
fn run(
    model: &LoadedModel,
    data: &std::path::Path,
    opts: &PredictOptions,
    format: PredictFormat,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<usize> {
    match model {
        LoadedModel::Python { .. } => predict_csv_python(model, data, opts, format, out, progress),
        _ => predict_csv(model, data, opts, format, out, progress),
    }
}
