//! The skops file format (MLflow 3's default for scikit-learn): a zip of `schema.json` (the object tree,
//! one node per Python object with its loader, module and class) and `.npy` arrays. This reads it as
//! data: the zip under limits (entry count, sizes, plain entry names), the tree into [`Node`]s, every class
//! checked against an explicit allow-list. Nothing is imported, constructed or executed.
//!
//! This file reads the archive and decodes the schema; `node.rs` holds the tree it gives and its accessors.

mod node;

pub use node::{Node, json_f64};

use super::npy;
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::Read;

/// Limits that stop a crafted file (a zip bomb, a million entries) from taking the machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
    /// The memory budget: `budget_base + budget_per_byte` × the archive's size. Everything the
    /// reader makes is charged to it before it is made (see [`Archive`]), so a small file cannot
    /// expand into gigabytes, whatever it declares or however often it refers to one array.
    pub budget_base: u64,
    pub budget_per_byte: u64,
}

/// Generous for real models (a 500-tree forest of deep trees is a few hundred MB), small next to memory.
/// The budget allows 64 MiB plus 128 bytes per byte of the file: real skops files (stored or deflated,
/// each array once) charged 3 to 32 per byte in our measurements (forests, boosting, kNN, pipelines,
/// LightGBM), while deflate alone can expand ~1000-fold and one array may be named any number of times.
pub const LIMITS: Limits = Limits {
    max_entries: 100_000,
    max_entry_bytes: 1 << 30,
    max_total_bytes: 2 << 30,
    budget_base: 64 << 20,
    budget_per_byte: 128,
};

/// Bytes charged per byte of `schema.json` and of a `JsonNode`'s text: a parsed JSON value takes up
/// to ~16 times its text (a 32-byte value for `0,`).
const JSON_CHARGE: u64 = 16;

/// Nesting deeper than this is refused (scikit-learn's deepest trees of objects are ~15 levels).
const MAX_DEPTH: usize = 64;

/// Classes that may appear in the object tree: estimators and transformers mlx predicts with, and the
/// helper objects scikit-learn stores inside them (a fitted kNN's search tree, its distance metric, the
/// identity `FunctionTransformer` a `ColumnTransformer` uses for `passthrough`). Anything else is refused
/// by name before any of it is used.
pub const ALLOWED: &[&str] = &[
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.naive_bayes.GaussianNB",
    // Gradient boosting: the estimators, their default init estimators, the histogram model's trees
    // and binning, and the loss objects of the losses mlx predicts with (their link names the output).
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.AbsoluteError",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss.loss.HuberLoss",
    "sklearn._loss.loss.HalfPoissonLoss",
    "sklearn._loss.loss.HalfGammaLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyAbsoluteError",
    "sklearn._loss._loss.CyPinballLoss",
    "sklearn._loss._loss.CyHuberLoss",
    "sklearn._loss._loss.CyHalfPoissonLoss",
    "sklearn._loss._loss.CyHalfGammaLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyExponentialLoss",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.HalfLogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    // LightGBM's scikit-learn wrappers (MLflow's lightgbm flavor): the booster is kept as model text.
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.basic.Booster",
    "sklearn.preprocessing._label.LabelEncoder",
];

/// Type objects (`TypeNode`, `DTypeNode`) name a type and are never instantiated; these modules only
/// (a `DTypeNode` is always `numpy.dtype`), and from `builtins` only the types in [`BUILTIN_TYPES`]
/// (so not `builtins.eval` or `builtins.exec`, which are functions).
const TYPE_MODULES: &[&str] = &["builtins", "numpy"];

/// The `builtins` a `TypeNode` may name.
const BUILTIN_TYPES: &[&str] = &[
    "bool",
    "int",
    "float",
    "complex",
    "str",
    "bytes",
    "object",
    "list",
    "tuple",
    "dict",
    "set",
    "frozenset",
    "type",
    "NoneType",
];

/// Random generators a fitted estimator keeps (gradient boosting's trees and sampler): their state is
/// skipped, never read, as no prediction uses it.
const RANDOM_STATES: &[&str] = &[
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
];

/// Functions a file may name (`FunctionNode`, inside a `functools.partial`), never called: the input
/// check of the `FunctionTransformer` a `HistGradientBoosting*` with categorical features puts in front
/// of its numeric columns.
const FUNCTIONS: &[&str] = &["sklearn.utils.validation.check_array"];

#[derive(Debug, Clone, PartialEq)]
pub struct SkopsError(pub String);

impl std::fmt::Display for SkopsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(why: impl Into<String>) -> Result<T, SkopsError> {
    Err(SkopsError(why.into()))
}

/// The zip's entries by name, read under [`Limits`]. `budget` is what may still be made from them:
/// unpacking an entry, parsing the schema or a JSON value, and each reference to an array (its copy
/// and the numbers or strings it may be turned into, see [`npy::Header::expansion`]) are charged to it first.
pub struct Archive {
    entries: HashMap<String, Vec<u8>>,
    budget: Cell<u64>,
    limits: Limits,
    /// The archive's size in bytes, which the budget was computed from.
    size: usize,
}

/// The error for a file that would take more memory than its budget.
fn over(limits: &Limits, size: usize, what: String) -> SkopsError {
    SkopsError(format!(
        "{what}: reading this {size}-byte file would take more than its memory budget of {} bytes ({} MiB + {} per byte of the file); refused as a crafted file",
        budget(limits, size),
        limits.budget_base >> 20,
        limits.budget_per_byte,
    ))
}

/// The memory budget of a file of `size` bytes.
fn budget(limits: &Limits, size: usize) -> u64 {
    limits
        .budget_base
        .saturating_add(limits.budget_per_byte.saturating_mul(size as u64))
}

/// An entry name skops writes: `schema.json` or `<digits>.npy`. Anything with a path in it is refused,
/// though nothing is ever written to disk from it.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.')
}

impl Archive {
    pub fn read(bytes: &[u8], limits: Limits) -> Result<Archive, SkopsError> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
            .map_err(|e| SkopsError(format!("not a zip file: {e}")))?;
        if zip.len() > limits.max_entries {
            return err(format!(
                "{} entries (at most {})",
                zip.len(),
                limits.max_entries
            ));
        }
        let budget = Cell::new(budget(&limits, bytes.len()));
        let mut entries = HashMap::new();
        let mut total = 0u64;
        for i in 0..zip.len() {
            let entry = zip
                .by_index(i)
                .map_err(|e| SkopsError(format!("entry {i}: {e}")))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if !plain_name(&name) {
                return err(format!(
                    "entry name {:?} is not a plain file name",
                    crate::redact::brief(&name)
                ));
            }
            if entry.size() > limits.max_entry_bytes {
                return err(format!(
                    "entry {name} unpacks to {} bytes (at most {})",
                    entry.size(),
                    limits.max_entry_bytes
                ));
            }
            // The declared size may lie: read at most one byte past the limit and check what came out.
            let cap = limits
                .max_entry_bytes
                .min(limits.max_total_bytes.saturating_sub(total));
            let over_budget = cap > budget.get();
            let cap = cap.min(budget.get());
            if over_budget && entry.size() > cap {
                return Err(over(&limits, bytes.len(), format!("entry {name}")));
            }
            // One byte spare, so that reading the byte past the cap does not grow the vector.
            let mut data = Vec::with_capacity(entry.size().min(cap).saturating_add(1) as usize);
            entry
                .take(cap.saturating_add(1))
                .read_to_end(&mut data)
                .map_err(|e| SkopsError(format!("entry {name}: {e}")))?;
            if data.len() as u64 > cap && over_budget {
                return Err(over(&limits, bytes.len(), format!("entry {name}")));
            }
            if data.len() as u64 > cap {
                return err(format!(
                    "entry {name} unpacks to more than {cap} bytes (the archive may hold at most {} in all)",
                    limits.max_total_bytes
                ));
            }
            total += data.len() as u64;
            budget.set(budget.get() - data.len() as u64);
            if entries.insert(name.clone(), data).is_some() {
                return err(format!("entry {name} appears twice"));
            }
        }
        Ok(Archive {
            entries,
            budget,
            limits,
            size: bytes.len(),
        })
    }

    /// Charges `bytes` to the budget before they are made, or the error naming what went over it.
    fn charge(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<(), SkopsError> {
        match self.budget.get().checked_sub(bytes) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(over(&self.limits, self.size, what())),
        }
    }

    fn entry(&self, name: &str) -> Result<&[u8], SkopsError> {
        self.entries
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| SkopsError(format!("no entry {name:?} in the archive")))
    }

    /// The object tree of `schema.json`, checked against the allow-list.
    pub fn tree(&self) -> Result<Node, SkopsError> {
        let text = self.entry("schema.json")?;
        self.charge((text.len() as u64).saturating_mul(JSON_CHARGE), || {
            "schema.json".into()
        })?;
        let schema: Value =
            serde_json::from_slice(text).map_err(|e| SkopsError(format!("schema.json: {e}")))?;
        let protocol = schema.get("protocol").and_then(Value::as_i64);
        if protocol.is_some_and(|p| !(1..=2).contains(&p)) {
            return err(format!(
                "schema.json: skops protocol {} (mlx reads 1 and 2)",
                protocol.unwrap_or(0)
            ));
        }
        self.node(&schema, 0)
    }

    fn node(&self, v: &Value, depth: usize) -> Result<Node, SkopsError> {
        if depth > MAX_DEPTH {
            return err(format!("schema.json: nested deeper than {MAX_DEPTH}"));
        }
        let Some(obj) = v.as_object() else {
            return err("schema.json: a node is not an object");
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
        let (loader, module, class) = (text("__loader__"), text("__module__"), text("__class__"));
        let full = format!("{module}.{class}");
        let content = obj.get("content");
        let child = |v: Option<&Value>| -> Result<Node, SkopsError> {
            self.node(
                v.ok_or_else(|| SkopsError(format!("schema.json: {full} has no content")))?,
                depth + 1,
            )
        };
        let children = |v: Option<&Value>| -> Result<Vec<Node>, SkopsError> {
            match v {
                Some(Value::Array(items)) => {
                    items.iter().map(|i| self.node(i, depth + 1)).collect()
                }
                _ => err(format!("schema.json: {full} has no list of items")),
            }
        };
        match loader {
            "JsonNode" => {
                let s = content.and_then(Value::as_str).unwrap_or("null");
                self.charge((s.len() as u64).saturating_mul(JSON_CHARGE), || {
                    format!("schema.json: a JSON value in {full}")
                })?;
                // Python's json.dumps writes NaN and Infinity, which strict JSON parsers refuse.
                let parsed = match s {
                    "NaN" => Value::String("NaN".into()),
                    "Infinity" | "-Infinity" => Value::String(s.into()),
                    _ => serde_json::from_str(s)
                        .map_err(|e| SkopsError(format!("schema.json: bad JSON value: {e}")))?,
                };
                Ok(Node::Json(parsed))
            }
            "DictNode" => {
                if full != "builtins.dict" && full != "collections.OrderedDict" {
                    return err(format!("unsupported class {full} (as a dict)"));
                }
                match content {
                    Some(Value::Object(m)) => Ok(Node::Dict(
                        m.iter()
                            .map(|(k, v)| Ok((k.clone(), self.node(v, depth + 1)?)))
                            .collect::<Result<_, SkopsError>>()?,
                    )),
                    _ => err("schema.json: a dict without content"),
                }
            }
            // LightGBM keeps its evaluation results in defaultdicts: read as the plain dict they hold
            // (the default factory is a type name, never called).
            "DefaultDictNode" => {
                if full != "collections.defaultdict" {
                    return err(format!("unsupported class {full} (as a defaultdict)"));
                }
                child(content.and_then(|c| c.get("main")))
            }
            "ListNode" | "TupleNode" => {
                if full != "builtins.list" && full != "builtins.tuple" {
                    return err(format!("unsupported class {full} (as a list)"));
                }
                Ok(Node::List(children(content)?))
            }
            "NdArrayNode" => {
                if module != "numpy" {
                    return err(format!("unsupported class {full} (as an array)"));
                }
                match text("type") {
                    "numpy" => self.npy_array(text("file")),
                    "json" => Ok(Node::ObjArray(children(content)?)),
                    t => err(format!("schema.json: array of unknown type {t:?}")),
                }
            }
            "TypeNode" | "DTypeNode" => Self::type_name(loader, module, class),
            "FunctionNode" | "PartialNode" | "RandomStateNode" | "RandomGeneratorNode" => {
                self.reference(loader, full, content, depth)
            }
            "SliceNode" => Ok(slice(content)),
            // `LossNode`: scikit-learn's Cython loss objects, stored as an object with no state.
            "ObjectNode" | "TreeNode" | "LossNode" => {
                if !ALLOWED.contains(&full.as_str()) {
                    return err(format!(
                        "unsupported class {full}: mlx rebuilds only the scikit-learn classes it knows"
                    ));
                }
                let state = match content {
                    Some(c) => self.node(c, depth + 1)?,
                    None => Node::Dict(Vec::new()),
                };
                let args = match obj.get("__reduce__").and_then(|r| r.get("args")) {
                    Some(a) => match self.node(a, depth + 1)? {
                        Node::List(items) => items,
                        _ => return err(format!("schema.json: {full}: bad constructor arguments")),
                    },
                    None => Vec::new(),
                };
                Ok(Node::Object {
                    class: full,
                    state: Box::new(state),
                    args,
                })
            }
            other => err(format!(
                "unsupported skops node {other:?} (class {full}): mlx reads plain data only"
            )),
        }
    }

    /// The array in entry `file`, charged to the budget per reference (a file may name one array many
    /// times) before it is copied.
    fn npy_array(&self, file: &str) -> Result<Node, SkopsError> {
        let bytes = self.entry(file)?;
        let header = npy::header(bytes).map_err(|e| SkopsError(format!("{file}: {e}")))?;
        self.charge(header.expansion(), || format!("schema.json: array {file}"))?;
        let a = npy::parse(bytes).map_err(|e| SkopsError(format!("{file}: {e}")))?;
        Ok(Node::Array(a))
    }

    /// A type (`TypeNode`, `DTypeNode`): a name, never instantiated, from [`TYPE_MODULES`] only.
    fn type_name(loader: &str, module: &str, class: &str) -> Result<Node, SkopsError> {
        let allowed = TYPE_MODULES.contains(&module)
            && (module != "builtins" || BUILTIN_TYPES.contains(&class))
            && (loader == "TypeNode" || module == "numpy");
        if !allowed {
            return err(format!(
                "unsupported type {module}.{class} (as a {loader}): mlx reads builtin and numpy types only"
            ));
        }
        Ok(Node::Type(format!("{module}.{class}")))
    }

    /// A function, a `functools.partial` of one, or a random generator: names, never called.
    fn reference(
        &self,
        loader: &str,
        full: String,
        content: Option<&Value>,
        depth: usize,
    ) -> Result<Node, SkopsError> {
        let child = |v: Option<&Value>| -> Result<Node, SkopsError> {
            self.node(
                v.ok_or_else(|| SkopsError(format!("schema.json: {full} has no content")))?,
                depth + 1,
            )
        };
        match loader {
            "FunctionNode" => {
                if !FUNCTIONS.contains(&full.as_str()) {
                    return err(format!(
                        "unsupported skops node \"FunctionNode\" (class {full}): mlx reads plain data only"
                    ));
                }
                Ok(Node::Function(full))
            }
            // functools.partial(func, *args, **kwds): read as an object whose state holds them.
            "PartialNode" => {
                if full != "functools.partial" {
                    return err(format!("unsupported class {full} (as a partial)"));
                }
                let part = |k: &str| -> Result<(String, Node), SkopsError> {
                    Ok((k.to_string(), child(content.and_then(|c| c.get(k)))?))
                };
                Ok(Node::Object {
                    class: full.clone(),
                    state: Box::new(Node::Dict(vec![
                        part("func")?,
                        part("args")?,
                        part("kwds")?,
                    ])),
                    args: Vec::new(),
                })
            }
            _ => {
                if !RANDOM_STATES.contains(&full.as_str()) {
                    return err(format!("unsupported class {full} (as a random generator)"));
                }
                Ok(Node::Opaque(full))
            }
        }
    }
}

/// A `slice(start, stop, step)` (`SliceNode`).
fn slice(content: Option<&Value>) -> Node {
    let part = |k: &str| content.and_then(|c| c.get(k)).and_then(Value::as_i64);
    Node::Slice(part("start"), part("stop"), part("step"))
}

/// Read a skops file's object tree.
pub fn read(bytes: &[u8]) -> Result<Node, SkopsError> {
    Archive::read(bytes, LIMITS)?.tree()
}

#[cfg(test)]
mod tests;
