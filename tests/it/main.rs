//! mlx's integration tests: one binary driving the real `mlx` executable in temp dirs, plus interop tests
//! that drive the real `mlflow` Python package (3.17.2, from the venv `scripts/test.sh` prepares).

mod boost;
mod clients;
mod common;
mod compare;
mod compat;
mod concurrency;
mod config;
mod experiments;
mod fixture;
mod fuzz;
mod hardening;
mod import_boosters;
mod import_sklearn;
mod interop;
mod log;
mod project;
mod pyfunc;
mod pypredict;
mod pyserve;
mod registry;
mod runs;
mod search;
mod security;
mod security_data;
mod serve;
mod sklearn_twins;
mod team;
mod train;
mod ui;
