//! The metric file format: one `<timestamp_ms> <value> <step>` line per logged point.
//!
//! Readers accept MLflow's 2-, 3-, 4- and 5/6-field variants (step defaults to 0; trailing run id / dataset
//! fields are ignored). Values are written like Python's `repr(float)` so MLflow and mlx write the same text.

use super::entities::MetricPoint;

/// Format a value as Python's `repr(float)` would: `1.0`, `0.5`, `nan`, `inf`, `-inf`, `1e+16`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent notation outside [1e-4, 1e16): shortest digits, exponent with a sign
        // and at least two digits.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').expect("{:e} has an exponent");
        let exp: i32 = exp.parse().expect("exponent is an integer");
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{v}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

pub fn format_line(p: &MetricPoint) -> String {
    format!("{} {} {}\n", p.timestamp, format_value(p.value), p.step)
}

/// Parse a value as Python's `float()` does for what MLflow writes.
pub fn parse_value(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// Parse one line; `Err` says what is wrong with it.
pub fn parse_line(line: &str) -> Result<MetricPoint, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if !(2..=6).contains(&fields.len()) {
        return Err(format!(
            "expected 'timestamp value step', found {} fields",
            fields.len()
        ));
    }
    let timestamp = fields[0]
        .parse::<i64>()
        .map_err(|_| format!("timestamp {:?} is not an integer", fields[0]))?;
    let value =
        parse_value(fields[1]).ok_or_else(|| format!("value {:?} is not a number", fields[1]))?;
    let step = match fields.get(2) {
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| format!("step {s:?} is not an integer"))?,
        None => 0,
    };
    Ok(MetricPoint {
        timestamp,
        value,
        step,
    })
}

/// Parse a whole metric file. Blank lines are skipped; the first bad line is an error `(line number, why)`.
pub fn parse_file(text: &str) -> Result<Vec<MetricPoint>, (usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l).map_err(|e| (i + 1, e)))
        .collect()
}

/// The latest point (max over step, timestamp, value) without materialising the history.
pub fn latest(text: &str) -> Result<Option<MetricPoint>, (usize, String)> {
    let mut best: Option<MetricPoint> = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let p = parse_line(l).map_err(|e| (i + 1, e))?;
        if best.is_none_or(|b| p.is_later_than(&b)) {
            best = Some(p);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (0.7552447552447552, "0.7552447552447552"),
            (-3.0, "-3.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789.125, "123456789.125"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_value(v), want);
        }
    }

    #[test]
    fn parses_mlflow_variants() {
        let p = parse_line("1795420953081 0.5 3").unwrap();
        assert_eq!((p.timestamp, p.value, p.step), (1795420953081, 0.5, 3));
        assert_eq!(parse_line("17 1").unwrap().step, 0);
        assert_eq!(parse_line("17 1 2 m-abc").unwrap().step, 2);
        assert_eq!(parse_line("17 1 2 ds 9fcb5403").unwrap().step, 2);
        assert!(parse_line("17 nan 0").unwrap().value.is_nan());
        assert!(parse_line("17.5 1 0").is_err());
        assert!(parse_line("17 abc 0").is_err());
        assert!(parse_line("17").is_err());
    }

    #[test]
    fn latest_is_max_over_step_timestamp_value() {
        let text = "5 0.1 0\n3 0.9 2\n4 0.8 2\n1 0.5 1\n";
        let l = latest(text).unwrap().unwrap();
        assert_eq!((l.step, l.timestamp, l.value), (2, 4, 0.8));
        assert_eq!(parse_file("1 2 3\nbad\n").unwrap_err().0, 2);
        // Equal step and timestamp: the larger value, whichever line comes first.
        for text in ["5 0.3 1\n5 0.7 1\n", "5 0.7 1\n5 0.3 1\n"] {
            assert_eq!(latest(text).unwrap().unwrap().value, 0.7, "{text}");
        }
    }

    #[test]
    fn round_trip() {
        for v in [0.1, 1.0 / 3.0, 1e300, -2.5e-300, 42.0] {
            let p = MetricPoint {
                timestamp: 1,
                value: v,
                step: 7,
            };
            assert_eq!(parse_line(format_line(&p).trim()).unwrap(), p);
        }
    }
}
