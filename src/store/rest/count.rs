//! Counting a server's runs without downloading them: `runs/search` has no count, and paging through
//! a 50,000-run experiment to count it takes a minute. MLflow's page token is the offset of the next
//! page (`{"offset": N}` in base64, `SearchUtils.create_page_token`); the format is not promised, so it
//! is used only when the server's own first token reads exactly so, and then a binary search over
//! offsets with pages of one run finds the count in about 2·log2(N / first page) small requests. Any
//! other token: the runs are counted page by page.

use super::{PAGE, RestStore};
use crate::store::Result;
use crate::store::entities::ViewType;
use base64::Engine;

/// Runs in the first page (most experiments have fewer: one request).
const FIRST: usize = 100;

/// The token MLflow's server gives the page at `offset`.
fn offset_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The offset a token of MLflow's format names (None: another format).
fn token_offset(token: &str) -> Option<usize> {
    let text = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let map = doc.as_object()?;
    (map.len() == 1).then_some(())?;
    usize::try_from(map.get("offset")?.as_u64()?).ok()
}

impl RestStore {
    pub(super) fn count_runs_on_server(
        &self,
        experiment_ids: &[String],
        view: ViewType,
    ) -> Result<usize> {
        if experiment_ids.is_empty() {
            return Ok(0);
        }
        let search = |size: usize, token: Option<&str>| {
            self.runs_search(experiment_ids, view, None, &[], size, token)
        };
        let (runs, next) = search(FIRST, None)?;
        let Some(next) = next else {
            return Ok(runs.len());
        };
        if token_offset(&next) == Some(runs.len()) && runs.len() == FIRST {
            // Whether a run exists at `offset`.
            let at = |offset: usize| -> Result<bool> {
                Ok(!search(1, Some(&offset_token(offset)))?.0.is_empty())
            };
            // Invariant: a run at lo - 1, none at hi - 1.
            let (mut lo, mut hi) = (FIRST, FIRST * 2);
            while at(hi - 1)? {
                lo = hi;
                hi *= 2;
            }
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if at(mid - 1)? {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            return Ok(lo);
        }
        let mut count = runs.len();
        let mut token = Some(next);
        while let Some(t) = token {
            let (runs, next) = search(PAGE, Some(&t))?;
            count += runs.len();
            token = next;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_mlflows_format_and_no_other() {
        // What MLflow 3.17's SearchUtils.create_page_token(1000) returns.
        assert_eq!(offset_token(1000), "eyJvZmZzZXQiOiAxMDAwfQ==");
        assert_eq!(token_offset("eyJvZmZzZXQiOiAxMDAwfQ=="), Some(1000));
        for other in [
            "",
            "not base64!",
            &base64::engine::general_purpose::STANDARD.encode("{\"offset\": \"7\"}"),
            &base64::engine::general_purpose::STANDARD.encode("{\"offset\": 7, \"x\": 1}"),
            &base64::engine::general_purpose::STANDARD.encode("[7]"),
        ] {
            assert_eq!(token_offset(other), None, "{other}");
        }
    }
}
