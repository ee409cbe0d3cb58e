//! Which part of a query an MLflow tracking server can answer itself (`runs/search`'s `filter` and
//! `order_by`) and which part mlx applies to what comes back.
//!
//! The server's grammar is an AND of single comparisons (`SearchUtils` in MLflow); mlx's adds OR, NOT,
//! parentheses, IS NULL on any key and IN on metrics and params. Only what the server provably evaluates
//! like mlx is sent: a sent comparison may let through runs mlx would drop (the whole filter is applied
//! again on the client), but never drops a run mlx would keep. The rules, from MLflow's SQL store:
//! - metrics: the latest value; a NaN matches only `!=` and a missing metric matches nothing, as in mlx.
//!   ±infinity is stored as ±f64::MAX, so only finite values below that are sent.
//! - string values are sent verbatim between single quotes (the server does not unescape), so a value
//!   with a quote, a backslash or a control character stays on the client.
//! - LIKE is SQL's: `%`/`_` also match a newline and `\`/`[` are special on some backends, so patterns
//!   with `\` or `[` stay on the client and the rest are sent with a trailing `%` (a superset: mlx also
//!   accepts a final newline). ILIKE likewise, only for ASCII patterns without `i`/`k`, the letters
//!   non-ASCII characters fold to (U+0130, U+212A) under mlx's case folding but not every database's.
//! - IN and NOT IN: on attributes only for `run_id` (and on dataset keys).
//! - `attributes.run_name` is compared with the `mlflow.runName` tag on the server, the run's name in
//!   mlx: client only. IN on params/metrics and IS NULL on metrics/attributes are not in the server's
//!   grammar.
//! - order: the server sorts strings by the database collation, so only metric and start/end time
//!   orderings are sent (numbers; NaN then missing last both ways, ties by start time descending then
//!   run id, as mlx). Its one difference, ±infinity tying with ±f64::MAX, is caught by
//!   [`ServerQuery::order_is_exact`] on what comes back.

use super::{Comparison, Expr, Key, KeyKind, Op, Query, Value};
use crate::store::entities::Run;

/// The server's share of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerQuery {
    /// `filter` for `runs/search`: an AND of the comparisons the server answers (None: none).
    pub filter: Option<String>,
    /// The server's filter selects exactly the runs the whole filter does (nothing left for the
    /// client to drop), so a page of the server's answer is a page of the result.
    pub exact: bool,
    /// `order_by` for `runs/search` when the server orders exactly as mlx; None: sort on the client.
    pub order_by: Option<Vec<String>>,
    /// The metrics the server orders by.
    order_metrics: Vec<String>,
}

impl ServerQuery {
    /// Whether the server's order of these runs is certainly mlx's: false when one has ±infinity or
    /// ±f64::MAX under an order metric (the server stores infinity as f64::MAX, so the two tie there).
    pub fn order_is_exact(&self, runs: &[Run]) -> bool {
        !runs.iter().any(|r| {
            self.order_metrics.iter().any(|k| {
                r.data
                    .metrics
                    .get(k)
                    .is_some_and(|p| p.value.is_infinite() || p.value.abs() == f64::MAX)
            })
        })
    }
}

/// Split `query` into what the server answers and what stays on the client.
pub fn split(query: &Query) -> ServerQuery {
    let mut parts = Vec::new();
    let mut exact = true;
    if let Some(e) = &query.filter {
        let mut conjuncts = Vec::new();
        flatten_and(e, &mut conjuncts);
        for c in conjuncts {
            match c {
                Expr::Cmp(cmp) => match server_comparison(cmp) {
                    Some((text, is_exact)) => {
                        parts.push(text);
                        exact &= is_exact;
                    }
                    None => exact = false,
                },
                _ => exact = false,
            }
        }
    }
    let mut order_by = Some(Vec::new());
    let mut order_metrics = Vec::new();
    let mut seen: Vec<&Key> = Vec::new();
    for o in &query.order_by {
        // The server refuses a key twice; mlx allows it (the first wins).
        let numeric = match o.key.kind {
            KeyKind::Metric => true,
            KeyKind::Attribute => matches!(o.key.name.as_str(), "start_time" | "end_time"),
            _ => false,
        };
        if !numeric || seen.contains(&&o.key) || !key_ok(&o.key.name) {
            order_by = None;
            break;
        }
        seen.push(&o.key);
        if o.key.kind == KeyKind::Metric {
            order_metrics.push(o.key.name.clone());
        }
        if let Some(list) = &mut order_by {
            let dir = if o.ascending { "ASC" } else { "DESC" };
            list.push(format!("{} {dir}", key_text(&o.key)));
        }
    }
    ServerQuery {
        filter: (!parts.is_empty()).then(|| parts.join(" AND ")),
        exact,
        order_by,
        order_metrics,
    }
}

fn flatten_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::And(a, b) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        other => out.push(other),
    }
}

/// Keys the server parses back to the same name inside backticks.
fn key_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | ':'))
}

fn key_text(key: &Key) -> String {
    let entity = match key.kind {
        KeyKind::Metric => "metrics",
        KeyKind::Param => "params",
        KeyKind::Tag => "tags",
        KeyKind::Attribute => "attributes",
        KeyKind::Dataset => "datasets",
    };
    match key.kind {
        // The server matches attribute and dataset keys by bare name.
        KeyKind::Attribute | KeyKind::Dataset => format!("{entity}.{}", key.name),
        _ => format!("{entity}.`{}`", key.name),
    }
}

/// A string the server reads back unchanged between single quotes.
fn str_ok(s: &str) -> bool {
    !s.chars().any(|c| c == '\'' || c == '\\' || c.is_control())
}

fn quoted(s: &str) -> String {
    format!("'{s}'")
}

/// The comparison's one string value, if the server can be sent it.
fn single_str(c: &Comparison) -> Option<&str> {
    match c.values.as_slice() {
        [Value::Str(s)] if str_ok(s) => Some(s),
        _ => None,
    }
}

/// The comparison's values as the server's `('a', 'b')` list, if it can be sent them.
fn str_list(c: &Comparison) -> Option<String> {
    let items = c
        .values
        .iter()
        .map(|v| match v {
            Value::Str(s) if str_ok(s) => Some(quoted(s)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    (!items.is_empty()).then(|| format!("({})", items.join(", ")))
}

/// The comparison in the server's grammar and whether the server's answer is exactly mlx's (else a
/// superset), or None when it stays on the client.
fn server_comparison(c: &Comparison) -> Option<(String, bool)> {
    if !key_ok(&c.key.name) {
        return None;
    }
    let key = key_text(&c.key);
    let symbol = |op: Op| -> Option<&'static str> {
        Some(match op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            _ => return None,
        })
    };
    let like = |ignore_case: bool| -> Option<(String, bool)> {
        let p = single_str(c)?;
        if p.contains(['[', '\\']) {
            return None;
        }
        if ignore_case && (!p.is_ascii() || p.contains(['i', 'I', 'k', 'K'])) {
            return None;
        }
        let op = if ignore_case { "ILIKE" } else { "LIKE" };
        let p = if p.ends_with('%') {
            p.to_string()
        } else {
            format!("{p}%")
        };
        Some((format!("{key} {op} {}", quoted(&p)), false))
    };
    match c.key.kind {
        KeyKind::Metric => {
            let sym = symbol(c.op)?;
            match c.values.as_slice() {
                [Value::Num(v)] if v.is_finite() && v.abs() < f64::MAX => {
                    Some((format!("{key} {sym} {v}"), true))
                }
                _ => None,
            }
        }
        KeyKind::Param | KeyKind::Tag => match c.op {
            Op::Eq | Op::Ne => Some((
                format!("{key} {} {}", symbol(c.op)?, quoted(single_str(c)?)),
                true,
            )),
            Op::IsNull => Some((format!("{key} IS NULL"), true)),
            Op::IsNotNull => Some((format!("{key} IS NOT NULL"), true)),
            Op::Like => like(false),
            Op::ILike => like(true),
            _ => None,
        },
        KeyKind::Attribute => match c.key.name.as_str() {
            "start_time" | "end_time" => {
                let sym = symbol(c.op)?;
                match c.values.as_slice() {
                    // The server reads an integer literal as the (integer) column's type.
                    [Value::Num(v)] if v.fract() == 0.0 && v.abs() < 9e15 => {
                        Some((format!("{key} {sym} {}", *v as i64), true))
                    }
                    _ => None,
                }
            }
            // Of the attributes, the server takes a list (IN) only for the run id.
            "run_id" => string_attribute(c, &key, true, like),
            "status" | "user_id" | "artifact_uri" => string_attribute(c, &key, false, like),
            _ => None,
        },
        KeyKind::Dataset => string_attribute(c, &key, true, like),
    }
}

/// `=`, `!=`, IN, NOT IN, LIKE and ILIKE on a string attribute or dataset key.
fn string_attribute(
    c: &Comparison,
    key: &str,
    lists: bool,
    like: impl Fn(bool) -> Option<(String, bool)>,
) -> Option<(String, bool)> {
    let one = single_str(c).map(quoted);
    match c.op {
        Op::Eq => Some((format!("{key} = {}", one?), true)),
        Op::Ne => Some((format!("{key} != {}", one?), true)),
        Op::In if lists => Some((format!("{key} IN {}", str_list(c)?), true)),
        Op::NotIn if lists => Some((format!("{key} NOT IN {}", str_list(c)?), true)),
        Op::Like => like(false),
        Op::ILike => like(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(filter: &str, order: &[&str]) -> ServerQuery {
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        split(&Query::parse(Some(filter), &order).unwrap())
    }

    #[test]
    fn the_and_part_goes_to_the_server() {
        let q = split_of(
            "metrics.accuracy > 0.9 and params.model = 'rf'",
            &["metrics.accuracy DESC"],
        );
        assert_eq!(
            q.filter.as_deref(),
            Some("metrics.`accuracy` > 0.9 AND params.`model` = 'rf'")
        );
        assert!(q.exact);
        assert_eq!(
            q.order_by,
            Some(vec!["metrics.`accuracy` DESC".to_string()])
        );

        let q = split_of(
            "(params.model = 'rf' OR params.model = 'gb') AND metrics.`eval/auc` >= -1e-3 AND tags.team IS NOT NULL",
            &[],
        );
        assert_eq!(
            q.filter.as_deref(),
            Some("metrics.`eval/auc` >= -0.001 AND tags.`team` IS NOT NULL")
        );
        assert!(!q.exact, "the OR is left to the client");

        let q = split_of("params.model = 'rf' OR metrics.a > 1", &[]);
        assert_eq!(q.filter, None);
        assert!(!q.exact);

        let q = split_of(
            "attributes.run_id IN ('a', 'b') AND start_time >= 1700000000000 AND datasets.name != 'iris' AND status = 'FAILED'",
            &["attributes.start_time ASC", "metrics.loss"],
        );
        assert_eq!(
            q.filter.as_deref(),
            Some(
                "attributes.run_id IN ('a', 'b') AND attributes.start_time >= 1700000000000 AND datasets.name != 'iris' AND attributes.status = 'FAILED'"
            )
        );
        assert!(q.exact);
        assert_eq!(
            q.order_by,
            Some(vec![
                "attributes.start_time ASC".to_string(),
                "metrics.`loss` ASC".to_string()
            ])
        );
    }

    #[test]
    fn what_the_server_would_answer_differently_stays_on_the_client() {
        for filter in [
            "params.model IN ('rf')", // not in the server's grammar for params
            "metrics.loss IS NULL",   // nor IS NULL on metrics
            "metrics.loss IN (1, 2)", // nor IN on metrics
            "run_name = 'a'",         // the server compares the mlflow.runName tag
            "status IN ('FAILED')",   // a list only for run_id
            "params.model = 'it''s'", // the server does not unescape quotes
            "params.p = 'a\\b'",      // nor backslashes
            "params.p LIKE 'a\\_b'",  // a LIKE escape on PostgreSQL
            "params.p LIKE '[ab]%'",  // a character class on SQL Server
            "params.p ILIKE 'Kind%'", // non-ASCII letters fold to i and k
            "metrics.a > 1e400",      // infinity is f64::MAX on the server
            "metrics.a != 1.7976931348623157e308",
            "end_time > 1.5", // the server's integer column
            "NOT params.model = 'rf'",
            "params.`we'ird` = 'x'",
        ] {
            let q = split_of(filter, &[]);
            assert_eq!(q.filter, None, "{filter}");
            assert!(!q.exact, "{filter}");
        }
        let q = split_of("params.model LIKE 'r_'", &[]);
        assert_eq!(q.filter.as_deref(), Some("params.`model` LIKE 'r_%'"));
        assert!(
            !q.exact,
            "a LIKE is a superset, checked again on the client"
        );
        let q = split_of("tags.x ILIKE '%ALPHA%'", &[]);
        assert_eq!(q.filter.as_deref(), Some("tags.`x` ILIKE '%ALPHA%'"));
    }

    #[test]
    fn string_orderings_are_sorted_on_the_client() {
        for order in [
            "params.model",
            "tags.team DESC",
            "attributes.run_name",
            "status",
        ] {
            assert_eq!(split_of("", &[order]).order_by, None, "{order}");
        }
        assert_eq!(
            split_of("", &["metrics.a", "metrics.a DESC"]).order_by,
            None,
            "the server refuses a key twice"
        );
        assert_eq!(split_of("", &[]).order_by, Some(vec![]));
    }

    #[test]
    fn infinity_under_an_order_metric_makes_the_order_inexact() {
        use crate::store::entities::MetricPoint;
        let q = split_of("", &["metrics.a DESC"]);
        let mut run = Run::for_test("r", &[]);
        let point = |value| MetricPoint {
            timestamp: 0,
            value,
            step: 0,
        };
        run.data.metrics.insert("a".into(), point(1.0));
        assert!(q.order_is_exact(std::slice::from_ref(&run)));
        for v in [f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN] {
            run.data.metrics.insert("a".into(), point(v));
            assert!(!q.order_is_exact(std::slice::from_ref(&run)), "{v}");
        }
        run.data.metrics.insert("a".into(), point(f64::NAN));
        assert!(q.order_is_exact(std::slice::from_ref(&run)));
    }
}
