//! Run search: MLflow's filter grammar (`metrics.acc > 0.9 AND params.model = 'rf'`) and `ORDER BY` rules,
//! evaluated over runs exactly as MLflow's `search_runs` does, plus the extensions MLflow users have asked
//! for (OR, parentheses, NOT, IS NULL on any key, IN for metrics and params).

mod parse;
pub mod pushdown;
#[cfg(test)]
mod sql_agreement;
mod stream;

pub use stream::RunPages;

pub use parse::{
    Comparison, Expr, Key, KeyKind, Op, OrderBy, ParseError, Value, parse_filter, parse_order_by,
};

use crate::store::entities::{Run, ViewType};
use crate::store::{Fields, Projection, RunQuery, ServerPage, TrackingStore};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Whether smaller values of a metric are better, judged by its name (loss, error, rmse, mae, mse, time).
pub fn lower_is_better(metric: &str) -> bool {
    let m = metric.to_ascii_lowercase();
    ["loss", "error", "rmse", "mae", "mse", "time"]
        .iter()
        .any(|w| m.contains(w))
}

/// A parsed filter and ordering.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: Option<Expr>,
    pub order_by: Vec<OrderBy>,
}

/// A parse error and which part of the query it is in ("filter" or "order-by").
#[derive(Debug)]
pub struct QueryError {
    pub what: &'static str,
    pub error: ParseError,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.what, self.error)
    }
}

impl std::error::Error for QueryError {}

impl Query {
    pub fn parse(filter: Option<&str>, order_by: &[String]) -> Result<Query, QueryError> {
        let filter = match filter {
            Some(f) => parse_filter(f).map_err(|error| QueryError {
                what: "filter",
                error,
            })?,
            None => None,
        };
        let order_by = order_by
            .iter()
            .map(|o| {
                parse_order_by(o).map_err(|error| QueryError {
                    what: "order-by",
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Query { filter, order_by })
    }

    /// The matching runs of the experiments in order, at most `max`. The first pass loads only the keys
    /// the query names; the runs that make the cut are then loaded whole.
    pub fn run(
        &self,
        store: &dyn TrackingStore,
        experiment_ids: &[String],
        view: ViewType,
        max: Option<usize>,
    ) -> crate::store::Result<Vec<Run>> {
        // A tracking server answers what it can of the query itself and pages.
        if let Some(runs) = self.run_on_server(store, experiment_ids, view, max)? {
            return Ok(runs);
        }
        let (_, runs) = self.run_page(store, experiment_ids, view, 0, max.unwrap_or(usize::MAX))?;
        Ok(runs)
    }

    /// The matching runs in order, at most `max`, loaded whole, when the store is a tracking server with a
    /// search of its own (None otherwise): the AND part of the filter and, when the server orders as mlx
    /// does, the order go to the server, and pages are fetched until `max` runs pass the whole filter
    /// (see [`pushdown`] and [`RunPages`]).
    pub fn run_on_server(
        &self,
        store: &dyn TrackingStore,
        experiment_ids: &[String],
        view: ViewType,
        max: Option<usize>,
    ) -> crate::store::Result<Option<Vec<Run>>> {
        /// Runs per page when all are wanted (MLflow's server allows up to 50,000).
        const PAGE: usize = 1000;
        // A database answers the whole query in one statement.
        let whole = RunQuery {
            filter: self.filter.as_ref(),
            order_by: &self.order_by,
            offset: 0,
            limit: max,
        };
        if let Some(runs) = store.query_runs(experiment_ids, view, &whole)? {
            return Ok(Some(runs));
        }
        let server = pushdown::split(self);
        let keep = |r: &Run| self.filter.as_ref().is_none_or(|f| matches(r, f));
        let page = |order_by: &[String], max_results: usize, page_token: Option<&str>| {
            let request = ServerPage {
                filter: server.filter.as_deref(),
                order_by,
                max_results,
                page_token,
            };
            store.search_page(experiment_ids, view, &request)
        };
        if max == Some(0) {
            return Ok(Some(Vec::new()));
        }
        // Some runs fail the rest of the filter: ask for more, and more on each page, so a selective
        // filter needs few round trips. Exact: the next rows are the answer.
        let size = |fetched: u32, have: usize| match max {
            Some(m) if server.exact => m - have,
            Some(m) => ((m - have) * 4).max(20 << fetched.min(6)),
            None => PAGE,
        };
        if let Some(mut pages) = self.pages(store, experiment_ids, view, size(0, 0).min(PAGE))? {
            let mut out = Vec::new();
            while let Some(page) = pages.next() {
                out.extend(page?);
                if max.is_some_and(|m| out.len() >= m) {
                    break;
                }
                pages.set_page_size(size(pages.fetched, out.len()).min(PAGE));
            }
            if let Some(m) = max {
                out.truncate(m);
            }
            return Ok(Some(out));
        }
        if server.order_by.is_some() {
            // The server answers the order but has no search: not a tracking server.
            return Ok(None);
        }
        // The server filters; mlx sorts what passes.
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let Some((got, next)) = page(&[], PAGE, token.as_deref())? else {
                return Ok(None);
            };
            runs.extend(got.into_iter().filter(keep));
            token = next;
            if token.is_none() {
                break;
            }
        }
        sort(&mut runs, &self.order_by);
        if let Some(m) = max {
            runs.truncate(m);
        }
        Ok(Some(runs))
    }

    /// One page of the matching runs in order, loaded whole, and how many match in all.
    pub fn run_page(
        &self,
        store: &dyn TrackingStore,
        experiment_ids: &[String],
        view: ViewType,
        offset: usize,
        limit: usize,
    ) -> crate::store::Result<(usize, Vec<Run>)> {
        let mut needed = Needed::default();
        if let Some(e) = &self.filter {
            needed.add_expr(e);
        }
        for o in &self.order_by {
            needed.add_key(&o.key);
        }
        let projection = Projection {
            metrics: Fields::Only(needed.metrics),
            params: Fields::Only(needed.params),
            tags: Fields::Only(needed.tags),
            io: needed.datasets,
        };
        let mut runs = store.list_runs(experiment_ids, view, &projection)?;
        if let Some(e) = &self.filter {
            runs.retain(|r| matches(r, e));
        }
        sort(&mut runs, &self.order_by);
        let total = runs.len();
        let ids: Vec<String> = runs
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| r.info.run_id.clone())
            .collect();
        let page = store.get_runs(experiment_ids, &ids)?;
        Ok((total, page))
    }
}

/// The metric, param and tag keys an expression or ordering reads (so a listing loads only those).
#[derive(Debug, Default, Clone)]
pub struct Needed {
    pub metrics: BTreeSet<String>,
    pub params: BTreeSet<String>,
    pub tags: BTreeSet<String>,
    pub datasets: bool,
}

impl Needed {
    pub fn add_key(&mut self, key: &Key) {
        match key.kind {
            KeyKind::Metric => {
                self.metrics.insert(key.name.clone());
            }
            KeyKind::Param => {
                self.params.insert(key.name.clone());
            }
            KeyKind::Tag => {
                self.tags.insert(key.name.clone());
            }
            KeyKind::Dataset => self.datasets = true,
            // run_name may fall back to the mlflow.runName tag; it is read with the run info.
            KeyKind::Attribute => {}
        }
    }

    pub fn add_expr(&mut self, e: &Expr) {
        match e {
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.add_expr(a);
                self.add_expr(b);
            }
            Expr::Not(a) => self.add_expr(a),
            Expr::Cmp(c) => self.add_key(&c.key),
        }
    }
}

/// A value of a run under a key.
#[derive(Debug, Clone, PartialEq)]
enum Lhs<'a> {
    Num(f64),
    Str(&'a str),
    Owned(String),
    Missing,
}

fn lookup<'a>(run: &'a Run, key: &Key) -> Lhs<'a> {
    match key.kind {
        KeyKind::Metric => run
            .data
            .metrics
            .get(&key.name)
            .map_or(Lhs::Missing, |p| Lhs::Num(p.value)),
        KeyKind::Param => run
            .data
            .params
            .get(&key.name)
            .map_or(Lhs::Missing, |v| Lhs::Str(v)),
        KeyKind::Tag => run
            .data
            .tags
            .get(&key.name)
            .map_or(Lhs::Missing, |v| Lhs::Str(v)),
        KeyKind::Attribute => match key.name.as_str() {
            "start_time" => Lhs::Num(run.info.start_time as f64),
            "end_time" => run
                .info
                .end_time
                .map_or(Lhs::Missing, |t| Lhs::Num(t as f64)),
            "run_id" => Lhs::Str(&run.info.run_id),
            "run_name" => Lhs::Str(&run.info.run_name),
            "status" => Lhs::Str(run.info.status.as_str()),
            "user_id" => Lhs::Str(&run.info.user_id),
            "artifact_uri" => Lhs::Str(&run.info.artifact_uri),
            "lifecycle_stage" => Lhs::Str(run.info.lifecycle_stage.as_str()),
            _ => Lhs::Missing,
        },
        KeyKind::Dataset => Lhs::Missing, // handled per dataset in `matches`
    }
}

/// Does `run` satisfy `expr`?
pub fn matches(run: &Run, expr: &Expr) -> bool {
    match expr {
        Expr::And(a, b) => matches(run, a) && matches(run, b),
        Expr::Or(a, b) => matches(run, a) || matches(run, b),
        Expr::Not(a) => !matches(run, a),
        Expr::Cmp(c) if c.key.kind == KeyKind::Dataset => {
            // As MLflow: true when any of the run's datasets matches.
            run.inputs.iter().any(|d| {
                let v = match c.key.name.as_str() {
                    "name" => Some(d.name.clone()),
                    "digest" => Some(d.digest.clone()),
                    "context" => d.context.clone(),
                    _ => None,
                };
                compare(&v.map_or(Lhs::Missing, Lhs::Owned), c)
            })
        }
        Expr::Cmp(c) => compare(&lookup(run, &c.key), c),
    }
}

fn compare(lhs: &Lhs, c: &Comparison) -> bool {
    match c.op {
        Op::IsNull => return matches!(lhs, Lhs::Missing),
        Op::IsNotNull => return !matches!(lhs, Lhs::Missing),
        _ => {}
    }
    let text = |l: &'_ Lhs| -> Option<String> {
        match l {
            Lhs::Str(s) => Some(s.to_string()),
            Lhs::Owned(s) => Some(s.clone()),
            _ => None,
        }
    };
    match (lhs, &c.op) {
        (Lhs::Missing, _) => false,
        (Lhs::Num(x), op) => {
            let num = |v: &Value| match v {
                Value::Num(n) => Some(*n),
                Value::Str(_) => None,
            };
            match op {
                Op::In | Op::NotIn => {
                    let found = c.values.iter().filter_map(num).any(|v| *x == v);
                    found == (*op == Op::In)
                }
                _ => c.values.first().and_then(num).is_some_and(|v| match op {
                    Op::Eq => *x == v,
                    Op::Ne => *x != v,
                    Op::Lt => *x < v,
                    Op::Le => *x <= v,
                    Op::Gt => *x > v,
                    Op::Ge => *x >= v,
                    _ => false,
                }),
            }
        }
        (l, op) => {
            let Some(s) = text(l) else { return false };
            let strs = || {
                c.values.iter().filter_map(|v| match v {
                    Value::Str(t) => Some(t.as_str()),
                    Value::Num(_) => None,
                })
            };
            let first = strs().next().unwrap_or("");
            match op {
                Op::Eq => s == first,
                Op::Ne => s != first,
                Op::Like => like(&s, first, false),
                Op::ILike => like(&s, first, true),
                Op::In => strs().any(|v| v == s),
                Op::NotIn => !strs().any(|v| v == s),
                // Strings compare as in Python (by code point) for the extension's sake.
                Op::Lt => s.as_str() < first,
                Op::Le => s.as_str() <= first,
                Op::Gt => s.as_str() > first,
                Op::Ge => s.as_str() >= first,
                Op::IsNull | Op::IsNotNull => unreachable!("handled above"),
            }
        }
    }
}

/// SQL LIKE as MLflow evaluates it (a regex with `%` → `.*`, `_` → `.`, anchored unless the pattern starts
/// or ends with `%`): wildcards do not match a newline, and the end anchor also accepts a final newline.
pub fn like(s: &str, pattern: &str, ignore_case: bool) -> bool {
    let fold = |c: char| -> char {
        if ignore_case {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            c
        }
    };
    let s: Vec<char> = s.chars().map(fold).collect();
    let p: Vec<char> = pattern.chars().map(fold).collect();
    let open_end = pattern.ends_with('%');
    // dp over (pattern index, string index), iterative.
    let mut reach = vec![false; s.len() + 1];
    reach[0] = true;
    for &pc in &p {
        let mut next = vec![false; s.len() + 1];
        match pc {
            '%' => {
                for i in 0..=s.len() {
                    if reach[i] {
                        next[i] = true;
                        let mut j = i;
                        while j < s.len() && s[j] != '\n' {
                            j += 1;
                            next[j] = true;
                        }
                    }
                }
            }
            '_' => {
                for i in 0..s.len() {
                    if reach[i] && s[i] != '\n' {
                        next[i + 1] = true;
                    }
                }
            }
            c => {
                for i in 0..s.len() {
                    if reach[i] && s[i] == c {
                        next[i + 1] = true;
                    }
                }
            }
        }
        reach = next;
    }
    if open_end {
        // `.*` at the end with re.match: any prefix match is enough.
        return reach.iter().any(|&r| r);
    }
    reach[s.len()] || (s.last() == Some(&'\n') && reach[s.len() - 1])
}

/// MLflow's sort key of one run for one ORDER BY clause.
fn sort_value<'a>(run: &'a Run, key: &Key) -> Lhs<'a> {
    lookup(run, key)
}

fn cmp_lhs(a: &Lhs, b: &Lhs) -> Ordering {
    match (a, b) {
        (Lhs::Num(x), Lhs::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Lhs::Num(_), _) => Ordering::Less,
        (_, Lhs::Num(_)) => Ordering::Greater,
        _ => {
            let s = |l: &Lhs| match l {
                Lhs::Str(s) => s.to_string(),
                Lhs::Owned(s) => s.clone(),
                _ => String::new(),
            };
            s(a).cmp(&s(b))
        }
    }
}

/// Sort as MLflow's `SearchUtils.sort`: start time descending then run id, then each ORDER BY clause from
/// the last to the first with a stable sort; missing values last and NaN just before them, both ways.
pub fn sort(runs: &mut [Run], order_by: &[OrderBy]) {
    runs.sort_by(|a, b| {
        b.info
            .start_time
            .cmp(&a.info.start_time)
            .then_with(|| a.info.run_id.cmp(&b.info.run_id))
    });
    for clause in order_by.iter().rev() {
        // Rank: 0 a value, 1 NaN, 2 missing.
        let rank = |l: &Lhs| match l {
            Lhs::Missing => 2,
            Lhs::Num(x) if x.is_nan() => 1,
            _ => 0,
        };
        runs.sort_by(|a, b| {
            let (va, vb) = (sort_value(a, &clause.key), sort_value(b, &clause.key));
            let (ra, rb) = (rank(&va), rank(&vb));
            if ra != 0 || rb != 0 {
                return ra.cmp(&rb);
            }
            let o = cmp_lhs(&va, &vb);
            if clause.ascending { o } else { o.reverse() }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_follows_mlflow_regex_semantics() {
        assert!(like("random-forest", "rand%", false));
        assert!(like("random-forest", "%forest", false));
        assert!(like("random-forest", "%dom%", false));
        assert!(!like("random-forest", "dom%", false));
        assert!(like("abc", "a_c", false));
        assert!(!like("abc", "a_", false));
        assert!(like("ABC", "abc", true));
        assert!(!like("ABC", "abc", false));
        assert!(
            like("abc\n", "abc", false),
            "Python's $ accepts a final newline"
        );
        assert!(!like("a\nb", "a%b", false), "% does not cross a newline");
        assert!(like("a\nb", "a%", false), "open end matches a prefix");
        assert!(like("", "%", false));
        assert!(like("100%", "100%", false));
    }

    #[test]
    fn equal_start_times_and_sort_keys_are_ordered_by_run_id() {
        let run = |id: &str, start: i64, acc: f64| {
            let mut r = Run::for_test(id, &[("acc", acc)]);
            r.info.start_time = start;
            r
        };
        let ids = |runs: &[Run]| {
            runs.iter()
                .map(|r| r.info.run_id.clone())
                .collect::<Vec<_>>()
        };
        // Given in descending id order, so that a stable sort without the tie-break keeps them so.
        let given = || {
            vec![
                run("d", 5, 0.5),
                run("c", 7, 0.5),
                run("b", 5, 0.5),
                run("a", 5, 0.9),
            ]
        };
        let mut runs = given();
        sort(&mut runs, &[]);
        assert_eq!(ids(&runs), ["c", "a", "b", "d"]);
        let by_acc = Query::parse(None, &["metrics.acc".to_string()]).unwrap();
        let mut runs = given();
        sort(&mut runs, &by_acc.order_by);
        assert_eq!(ids(&runs), ["c", "b", "d", "a"]);
    }
}
