//! Reproducible train/test splits. Without stratification the split is exactly scikit-learn's
//! `train_test_split(test_size=t, random_state=seed)`: numpy's MT19937 `RandomState(seed).permutation(n)`,
//! the first `ceil(t*n)` indices for test, the rest for training — so mlx and scikit-learn fit and score on
//! the very same rows.

/// numpy's legacy `RandomState` generator (MT19937 seeded with `init_genrand`).
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            state[i] = 1_812_433_253u32
                .wrapping_mul(state[i - 1] ^ (state[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[i] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn next_u64(&mut self) -> u64 {
        ((self.next_u32() as u64) << 32) | self.next_u32() as u64
    }

    /// numpy's `random_interval`: uniform in `0..=max` by masked rejection.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        loop {
            let v = if max <= 0xffff_ffff {
                (self.next_u32() as u64) & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// Train and test row indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// scikit-learn's `train_test_split` indices for `n` rows.
pub fn train_test_split(n: usize, test_size: f64, seed: u64) -> Split {
    let n_test = (test_size * n as f64).ceil() as usize;
    let perm = Mt19937::new(seed as u32).permutation(n);
    Split {
        test: perm[..n_test].to_vec(),
        train: perm[n_test..].to_vec(),
    }
}

/// A stratified split: each class contributes `ceil(test_size * class_count)` rows to test (classes shuffled
/// independently with the same seeded generator), so class proportions match in both parts.
pub fn stratified_split(labels: &[usize], test_size: f64, seed: u64) -> Split {
    let mut rng = Mt19937::new(seed as u32);
    let n_classes = labels.iter().max().map_or(0, |m| m + 1);
    let mut split = Split {
        train: Vec::new(),
        test: Vec::new(),
    };
    for class in 0..n_classes {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let n_test = (test_size * rows.len() as f64).round() as usize;
        let perm = rng.permutation(rows.len());
        split.test.extend(perm[..n_test].iter().map(|&i| rows[i]));
        split.train.extend(perm[n_test..].iter().map(|&i| rows[i]));
    }
    split
}

/// The fold (0..k) of each of `n` rows for K-fold cross-validation. Rows are taken in the order of numpy's
/// `RandomState(seed).permutation(n)` and dealt to folds 0, 1, ..., k-1 in turn; with `labels`, class by
/// class (classes in order, the deal continuing from one class to the next), so each fold holds every
/// class's share give or take one row.
pub fn kfold(n: usize, labels: Option<&[usize]>, k: usize, seed: u64) -> Vec<usize> {
    let perm = Mt19937::new(seed as u32).permutation(n);
    let mut fold = vec![0; n];
    match labels {
        None => {
            for (i, &r) in perm.iter().enumerate() {
                fold[r] = i % k.max(1);
            }
        }
        Some(labels) => {
            let n_classes = labels.iter().max().map_or(0, |m| m + 1);
            let mut dealt = 0;
            for class in 0..n_classes {
                for &r in perm.iter().filter(|&&r| labels[r] == class) {
                    fold[r] = dealt % k.max(1);
                    dealt += 1;
                }
            }
        }
    }
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // First outputs of init_genrand(5489), the reference implementation's default seed.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.next_u32(), 3_499_211_612);
        assert_eq!(mt.next_u32(), 581_869_302);
        assert_eq!(mt.next_u32(), 3_890_346_734);
    }

    #[test]
    fn numpy_permutation_of_ten_with_seed_42() {
        // numpy.random.RandomState(42).permutation(10)
        assert_eq!(
            Mt19937::new(42).permutation(10),
            [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]
        );
    }

    #[test]
    fn folds_deal_the_permuted_rows_class_by_class() {
        // permutation(10) with seed 42: 8, 1, 5, 0, 7, 2, 9, 4, 3, 6.
        assert_eq!(kfold(10, None, 3, 42), [0, 1, 2, 2, 1, 2, 0, 1, 0, 0]);
        let labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        let folds = kfold(10, Some(&labels), 2, 42);
        // Class 0 in permuted order: 8, 5, 7, 9, 4, 6 -> folds 0, 1, 0, 1, 0, 1; then class 1: 1, 0, 2, 3.
        assert_eq!(folds, [1, 0, 0, 1, 0, 1, 1, 0, 0, 1]);
    }

    #[test]
    fn splits_partition_the_rows() {
        let s = train_test_split(714, 0.2, 42);
        assert_eq!((s.test.len(), s.train.len()), (143, 571));
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..714).collect::<Vec<_>>());
        assert_eq!(s, train_test_split(714, 0.2, 42));
        assert_ne!(s, train_test_split(714, 0.2, 7));
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let st = stratified_split(&labels, 0.2, 1);
        assert_eq!(st.test.iter().filter(|&&i| labels[i] == 1).count(), 5);
        assert_eq!(st.test.len(), 20);
    }
}
