//! Text that leaves mlx (printed, recorded as a tag, put in an error) made safe: credentials stripped from
//! URIs (`scheme://user:pass@host`, `?password=...`) and long values quoted briefly. One place, so every
//! caller redacts the same way.

/// What replaces a credential.
const HIDDEN: &str = "***";

/// Query parameters whose values are secrets (matched case-insensitively as a substring of the name).
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "access_key",
    "signature",
    "sig",
    "credential",
    "auth",
];

/// `text` with the userinfo of every `scheme://userinfo@host` replaced by `***` and the values of
/// password-like query parameters hidden. Works on any text (a URI, an argv word such as
/// `--tracking-uri=http://u:p@h`, an error message); text without URIs is returned unchanged.
pub fn uris(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The URI runs to the next whitespace or quote.
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        out.push_str(&redact_one(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// One URI after its `scheme://`: authority, then path, query and fragment. The userinfo ends at the URI's
/// last `@`, wherever it is: a password may hold an unencoded `#`, `/` or `?` (`alice:p#ss@host`), which a
/// URL parser takes for the end of the authority and so would print the password. An `@` in a path or query
/// hides the text before it too: more than needed, never less.
fn redact_one(after_scheme: &str) -> String {
    let (mut out, after_userinfo) = match after_scheme.rfind('@') {
        Some(at) => (HIDDEN.to_string(), &after_scheme[at..]),
        None => (String::new(), after_scheme),
    };
    let auth_end = after_userinfo
        .find(['/', '?', '#'])
        .unwrap_or(after_userinfo.len());
    let (authority, rest) = after_userinfo.split_at(auth_end);
    out.push_str(authority);
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=q]);
    let query = &rest[q + 1..];
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}={HIDDEN}"),
            _ => pair.to_string(),
        })
        .collect();
    out.push_str(&pairs.join("&"));
    out.push_str(fragment);
    out
}

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| lower.contains(s))
}

/// The longest prefix of a quoted value an error message shows.
pub const QUOTE_LIMIT: usize = 100;

/// `value` for an error message: whole if short, else its first ~100 bytes (on a character boundary)
/// and how long it really is, so a hostile 1 GB value never becomes a 1 GB error line.
pub fn brief(value: &str) -> String {
    if value.len() <= QUOTE_LIMIT {
        return value.to_string();
    }
    let cut = (0..=QUOTE_LIMIT)
        .rev()
        .find(|i| value.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &value[..cut], value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_hidden_wherever_a_uri_appears() {
        assert_eq!(uris("http://u:p@h:5000/x"), "http://***@h:5000/x");
        assert_eq!(uris("https://tok@h"), "https://***@h");
        assert_eq!(
            uris("--tracking-uri=http://alice:s3cr%40t@host/a?b=1"),
            "--tracking-uri=http://***@host/a?b=1"
        );
        assert_eq!(
            uris("cannot reach 'http://a:b@x' or http://c:d@y"),
            "cannot reach 'http://***@x' or http://***@y"
        );
        // A password with an unencoded #, / or ? (a URL parser ends the authority there): hidden whole,
        // up to the last @.
        assert_eq!(uris("http://alice:p#ss@h/t.csv"), "http://***@h/t.csv");
        assert_eq!(uris("http://alice:p/ss@h/t.csv"), "http://***@h/t.csv");
        assert_eq!(uris("http://alice:p?ss@h/t.csv"), "http://***@h/t.csv");
        assert_eq!(
            uris("http://alice:p@s#s/?@h:1/t.csv?x=1"),
            "http://***@h:1/t.csv?x=1"
        );
        assert_eq!(
            uris("https://alice:p#ss@h/t.csv?token=q and more"),
            "https://***@h/t.csv?token=*** and more"
        );
        // An @ in a path hides what is before it too: more than needed, never a password.
        assert_eq!(uris("http://h/p@q"), "http://***@q");
        assert_eq!(uris("./mlruns"), "./mlruns");
        assert_eq!(uris("mlruns/0/abc"), "mlruns/0/abc");
    }

    #[test]
    fn password_like_query_params_are_hidden() {
        assert_eq!(
            uris("postgresql://h/db?user=x&password=y&sslmode=require#f"),
            "postgresql://h/db?user=x&password=***&sslmode=require#f"
        );
        assert_eq!(
            uris("https://h/a?X-Amz-Signature=abc&access_token=t"),
            "https://h/a?X-Amz-Signature=***&access_token=***"
        );
    }

    #[test]
    fn brief_quotes_at_most_100_bytes_on_a_char_boundary() {
        assert_eq!(brief("short"), "short");
        let long = "é".repeat(1000);
        let b = brief(&long);
        assert!(b.len() < 130, "{b}");
        assert!(b.ends_with("… (2000 bytes)"), "{b}");
    }
}
