pub mod core;
pub mod data;
pub mod extra;
