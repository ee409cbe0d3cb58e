//! mlx: MLflow's local workflow — track, compare, register, predict, serve — as one fast binary.
//!
//! The library is organised by what each module owns: `store` (the mlruns format and the tracking-store
//! trait, over a folder or an MLflow server's REST API), `sync` (copying between stores), `settings` (where the store is), `output` (tables/JSON/CSV), `context` (user and git facts), and
//! `cli` (argument parsing only; one file per subcommand).

pub mod cli;
pub mod context;
pub mod output;
pub mod project;
pub mod redact;
pub mod registry;
pub mod runner;
pub mod search;
pub mod serve;
pub mod settings;
pub mod store;
pub mod sync;
pub mod timefmt;
pub mod ui;

pub use cli::main;
pub mod ml;
