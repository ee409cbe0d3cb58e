pub mod ml;
