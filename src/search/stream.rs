//! A query's answer from a tracking server, page by page in the final order, so a listing prints the
//! first rows while later pages are still on the server and holds one page at a time.
//!
//! Only queries whose order the server applies (see [`super::pushdown`]) stream: a client-side sort
//! needs every run first. The server's order differs from mlx's only where ±infinity ties with ±f64::MAX
//! under an order metric; runs with such a value sit next to one another in the server's order, so they
//! are held back until a run without one arrives and then sorted as mlx sorts them (only those runs are
//! held, never a page more).

use super::pushdown::{self, ServerQuery};
use super::{Query, matches, sort};
use crate::store::entities::{Run, ViewType};
use crate::store::{Result, ServerPage, TrackingStore};

/// The pages of a query's answer, each non-empty, in mlx's order (an iterator; a failed request ends it).
pub struct RunPages<'a> {
    store: &'a dyn TrackingStore,
    query: &'a Query,
    experiment_ids: &'a [String],
    view: ViewType,
    order: Vec<String>,
    /// Runs asked for per request from now on.
    page_size: usize,
    /// Requests made so far.
    pub(super) fetched: u32,
    /// The first page, fetched when the stream was opened (to learn that the store pages at all).
    first: Option<(Vec<Run>, Option<String>)>,
    token: Option<String>,
    done: bool,
    settle: Settle<'a>,
}

/// Puts the server's order right: runs whose place it may have wrong wait for the end of their group.
struct Settle<'a> {
    server: ServerQuery,
    order_by: &'a [super::OrderBy],
    held: Vec<Run>,
}

impl Query {
    /// This query's answer as pages of about `page_size` runs fetched one at a time, when the store is a
    /// tracking server that orders as mlx does; None when the store has no search of its own or the
    /// order must be applied on the client (then [`Query::run`] reads every run first).
    pub fn pages<'a>(
        &'a self,
        store: &'a dyn TrackingStore,
        experiment_ids: &'a [String],
        view: ViewType,
        page_size: usize,
    ) -> Result<Option<RunPages<'a>>> {
        let server = pushdown::split(self);
        let Some(order) = server.order_by.clone() else {
            return Ok(None);
        };
        let page_size = page_size.max(1);
        let request = ServerPage {
            filter: server.filter.as_deref(),
            order_by: &order,
            max_results: page_size,
            page_token: None,
        };
        let Some(first) = store.search_page(experiment_ids, view, &request)? else {
            return Ok(None);
        };
        Ok(Some(RunPages {
            store,
            query: self,
            experiment_ids,
            view,
            order,
            page_size,
            fetched: 1,
            first: Some(first),
            token: None,
            done: false,
            settle: Settle {
                server,
                order_by: &self.order_by,
                held: Vec::new(),
            },
        }))
    }
}

impl RunPages<'_> {
    /// Ask for `n` runs per request from the next one on (a small first page shows rows sooner).
    pub fn set_page_size(&mut self, n: usize) {
        self.page_size = n;
    }

    fn fetch(&mut self) -> Result<(Vec<Run>, Option<String>)> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        self.fetched += 1;
        let request = ServerPage {
            filter: self.settle.server.filter.as_deref(),
            order_by: &self.order,
            max_results: self.page_size.max(1),
            page_token: self.token.as_deref(),
        };
        // `pages` saw this store answer, so it has a search of its own.
        Ok(self
            .store
            .search_page(self.experiment_ids, self.view, &request)?
            .unwrap_or_default())
    }
}

impl Settle<'_> {
    /// The runs of one fetched page (already filtered) that are in their final place; `last`: no page
    /// follows, so nothing waits.
    fn page(&mut self, runs: Vec<Run>, last: bool) -> Vec<Run> {
        let mut out = Vec::with_capacity(runs.len());
        for run in runs {
            if self.server.order_is_exact(std::slice::from_ref(&run)) {
                self.release(&mut out);
                out.push(run);
            } else {
                self.held.push(run);
            }
        }
        if last {
            self.release(&mut out);
        }
        out
    }

    fn release(&mut self, out: &mut Vec<Run>) {
        if !self.held.is_empty() {
            sort(&mut self.held, self.order_by);
            out.append(&mut self.held);
        }
    }
}

impl Iterator for RunPages<'_> {
    type Item = Result<Vec<Run>>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (runs, next) = match self.fetch() {
                Ok(page) => page,
                Err(e) => {
                    self.done = true;
                    self.settle.held.clear();
                    return Some(Err(e));
                }
            };
            self.done = next.is_none();
            self.token = next;
            let filter = self.query.filter.as_ref();
            let runs: Vec<Run> = runs
                .into_iter()
                .filter(|r| filter.is_none_or(|f| matches(r, f)))
                .collect();
            let out = self.settle.page(runs, self.done);
            if !out.is_empty() {
                return Some(Ok(out));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, start: i64, acc: Option<f64>) -> Run {
        let mut run = Run::for_test(id, &acc.map(|v| ("acc", v)).into_iter().collect::<Vec<_>>());
        run.info.run_name = id.into();
        run.info.start_time = start;
        run
    }

    /// The pages a stream yields for server pages in the server's order (±infinity read as ±f64::MAX).
    fn settled(query: &Query, server_pages: Vec<Vec<Run>>) -> Vec<Vec<String>> {
        let n = server_pages.len();
        let mut settle = Settle {
            server: pushdown::split(query),
            order_by: &query.order_by,
            held: Vec::new(),
        };
        let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.info.run_id).collect();
        server_pages
            .into_iter()
            .enumerate()
            .map(|(i, page)| ids(settle.page(page, i + 1 == n)))
            .collect()
    }

    #[test]
    fn runs_the_server_may_misorder_wait_for_the_end_of_their_group() {
        let q = Query::parse(None, &["metrics.acc DESC".to_string()]).unwrap();
        // The server ties inf with f64::MAX and orders the tie by start time: MAX (newer) first.
        let pages = vec![
            vec![run("max", 9, Some(f64::MAX))],
            vec![run("inf", 1, Some(f64::INFINITY)), run("a", 5, Some(0.9))],
            vec![
                run("b", 5, Some(0.5)),
                run("ninf", 9, Some(f64::NEG_INFINITY)),
            ],
            vec![run("c", 5, Some(f64::MIN)), run("nan", 1, Some(f64::NAN))],
            vec![run("none", 1, None)],
        ];
        assert_eq!(
            settled(&q, pages),
            vec![
                vec![],
                vec!["inf".to_string(), "max".into(), "a".into()],
                vec!["b".to_string()],
                vec!["c".to_string(), "ninf".into(), "nan".into()],
                vec!["none".to_string()],
            ]
        );
        // A group of ±infinity runs that reaches the last page is released with it.
        let pages = vec![
            vec![run("a", 5, Some(0.9))],
            vec![
                run("b", 5, Some(0.5)),
                run("ninf", 1, Some(f64::NEG_INFINITY)),
                run("min", 9, Some(f64::MIN)),
            ],
        ];
        assert_eq!(
            settled(&q, pages),
            vec![
                vec!["a".to_string()],
                vec!["b".to_string(), "min".into(), "ninf".into()]
            ]
        );
        let pages = vec![vec![run("inf", 1, Some(f64::INFINITY))]];
        assert_eq!(settled(&q, pages), vec![vec!["inf".to_string()]]);
        // Nothing is held when no value is extreme: every page is final as it comes.
        let pages = vec![vec![run("a", 5, Some(0.9))], vec![run("b", 5, Some(0.5))]];
        assert_eq!(
            settled(&q, pages),
            vec![vec!["a".to_string()], vec!["b".to_string()]]
        );
    }
}
