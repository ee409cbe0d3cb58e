//! Metric histories read ahead in bulk: a sync reads every history of every run it listed, one
//! `metrics/get-history` each (five metrics: five requests a run). MLflow's server also answers the
//! histories of one key for up to 100 runs at once (`metrics/get-history-bulk`, an endpoint of its UI),
//! so the first history asked for of a run the last listing returned brings that key's histories for
//! the next 100 listed runs with it; each is handed out once, then forgotten (memory: one batch per key
//! being read). A run written through the store loses what was read ahead for it. A server without
//! the endpoint, or a batch whose answer may be cut at the endpoint's 25,000-point limit, is read one
//! history at a time as before.

use super::RestStore;
use super::json::{array, parse_metric, str_of};
use crate::store::Result;
use crate::store::entities::{MetricPoint, Run};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Runs per bulk request (the server's limit).
const BATCH: usize = 100;
/// Points per bulk answer (the server's limit; an answer this long may be cut).
const MAX_POINTS: usize = 25_000;

#[derive(Default)]
pub(super) struct ReadAhead {
    /// The runs of the last listing in its order, with their metric keys.
    listed: Vec<(String, BTreeSet<String>)>,
    position: HashMap<String, usize>,
    /// Histories read ahead and not yet handed out, by (run id, key).
    ready: HashMap<(String, String), Vec<MetricPoint>>,
    /// (run id, key) handed out or asked for already: never read ahead again.
    taken: HashSet<(String, String)>,
    /// The server has no bulk endpoint.
    unsupported: bool,
}

impl ReadAhead {
    /// Remember a listing's runs (replacing the last one's).
    pub(super) fn listed(&mut self, runs: &[Run]) {
        *self = ReadAhead {
            unsupported: self.unsupported,
            ..ReadAhead::default()
        };
        for (i, r) in runs.iter().enumerate() {
            let keys = r.data.metrics.keys().cloned().collect();
            self.listed.push((r.info.run_id.clone(), keys));
            self.position.insert(r.info.run_id.clone(), i);
        }
    }

    /// Forget what was read ahead for a run that is being written.
    pub(super) fn written(&mut self, run_id: &str) {
        self.ready.retain(|(r, _), _| r != run_id);
    }

    /// The runs whose `key` history a bulk request for `run_id` should bring: `run_id` and the listed
    /// runs after it with that key, not yet read (empty: read it alone).
    fn batch(&self, run_id: &str, key: &str) -> Vec<String> {
        let Some(&start) = self.position.get(run_id).filter(|_| !self.unsupported) else {
            return Vec::new();
        };
        self.listed[start..]
            .iter()
            .filter(|(id, keys)| {
                keys.contains(key) && !self.taken.contains(&(id.clone(), key.to_string()))
            })
            .map(|(id, _)| id.clone())
            .take(BATCH)
            .collect()
    }
}

impl RestStore {
    /// The history of `key` in `run_id` when it was, or now can be, read ahead in bulk; None: read it
    /// alone.
    pub(super) fn history_read_ahead(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<Option<Vec<MetricPoint>>> {
        // Held while the bulk request runs: the other workers want the same batch.
        let mut ahead = self.read_ahead();
        let wanted = (run_id.to_string(), key.to_string());
        if let Some(points) = ahead.ready.remove(&wanted) {
            return Ok(Some(points));
        }
        let batch = ahead.batch(run_id, key);
        if batch.len() < 2 {
            ahead.taken.insert(wanted);
            return Ok(None);
        }
        let mut query: Vec<(&str, &str)> = batch.iter().map(|id| ("run_id", id.as_str())).collect();
        let max = MAX_POINTS.to_string();
        query.extend([("metric_key", key), ("max_results", max.as_str())]);
        let answer = match self.client.get_ajax("metrics/get-history-bulk", &query) {
            Ok(v) => v,
            Err(e) if super::is_not_found(&e) => {
                ahead.unsupported = true;
                ahead.taken.insert(wanted);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let points = array(&answer["metrics"]);
        let mut by_run: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for p in points {
            by_run
                .entry(str_of(&p["run_id"]))
                .or_default()
                .push(parse_metric(p));
        }
        // Sorted by run id: when the answer may be cut, the last run in it (and those after) may be
        // incomplete and are read alone.
        let cut = (points.len() >= MAX_POINTS).then(|| by_run.keys().next_back().cloned());
        for id in batch {
            if let Some(last) = &cut
                && last.as_ref().is_none_or(|l| &id >= l)
            {
                continue;
            }
            let points = by_run.remove(&id).unwrap_or_default();
            let pair = (id, key.to_string());
            ahead.taken.insert(pair.clone());
            ahead.ready.insert(pair, points);
        }
        ahead.taken.insert(wanted.clone());
        Ok(ahead.ready.remove(&wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, keys: &[&str]) -> Run {
        let metrics: Vec<(&str, f64)> = keys.iter().map(|&k| (k, 1.0)).collect();
        Run::for_test(id, &metrics)
    }

    #[test]
    fn a_batch_is_the_listed_runs_from_this_one_on_with_the_key_not_yet_read() {
        let mut ahead = ReadAhead::default();
        let runs: Vec<Run> = (0..150)
            .map(|i| {
                run(
                    &format!("r{i:03}"),
                    if i % 2 == 0 { &["a", "b"] } else { &["b"] },
                )
            })
            .collect();
        ahead.listed(&runs);
        let batch = ahead.batch("r001", "a");
        assert_eq!(batch.len(), 74, "the even runs after r001");
        assert_eq!(batch[0], "r002");
        assert_eq!(ahead.batch("r010", "b").len(), BATCH);
        ahead.taken.insert(("r011".into(), "b".into()));
        assert_eq!(ahead.batch("r010", "b")[..2], ["r010", "r012"]);
        assert!(ahead.batch("unlisted", "a").is_empty());
        ahead.unsupported = true;
        assert!(ahead.batch("r010", "b").is_empty());
        // A new listing starts afresh but remembers that the server lacks the endpoint.
        ahead.listed(&runs);
        assert!(ahead.taken.is_empty() && ahead.unsupported);
        ahead.ready.insert(("r000".into(), "a".into()), Vec::new());
        ahead.written("r000");
        assert!(ahead.ready.is_empty());
    }
}
