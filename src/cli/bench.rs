//! `mlx bench populate`: the store-populate workload of `bench/`, in process, one store call per value
//! (what MLflow's naive mode does), so the two tools are compared on the same work.

use crate::settings::Settings;
use crate::store::entities::{MetricPoint, RunStatus};
use crate::store::{Batch, NewRun, get_or_create_experiment, now_ms};
use anyhow::Result;
use clap::Subcommand;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Create N runs, each with 10 params, 5 metrics, a 100-step `loss` and 3 tags, one call per value
    Populate {
        #[arg(long, default_value_t = 1000)]
        n: usize,
        #[arg(long, default_value = "bench")]
        experiment: String,
    },
}

pub fn exec(settings: &Settings, cmd: BenchCommand) -> Result<ExitCode> {
    let store = settings.open_store()?;
    let store = store.as_ref();
    let BenchCommand::Populate { n, experiment } = cmd;
    let exp = get_or_create_experiment(store, &experiment)?;
    let t0 = Instant::now();
    let models = ["rf", "lr", "svm", "knn"];
    let one = |key: &str, value: f64, step: i64| Batch {
        metrics: vec![(
            key.to_string(),
            MetricPoint {
                timestamp: now_ms(),
                value,
                step,
            },
        )],
        ..Batch::default()
    };
    for i in 0..n {
        let run = store.create_run(NewRun {
            run_id: None,
            experiment_id: exp.experiment_id.clone(),
            run_name: Some(format!("run-{i}")),
            user_id: crate::context::user(),
            start_time: now_ms(),
            tags: crate::context::system_tags("mlx bench"),
        })?;
        let id = &run.run_id;
        for p in 0..10 {
            let value = if p == 0 {
                models[i % 4].to_string()
            } else {
                format!("{}", (i * 7 + p) % 13)
            };
            let b = Batch {
                params: vec![(
                    if p == 0 {
                        "model".into()
                    } else {
                        format!("p{p}")
                    },
                    value,
                )],
                ..Batch::default()
            };
            store.log_batch(id, &b)?;
        }
        let x = ((i * 7919) % 1000) as f64 / 1000.0;
        for (k, v) in [
            ("accuracy", x),
            ("precision", x * 0.9),
            ("recall", x * 0.8),
            ("f1", x * 0.85),
            ("auc", x * 0.95),
        ] {
            store.log_batch(id, &one(k, v, 0))?;
        }
        for step in 0..100 {
            store.log_batch(id, &one("loss", 1.0 / (step as f64 + 1.0), step))?;
        }
        let tags: BTreeMap<&str, String> = [
            ("team", "bench".to_string()),
            ("seed", (i % 10).to_string()),
            ("stage", "dev".to_string()),
        ]
        .into();
        for (k, v) in tags {
            store.log_batch(
                id,
                &Batch {
                    tags: vec![(k.to_string(), v)],
                    ..Batch::default()
                },
            )?;
        }
        store.update_run(id, RunStatus::Finished, Some(now_ms()))?;
        if (i + 1) % (n / 10).max(1) == 0 {
            eprintln!("{} runs: {:.2}s", i + 1, t0.elapsed().as_secs_f64());
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "populate n={n} seconds={secs:.3} runs_per_s={:.1}",
        n as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}
