pub mod redact;
pub mod timefmt;
