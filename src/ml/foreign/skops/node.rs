//! The skops object tree as data: [`Node`] (one per Python object the file describes) and the
//! accessors the readers use to take attributes, numbers, texts and arrays out of it.

use super::SkopsError;
use crate::ml::foreign::npy::{self, Npy};
use serde_json::Value;

/// One object of the tree, as data.
#[derive(Debug, Clone)]
pub enum Node {
    /// A JSON value (`JsonNode`: numbers, strings, booleans, null, lists of them).
    Json(Value),
    /// An object (`ObjectNode`, or scikit-learn's `Tree` via `TreeNode`): full class name and its state
    /// (usually a [`Node::Dict`] of attributes). `args` holds a `TreeNode`'s constructor arguments.
    Object {
        class: String,
        state: Box<Node>,
        // Read by the tests only: the parsed tree mirrors the file, whether or not a reader needs a part.
        #[allow(dead_code)]
        args: Vec<Node>,
    },
    Dict(Vec<(String, Node)>),
    /// A list or a tuple.
    List(Vec<Node>),
    /// A numeric or string array (`NdArrayNode` of type `numpy`).
    Array(Npy),
    /// An object array (`NdArrayNode` of type `json`): its items.
    ObjArray(Vec<Node>),
    /// A type (`TypeNode`, `DTypeNode`): its full name.
    Type(String),
    /// A function named by the file (`FunctionNode`), one of [`super::FUNCTIONS`]: its full name.
    Function(String),
    /// A random generator's state, skipped: its class.
    Opaque(String),
    // start, stop, step: read by the tests only (see `args`).
    #[allow(dead_code)]
    Slice(Option<i64>, Option<i64>, Option<i64>),
}

impl Node {
    /// The short class name of an object (`LogisticRegression`), or what the node is.
    pub fn class_name(&self) -> &str {
        match self {
            Node::Object { class, .. } => class.rsplit('.').next().unwrap_or(class),
            Node::Json(Value::String(s)) => s,
            Node::Json(_) => "a JSON value",
            Node::Dict(_) => "dict",
            Node::List(_) => "list",
            Node::Array(_) | Node::ObjArray(_) => "ndarray",
            Node::Type(t) | Node::Function(t) | Node::Opaque(t) => t,
            Node::Slice(..) => "slice",
        }
    }

    /// An attribute of an object (or a key of a dict).
    pub fn get(&self, key: &str) -> Option<&Node> {
        let items = match self {
            Node::Object { state, .. } => match state.as_ref() {
                Node::Dict(items) => items,
                _ => return None,
            },
            Node::Dict(items) => items,
            _ => return None,
        };
        items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A required attribute.
    pub fn attr(&self, key: &str) -> Result<&Node, SkopsError> {
        self.get(key)
            .ok_or_else(|| SkopsError(format!("{} has no attribute {key}", self.class_name())))
    }

    fn what(&self, key: &str, want: &str) -> SkopsError {
        SkopsError(format!("{}.{key} is not {want}", self.class_name()))
    }

    /// A numeric attribute as a flat row-major f64 vector with its shape.
    pub fn array(&self, key: &str) -> Result<(Vec<f64>, Vec<usize>), SkopsError> {
        let node = self.attr(key)?;
        node.as_f64s()
            .ok_or_else(|| self.what(key, "a numeric array"))
            .map(|v| (v, node.shape()))
    }

    /// A number, a numeric array or a JSON list of numbers, flattened to f64.
    pub fn as_f64s(&self) -> Option<Vec<f64>> {
        match self {
            Node::Array(a) => a.to_f64().ok(),
            Node::Json(Value::Array(items)) => items.iter().map(json_f64).collect(),
            Node::Json(v) => json_f64(v).map(|x| vec![x]),
            Node::List(items) | Node::ObjArray(items) => items
                .iter()
                .map(|i| i.as_f64s().filter(|v| v.len() == 1).map(|v| v[0]))
                .collect(),
            _ => None,
        }
    }

    pub fn shape(&self) -> Vec<usize> {
        match self {
            Node::Array(a) => a.shape.clone(),
            Node::List(items) | Node::ObjArray(items) => vec![items.len()],
            Node::Json(Value::Array(items)) => vec![items.len()],
            _ => Vec::new(),
        }
    }

    /// A scalar numeric attribute.
    pub fn number(&self, key: &str) -> Result<f64, SkopsError> {
        match self.attr(key)?.as_f64s() {
            Some(v) if v.len() == 1 => Ok(v[0]),
            _ => Err(self.what(key, "a number")),
        }
    }

    /// A text attribute.
    pub fn text(&self, key: &str) -> Result<&str, SkopsError> {
        match self.attr(key)? {
            Node::Json(Value::String(s)) => Ok(s),
            _ => Err(self.what(key, "text")),
        }
    }

    /// The items of a list, tuple or object array.
    pub fn items(&self) -> Option<&[Node]> {
        match self {
            Node::List(items) | Node::ObjArray(items) => Some(items),
            _ => None,
        }
    }

    /// The node's values as JSON scalars (labels, categories): numbers, strings, booleans.
    pub fn as_values(&self) -> Option<Vec<Value>> {
        match self {
            Node::Array(a) => a
                .to_strings()
                .map(|s| s.into_iter().map(Value::from).collect())
                .ok()
                .or_else(|| {
                    let float = matches!(a.dtype, npy::Dtype::Scalar(s) if s.kind == 'f');
                    a.to_f64().ok().map(|v| {
                        v.into_iter()
                            .map(|x| {
                                if !float && x.abs() < 9e15 {
                                    Value::from(x as i64)
                                } else {
                                    Value::from(x)
                                }
                            })
                            .collect()
                    })
                }),
            Node::List(items) | Node::ObjArray(items) => items
                .iter()
                .map(|i| match i {
                    Node::Json(v) if !v.is_array() && !v.is_object() => Some(v.clone()),
                    _ => None,
                })
                .collect(),
            Node::Json(Value::Array(items)) => Some(items.clone()),
            _ => None,
        }
    }
}

/// A JSON number (or Python's `NaN`/`Infinity`, which skops keeps as text).
pub fn json_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) if s == "NaN" => Some(f64::NAN),
        Value::String(s) if s == "Infinity" => Some(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}
