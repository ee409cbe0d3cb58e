//! A run query's syntax tree: MLflow's filter grammar (plus mlx's OR, NOT, parentheses, IS NULL and IN)
//! and ORDER BY clauses, as `search::parse_filter` builds them. It lives here, below `search/`, so a store
//! that answers a whole query itself (the SQLite store, in one SQL statement) can take it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub kind: KeyKind,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: Key,
    pub op: Op,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Comparison),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub key: Key,
    pub ascending: bool,
}
