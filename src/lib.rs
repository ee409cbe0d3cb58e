//! mlx: MLflow's local workflow — track, compare, register, predict, serve — as one fast binary.
//!
//! Layered (see ARCHITECTURE.md; `scripts/check-layers.sh` checks it): `cli` parses arguments and renders
//! reports; `serve` and `ui` are the HTTP servers, sharing `web`; `ops` is what commands do; `settings`
//! resolves flags, environment and config (the environment is read only in `settings::env`); the domain is
//! `store` (the mlruns format and the tracking-store trait, over a folder or an MLflow server's REST API),
//! `search`, `ml`, `project`, `runner`, `sync` and `output`.

pub mod cli;
pub mod context;
pub mod output;
pub mod project;
pub mod redact;
pub mod runner;
pub mod search;
pub mod serve;
pub mod settings;
pub mod store;
pub mod sync;
pub mod timefmt;
pub mod ui;
pub mod web;

pub use cli::main;
pub mod ml;
pub mod ops;
