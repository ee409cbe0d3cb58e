//! The `Knn` form: the training rows and their targets; a row is predicted from its `k` nearest training
//! rows (class shares for classification, the mean for regression), found exactly as scikit-learn finds them.

use super::LoadCheck;
use crate::ml::core::{ModelError, Task};

/// Class probabilities of one row into `p`: each of the `k` neighbours adds 1/k to its class.
pub(super) fn proba_row(k: usize, tx: &[f64], y: &[f64], nf: usize, row: &[f64], p: &mut [f64]) {
    for &i in &nearest(tx, nf, row, k) {
        p[y[i] as usize] += 1.0 / k as f64;
    }
}

/// The predicted value of one row: the mean of the `k` neighbours' targets.
pub(super) fn value_row(k: usize, tx: &[f64], y: &[f64], nf: usize, row: &[f64]) -> f64 {
    nearest(tx, nf, row, k).iter().map(|&i| y[i]).sum::<f64>() / k as f64
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
