//! (placeholder until the sqlite store lands)
pub mod search;
