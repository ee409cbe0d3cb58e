//! The `Knn` form: the training rows and their targets; a row is predicted from its `k` nearest training
//! rows (class shares for classification, the mean for regression), found exactly as scikit-learn finds them.
//! Two options carry where scikit-learn's arithmetic differs from mlx's: the order the neighbours are
//! summed in and how much each one counts.

use super::LoadCheck;
use crate::ml::core::{ModelError, Task};
use serde::{Deserialize, Serialize};

/// The order the neighbours' votes or targets are summed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// mlx: as the search's heap leaves them ([`nearest`]).
    #[default]
    Heap,
    /// scikit-learn (`kneighbors`): nearest first, equal distances by training row.
    Nearest,
}

/// How much each neighbour counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// mlx: each neighbour adds 1/k to its class; a value is the targets' sum divided by k.
    #[default]
    Share,
    /// scikit-learn `weights="uniform"`: each neighbour counts 1, its class's count divided by the total
    /// of all counts; a value is the targets' sum divided by the number of neighbours.
    Uniform,
    /// scikit-learn `weights="distance"`: each neighbour counts 1/distance (only the neighbours at distance
    /// 0, if any), normalised by the total weight, for classes and values alike.
    Distance,
}

/// The fitted state a row is predicted from.
pub(super) struct Neighbours<'a> {
    k: usize,
    x: &'a [f64],
    y: &'a [f64],
    nf: usize,
    order: Order,
    weights: Weights,
}

impl<'a> Neighbours<'a> {
    pub(super) fn new(
        k: usize,
        x: &'a [f64],
        y: &'a [f64],
        nf: usize,
        (order, weights): (Order, Weights),
    ) -> Self {
        Neighbours {
            k,
            x,
            y,
            nf,
            order,
            weights,
        }
    }

    /// The `k` nearest training rows to `row` in summing order, each with its weight.
    fn weighted(&self, row: &[f64]) -> Vec<(usize, f64)> {
        let nf = self.nf;
        let mut found: Vec<(f64, usize)> = nearest(self.x, nf, row, self.k)
            .into_iter()
            .map(|i| {
                let t = &self.x[i * nf..(i + 1) * nf];
                let d2: f64 = t.iter().zip(row).map(|(a, b)| (a - b) * (a - b)).sum();
                (d2.sqrt(), i)
            })
            .collect();
        if self.order == Order::Nearest {
            found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        let exact = found.iter().any(|(d, _)| *d == 0.0);
        found
            .into_iter()
            .map(|(d, i)| {
                let w = match self.weights {
                    Weights::Share => 1.0 / self.k as f64,
                    Weights::Uniform => 1.0,
                    Weights::Distance if exact => f64::from(u8::from(d == 0.0)),
                    Weights::Distance => 1.0 / d,
                };
                (i, w)
            })
            .collect()
    }

    /// Class probabilities of one row into `p`: each neighbour adds its weight to its class, normalised
    /// by the total unless the weights are shares already.
    pub(super) fn proba_row(&self, row: &[f64], p: &mut [f64]) {
        for (i, w) in self.weighted(row) {
            p[self.y[i] as usize] += w;
        }
        if self.weights != Weights::Share {
            let total: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= total);
        }
    }

    /// The predicted value of one row: the (weighted) mean of the neighbours' targets.
    pub(super) fn value_row(&self, row: &[f64]) -> f64 {
        let found = self.weighted(row);
        let sum = |f: &dyn Fn(&(usize, f64)) -> f64| found.iter().map(f).sum::<f64>();
        match self.weights {
            Weights::Share => sum(&|(i, _)| self.y[*i]) / self.k as f64,
            Weights::Uniform => sum(&|(i, _)| self.y[*i]) / found.len() as f64,
            Weights::Distance => sum(&|(i, w)| self.y[*i] * w) / sum(&|(_, w)| *w),
        }
    }
}

/// A positive `k`, one row of features per target, and (classification) targets that are classes.
pub(super) fn check(k: usize, x: &[f64], y: &[f64], cx: &LoadCheck) -> Result<(), ModelError> {
    if k == 0 || x.len() != y.len() * cx.n_features || y.is_empty() {
        return Err(cx.json_error("kNN data is inconsistent"));
    }
    if cx.task == Task::Classification && y.iter().any(|v| *v as usize >= cx.outputs) {
        return Err(cx.json_error("kNN labels out of range"));
    }
    Ok(())
}

/// Indices of the `k` training rows nearest to `row` by squared Euclidean distance, chosen exactly as
/// scikit-learn's brute-force search does on one thread: training rows are offered in order to a max-heap
/// of size `k` (sklearn/utils/_heap.pyx `heap_push`), which takes a row only if it is strictly nearer
/// than the heap's farthest. Which of several equally distant rows survive follows from that heap's
/// sift order, so ties resolve as in scikit-learn, not simply by index.
pub fn nearest(tx: &[f64], nf: usize, row: &[f64], k: usize) -> Vec<usize> {
    let n = tx.len() / nf.max(1);
    let k = k.min(n);
    let mut dist = vec![f64::INFINITY; k];
    let mut idx = vec![usize::MAX; k];
    for i in 0..n {
        let t = &tx[i * nf..(i + 1) * nf];
        let d = t
            .iter()
            .zip(row)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>();
        heap_push(&mut dist, &mut idx, d, i);
    }
    idx
}

/// scikit-learn's `heap_push`: replace the root of a max-heap when `val` is strictly smaller, then sift down.
fn heap_push(values: &mut [f64], indices: &mut [usize], val: f64, val_idx: usize) {
    let size = values.len();
    if size == 0 || val >= values[0] {
        return;
    }
    let mut current = 0;
    loop {
        let left = 2 * current + 1;
        let right = left + 1;
        let swap = if left >= size {
            break;
        } else if right >= size || values[left] >= values[right] {
            if val < values[left] {
                left
            } else {
                break;
            }
        } else if val < values[right] {
            right
        } else {
            break;
        };
        values[current] = values[swap];
        indices[current] = indices[swap];
        current = swap;
    }
    values[current] = val;
    indices[current] = val_idx;
}
