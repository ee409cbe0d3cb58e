//! Hyperparameters as data: a [`ParamSpec`] declares one (the name a run records — scikit-learn's — its
//! `mlx train` flag, its kind, default, the bound a value read back from a store must keep, and its help),
//! and [`Params`] holds typed values by name. Each learner lists its specs once (`PARAMS`); the CLI flags,
//! the recorded params, `serve`'s retrain parsing and `mlx train --help` all come from those lists.

use super::task::Task;
use std::collections::BTreeMap;

/// What kind of value a hyperparameter takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A whole number, at most `max` when read back from a store.
    Count { max: usize },
    /// A whole number or none (recorded as `None`), at most `max` when read back.
    OptCount { max: usize },
    /// A finite number above 0.
    Positive,
    /// A finite number of at least 0.
    NonNegative,
    /// One of a closed set of names, or none. `values` gives each name and its help; recorded names in
    /// `also_none` (what another task records under the same key) read back as none.
    OptChoice {
        values: fn() -> Vec<(&'static str, &'static str)>,
        also_none: &'static [&'static str],
    },
    /// Threads: the flag defaults to every core; a value read back from a store is clamped to this
    /// machine's cores.
    Threads,
}

/// A typed hyperparameter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Count(usize),
    OptCount(Option<usize>),
    Number(f64),
    Name(Option<&'static str>),
}

/// One hyperparameter of a learner.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The param a run records (scikit-learn's name, e.g. `n_estimators`, `C`).
    pub name: &'static str,
    /// The `mlx train` flag without its dashes (e.g. `n-estimators`, `c`).
    pub flag: &'static str,
    pub kind: Kind,
    /// The learner's default (ignored for [`Kind::Threads`]).
    pub default: Value,
    /// The flag's value name in help [default: the flag in capitals].
    pub value_name: Option<&'static str>,
    /// Only for this task (a value given for another task is refused before training).
    pub task: Option<Task>,
    pub help: &'static str,
}

impl ParamSpec {
    /// A spec with no value name or task of its own.
    pub const fn new(
        name: &'static str,
        flag: &'static str,
        kind: Kind,
        default: Value,
        help: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            flag,
            kind,
            default,
            value_name: None,
            task: None,
            help,
        }
    }

    /// Read a recorded value back (a store is not trusted): the kind's rule and bound, or why not.
    pub fn parse_recorded(&self, text: &str) -> Result<Value, String> {
        let count = |max: usize| match text.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(format!("larger than {max}")),
            Err(_) => Err("not a whole number".to_string()),
        };
        match self.kind {
            Kind::Count { max } => count(max).map(Value::Count),
            Kind::OptCount { .. } if text == "None" => Ok(Value::OptCount(None)),
            Kind::OptCount { max } => count(max).map(|n| Value::OptCount(Some(n))),
            Kind::Threads => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                // The server's cores, not the recording machine's.
                count(usize::MAX).map(|n| Value::Count(n.clamp(1, cores)))
            }
            Kind::Positive => match text.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => Ok(Value::Number(x)),
                _ => Err("not a positive number".into()),
            },
            Kind::NonNegative => match text.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(Value::Number(x)),
                _ => Err("not a number of at least 0".into()),
            },
            Kind::OptChoice { values, also_none } => {
                if also_none.contains(&text) {
                    return Ok(Value::Name(None));
                }
                let values = values();
                match values.iter().find(|(name, _)| *name == text) {
                    Some((name, _)) => Ok(Value::Name(Some(name))),
                    None => {
                        let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
                        Err(format!("not one of {}", names.join(", ")))
                    }
                }
            }
        }
    }
}

impl Value {
    /// As a run records it: numbers as MLflow's Python client writes them, none as `None`.
    pub fn recorded(self) -> String {
        match self {
            Value::Count(n) | Value::OptCount(Some(n)) => n.to_string(),
            Value::OptCount(None) | Value::Name(None) => "None".into(),
            Value::Number(x) => crate::store::metric_file::format_value(x),
            Value::Name(Some(name)) => name.into(),
        }
    }

    /// As an `mlx train` argument (None: the flag is left out).
    pub fn argument(self) -> Option<String> {
        match self {
            Value::Count(n) | Value::OptCount(Some(n)) => Some(n.to_string()),
            Value::Number(x) => Some(x.to_string()),
            Value::Name(Some(name)) => Some(name.into()),
            Value::OptCount(None) | Value::Name(None) => None,
        }
    }
}

/// Hyperparameter values by recorded name, and the seed.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub values: BTreeMap<&'static str, Value>,
    pub seed: u64,
}

impl Params {
    /// These values, with every spec in `specs` that has none filled with its default.
    pub fn with_defaults(&self, specs: &[ParamSpec]) -> Params {
        let mut out = self.clone();
        for spec in specs {
            let default = match spec.kind {
                Kind::Threads => {
                    Value::Count(std::thread::available_parallelism().map_or(1, |n| n.get()))
                }
                _ => spec.default,
            };
            out.values.entry(spec.name).or_insert(default);
        }
        out
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        self.values.get(name).copied()
    }

    /// A whole number (a count, or threads).
    pub fn count(&self, name: &str) -> usize {
        match self.get(name) {
            Some(Value::Count(n)) => n,
            other => panic!("param {name} is not a whole number: {other:?}"),
        }
    }

    pub fn opt_count(&self, name: &str) -> Option<usize> {
        match self.get(name) {
            Some(Value::OptCount(n)) => n,
            other => panic!("param {name} is not an optional whole number: {other:?}"),
        }
    }

    pub fn number(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(Value::Number(x)) => x,
            other => panic!("param {name} is not a number: {other:?}"),
        }
    }

    /// The chosen name, if any (none when the param is not set at all).
    pub fn name(&self, name: &str) -> Option<&'static str> {
        match self.get(name) {
            Some(Value::Name(n)) => n,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_read_back_with_bounds() {
        let s = ParamSpec::new("n", "n", Kind::Count { max: 10 }, Value::Count(1), "");
        assert_eq!(s.parse_recorded("7"), Ok(Value::Count(7)));
        assert_eq!(s.parse_recorded("11").unwrap_err(), "larger than 10");
        assert_eq!(s.parse_recorded("x").unwrap_err(), "not a whole number");
        let p = ParamSpec::new("c", "c", Kind::Positive, Value::Number(1.0), "");
        assert!(p.parse_recorded("NaN").is_err() && p.parse_recorded("0").is_err());
        let d = ParamSpec::new(
            "d",
            "d",
            Kind::OptCount { max: 5 },
            Value::OptCount(None),
            "",
        );
        assert_eq!(d.parse_recorded("None"), Ok(Value::OptCount(None)));
        assert_eq!(Value::OptCount(None).recorded(), "None");
        assert_eq!(Value::Number(0.1).recorded(), "0.1");
    }
}
