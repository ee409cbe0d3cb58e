//! How large a scoring request may be: the most columns, and the most cells for a body of its size. Both
//! request parsers hold to them (`protocol`, and `fast_json`, its fast path).

/// The most columns one request may name (issue 30: a body of a million keys once froze the server).
pub const MAX_COLUMNS: usize = 10_000;

/// The most cells, padding of sparse records and short rows included, a table parsed from a body of
/// `body_len` bytes may have: what a dense body of that size can hold (every cell takes at least two bytes,
/// a value and a separator), plus a million. Columns times rows past it would cost memory quadratic in the
/// body.
pub fn max_cells(body_len: usize) -> usize {
    body_len / 2 + (1 << 20)
}
