//! The hyperparameter flags of `mlx train` (`--n-estimators` ... `--jobs`), flattened into `TrainArgs`:
//! built from every learner's `PARAMS` in `ml::learners::LEARNERS` (one flag per param name, its help, its
//! default — or, where learners differ, each one's default said in the help), and `--model`'s values from
//! the same registry. Nothing here is per parameter.

use crate::ml::core::params::{Kind, ParamSpec, Params, Value};
use crate::ml::learners::{self, LEARNERS, ModelKind};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use std::collections::BTreeMap;

/// The hyperparameter values given on the command line (or clap's defaults where every learner agrees).
#[derive(Debug, Clone, Default)]
pub struct HyperArgs {
    pub values: BTreeMap<&'static str, Value>,
}

impl HyperArgs {
    /// The hyperparameters as `ml::train` takes them, seeded with `seed` (the chosen learner's defaults
    /// fill in what was not given).
    pub fn params(&self, seed: u64) -> Params {
        Params {
            values: self.values.clone(),
            seed,
        }
    }
}

/// The clap id of a param's flag: the flag itself.
fn id(spec: &ParamSpec) -> &'static str {
    spec.flag
}

/// clap (without its `string` feature) takes `'static` text: the few built here (value names, defaults)
/// are made once per process, when the command is built.
fn text(s: String) -> &'static str {
    s.leak()
}

/// The one default every learner taking the param agrees on, if they do.
fn shared_default(users: &[(&'static str, Value)]) -> Option<Value> {
    let first = users.first()?.1;
    users.iter().all(|(_, d)| *d == first).then_some(first)
}

/// `[default: 20 for gradient-boosting, else 1]`: each learner's default where they differ (the most
/// common one as "else").
fn defaults_note(users: &[(&'static str, Value)]) -> String {
    let text = |v: Value| v.argument().unwrap_or_else(|| "none".into());
    let common = users
        .iter()
        .max_by_key(|(_, d)| users.iter().filter(|(_, o)| o == d).count())
        .map(|(_, d)| *d);
    let mut parts: Vec<String> = users
        .iter()
        .filter(|(_, d)| Some(*d) != common)
        .map(|(name, d)| format!("{} for {name}", text(*d)))
        .collect();
    parts.extend(common.map(|d| format!("else {}", text(d))));
    format!("[default: {}]", parts.join(", "))
}

/// The flag of one param (`users`: the learners that take it, with their defaults).
fn flag(spec: &ParamSpec, users: &[(&'static str, Value)]) -> Arg {
    let id = id(spec);
    let mut arg = Arg::new(id)
        .long(spec.flag)
        .value_name(
            spec.value_name
                .unwrap_or_else(|| text(id.replace('-', "_").to_uppercase())),
        )
        .action(clap::ArgAction::Set)
        .required(false);
    let default = shared_default(users).filter(|_| !learners::is_optional(spec.kind));
    arg = match (default, spec.help) {
        (None, help) if !learners::is_optional(spec.kind) => {
            let note = defaults_note(users);
            arg.help(if help.is_empty() {
                note
            } else {
                format!("{help} {note}")
            })
        }
        (_, "") => arg,
        (_, help) => arg.help(help),
    };
    if let Some(d) = default.and_then(Value::argument) {
        arg = arg.default_value(text(d));
    }
    match spec.kind {
        Kind::Count { .. } | Kind::OptCount { .. } | Kind::Threads => {
            arg.value_parser(clap::value_parser!(usize))
        }
        Kind::Positive | Kind::NonNegative => arg.value_parser(clap::value_parser!(f64)),
        Kind::OptChoice { values, .. } => {
            let names = values();
            arg.value_parser(PossibleValuesParser::new(names.into_iter().map(
                |(name, help)| match help {
                    "" => PossibleValue::new(name),
                    help => PossibleValue::new(name).help(help),
                },
            )))
        }
    }
}

impl Args for HyperArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for (spec, users) in learners::all_params() {
            cmd = cmd.arg(flag(&spec, &users));
        }
        cmd
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for HyperArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut values = BTreeMap::new();
        for (spec, _) in learners::all_params() {
            let id = id(&spec);
            let value = match spec.kind {
                Kind::Count { .. } | Kind::Threads => {
                    m.get_one::<usize>(id).map(|n| Value::Count(*n))
                }
                Kind::OptCount { .. } => m.get_one::<usize>(id).map(|n| Value::OptCount(Some(*n))),
                Kind::Positive | Kind::NonNegative => {
                    m.get_one::<f64>(id).map(|x| Value::Number(*x))
                }
                Kind::OptChoice { values, .. } => m.get_one::<String>(id).map(|given| {
                    Value::Name(values().into_iter().map(|(n, _)| n).find(|n| n == given))
                }),
            };
            if let Some(v) = value {
                let v = match (spec.kind, v) {
                    // --jobs 0 means one thread.
                    (Kind::Threads, Value::Count(n)) => Value::Count(n.max(1)),
                    (_, v) => v,
                };
                values.insert(spec.name, v);
            }
        }
        Ok(HyperArgs { values })
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// `--model`: the registry's learners by name.
pub fn model_parser() -> impl TypedValueParser<Value = ModelKind> {
    PossibleValuesParser::new(LEARNERS.iter().map(|l| PossibleValue::new(l.name())))
        .map(|name| ModelKind::from_name(&name).expect("clap checked the name"))
}
