//! A closed set of named values (`--model`, `--task`, `--loss`, ...): each lists its values and their names,
//! so the CLI builds its flags from them and a run's recorded params are checked against the same lists.

/// A closed set of values with a name each (what `--flag NAME` takes and a run records).
pub trait Choice: Copy + PartialEq + Send + Sync + 'static {
    /// Every value a user may name, in the order help lists them.
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
    /// A line for help, if the name alone does not say it.
    fn help(self) -> &'static str {
        ""
    }
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
    /// `a, b or c`, for errors.
    fn names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
        names.join(", ")
    }
}
