pub mod ml;
pub mod redact;
pub mod timefmt;
