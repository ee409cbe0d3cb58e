//! One CSV cell as pandas' `read_csv` reads it: missing values (pandas' `na_values`), booleans, numbers
//! (finite only), integers within an MLflow integer type, and the dtype pandas gives a column of cells.

/// Strings read as a missing value: exactly pandas' default `na_values`, so a column has the type
/// `pandas.read_csv` gives it (`none` is text to pandas, `n/a` and `<NA>` are gaps).
const NA_STRINGS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

pub fn is_missing(s: &str) -> bool {
    NA_STRINGS.contains(&s.trim())
}

/// pandas' default `true_values` and `false_values`: a column of only these reads as `bool`.
const TRUE_STRINGS: [&str; 3] = ["True", "TRUE", "true"];
const FALSE_STRINGS: [&str; 3] = ["False", "FALSE", "false"];

/// A boolean as pandas' `read_csv` reads it, spelled as pandas prints it (`True`/`False`); None for
/// anything else.
pub fn bool_literal(s: &str) -> Option<&'static str> {
    let s = s.trim();
    if TRUE_STRINGS.contains(&s) {
        Some("True")
    } else if FALSE_STRINGS.contains(&s) {
        Some("False")
    } else {
        None
    }
}

/// The MLflow column type of the dtype `pandas.read_csv` gives a column of these (trimmed) cells, `None`
/// missing: `long` (int64) only when every cell is an integer literal within int64 (an optional sign and
/// digits: `007` is 7, `59.0` and `1e3` are not integers) and none is missing; `double` (float64) for other
/// numbers, gaps in an integer column, and a column with no value at all; `boolean` for a complete column of
/// `True`/`False` (with gaps pandas keeps them as objects: `string`); `string` otherwise. A model's
/// signature takes this type, so MLflow's schema check accepts the same file read by pandas.
pub fn pandas_type(cells: &[Option<String>]) -> &'static str {
    let complete = cells.iter().all(Option::is_some);
    let all = |f: &dyn Fn(&str) -> bool| cells.iter().flatten().all(|v| f(v));
    if cells.iter().flatten().next().is_none() {
        "double"
    } else if all(&|v| bool_literal(v).is_some()) {
        if complete { "boolean" } else { "string" }
    } else if all(&|v| parse_finite(v).is_some()) {
        if complete && all(&|v| v.trim().parse::<i64>().is_ok()) {
            "long"
        } else {
            "double"
        }
    } else {
        "string"
    }
}

/// A present (not missing) cell as a number: finite numbers only, so `inf` is refused rather than fed to
/// a model. Shared by the CSV reader and the JSON request path, which treat `"NaN"`/`"inf"` alike.
pub fn parse_finite(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Why `x` does not fit MLflow column type `kind`, if it does not: integer types (`long`, `integer`)
/// refuse fractions and values out of their range instead of silently rounding or wrapping. The bound of
/// `long` is 2^63 exclusive: `i64::MAX` rounds up to 2^63 as a float, so a float compare with it would let
/// 2^63..2^63+1024 (which all read as 2^63) through. A cell whose text is an exact int64 is checked with
/// [`check_integer_text`].
pub fn check_integer(kind: &str, x: f64) -> Result<(), String> {
    check_integer_shown(kind, x, &format_number(x))
}

/// [`check_integer`] for a cell read from `text`: an int64 literal is a `long` however close to its
/// bounds, and a refused value is quoted as written (not as its nearest float).
pub fn check_integer_text(kind: &str, text: &str, x: f64) -> Result<(), String> {
    // The text is parsed only for a refused value (the last 512 below i64::MAX round up to 2^63).
    let checked = check_integer_shown(kind, x, text.trim());
    if checked.is_err() && kind == "long" && text.trim().parse::<i64>().is_ok() {
        Ok(())
    } else {
        checked
    }
}

fn check_integer_shown(kind: &str, x: f64, shown: &str) -> Result<(), String> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let (inside, lo, hi) = match kind {
        "long" => ((-TWO_63..TWO_63).contains(&x), i64::MIN, i64::MAX),
        "integer" => (
            (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&x),
            i64::from(i32::MIN),
            i64::from(i32::MAX),
        ),
        _ => return Ok(()),
    };
    if x.fract() != 0.0 {
        Err(format!("{shown} is not a whole number"))
    } else if !inside {
        Err(format!("{shown} is out of range for {kind} ({lo}..{hi})"))
    } else {
        Ok(())
    }
}

/// A number as mlx writes it in labels and messages: integral values without a fraction (`3`, not `3.0`).
pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
