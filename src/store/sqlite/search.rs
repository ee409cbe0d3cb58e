//! Run search in SQL: a whole query (filter, order, offset, limit) as one statement over MLflow's schema,
//! answering as MLflow's own SQL store does (`_search_runs` in `store/tracking/sqlalchemy_store.py`).
//!
//! The rules, from MLflow's code:
//! - metrics compare their latest value (`latest_metrics`); a NaN (stored `value = 0, is_nan = 1`) matches
//!   only `!=` (and NOT IN); ±infinity is stored as ±f64::MAX and compares as that. A missing key matches
//!   nothing (but IS NULL).
//! - LIKE is SQL's LIKE made case-sensitive (MLflow sets `PRAGMA case_sensitive_like` on every connection):
//!   `%` and `_` also match a newline. It is written as GLOB (case-sensitive by itself) so no connection
//!   setting is needed. ILIKE is `lower(col) LIKE lower(pattern)`, SQLite's `lower` folding ASCII only.
//! - `run_name` is compared with the `mlflow.runName` tag, ordered by the runs' `name` column.
//! - order: each clause ranks a value first, then NaN, then a missing value (both ways), then the value;
//!   ties by start time descending, then run id.
//!
//! mlx's extensions (OR, NOT, parentheses, IS NULL on any key, IN on metrics and params, `<`/`>` on text)
//! are translated with the same meaning as `search::matches`: every predicate is two-valued (never SQL's
//! NULL), so NOT is plain negation.
//!
//! Speed: MLflow's plan scans a materialised `latest_metrics` subquery per row. Here a top-level comparison
//! on a metric, param or tag is an inner join on the table's `(key, run_uuid)` primary key, and the order
//! reuses that join (or a left join on the same key), so a filtered top-10 over 10,000 runs reads only the
//! matching rows of one key and keeps ten in a heap. No index MLflow lacks is needed.

use super::tracking::{RUN_COLUMNS, fill, run_info_row};
use super::{R, SqliteStore, experiment_key, placeholders};
use crate::store::entities::{Run, RunData, ViewType};
use crate::store::query::{Comparison, Expr, Key, KeyKind, Op, OrderBy, Value};
use crate::store::{Projection, Result, RunQuery};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use std::collections::HashMap;

impl SqliteStore {
    /// [`crate::store::TrackingStore::query_runs`]: the run ids from one statement, then those runs
    /// loaded whole (a few statements per 500 runs).
    pub(super) fn query_runs_impl(
        &self,
        experiment_ids: &[String],
        view: ViewType,
        query: &RunQuery<'_>,
    ) -> Result<Vec<Run>> {
        for id in experiment_ids {
            experiment_key(id)?;
        }
        self.read(|c| {
            let ids = run_ids(c, experiment_ids, view, query)?;
            load(c, &ids)
        })
    }
}

/// The runs `ids` name, in that order, loaded whole.
fn load(c: &Connection, ids: &[String]) -> R<Vec<Run>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE run_uuid IN ({})",
            placeholders(chunk.len())
        );
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(chunk), run_info_row)?;
        for info in rows {
            let info = info?;
            found.insert(info.run_id.clone(), info);
        }
    }
    let mut runs: Vec<Run> = ids
        .iter()
        .filter_map(|id| found.remove(id))
        .map(|info| Run {
            info,
            data: RunData::default(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        })
        .collect();
    fill(c, &mut runs, &Projection::everything())?;
    Ok(runs)
}

/// An SQL statement with its parameters (`?1`, `?2`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// The ids of the runs a query selects, in its order.
pub fn run_ids(
    conn: &Connection,
    experiment_ids: &[String],
    view: ViewType,
    query: &RunQuery<'_>,
) -> rusqlite::Result<Vec<String>> {
    let st = statement(experiment_ids, view, query);
    let mut stmt = conn.prepare(&st.sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(st.params.iter()), |row| {
        row.get::<_, String>(0)
    })?;
    rows.collect()
}

/// The statement selecting the run ids of a query, in order.
pub fn statement(experiment_ids: &[String], view: ViewType, query: &RunQuery<'_>) -> Statement {
    let mut b = Builder::default();
    let mut wheres = Vec::new();
    // Experiments: an id that is not an integer names no experiment of this store.
    let exps: Vec<i64> = experiment_ids
        .iter()
        .filter_map(|e| e.parse().ok())
        .collect();
    if exps.is_empty() {
        wheres.push("0".to_string());
    } else {
        let list: Vec<String> = exps.into_iter().map(|e| b.bind(e)).collect();
        wheres.push(format!("r.experiment_id IN ({})", list.join(", ")));
    }
    match view {
        ViewType::ActiveOnly => wheres.push("r.lifecycle_stage = 'active'".into()),
        ViewType::DeletedOnly => wheres.push("r.lifecycle_stage = 'deleted'".into()),
        ViewType::All => {}
    }
    if let Some(filter) = query.filter {
        let mut conjuncts = Vec::new();
        flatten_and(filter, &mut conjuncts);
        for c in conjuncts {
            match c {
                Expr::Cmp(cmp) if b.join_filter(cmp) => {}
                other => {
                    let p = b.predicate(other);
                    wheres.push(p);
                }
            }
        }
    }
    let mut order = Vec::new();
    for clause in query.order_by {
        b.order_terms(clause, &mut order);
    }
    order.push("r.start_time DESC".into());
    order.push("r.run_uuid".into());
    let limit = query
        .limit
        .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let limit = b.bind(limit);
    let offset = b.bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT r.run_uuid FROM runs AS r{}\nWHERE {}\nORDER BY {}\nLIMIT {limit} OFFSET {offset}",
        b.joins.concat(),
        wheres.join("\n  AND "),
        order.join(", "),
    );
    Statement {
        sql,
        params: b.params,
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

/// The table holding a key of this kind, with `key`, `value` and `run_uuid` columns.
fn table(kind: KeyKind) -> Option<&'static str> {
    match kind {
        KeyKind::Metric => Some("latest_metrics"),
        KeyKind::Param => Some("params"),
        KeyKind::Tag => Some("tags"),
        KeyKind::Attribute | KeyKind::Dataset => None,
    }
}

/// The key a comparison reads in its table: `run_name` is the `mlflow.runName` tag, as in MLflow.
fn keyed(key: &Key) -> Option<(KeyKind, &str)> {
    match key.kind {
        KeyKind::Attribute if key.name == "run_name" => Some((KeyKind::Tag, "mlflow.runName")),
        KeyKind::Metric | KeyKind::Param | KeyKind::Tag => Some((key.kind, key.name.as_str())),
        KeyKind::Attribute | KeyKind::Dataset => None,
    }
}

#[derive(Default)]
struct Builder {
    params: Vec<SqlValue>,
    joins: Vec<String>,
    aliases: usize,
    /// Inner joins of top-level comparisons: the row of that key, usable for ordering by it.
    joined: Vec<(KeyKind, String, String)>,
}

impl Builder {
    fn bind(&mut self, v: impl Into<SqlValue>) -> String {
        self.params.push(v.into());
        format!("?{}", self.params.len())
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// A top-level comparison that needs its key present, as an inner join on the key's row; false when
    /// it is not one (it becomes a WHERE predicate).
    fn join_filter(&mut self, c: &Comparison) -> bool {
        if c.op == Op::IsNull || c.key.kind == KeyKind::Attribute {
            return false;
        }
        let Some((kind, name)) = keyed(&c.key) else {
            return false;
        };
        let Some(table) = table(kind) else {
            return false;
        };
        let a = self.alias("f");
        let k = self.bind(name.to_string());
        let mut on = format!("{a}.run_uuid = r.run_uuid AND {a}.key = {k}");
        if c.op != Op::IsNotNull {
            let cond = self.value_condition(kind, &a, c);
            on.push_str(" AND ");
            on.push_str(&cond);
        }
        self.joins.push(format!("\n  JOIN {table} AS {a} ON {on}"));
        self.joined.push((kind, name.to_string(), a));
        true
    }

    /// A two-valued SQL predicate (0 or 1, never NULL) for an expression over the run `r`.
    fn predicate(&mut self, e: &Expr) -> String {
        match e {
            Expr::And(a, b) => format!("({} AND {})", self.predicate(a), self.predicate(b)),
            Expr::Or(a, b) => format!("({} OR {})", self.predicate(a), self.predicate(b)),
            Expr::Not(a) => format!("(NOT {})", self.predicate(a)),
            Expr::Cmp(c) => self.comparison(c),
        }
    }

    fn comparison(&mut self, c: &Comparison) -> String {
        if let Some((kind, name)) = keyed(&c.key)
            && let Some(table) = table(kind)
        {
            let a = self.alias("e");
            let k = self.bind(name.to_string());
            let row = format!(
                "SELECT 1 FROM {table} AS {a} WHERE {a}.run_uuid = r.run_uuid AND {a}.key = {k}"
            );
            return match c.op {
                Op::IsNull => format!("NOT EXISTS ({row})"),
                Op::IsNotNull => format!("EXISTS ({row})"),
                _ => {
                    let cond = self.value_condition(kind, &a, c);
                    format!("EXISTS ({row} AND {cond})")
                }
            };
        }
        match c.key.kind {
            KeyKind::Dataset => self.dataset(c),
            _ => self.attribute(c),
        }
    }

    /// The condition on the value of the row `a` (of a metric, param or tag table) that the comparison
    /// asks for; the row exists.
    fn value_condition(&mut self, kind: KeyKind, a: &str, c: &Comparison) -> String {
        if kind == KeyKind::Metric {
            let num = self.numeric(&format!("{a}.value"), c);
            // A NaN satisfies only != and NOT IN (its stored 0 must never match).
            return match c.op {
                Op::Ne | Op::NotIn => format!("({a}.is_nan = 1 OR {num})"),
                _ => format!("({a}.is_nan = 0 AND {num})"),
            };
        }
        // A tag's value may be NULL: it compares as nothing.
        let text = self.text(&format!("{a}.value"), c);
        format!("({a}.value IS NOT NULL AND {text})")
    }

    /// A numeric comparison of a non-NULL column.
    fn numeric(&mut self, col: &str, c: &Comparison) -> String {
        let nums: Vec<f64> = c
            .values
            .iter()
            .filter_map(|v| match v {
                Value::Num(n) if !n.is_nan() => Some(*n),
                _ => None,
            })
            .collect();
        let nan_given = c
            .values
            .iter()
            .any(|v| matches!(v, Value::Num(n) if n.is_nan()));
        match c.op {
            Op::In | Op::NotIn => {
                let not = if c.op == Op::NotIn { "NOT " } else { "" };
                if nums.is_empty() {
                    return if c.op == Op::In { "0" } else { "1" }.into();
                }
                let list: Vec<String> = nums.into_iter().map(|n| self.bind(n)).collect();
                format!("{col} {not}IN ({})", list.join(", "))
            }
            op => {
                let Some(sym) = symbol(op) else {
                    return "0".into();
                };
                match (c.values.first(), nan_given) {
                    // Nothing equals NaN; everything differs from it.
                    (_, true) => if op == Op::Ne { "1" } else { "0" }.into(),
                    (Some(Value::Num(n)), false) => format!("{col} {sym} {}", self.bind(*n)),
                    _ => "0".into(),
                }
            }
        }
    }

    /// A text comparison of a non-NULL column (byte order, which is code point order, as in Python).
    fn text(&mut self, col: &str, c: &Comparison) -> String {
        let strs: Vec<String> = c
            .values
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.clone()),
                Value::Num(_) => None,
            })
            .collect();
        let first = strs.first().cloned().unwrap_or_default();
        match c.op {
            Op::Like => format!("{col} GLOB {}", self.bind(glob(&first))),
            Op::ILike => format!(
                "lower({col}) GLOB {}",
                self.bind(glob(&first.to_ascii_lowercase()))
            ),
            Op::In | Op::NotIn => {
                if strs.is_empty() {
                    return if c.op == Op::In { "0" } else { "1" }.into();
                }
                let not = if c.op == Op::NotIn { "NOT " } else { "" };
                let list: Vec<String> = strs.into_iter().map(|s| self.bind(s)).collect();
                format!("{col} {not}IN ({})", list.join(", "))
            }
            op => match symbol(op) {
                Some(sym) => format!("{col} {sym} {}", self.bind(first)),
                None => "0".into(),
            },
        }
    }

    /// A comparison on a column of `runs`.
    fn attribute(&mut self, c: &Comparison) -> String {
        let (col, numeric) = match c.key.name.as_str() {
            "start_time" => ("r.start_time", true),
            "end_time" => ("r.end_time", true),
            "run_id" => ("r.run_uuid", false),
            "status" => ("r.status", false),
            "user_id" => ("r.user_id", false),
            "artifact_uri" => ("r.artifact_uri", false),
            "lifecycle_stage" => ("r.lifecycle_stage", false),
            _ => return "0".into(),
        };
        match c.op {
            Op::IsNull => format!("({col} IS NULL)"),
            Op::IsNotNull => format!("({col} IS NOT NULL)"),
            _ => {
                let cond = if numeric {
                    self.numeric(col, c)
                } else {
                    self.text(col, c)
                };
                format!("({col} IS NOT NULL AND {cond})")
            }
        }
    }

    /// Whether any dataset input of the run matches (MLflow's join of `inputs` and `datasets`; the
    /// context is the input's `mlflow.data.context` tag).
    fn dataset(&mut self, c: &Comparison) -> String {
        let (i, d, t) = (self.alias("i"), self.alias("d"), self.alias("t"));
        let col = match c.key.name.as_str() {
            "name" => format!("{d}.name"),
            "digest" => format!("{d}.digest"),
            "context" => format!("{t}.value"),
            _ => return "0".into(),
        };
        let cond = match c.op {
            Op::IsNull => format!("{col} IS NULL"),
            Op::IsNotNull => format!("{col} IS NOT NULL"),
            _ => {
                let text = self.text(&col, c);
                format!("{col} IS NOT NULL AND {text}")
            }
        };
        format!(
            "EXISTS (SELECT 1 FROM inputs AS {i} JOIN datasets AS {d} ON {d}.dataset_uuid = {i}.source_id \
             LEFT JOIN input_tags AS {t} ON {t}.input_uuid = {i}.input_uuid AND {t}.name = 'mlflow.data.context' \
             WHERE {i}.destination_type = 'RUN' AND {i}.destination_id = r.run_uuid AND {i}.source_type = 'DATASET' \
             AND {cond})"
        )
    }

    /// The ORDER BY terms of one clause: a rank (a value, then NaN, then missing) and the value.
    fn order_terms(&mut self, clause: &OrderBy, out: &mut Vec<String>) {
        let dir = if clause.ascending { "ASC" } else { "DESC" };
        let key = &clause.key;
        if key.kind == KeyKind::Dataset {
            return; // no run has a value under it: every run ties
        }
        if let Some(table) = table(key.kind) {
            let found = self
                .joined
                .iter()
                .find(|(k, n, _)| *k == key.kind && *n == key.name)
                .map(|(_, _, a)| a.clone());
            let a = match found {
                Some(a) => a,
                None => {
                    let a = self.alias("o");
                    let k = self.bind(key.name.clone());
                    self.joins.push(format!(
                        "\n  LEFT JOIN {table} AS {a} ON {a}.run_uuid = r.run_uuid AND {a}.key = {k}"
                    ));
                    a
                }
            };
            if key.kind == KeyKind::Metric {
                out.push(format!(
                    "CASE WHEN {a}.is_nan = 1 THEN 1 WHEN {a}.value IS NULL THEN 2 ELSE 0 END"
                ));
            } else {
                out.push(format!("CASE WHEN {a}.value IS NULL THEN 1 ELSE 0 END"));
            }
            out.push(format!("{a}.value {dir}"));
            return;
        }
        let col = match key.name.as_str() {
            "start_time" => "r.start_time",
            "end_time" => "r.end_time",
            "run_id" => "r.run_uuid",
            "run_name" => "r.name",
            "status" => "r.status",
            "user_id" => "r.user_id",
            "artifact_uri" => "r.artifact_uri",
            "lifecycle_stage" => "r.lifecycle_stage",
            _ => return,
        };
        out.push(format!("CASE WHEN {col} IS NULL THEN 1 ELSE 0 END"));
        out.push(format!("{col} {dir}"));
    }
}

fn symbol(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => return None,
    })
}

/// A LIKE pattern (`%`, `_`, no escape character) as the GLOB pattern matching the same strings
/// case-sensitively: `*`, `?` and `[` of the pattern are literal.
fn glob(like: &str) -> String {
    let mut out = String::with_capacity(like.len() + 2);
    for ch in like.chars() {
        match ch {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::query::OrderBy;

    /// An empty database with MLflow's schema.
    pub(crate) fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("schema.sql")).unwrap();
        conn.execute_batch(
            "INSERT INTO workspaces (name) VALUES ('default');
             INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (1, 'one', 'active'), (2, 'two', 'active');",
        )
        .unwrap();
        conn
    }

    /// A run row: id, experiment, start time, end time, status, name, stage.
    pub(crate) fn insert_run(
        conn: &Connection,
        id: &str,
        exp: i64,
        start: i64,
        end: Option<i64>,
        status: &str,
        stage: &str,
    ) {
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, user_id, status, start_time, end_time, \
             lifecycle_stage, artifact_uri, experiment_id) VALUES (?1, ?1, 'LOCAL', 'u', ?2, ?3, ?4, ?5, 'a', ?6)",
            rusqlite::params![id, status, start, end, stage, exp],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?1, ?1)",
            [id],
        )
        .unwrap();
    }

    /// A latest metric as MLflow stores it (NaN as 0 with is_nan, ±inf as ±f64::MAX).
    pub(crate) fn insert_metric(conn: &Connection, run: &str, key: &str, value: f64) {
        let (stored, nan) = if value.is_nan() {
            (0.0, 1)
        } else {
            (value.clamp(f64::MIN, f64::MAX), 0)
        };
        conn.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?1, ?2, 0, 0, ?3, ?4)",
            rusqlite::params![key, stored, nan, run],
        )
        .unwrap();
    }

    pub(crate) fn insert_kv(conn: &Connection, table: &str, run: &str, key: &str, value: &str) {
        conn.execute(
            &format!("INSERT INTO {table} (key, value, run_uuid) VALUES (?1, ?2, ?3)"),
            [key, value, run],
        )
        .unwrap();
    }

    fn key(kind: KeyKind, name: &str) -> Key {
        Key {
            kind,
            name: name.into(),
        }
    }

    fn cmp(kind: KeyKind, name: &str, op: Op, values: Vec<Value>) -> Expr {
        Expr::Cmp(Comparison {
            key: key(kind, name),
            op,
            values,
        })
    }

    fn ids(conn: &Connection, filter: Option<&Expr>, order_by: &[OrderBy]) -> Vec<String> {
        let q = RunQuery {
            filter,
            order_by,
            offset: 0,
            limit: None,
        };
        run_ids(conn, &["1".into()], ViewType::ActiveOnly, &q).unwrap()
    }

    fn sample() -> Connection {
        let conn = db();
        // a: 0.9, b: NaN, c: missing, d: 0.9 (ties with a, started later), e: inf
        for (id, start) in [("a", 10), ("b", 20), ("c", 30), ("d", 40), ("e", 50)] {
            insert_run(&conn, id, 1, start, Some(start + 1), "FINISHED", "active");
        }
        insert_run(&conn, "x", 1, 60, None, "RUNNING", "deleted");
        insert_run(&conn, "y", 2, 70, None, "RUNNING", "active");
        for (id, v) in [
            ("a", 0.9),
            ("b", f64::NAN),
            ("d", 0.9),
            ("e", f64::INFINITY),
        ] {
            insert_metric(&conn, id, "acc", v);
        }
        insert_metric(&conn, "x", "acc", 1.0);
        insert_metric(&conn, "y", "acc", 1.0);
        insert_kv(&conn, "params", "a", "model", "rf");
        insert_kv(&conn, "params", "b", "model", "RF");
        insert_kv(&conn, "params", "c", "model", "r\nf");
        insert_kv(&conn, "tags", "d", "team", "x*y");
        conn
    }

    #[test]
    fn metrics_compare_the_latest_value_nan_only_unequal() {
        let conn = sample();
        let num = |n: f64| vec![Value::Num(n)];
        let gt = cmp(KeyKind::Metric, "acc", Op::Gt, num(0.5));
        assert_eq!(ids(&conn, Some(&gt), &[]), ["e", "d", "a"]);
        let ne = cmp(KeyKind::Metric, "acc", Op::Ne, num(0.9));
        assert_eq!(
            ids(&conn, Some(&ne), &[]),
            ["e", "b"],
            "NaN differs from all"
        );
        let not_in = cmp(KeyKind::Metric, "acc", Op::NotIn, num(0.9));
        assert_eq!(ids(&conn, Some(&not_in), &[]), ["e", "b"]);
        let eq0 = cmp(KeyKind::Metric, "acc", Op::Eq, num(0.0));
        assert_eq!(
            ids(&conn, Some(&eq0), &[]),
            Vec::<String>::new(),
            "NaN's stored 0"
        );
        let null = cmp(KeyKind::Metric, "acc", Op::IsNull, vec![]);
        assert_eq!(ids(&conn, Some(&null), &[]), ["c"]);
        let not_gt = Expr::Not(Box::new(gt));
        assert_eq!(
            ids(&conn, Some(&not_gt), &[]),
            ["c", "b"],
            "NOT is plain negation: the missing and NaN runs"
        );
        let inf = cmp(KeyKind::Metric, "acc", Op::Ge, num(f64::MAX));
        assert_eq!(ids(&conn, Some(&inf), &[]), ["e"], "infinity is f64::MAX");
    }

    #[test]
    fn order_puts_nan_then_missing_last_both_ways_ties_by_start_time_then_id() {
        let conn = sample();
        let by = |ascending| {
            vec![OrderBy {
                key: key(KeyKind::Metric, "acc"),
                ascending,
            }]
        };
        assert_eq!(ids(&conn, None, &by(false)), ["e", "d", "a", "b", "c"]);
        assert_eq!(ids(&conn, None, &by(true)), ["d", "a", "e", "b", "c"]);
        let filter = cmp(KeyKind::Metric, "acc", Op::Gt, vec![Value::Num(0.5)]);
        assert_eq!(ids(&conn, Some(&filter), &by(true)), ["d", "a", "e"]);
        let param = vec![OrderBy {
            key: key(KeyKind::Param, "model"),
            ascending: true,
        }];
        assert_eq!(ids(&conn, None, &param), ["b", "c", "a", "e", "d"]);
        let end = vec![OrderBy {
            key: key(KeyKind::Attribute, "end_time"),
            ascending: true,
        }];
        assert_eq!(ids(&conn, None, &end), ["a", "b", "c", "d", "e"]);
        let q = RunQuery {
            filter: None,
            order_by: &by(false),
            offset: 1,
            limit: Some(2),
        };
        let all = ["1".to_string(), "2".to_string()];
        assert_eq!(
            run_ids(&conn, &all, ViewType::All, &q).unwrap(),
            ["y", "x"],
            "all experiments and stages; offset and limit"
        );
    }

    #[test]
    fn like_is_case_sensitive_sql_like_and_ilike_folds_ascii() {
        let conn = sample();
        let s = |t: &str| vec![Value::Str(t.into())];
        let like = |p: &str| cmp(KeyKind::Param, "model", Op::Like, s(p));
        assert_eq!(ids(&conn, Some(&like("r%")), &[]), ["c", "a"]);
        assert_eq!(
            ids(&conn, Some(&like("r_f")), &[]),
            ["c"],
            "_ matches a newline"
        );
        assert_eq!(ids(&conn, Some(&like("rf")), &[]), ["a"]);
        let ilike = cmp(KeyKind::Param, "model", Op::ILike, s("Rf"));
        assert_eq!(ids(&conn, Some(&ilike), &[]), ["b", "a"]);
        let star = cmp(KeyKind::Tag, "team", Op::Like, s("x*y"));
        assert_eq!(ids(&conn, Some(&star), &[]), ["d"]);
        let star = cmp(KeyKind::Tag, "team", Op::Like, s("x*"));
        assert!(ids(&conn, Some(&star), &[]).is_empty(), "* is literal");
        let name = cmp(
            KeyKind::Attribute,
            "run_name",
            Op::In,
            vec![Value::Str("a".into()), Value::Str("e".into())],
        );
        assert_eq!(
            ids(&conn, Some(&name), &[]),
            ["e", "a"],
            "the mlflow.runName tag"
        );
        let status = cmp(KeyKind::Attribute, "end_time", Op::IsNull, vec![]);
        assert!(ids(&conn, Some(&status), &[]).is_empty());
    }

    fn plan(conn: &Connection, st: &Statement) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", st.sql))
            .unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(st.params.iter()), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_filtered_top_ten_reads_one_key_through_the_primary_key() {
        let conn = sample();
        let filter = cmp(KeyKind::Metric, "acc", Op::Gt, vec![Value::Num(0.5)]);
        let order = vec![OrderBy {
            key: key(KeyKind::Metric, "acc"),
            ascending: false,
        }];
        let q = RunQuery {
            filter: Some(&filter),
            order_by: &order,
            offset: 0,
            limit: Some(10),
        };
        let st = statement(&["1".into()], ViewType::ActiveOnly, &q);
        assert_eq!(
            st.sql.matches("latest_metrics").count(),
            1,
            "the order reuses the filter's join: {}",
            st.sql
        );
        let p = plan(&conn, &st);
        assert!(
            !p.contains("SCAN f1") && !p.contains("MATERIALIZE"),
            "no scan of latest_metrics: {p}"
        );
        assert!(
            p.contains("sqlite_autoindex_latest_metrics_1")
                && p.contains("sqlite_autoindex_runs_1"),
            "{p}"
        );
    }
}
