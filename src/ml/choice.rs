//! The named choices of training (`--task`, `--loss`, `--encoding`, `--na`; `--model` is the learner registry's) as plain data, free of any
//! argument parser: each lists its values and their names, so the CLI builds its flags from them and
//! `serve`'s retrain checks recorded params against the same lists.

use super::core::Choice;
use super::data::preprocess::{Encoding, NaPolicy};
use super::forms::boosted::Objective;

/// `--loss`: what gradient boosting minimises for regression (classification boosts log loss).
impl Choice for Objective {
    const ALL: &'static [Self] = &[
        Objective::SquaredError,
        Objective::AbsoluteError,
        Objective::Huber,
    ];
    fn name(self) -> &'static str {
        match self {
            Objective::SquaredError => "squared_error",
            Objective::AbsoluteError => "absolute_error",
            Objective::Huber => "huber",
            Objective::Binary => "log_loss",
            Objective::Multiclass => "softmax",
        }
    }
    fn help(self) -> &'static str {
        match self {
            Objective::AbsoluteError => "Leaves refit to the median residual",
            Objective::Huber => "Squared within --huber-delta, absolute beyond (LightGBM's huber)",
            _ => "",
        }
    }
}

impl Choice for Encoding {
    const ALL: &'static [Self] = &[Encoding::Onehot, Encoding::Ordinal];
    fn name(self) -> &'static str {
        match self {
            Encoding::Onehot => "onehot",
            Encoding::Ordinal => "ordinal",
        }
    }
    fn help(self) -> &'static str {
        match self {
            Encoding::Onehot => {
                "One column per category; unknown categories at predict time encode as all zeros"
            }
            Encoding::Ordinal => {
                "One column of category indices; unknown categories at predict time are an error"
            }
        }
    }
}

impl Choice for NaPolicy {
    const ALL: &'static [Self] = &[
        NaPolicy::Drop,
        NaPolicy::Mean,
        NaPolicy::Median,
        NaPolicy::Zero,
        NaPolicy::Keep,
    ];
    fn name(self) -> &'static str {
        match self {
            NaPolicy::Drop => "drop",
            NaPolicy::Mean => "mean",
            NaPolicy::Median => "median",
            NaPolicy::Zero => "zero",
            NaPolicy::Keep => "keep",
        }
    }
    fn help(self) -> &'static str {
        match self {
            NaPolicy::Drop => {
                "Drop training rows with a missing value; at predict time a missing value is an error"
            }
            NaPolicy::Keep => {
                "Keep missing values as missing (gradient boosting only, which learns where they go)"
            }
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::core::Task;

    /// Names are what serde writes too (model.json, recorded params), so both agree.
    #[test]
    fn names_match_serde_and_round_trip() {
        fn check<T: Choice + serde::Serialize>() {
            for v in T::ALL {
                assert_eq!(serde_json::to_value(v).unwrap(), v.name());
                assert!(T::from_name(v.name()) == Some(*v));
            }
        }
        check::<Task>();
        check::<Encoding>();
        check::<NaPolicy>();
    }
}
