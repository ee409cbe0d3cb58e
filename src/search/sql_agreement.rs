//! The SQLite store's SQL search answers as `matches` and `sort` do: random runs (ties, NaN, ±f64::MAX,
//! missing keys, running runs) written both as `Run`s and as rows of MLflow's schema, and random filters
//! (OR, NOT, IS NULL, IN, LIKE on ASCII text without newlines, where SQL's LIKE and MLflow's regex agree)
//! and orderings evaluated both ways.

use super::{Query, matches, sort};
use crate::store::RunQuery;
use crate::store::entities::{Lifecycle, MetricPoint, Run, RunStatus, ViewType};
use crate::store::sqlite::search::run_ids;
use crate::store::sqlite::search::tests::{db, insert_kv, insert_metric, insert_run};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const METRIC_VALUES: [Option<f64>; 7] = [
    None,
    Some(0.1),
    Some(0.5),
    Some(0.9),
    Some(f64::NAN),
    Some(f64::MAX),
    Some(f64::MIN),
];
const TEXTS: [Option<&str>; 6] = [
    None,
    Some("rf"),
    Some("RF"),
    Some("gb"),
    Some("r_f"),
    Some(""),
];

fn population(rng: &mut Rng) -> (rusqlite::Connection, Vec<Run>) {
    let conn = db();
    let mut runs = Vec::new();
    for i in 0..40 {
        let id = format!("{:02x}{}", (rng.next() % 256), i);
        let start = 1000 + (rng.next() % 6) as i64; // many ties
        let running = rng.next().is_multiple_of(4);
        let end = (!running).then_some(start + (rng.next() % 3) as i64);
        let status = if running { "RUNNING" } else { "FINISHED" };
        let stage = if rng.next().is_multiple_of(8) {
            "deleted"
        } else {
            "active"
        };
        insert_run(&conn, &id, 1, start, end, status, stage);
        let mut run = Run::for_test(&id, &[]);
        run.info.run_name = id.clone();
        run.info.experiment_id = "1".into();
        run.info.user_id = "u".into();
        run.info.artifact_uri = "a".into();
        run.info.start_time = start;
        run.info.end_time = end;
        run.info.status = RunStatus::parse(status).unwrap();
        run.info.lifecycle_stage = Lifecycle::parse(stage).unwrap();
        for key in ["acc", "loss"] {
            if let Some(v) = *rng.pick(&METRIC_VALUES) {
                insert_metric(&conn, &id, key, v);
                let point = MetricPoint {
                    timestamp: 0,
                    value: v,
                    step: 0,
                };
                run.data.metrics.insert(key.into(), point);
            }
        }
        for (table, key) in [("params", "model"), ("tags", "team")] {
            if let Some(v) = *rng.pick(&TEXTS) {
                insert_kv(&conn, table, &id, key, v);
                let map = if table == "params" {
                    &mut run.data.params
                } else {
                    &mut run.data.tags
                };
                map.insert(key.into(), v.into());
            }
        }
        runs.push(run);
    }
    (conn, runs)
}

fn comparison(rng: &mut Rng) -> String {
    let num_ops = ["=", "!=", "<", "<=", ">", ">="];
    match rng.next() % 9 {
        0 | 1 => {
            let key = rng.pick(&["acc", "loss", "other"]);
            let v = rng.pick(&["0.1", "0.5", "0.9", "0", "1.7976931348623157e308", "-1e400"]);
            format!("metrics.{key} {} {v}", rng.pick(&num_ops))
        }
        2 => {
            let key = rng.pick(&["metrics.acc", "params.model", "tags.team", "end_time"]);
            let not = if rng.next().is_multiple_of(2) {
                "NOT "
            } else {
                ""
            };
            format!("{key} IS {not}NULL")
        }
        3 => format!("metrics.acc {}IN (0.5, 0.9)", rng.pick(&["", "NOT "])),
        4 | 5 => {
            let key = rng.pick(&["params.model", "tags.team", "run_name"]);
            let op = rng.pick(&["=", "!=", "LIKE", "ILIKE", "<", ">="]);
            let v = rng.pick(&["rf", "RF", "r%", "%F", "r_f", "_f", "", "%"]);
            format!("{key} {op} '{v}'")
        }
        6 => format!("params.model {}IN ('rf', 'gb')", rng.pick(&["", "NOT "])),
        7 => format!(
            "{} {} {}",
            rng.pick(&["start_time", "end_time"]),
            rng.pick(&num_ops),
            1000 + rng.next() % 8
        ),
        _ => format!("status {} 'RUNNING'", rng.pick(&["=", "!="])),
    }
}

fn expr(rng: &mut Rng, depth: u32) -> String {
    if depth == 0 {
        return comparison(rng);
    }
    match rng.next() % 4 {
        0 => format!("({} OR {})", expr(rng, depth - 1), expr(rng, depth - 1)),
        1 => format!("NOT ({})", expr(rng, depth - 1)),
        2 => format!("{} AND {}", expr(rng, depth - 1), expr(rng, depth - 1)),
        _ => comparison(rng),
    }
}

fn ordering(rng: &mut Rng) -> Vec<String> {
    let keys = [
        "metrics.acc",
        "metrics.loss",
        "params.model",
        "tags.team",
        "start_time",
        "end_time",
        "run_name",
        "status",
    ];
    (0..rng.next() % 3)
        .map(|_| format!("{} {}", rng.pick(&keys), rng.pick(&["ASC", "DESC"])))
        .collect()
}

#[test]
fn sql_search_answers_as_the_in_memory_search() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..6 {
        let (conn, runs) = population(&mut rng);
        for _ in 0..150 {
            let filter = expr(&mut rng, 3);
            let order = ordering(&mut rng);
            let query = Query::parse(Some(&filter), &order).unwrap();
            let view = *rng.pick(&[ViewType::ActiveOnly, ViewType::All, ViewType::DeletedOnly]);
            let mut want: Vec<Run> = runs
                .iter()
                .filter(|r| view.admits(r.info.lifecycle_stage))
                .filter(|r| query.filter.as_ref().is_none_or(|f| matches(r, f)))
                .cloned()
                .collect();
            sort(&mut want, &query.order_by);
            let want: Vec<&str> = want.iter().map(|r| r.info.run_id.as_str()).collect();
            let q = RunQuery {
                filter: query.filter.as_ref(),
                order_by: &query.order_by,
                offset: 0,
                limit: None,
            };
            let got = run_ids(&conn, &["1".into()], view, &q).unwrap();
            assert_eq!(
                got, want,
                "round {round}: {filter} ORDER BY {order:?} ({view:?})"
            );
        }
    }
}
