//! Lexer and recursive-descent parser for search filters and ORDER BY clauses. Every error carries the
//! 1-based column of the offending token so the CLI can point at it with a caret.

use std::fmt;

pub use crate::store::query::{Comparison, Expr, Key, KeyKind, Op, OrderBy, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    /// 1-based character column in the input.
    pub column: usize,
    pub input: String,
}

impl ParseError {
    /// The input with a caret under the error.
    pub fn pointer(&self) -> String {
        format!(
            "  {}\n  {}^",
            self.input,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (column {})", self.message, self.column)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier: entity type and key, as written.
    Ident {
        entity: Option<String>,
        key: String,
    },
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
    In,
    Like,
    ILike,
    Is,
    Null,
    Asc,
    Desc,
    End,
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    input: &'a str,
}

impl Lexer<'_> {
    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            column: at + 1,
            input: self.input.to_string(),
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.chars.get(self.pos) {
                None => {
                    return Err(self.err(start, format!("unterminated {quote}...{quote} string")));
                }
                Some(&c) if c == quote => {
                    // A doubled quote inside is one quote character (SQL style).
                    if self.chars.get(self.pos + 1) == Some(&quote) {
                        s.push(quote);
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(s);
                    }
                }
                Some(&c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A number: digits with an optional sign, decimal point and exponent.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        self.pos += 1;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == 'E')
            || (matches!(self.chars.get(self.pos), Some('-') | Some('+'))
                && matches!(self.chars.get(self.pos - 1), Some('e') | Some('E')))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Ok(Tok::Num(text.parse().map_err(|_| {
            self.err(start, format!("'{text}' is not a number"))
        })?))
    }

    /// A keyword, a bare name, or `entity.key` (the key quoted, or bare with dots: `metrics.eval.auc`).
    fn word_or_name(&mut self) -> Result<Tok, ParseError> {
        let word = self.word();
        if self.chars.get(self.pos) != Some(&'.') {
            return Ok(keyword_or_name(word));
        }
        self.pos += 1;
        let key = match self.chars.get(self.pos) {
            Some('`') => self.quoted('`')?,
            Some('"') => self.quoted('"')?,
            Some('\'') => self.quoted('\'')?,
            Some(c) if c.is_alphanumeric() || *c == '_' => {
                // Unquoted keys may contain dots: metrics.eval.auc
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                {
                    self.pos += 1;
                }
                self.chars[start..self.pos].iter().collect()
            }
            _ => {
                return Err(self.err(
                    self.pos,
                    format!("expected a key after '{word}.' (quote keys with special characters in backticks)"),
                ));
            }
        };
        Ok(Tok::Ident {
            entity: Some(word),
            key,
        })
    }

    fn tokens(mut self) -> Result<Vec<(Tok, usize)>, ParseError> {
        let mut out = Vec::new();
        loop {
            while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
                self.pos += 1;
            }
            let at = self.pos;
            let Some(&c) = self.chars.get(self.pos) else {
                out.push((Tok::End, at));
                return Ok(out);
            };
            let next = self.chars.get(self.pos + 1).copied();
            let tok = match c {
                '(' => {
                    self.pos += 1;
                    Tok::LParen
                }
                ')' => {
                    self.pos += 1;
                    Tok::RParen
                }
                ',' => {
                    self.pos += 1;
                    Tok::Comma
                }
                '=' => {
                    self.pos += if next == Some('=') { 2 } else { 1 };
                    Tok::Op(Op::Eq)
                }
                '!' if next == Some('=') => {
                    self.pos += 2;
                    Tok::Op(Op::Ne)
                }
                '<' if next == Some('>') => {
                    self.pos += 2;
                    Tok::Op(Op::Ne)
                }
                '<' | '>' => {
                    let eq = next == Some('=');
                    self.pos += if eq { 2 } else { 1 };
                    Tok::Op(match (c, eq) {
                        ('<', false) => Op::Lt,
                        ('<', true) => Op::Le,
                        ('>', false) => Op::Gt,
                        _ => Op::Ge,
                    })
                }
                '\'' => Tok::Str(self.quoted('\'')?),
                '"' => Tok::Str(self.quoted('"')?),
                '`' => {
                    let key = self.quoted('`')?;
                    Tok::Ident { entity: None, key }
                }
                c if c.is_ascii_digit()
                    || ((c == '-' || c == '+' || c == '.')
                        && next.is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
                {
                    self.number()?
                }
                c if c.is_alphabetic() || c == '_' => self.word_or_name()?,
                other => return Err(self.err(at, format!("unexpected character '{other}'"))),
            };
            out.push((tok, at));
        }
    }
}

/// The keyword `word` spells (in any case), or else a bare name.
fn keyword_or_name(word: String) -> Tok {
    match word.to_ascii_uppercase().as_str() {
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "NOT" => Tok::Not,
        "IN" => Tok::In,
        "LIKE" => Tok::Like,
        "ILIKE" => Tok::ILike,
        "IS" => Tok::Is,
        "NULL" => Tok::Null,
        "ASC" => Tok::Asc,
        "DESC" => Tok::Desc,
        _ => Tok::Ident {
            entity: None,
            key: word,
        },
    }
}

fn lex(input: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    Lexer {
        chars: input.chars().collect(),
        pos: 0,
        input,
    }
    .tokens()
}

const SEARCH_ATTRIBUTES: [&str; 7] = [
    "artifact_uri",
    "end_time",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
];

fn is_numeric_attribute(name: &str) -> bool {
    name == "start_time" || name == "end_time"
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    i: usize,
    input: &'a str,
    /// Nesting of parentheses and NOT, bounded so no input can exhaust the stack.
    depth: usize,
}

const MAX_DEPTH: usize = 100;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn at(&self) -> usize {
        self.toks[self.i].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.i].0.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            column: at + 1,
            input: self.input.to_string(),
        }
    }

    fn key(&mut self) -> Result<Key, ParseError> {
        let at = self.at();
        let Tok::Ident { entity, key } = self.bump() else {
            return Err(self.err(at, "expected a key such as metrics.accuracy, params.model, tags.team or attributes.status"));
        };
        let kind = match entity.as_deref() {
            None => KeyKind::Attribute,
            Some(e) => match e.trim_matches('`') {
                "metric" | "metrics" => KeyKind::Metric,
                "param" | "params" | "parameter" | "parameters" => KeyKind::Param,
                "tag" | "tags" => KeyKind::Tag,
                "attribute" | "attributes" | "attr" | "run" => KeyKind::Attribute,
                "dataset" | "datasets" => KeyKind::Dataset,
                other => {
                    return Err(self.err(
                        at,
                        format!("unknown entity type '{other}' (expected metrics, params, tags, attributes or datasets)"),
                    ));
                }
            },
        };
        let mut name = key;
        if kind == KeyKind::Attribute {
            name = match name.as_str() {
                "created" | "Created" => "start_time".into(),
                "run name" | "Run name" | "Run Name" => "run_name".into(),
                _ => name,
            };
            if !SEARCH_ATTRIBUTES.contains(&name.as_str()) {
                return Err(self.err(
                    at,
                    format!(
                        "unknown attribute '{name}' (expected one of {})",
                        SEARCH_ATTRIBUTES.join(", ")
                    ),
                ));
            }
        }
        if kind == KeyKind::Dataset && !["name", "digest", "context"].contains(&name.as_str()) {
            return Err(self.err(
                at,
                format!("unknown dataset key '{name}' (expected name, digest or context)"),
            ));
        }
        Ok(Key { kind, name })
    }

    fn value(&mut self, key: &Key) -> Result<Value, ParseError> {
        let at = self.at();
        let numeric = key.kind == KeyKind::Metric
            || (key.kind == KeyKind::Attribute && is_numeric_attribute(&key.name));
        match self.bump() {
            Tok::Num(n) if numeric => Ok(Value::Num(n)),
            Tok::Str(s) if !numeric => Ok(Value::Str(s)),
            Tok::Num(_) => Err(self.err(
                at,
                format!(
                    "expected a quoted string value for '{}' (e.g. '1.0')",
                    key.name
                ),
            )),
            Tok::Str(_) => Err(self.err(at, format!("expected a number for '{}'", key.name))),
            _ => Err(self.err(
                at,
                if numeric {
                    format!("expected a number after the comparison with '{}'", key.name)
                } else {
                    format!(
                        "expected a quoted value after the comparison with '{}'",
                        key.name
                    )
                },
            )),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let key = self.key()?;
        let at = self.at();
        let numeric = key.kind == KeyKind::Metric
            || (key.kind == KeyKind::Attribute && is_numeric_attribute(&key.name));
        let op = match self.bump() {
            Tok::Op(op) => op,
            Tok::Like | Tok::ILike if numeric => {
                return Err(self.err(
                    at,
                    format!("LIKE/ILIKE compare text; '{}' is numeric", key.name),
                ));
            }
            Tok::Like => Op::Like,
            Tok::ILike => Op::ILike,
            Tok::In => Op::In,
            Tok::Not => {
                let at2 = self.at();
                match self.bump() {
                    Tok::In => Op::NotIn,
                    _ => return Err(self.err(at2, "expected IN after NOT")),
                }
            }
            Tok::Is => {
                let negate = if *self.peek() == Tok::Not {
                    self.bump();
                    true
                } else {
                    false
                };
                let at2 = self.at();
                if self.bump() != Tok::Null {
                    return Err(self.err(at2, "expected NULL after IS"));
                }
                return Ok(Expr::Cmp(Comparison {
                    key,
                    op: if negate { Op::IsNotNull } else { Op::IsNull },
                    values: Vec::new(),
                }));
            }
            _ => {
                return Err(self.err(
                    at,
                    "expected a comparison: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL",
                ));
            }
        };
        let values = if matches!(op, Op::In | Op::NotIn) {
            let at = self.at();
            if self.bump() != Tok::LParen {
                return Err(self.err(at, "expected '(' and a list of values after IN"));
            }
            let mut values = vec![self.value(&key)?];
            loop {
                let at = self.at();
                match self.bump() {
                    Tok::Comma => values.push(self.value(&key)?),
                    Tok::RParen => break,
                    _ => return Err(self.err(at, "expected ',' or ')' in the IN list")),
                }
            }
            values
        } else {
            vec![self.value(&key)?]
        };
        Ok(Expr::Cmp(Comparison { key, op, values }))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        // One call per parenthesis plus one for the innermost comparison: 100 levels of parentheses pass.
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.at(), "the filter is nested too deeply"));
        }
        self.depth += 1;
        let result = self.primary_inner();
        self.depth -= 1;
        result
    }

    fn primary_inner(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::LParen => {
                self.bump();
                let e = self.or()?;
                let at = self.at();
                if self.bump() != Tok::RParen {
                    return Err(self.err(at, "expected ')'"));
                }
                Ok(e)
            }
            Tok::Not => {
                self.bump();
                Ok(Expr::Not(Box::new(self.primary()?)))
            }
            _ => self.comparison(),
        }
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        while *self.peek() == Tok::And {
            self.bump();
            e = Expr::And(Box::new(e), Box::new(self.primary()?));
        }
        Ok(e)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.and()?;
        while *self.peek() == Tok::Or {
            self.bump();
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
}

/// Parse a filter; an empty or blank filter is None (match everything).
pub fn parse_filter(input: &str) -> Result<Option<Expr>, ParseError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        toks: lex(input)?,
        i: 0,
        input,
        depth: 0,
    };
    let e = p.or()?;
    if *p.peek() != Tok::End {
        return Err(p.err(p.at(), "expected AND, OR or the end of the filter"));
    }
    Ok(Some(e))
}

/// Parse one ORDER BY clause: `KEY [ASC|DESC]`.
pub fn parse_order_by(input: &str) -> Result<OrderBy, ParseError> {
    let mut p = Parser {
        toks: lex(input)?,
        i: 0,
        input,
        depth: 0,
    };
    let key = p.key()?;
    let ascending = match p.peek() {
        Tok::Asc => {
            p.bump();
            true
        }
        Tok::Desc => {
            p.bump();
            false
        }
        _ => true,
    };
    if *p.peek() != Tok::End {
        return Err(p.err(
            p.at(),
            "expected ASC, DESC or the end of the order-by clause",
        ));
    }
    Ok(OrderBy { key, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(kind: KeyKind, name: &str, op: Op, values: Vec<Value>) -> Expr {
        Expr::Cmp(Comparison {
            key: Key {
                kind,
                name: name.into(),
            },
            op,
            values,
        })
    }

    #[test]
    fn parses_mlflow_filters() {
        let e = parse_filter("metrics.accuracy > 0.9 and params.model = 'rf'")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            Expr::And(
                Box::new(cmp(
                    KeyKind::Metric,
                    "accuracy",
                    Op::Gt,
                    vec![Value::Num(0.9)]
                )),
                Box::new(cmp(
                    KeyKind::Param,
                    "model",
                    Op::Eq,
                    vec![Value::Str("rf".into())]
                )),
            )
        );
        let e = parse_filter("metrics.`eval/auc`>=1e-3").unwrap().unwrap();
        assert_eq!(
            e,
            cmp(KeyKind::Metric, "eval/auc", Op::Ge, vec![Value::Num(0.001)])
        );
        let e = parse_filter("attributes.run_id IN ('a', \"b\")")
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            cmp(
                KeyKind::Attribute,
                "run_id",
                Op::In,
                vec![Value::Str("a".into()), Value::Str("b".into())]
            )
        );
        let e = parse_filter("tags.team IS NOT NULL").unwrap().unwrap();
        assert_eq!(e, cmp(KeyKind::Tag, "team", Op::IsNotNull, vec![]));
        let e = parse_filter("status = 'FINISHED' AND created > -1")
            .unwrap()
            .unwrap();
        assert!(matches!(e, Expr::And(..)));
        assert!(parse_filter("  ").unwrap().is_none());
        let e = parse_filter("params.lr LIKE '0.%' or not (metrics.loss <= 2)")
            .unwrap()
            .unwrap();
        assert!(matches!(e, Expr::Or(..)));
    }

    #[test]
    fn errors_point_at_the_column() {
        let cases = [
            ("metrics.acc > ", 15, "expected a number"),
            ("metrics.acc > 'x'", 15, "expected a number"),
            ("params.model = 5", 16, "quoted string"),
            ("metrics.acc >> 1", 14, "expected a number"),
            ("foo.bar = 'x'", 1, "unknown entity type 'foo'"),
            ("attributes.nope = 'x'", 1, "unknown attribute 'nope'"),
            ("metrics.acc > 1 params.x = 'y'", 17, "expected AND, OR"),
            ("params.x = 'unterminated", 12, "unterminated"),
            ("(metrics.a > 1", 15, "expected ')'"),
            ("metrics.a ~ 1", 11, "unexpected character"),
            ("metrics.a LIKE 'x'", 11, "numeric"),
        ];
        for (input, column, needle) in cases {
            let e = parse_filter(input).unwrap_err();
            assert_eq!(e.column, column, "{input}: {e}");
            assert!(e.message.contains(needle), "{input}: {e}");
        }
        let e = parse_filter("metrics.acc > ").unwrap_err();
        assert_eq!(e.pointer(), "  metrics.acc > \n                ^");
    }

    #[test]
    fn parses_order_by() {
        assert_eq!(
            parse_order_by("metrics.accuracy DESC").unwrap(),
            OrderBy {
                key: Key {
                    kind: KeyKind::Metric,
                    name: "accuracy".into()
                },
                ascending: false
            }
        );
        assert!(parse_order_by("start_time").unwrap().ascending);
        assert!(parse_order_by("metrics.a sideways").is_err());
        assert!(parse_order_by("bogus.a").is_err());
    }
}
