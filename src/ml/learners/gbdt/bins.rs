//! Binning (LightGBM's `src/io/bin.cpp`): each feature's cut points, found once on the training rows by
//! LightGBM's greedy binning (at most `max_bins` bins, at least 3 rows a bin, plus one bin for missing
//! values), and every row's bin per feature.

use super::parallel_map;

const MIN_DATA_IN_BIN: usize = 3;

/// Binned features: `cols[f][row]` is a value bin (`0..cuts[f].len() + 1`) or, for a missing value, the
/// feature's missing bin `cuts[f].len() + 1`. A row is in bin `b` when `f32(x) <= cuts[f][b]` and not in
/// bin `b - 1`, as prediction compares.
pub struct Bins {
    pub cols: Vec<Vec<u8>>,
    pub cuts: Vec<Vec<f32>>,
}

/// Cut points of one feature's values (LightGBM's greedy binning, simplified).
fn find_cuts(values: &mut Vec<f32>, max_bins: usize) -> Vec<f32> {
    values.retain(|v| !v.is_nan());
    // Equal keys are equal bits under total_cmp, so an unstable sort gives the same order.
    values.sort_unstable_by(f32::total_cmp);
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &v in values.iter() {
        match distinct.last_mut() {
            Some((last, c)) if *last == v => *c += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() < 2 {
        return Vec::new();
    }
    let n = values.len();
    let max_bins = max_bins.clamp(2, 255);
    // Values at least a bin's worth of rows get a bin of their own; the rest share bins of equal size.
    let mean = n as f64 / max_bins as f64;
    let big: Vec<bool> = distinct.iter().map(|&(_, c)| c as f64 >= mean).collect();
    let n_big = big.iter().filter(|b| **b).count();
    let rest: usize = distinct
        .iter()
        .zip(&big)
        .filter(|(_, b)| !**b)
        .map(|(d, _)| d.1)
        .sum();
    let rest_bins = max_bins.saturating_sub(n_big).max(1);
    let target = if distinct.len() <= max_bins {
        MIN_DATA_IN_BIN as f64
    } else {
        (rest as f64 / rest_bins as f64).max(MIN_DATA_IN_BIN as f64)
    };
    let mut cuts = Vec::new();
    let mut in_bin = 0usize;
    let mut seen = 0usize;
    for i in 0..distinct.len() - 1 {
        in_bin += distinct[i].1;
        seen += distinct[i].1;
        let remaining = n - seen;
        let close = big[i] || big[i + 1] || in_bin as f64 >= target;
        if close && in_bin >= MIN_DATA_IN_BIN && remaining >= MIN_DATA_IN_BIN {
            let (a, b) = (distinct[i].0, distinct[i + 1].0);
            let mid = (a as f64 + (b as f64 - a as f64) / 2.0) as f32;
            cuts.push(if mid >= a && mid < b { mid } else { a });
            in_bin = 0;
        }
    }
    if cuts.len() > max_bins - 1 {
        // Too many: keep evenly spaced ones.
        let k = cuts.len();
        cuts = (1..max_bins)
            .map(|i| cuts[i * k / max_bins])
            .collect::<Vec<f32>>();
        cuts.dedup();
    }
    cuts
}

impl Bins {
    /// Bin the row-major matrix `x` (`nf` columns) with cuts found on its own rows.
    pub fn fit(x: &[f64], nf: usize, max_bins: usize, jobs: usize) -> Bins {
        let n = x.len() / nf.max(1);
        let per_feature = |f: usize| {
            let column: Vec<f32> = (0..n).map(|r| x[r * nf + f] as f32).collect();
            let cuts = find_cuts(&mut column.clone(), max_bins);
            let col = column.iter().map(|&v| bin_of(&cuts, v)).collect();
            (col, cuts)
        };
        let done = parallel_map(nf, jobs, per_feature);
        let (cols, cuts) = done.into_iter().unzip();
        Bins { cols, cuts }
    }

    /// Value bins per feature (each feature's missing bin follows them).
    pub fn n_value_bins(&self) -> Vec<usize> {
        self.cuts.iter().map(|c| c.len() + 1).collect()
    }

    /// Bin other rows with these cuts (row-major, one `Vec` per feature).
    pub fn apply(&self, x: &[f64], nf: usize) -> Vec<Vec<u8>> {
        let n = x.len() / nf.max(1);
        (0..nf)
            .map(|f| {
                (0..n)
                    .map(|r| bin_of(&self.cuts[f], x[r * nf + f] as f32))
                    .collect()
            })
            .collect()
    }
}

fn bin_of(cuts: &[f32], v: f32) -> u8 {
    if v.is_nan() {
        (cuts.len() + 1) as u8
    } else {
        cuts.partition_point(|&c| c < v) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_separate_distinct_values_and_keep_three_rows_a_bin() {
        let mut v: Vec<f32> = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, f32::NAN].to_vec();
        assert_eq!(find_cuts(&mut v, 255), vec![1.5, 2.5]);
        let mut v: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let cuts = find_cuts(&mut v, 10);
        assert!(cuts.len() <= 9 && cuts.len() >= 8, "{cuts:?}");
        assert_eq!(bin_of(&cuts, f32::NAN) as usize, cuts.len() + 1);
        let mut v = vec![5.0f32; 10];
        assert!(find_cuts(&mut v, 255).is_empty());
    }
}
