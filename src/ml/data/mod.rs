//! Tabular data from CSV: typed columns (numbers stay numbers, strings are categories), missing values,
//! a content digest, and MLflow's column-spec schema. Errors name the file, the column and the row.
//!
//! - `table`: [`Table`] and [`Column`], the digest and the column spec;
//! - `csv_reader`: reading a file into a table, whole or in chunks ([`CsvChunks`]);
//! - `cells`, `typing`: one cell and one column typed as pandas types them;
//! - `preprocess`: a table into the numbers a learner takes (encoding, scaling, missing values);
//! - `split`: train/test splits and folds (the seeded Mersenne Twister numpy uses);
//! - `fetch`: `--data` given as a URL, fetched within limits.

mod cells;
mod csv_reader;
pub mod fetch;
pub mod preprocess;
pub mod split;
mod table;
mod typing;

pub use cells::{
    bool_literal, check_integer, check_integer_text, format_number, is_missing, pandas_type,
    parse_finite,
};
pub use csv_reader::{CsvChunks, MAX_FIELD_BYTES, MAX_RECORD_BYTES};
pub use table::{Column, Table, colspec, digest};
pub use typing::ReadOptions;

#[cfg(test)]
mod tests;
