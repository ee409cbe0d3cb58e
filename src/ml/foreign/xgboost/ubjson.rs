//! A bounds-checked reader of the UBJSON subset XGBoost writes (Draft 12, big-endian), including
//! optimized containers (`$` type, `#` count). Counts are checked against the bytes left, nesting is
//! bounded, and the values read in all are at most one per byte of the file (a typed container of
//! `Z`/`T`/`F` costs no byte per item, so without that cap a few bytes could declare millions of
//! nulls), so a crafted file cannot make it allocate or recurse beyond a small multiple of its size.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 64;

/// Values allowed on top of one per byte: a real file never needs them, they only keep tiny
/// hand-written inputs readable.
const SPARE_VALUES: usize = 64;

pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader {
        bytes,
        pos: 0,
        values_left: bytes.len() + SPARE_VALUES,
    };
    let v = r.value(None, 0)?;
    Ok(v)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// How many more values may be read (see [`parse`]).
    values_left: usize,
}

impl Reader<'_> {
    fn err(&self, why: impl std::fmt::Display) -> String {
        format!("UBJSON at byte {}: {why}", self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.err(format!(
                "needs {n} more bytes but the file ends (truncated?)"
            )));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next byte, not consumed.
    fn peek(&self) -> Result<u8, String> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.err("the file ends here (truncated?)"))
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn int(&mut self, marker: u8) -> Result<i64, String> {
        Ok(match marker {
            b'i' => i64::from(i8::from_be_bytes(self.array()?)),
            b'U' => i64::from(self.byte()?),
            b'I' => i64::from(i16::from_be_bytes(self.array()?)),
            b'l' => i64::from(i32::from_be_bytes(self.array()?)),
            b'L' => i64::from_be_bytes(self.array()?),
            m => {
                return Err(self.err(format!("expected an integer type, found {:?}", m as char)));
            }
        })
    }

    /// A length or count, checked to fit in the bytes left (each item takes at least `min_size`).
    fn length(&mut self, min_size: usize) -> Result<usize, String> {
        let marker = self.byte()?;
        let n = self.int(marker)?;
        let left = self.bytes.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min_size.max(1)) <= left => Ok(n),
            _ if n < 0 => Err(self.err(format!("length {n} is negative"))),
            _ => Err(self.err(format!(
                "length {n} exceeds the {left} bytes left (truncated?)"
            ))),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.length(1)?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err("a string is not UTF-8"))
    }

    /// Takes `n` values from the file's allowance, before anything is allocated for them (every
    /// item of a container is paid for by the container).
    fn spend(&mut self, n: usize) -> Result<(), String> {
        if n > self.values_left {
            return Err(self.err(format!(
                "{n} more values than a {}-byte file can hold (a crafted count?)",
                self.bytes.len()
            )));
        }
        self.values_left -= n;
        Ok(())
    }

    fn value(&mut self, marker: Option<u8>, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let marker = match marker {
            Some(m) => m,
            None => loop {
                let m = self.byte()?;
                if m != b'N' {
                    break m;
                }
            },
        };
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::from(self.int(marker)?),
            b'd' => float(f64::from(f32::from_be_bytes(self.array()?))),
            b'D' => float(f64::from_be_bytes(self.array()?)),
            b'C' => Value::String(char::from(self.byte()?).to_string()),
            b'S' => Value::String(self.string()?),
            b'H' => {
                let s = self.string()?;
                let n: f64 = s
                    .parse()
                    .map_err(|_| self.err(format!("bad high-precision number '{s}'")))?;
                float(n)
            }
            b'[' => {
                let (ty, n) = self.container_header()?;
                // The whole count is spent before its vector is allocated.
                self.spend(n.unwrap_or(0))?;
                let mut items = Vec::with_capacity(n.unwrap_or(0));
                match n {
                    Some(n) => {
                        for _ in 0..n {
                            items.push(self.value(ty, depth + 1)?);
                        }
                    }
                    None => loop {
                        let m = self.byte()?;
                        if m == b']' {
                            break;
                        }
                        self.spend(1)?;
                        items.push(self.value(Some(m), depth + 1)?);
                    },
                }
                Value::Array(items)
            }
            b'{' => {
                let (ty, n) = self.container_header()?;
                self.spend(n.unwrap_or(0))?;
                let mut map = Map::new();
                match n {
                    Some(n) => {
                        for _ in 0..n {
                            let k = self.string()?;
                            let v = self.value(ty, depth + 1)?;
                            map.insert(k, v);
                        }
                    }
                    None => loop {
                        if self.peek()? == b'}' {
                            self.pos += 1;
                            break;
                        }
                        self.spend(1)?;
                        let k = self.string()?;
                        let v = self.value(None, depth + 1)?;
                        map.insert(k, v);
                    },
                }
                Value::Object(map)
            }
            m => return Err(self.err(format!("unknown type marker {:?}", m as char))),
        })
    }

    /// The optional `$type` and `#count` after `[` or `{`.
    fn container_header(&mut self) -> Result<(Option<u8>, Option<usize>), String> {
        let mut ty = None;
        if self.peek()? == b'$' {
            self.pos += 1;
            ty = Some(self.byte()?);
            if self.peek()? != b'#' {
                return Err(self.err("a typed container without a count"));
            }
        }
        if self.peek()? == b'#' {
            self.pos += 1;
            let size = match ty {
                Some(b'i' | b'U' | b'C') => 1,
                Some(b'I') => 2,
                Some(b'l' | b'd') => 4,
                Some(b'L' | b'D') => 8,
                // Null/true/false take no bytes each.
                Some(b'Z' | b'T' | b'F') => 0,
                _ => 1,
            };
            return Ok((ty, Some(self.length(size)?)));
        }
        Ok((ty, None))
    }
}

fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A typed array of `outer` arrays, each declaring `inner` nulls (no byte per null), then padding
    /// so each count fits the bytes left: ~16 GB of values from ~190 KB before the cap.
    pub(crate) fn nested_nulls(outer: u32, inner: u32, pad: usize) -> Vec<u8> {
        let mut b = b"[$[#l".to_vec();
        b.extend(outer.to_be_bytes());
        for _ in 0..outer {
            b.extend(b"$Z#l");
            b.extend(inner.to_be_bytes());
        }
        b.resize(b.len() + pad, b'N');
        b
    }

    #[test]
    fn counts_of_zero_byte_values_are_capped_by_the_file_size() {
        let bytes = nested_nulls(10_000, 50_000, 100_000);
        assert!(bytes.len() < 200_000);
        let e = parse(&bytes).unwrap_err();
        assert!(
            e.contains("50000 more values than a 180009-byte file can hold (a crafted count?)"),
            "{e}"
        );
        // Within the allowance, nulls still read.
        let small = nested_nulls(2, 3, 8);
        assert_eq!(
            parse(&small).unwrap(),
            json!([[null, null, null], [null, null, null]])
        );
        let e = parse(b"{$Z#U\x05").unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }
}
