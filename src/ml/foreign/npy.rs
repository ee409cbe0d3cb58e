//! A checked reader for numpy's `.npy` format (what skops stores fitted arrays in): the header's Python
//! dict literal (`descr`, `fortran_order`, `shape`), plain little-endian numbers, fixed-width unicode
//! strings and the structured records of scikit-learn's trees. ndarray-npy reads neither structured nor
//! unicode dtypes, so this is hand-written; it never trusts a size it has not checked against the bytes.

use std::fmt;

/// Arrays larger than this many dimensions are refused (scikit-learn's have at most 3).
const MAX_DIMS: usize = 8;
/// numpy writes headers of a few hundred bytes; a huge one is an attack, not an array.
const MAX_HEADER: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct NpyError(pub String);

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(why: impl Into<String>) -> Result<T, NpyError> {
    Err(NpyError(why.into()))
}

/// One element type: kind (`f`, `i`, `u`, `b`, `U`, `V`) and size in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scalar {
    pub kind: char,
    pub size: usize,
}

impl Scalar {
    fn parse(descr: &str) -> Result<Scalar, NpyError> {
        let mut chars = descr.chars();
        let order = chars.next().unwrap_or(' ');
        let kind = chars.next().unwrap_or(' ');
        let count: usize = chars
            .as_str()
            .parse()
            .map_err(|_| NpyError(format!("unsupported dtype {descr:?}")))?;
        // One-byte types are written with `|`; anything big-endian (`>`) is refused rather than misread.
        if order != '<' && order != '|' {
            return err(format!(
                "unsupported dtype {descr:?} (only little-endian arrays are read)"
            ));
        }
        let size = match (kind, count) {
            ('f', 4 | 8) | ('i' | 'u', 1 | 2 | 4 | 8) | ('b', 1) => count,
            ('U', n) => n
                .checked_mul(4)
                .ok_or_else(|| NpyError("dtype too wide".into()))?,
            ('V', n) => n,
            _ => return err(format!("unsupported dtype {descr:?}")),
        };
        Ok(Scalar { kind, size })
    }

    /// The element at the start of `b` as a number (not for strings or padding).
    fn number(self, b: &[u8]) -> Option<f64> {
        let arr = |n: usize| -> [u8; 8] {
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(&b[..n]);
            a
        };
        Some(match (self.kind, self.size) {
            ('f', 8) => f64::from_le_bytes(arr(8)),
            ('f', 4) => f64::from(f32::from_le_bytes(arr(4)[..4].try_into().ok()?)),
            ('i', 1) => f64::from(b[0] as i8),
            ('i', 2) => f64::from(i16::from_le_bytes([b[0], b[1]])),
            ('i', 4) => f64::from(i32::from_le_bytes(arr(4)[..4].try_into().ok()?)),
            ('i', 8) => i64::from_le_bytes(arr(8)) as f64,
            ('u', 1) | ('b', 1) => f64::from(b[0]),
            ('u', 2) => f64::from(u16::from_le_bytes([b[0], b[1]])),
            ('u', 4) => f64::from(u32::from_le_bytes(arr(4)[..4].try_into().ok()?)),
            ('u', 8) => u64::from_le_bytes(arr(8)) as f64,
            _ => return None,
        })
    }

    fn integer(self, b: &[u8]) -> Option<i64> {
        match (self.kind, self.size) {
            ('i', 8) => Some(i64::from_le_bytes(b[..8].try_into().ok()?)),
            ('i', 4) => Some(i64::from(i32::from_le_bytes(b[..4].try_into().ok()?))),
            ('i' | 'u' | 'b', _) => self.number(b).filter(|x| x.abs() < 9e15).map(|x| x as i64),
            _ => None,
        }
    }
}

/// The element type of an array: one scalar, or named fields (a structured record).
#[derive(Debug, Clone, PartialEq)]
pub enum Dtype {
    Scalar(Scalar),
    Record(Vec<(String, Scalar, usize)>),
}

impl Dtype {
    pub fn itemsize(&self) -> usize {
        match self {
            Dtype::Scalar(s) => s.size,
            Dtype::Record(fields) => fields.last().map_or(0, |(_, s, off)| off + s.size),
        }
    }
}

/// An array read from a `.npy` file, in C (row-major) order.
#[derive(Debug, Clone)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    data: Vec<u8>,
}

impl Npy {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    fn item(&self, i: usize) -> &[u8] {
        let size = self.dtype.itemsize();
        &self.data[i * size..(i + 1) * size]
    }

    fn scalar(&self) -> Result<Scalar, NpyError> {
        match &self.dtype {
            Dtype::Scalar(s) if s.kind != 'V' => Ok(*s),
            _ => err("a structured array where numbers were expected"),
        }
    }

    /// Every element as f64 (numbers and booleans only).
    pub fn to_f64(&self) -> Result<Vec<f64>, NpyError> {
        let s = self.scalar()?;
        if s.kind == 'U' {
            return err("a string array where numbers were expected");
        }
        (0..self.len())
            .map(|i| {
                s.number(self.item(i))
                    .ok_or_else(|| NpyError("bad number".into()))
            })
            .collect()
    }

    /// Every element as i64 (integer and boolean arrays only).
    #[cfg(test)]
    pub fn to_i64(&self) -> Result<Vec<i64>, NpyError> {
        let s = self.scalar()?;
        if !matches!(s.kind, 'i' | 'u' | 'b') {
            return err("a non-integer array where integers were expected");
        }
        (0..self.len())
            .map(|i| {
                s.integer(self.item(i))
                    .ok_or_else(|| NpyError("integer out of range".into()))
            })
            .collect()
    }

    /// Every element as text (unicode arrays only; numpy pads with NULs).
    pub fn to_strings(&self) -> Result<Vec<String>, NpyError> {
        let s = self.scalar()?;
        if s.kind != 'U' {
            return err("a numeric array where strings were expected");
        }
        (0..self.len())
            .map(|i| {
                let mut out = String::new();
                for c in self.item(i).chunks_exact(4) {
                    let code = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    if code == 0 {
                        break;
                    }
                    out.push(
                        char::from_u32(code)
                            .ok_or_else(|| NpyError(format!("bad character {code:#x}")))?,
                    );
                }
                Ok(out)
            })
            .collect()
    }

    fn field(&self, name: &str) -> Result<(Scalar, usize), NpyError> {
        match &self.dtype {
            Dtype::Record(fields) => fields
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, s, off)| (*s, *off))
                .ok_or_else(|| NpyError(format!("no field {name:?} in the records"))),
            Dtype::Scalar(_) => err(format!("field {name:?} asked of a plain array")),
        }
    }

    /// The element kind of one field of a structured array (`f`, `i`, `u`, ...).
    pub fn field_kind(&self, name: &str) -> Result<char, NpyError> {
        self.field(name).map(|(s, _)| s.kind)
    }

    /// One field of a structured array, as f64.
    pub fn field_f64(&self, name: &str) -> Result<Vec<f64>, NpyError> {
        let (s, off) = self.field(name)?;
        (0..self.len())
            .map(|i| {
                s.number(&self.item(i)[off..])
                    .ok_or_else(|| NpyError(format!("field {name:?} is not numeric")))
            })
            .collect()
    }

    /// One field of a structured array, as i64.
    pub fn field_i64(&self, name: &str) -> Result<Vec<i64>, NpyError> {
        let (s, off) = self.field(name)?;
        (0..self.len())
            .map(|i| {
                s.integer(&self.item(i)[off..])
                    .ok_or_else(|| NpyError(format!("field {name:?} is not an integer")))
            })
            .collect()
    }
}

/// A Python literal as numpy writes it in the header.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

struct LitParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl LitParser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), NpyError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            err(format!("malformed header: expected '{}'", c as char))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Lit, NpyError> {
        if depth > 6 {
            return err("malformed header: nested too deeply");
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos] != q {
                    if self.s[self.pos] == b'\\' {
                        return err("malformed header: escapes in a string");
                    }
                    self.pos += 1;
                }
                if self.pos >= self.s.len() {
                    return err("malformed header: unterminated string");
                }
                let text = std::str::from_utf8(&self.s[start..self.pos])
                    .map_err(|_| NpyError("malformed header: not UTF-8".into()))?;
                self.pos += 1;
                Ok(Lit::Str(text.to_string()))
            }
            Some(open @ (b'(' | b'[')) => {
                self.pos += 1;
                let close = if open == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Lit::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    } else {
                        self.expect(close)?;
                        return Ok(Lit::Seq(items));
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Lit::Dict(items));
                    }
                    let k = self.value(depth + 1)?;
                    self.expect(b':')?;
                    let v = self.value(depth + 1)?;
                    items.push((k, v));
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                    } else {
                        self.expect(b'}')?;
                        return Ok(Lit::Dict(items));
                    }
                }
            }
            Some(_) => {
                let start = self.pos;
                while self.pos < self.s.len()
                    && (self.s[self.pos].is_ascii_alphanumeric() || self.s[self.pos] == b'-')
                {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Lit::Bool(true)),
                    b"False" => Ok(Lit::Bool(false)),
                    word => std::str::from_utf8(word)
                        .ok()
                        .and_then(|w| w.trim_end_matches('L').parse().ok())
                        .map(Lit::Int)
                        .ok_or_else(|| NpyError("malformed header: unknown token".into())),
                }
            }
            None => err("malformed header: truncated"),
        }
    }
}

fn parse_dtype(descr: &Lit) -> Result<Dtype, NpyError> {
    match descr {
        Lit::Str(s) => Ok(Dtype::Scalar(Scalar::parse(s)?)),
        Lit::Seq(fields) => {
            let mut out = Vec::new();
            let mut offset = 0usize;
            for f in fields {
                let Lit::Seq(pair) = f else {
                    return err("malformed header: a record field is not a pair");
                };
                let [Lit::Str(name), Lit::Str(t)] = pair.as_slice() else {
                    return err(
                        "malformed header: unsupported record field (sub-arrays are not read)",
                    );
                };
                let s = Scalar::parse(t)?;
                out.push((name.clone(), s, offset));
                offset = offset
                    .checked_add(s.size)
                    .ok_or_else(|| NpyError("record too wide".into()))?;
            }
            if out.is_empty() {
                return err("malformed header: a record with no fields");
            }
            Ok(Dtype::Record(out))
        }
        _ => err("malformed header: descr is neither a string nor a list"),
    }
}

/// What a `.npy` file's header declares, checked against the data that follows it.
#[derive(Debug, Clone)]
pub struct Header {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    fortran: bool,
    /// Where the data starts.
    start: usize,
}

impl Header {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// An upper bound on the bytes one read of the array may take: its copy, plus what it may be
    /// turned into (a number per element, or per field of a record; a `String` and a JSON value per
    /// element of a text array).
    pub fn expansion(&self) -> u64 {
        let n = self.len() as u64;
        let itemsize = self.dtype.itemsize() as u64;
        let per_item = match &self.dtype {
            Dtype::Scalar(s) if s.kind == 'U' => itemsize + 64,
            Dtype::Scalar(_) => 8,
            Dtype::Record(fields) => 8 * fields.len() as u64,
        };
        n.saturating_mul(itemsize.saturating_add(per_item))
    }
}

/// Read and check a `.npy` file's header (the data's size included), without copying the data.
pub fn header(bytes: &[u8]) -> Result<Header, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return err("not a .npy file (bad magic)");
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return err("truncated .npy header");
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => return err(format!("unsupported .npy version {v}")),
    };
    if header_len > MAX_HEADER || start + header_len > bytes.len() {
        return err("truncated or oversized .npy header");
    }
    let mut p = LitParser {
        s: &bytes[start..start + header_len],
        pos: 0,
    };
    let Lit::Dict(items) = p.value(0)? else {
        return err("malformed header: not a dict");
    };
    let get = |key: &str| {
        items
            .iter()
            .find(|(k, _)| *k == Lit::Str(key.into()))
            .map(|(_, v)| v)
            .ok_or_else(|| NpyError(format!("malformed header: no {key:?}")))
    };
    let dtype = parse_dtype(get("descr")?)?;
    let fortran = match get("fortran_order")? {
        Lit::Bool(b) => *b,
        _ => return err("malformed header: fortran_order is not a bool"),
    };
    let Lit::Seq(dims) = get("shape")? else {
        return err("malformed header: shape is not a tuple");
    };
    if dims.len() > MAX_DIMS {
        return err(format!("{} dimensions (at most {MAX_DIMS})", dims.len()));
    }
    let shape: Vec<usize> = dims
        .iter()
        .map(|d| match d {
            Lit::Int(n) if *n >= 0 => usize::try_from(*n).map_err(|_| NpyError("bad shape".into())),
            _ => err("malformed header: a dimension is not a non-negative integer"),
        })
        .collect::<Result<_, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| NpyError("shape overflows".into()))?;
    let itemsize = dtype.itemsize();
    if itemsize == 0 {
        return err("zero-sized elements");
    }
    let need = count
        .checked_mul(itemsize)
        .ok_or_else(|| NpyError("shape overflows".into()))?;
    let body = &bytes[start + header_len..];
    if body.len() != need {
        return err(format!(
            "shape {shape:?} needs {need} bytes of data, the file has {}",
            body.len()
        ));
    }
    Ok(Header {
        shape,
        dtype,
        fortran,
        start: start + header_len,
    })
}

/// Parse a whole `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<Npy, NpyError> {
    let Header {
        shape,
        dtype,
        fortran,
        start,
    } = header(bytes)?;
    let body = &bytes[start..];
    let data = if fortran && shape.len() > 1 {
        to_c_order(body, &shape, dtype.itemsize())
    } else {
        body.to_vec()
    };
    Ok(Npy { shape, dtype, data })
}

/// Reorder column-major items into row-major order.
fn to_c_order(body: &[u8], shape: &[usize], itemsize: usize) -> Vec<u8> {
    let count: usize = shape.iter().product();
    let mut out = vec![0u8; body.len()];
    let mut idx = vec![0usize; shape.len()];
    for c_pos in 0..count {
        // Fortran position of the C-order index `idx`: the first dimension varies fastest.
        let mut f_pos = 0usize;
        for d in (0..shape.len()).rev() {
            f_pos = f_pos * shape[d] + idx[d];
        }
        out[c_pos * itemsize..(c_pos + 1) * itemsize]
            .copy_from_slice(&body[f_pos * itemsize..(f_pos + 1) * itemsize]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// A `.npy` file (format 1.0) of `data` with `descr` (as numpy writes it, e.g. `'<f8'`), for fixtures.
pub fn write(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_floats_ints_and_fortran_order() {
        let a = parse(&write(
            "'<f8'",
            false,
            &[2, 2],
            &f64s(&[1.0, 2.0, 3.0, 4.0]),
        ))
        .unwrap();
        assert_eq!(a.shape, vec![2, 2]);
        assert_eq!(a.to_f64().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        // Column-major [[1, 2], [3, 4]] is stored 1, 3, 2, 4.
        let f = parse(&write("'<f8'", true, &[2, 2], &f64s(&[1.0, 3.0, 2.0, 4.0]))).unwrap();
        assert_eq!(f.to_f64().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        let i: Vec<u8> = [-3i32, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        let a = parse(&write("'<i4'", false, &[2], &i)).unwrap();
        assert_eq!(a.to_i64().unwrap(), vec![-3, 7]);
    }

    #[test]
    fn reads_unicode_and_records() {
        let mut d = Vec::new();
        for s in ["ab", "é"] {
            let mut cs: Vec<u32> = s.chars().map(|c| c as u32).collect();
            cs.resize(3, 0);
            d.extend(cs.iter().flat_map(|c| c.to_le_bytes()));
        }
        let a = parse(&write("'<U3'", false, &[2], &d)).unwrap();
        assert_eq!(a.to_strings().unwrap(), vec!["ab", "é"]);
        let mut rec = Vec::new();
        rec.extend(5i64.to_le_bytes());
        rec.extend(0.25f64.to_le_bytes());
        rec.push(1);
        rec.extend([0u8; 7]);
        let a = parse(&write(
            "[('left', '<i8'), ('t', '<f8'), ('m', '|u1'), ('', '|V7')]",
            false,
            &[1],
            &rec,
        ))
        .unwrap();
        assert_eq!(a.field_i64("left").unwrap(), vec![5]);
        assert_eq!(a.field_f64("t").unwrap(), vec![0.25]);
        assert_eq!(a.field_i64("m").unwrap(), vec![1]);
    }

    #[test]
    fn refuses_malformed_files() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"nope".to_vec(), "magic"),
            (write("'<f8'", false, &[3], &f64s(&[1.0])), "needs 24 bytes"),
            (write("'>f8'", false, &[1], &f64s(&[1.0])), "little-endian"),
            (write("'<c16'", false, &[1], &[0; 16]), "unsupported dtype"),
            (write("'O'", false, &[1], &[0; 8]), "unsupported dtype"),
            (
                write("'<f8'", false, &[usize::MAX / 2, 4], &[]),
                "overflows",
            ),
            (
                write("[('a', '<f8', (2,))]", false, &[1], &[0; 16]),
                "sub-arrays",
            ),
        ];
        for (bytes, why) in cases {
            let e = parse(&bytes).unwrap_err().0;
            assert!(e.contains(why), "{e} should mention {why}");
        }
        let mut truncated = write("'<f8'", false, &[1], &f64s(&[1.0]));
        truncated.truncate(20);
        assert!(parse(&truncated).is_err());
    }
}
