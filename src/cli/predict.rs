//! `mlx predict`: batch predictions from a model URI on a CSV file.

use crate::ml::loaded::LoadedModel;
use crate::ml::predict::{PredictFormat, PredictOptions, predict_csv};
use crate::settings::Settings;
use anyhow::{Context, Result};
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
    /// Rows per chunk (memory stays bounded by this)
    #[arg(long, default_value_t = 8192, hide = true)]
    chunk_rows: usize,
}

/// `--output` for predict: a format for stdout (csv, json), or a file (.json → JSON, anything else → CSV).
pub fn exec(settings: &Settings, args: PredictArgs, output: Option<&str>) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let dir = store
        .resolve_model(&args.model)
        .with_context(|| format!("cannot find model {}", args.model))?;
    let model =
        LoadedModel::load(&dir).with_context(|| format!("cannot load model {}", args.model))?;
    let (format, file) = match output {
        None | Some("csv") | Some("table") => (PredictFormat::Csv, None),
        Some("json") => (PredictFormat::Json, None),
        Some(path) => {
            let path = PathBuf::from(path);
            let json = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            (
                if json {
                    PredictFormat::Json
                } else {
                    PredictFormat::Csv
                },
                Some(path),
            )
        }
    };
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
            let rows = predict_csv(&model, &args.data, &opts, format, &mut w, &progress)?;
            w.flush()?;
            drop(w);
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            rows
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            predict_csv(&model, &args.data, &opts, format, &mut w, &progress)?
        }
    };
    bar.finish_and_clear();
    if let Some(path) = file {
        eprintln!("wrote {rows} predictions to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
