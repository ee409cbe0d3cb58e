//! `--data URL`: an http(s) CSV streamed to a temp file (never held in memory), with a size cap, so that
//! training reads it like a local file; the run records the URL as the dataset source.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The largest download accepted (`MLX_MAX_DATA_MB` overrides it): a wrong URL must not fill the disk.
const DEFAULT_MAX_MB: u64 = 2048;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {why}")]
    Http { url: String, why: String },
    /// The URL, or a redirect from it, leaves every allowed prefix (`mlx serve --data-url`).
    #[error("{url}: {why}")]
    Refused { url: String, why: String },
    #[error("{url}: larger than {mb} MB (set MLX_MAX_DATA_MB to allow more)")]
    TooLarge { url: String, mb: u64 },
    #[error("{url}: cannot write a temp copy: {source}")]
    Io { url: String, source: std::io::Error },
}

/// An `http://` or `https://` data location (any case of the scheme).
pub fn is_url(data: &str) -> bool {
    let lower = data.get(..8).unwrap_or(data).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The most redirects one download follows.
const MAX_REDIRECTS: usize = 10;

/// `url` in one canonical form, the form a prefix is checked on and the one requested: percent-escapes of
/// unreserved characters decoded (`%61` → `a`, `%2e` → `.`), then parsed as a browser does (scheme and host
/// lower-cased, default port dropped, `.` and `..` segments removed), the fragment dropped. Refused: what is
/// not an http(s) URL, and an encoded `/` or `\` (`%2f`, `%5c`) in the path, which a server may decode
/// into a `..` (in the query they stay: signed URLs carry them).
pub fn normalise(url: &str) -> Result<String, String> {
    let decoded = decode_unreserved(url);
    let mut parsed = url::Url::parse(&decoded).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("not an http(s) URL".into());
    }
    let path = parsed.path().to_ascii_lowercase();
    if path.contains("%2f") || path.contains("%5c") {
        return Err("an encoded / or \\ in a URL's path is refused".into());
    }
    parsed.set_fragment(None);
    Ok(parsed.into())
}

/// Percent-escapes of the characters RFC 3986 calls unreserved (letters, digits, `-._~`) decoded: they
/// mean the same either way, so a prefix check must see them decoded.
fn decode_unreserved(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            let c = (h * 16 + l) as u8;
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                out.push(c);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes: still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| url.to_string())
}

/// URL prefixes a download must stay under (`mlx serve --data-url`): checked on the normalised URL and on
/// every redirect it leads to.
#[derive(Debug, Clone, Default)]
pub struct UrlPrefixes(Vec<String>);

impl UrlPrefixes {
    /// The prefixes, normalised as URLs are (`https://host` → `https://host/`, so that it cannot match
    /// `https://host.evil.example/`). One that is not an http(s) URL is an error naming it.
    pub fn new(prefixes: &[String]) -> Result<UrlPrefixes, String> {
        prefixes
            .iter()
            .map(|p| {
                normalise(p).map_err(|why| format!("--data-url {}: {why}", crate::redact::uris(p)))
            })
            .collect::<Result<_, _>>()
            .map(UrlPrefixes)
    }

    /// `url` normalised, if it is under one of the prefixes (a prefix not ending in `/` matches whole path
    /// segments only: `/data` allows `/data/x`, not `/database`), else why not.
    pub fn allow(&self, url: &str) -> Result<String, String> {
        let url = normalise(url)?;
        let under = |prefix: &String| {
            url.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?'])
            })
        };
        if self.0.iter().any(under) {
            Ok(url)
        } else {
            Err("a URL outside every --data-url prefix of mlx serve".into())
        }
    }
}

fn max_bytes() -> u64 {
    let mb = crate::settings::env::number::<u64>("MLX_MAX_DATA_MB")
        .filter(|mb| *mb > 0)
        .unwrap_or(DEFAULT_MAX_MB);
    mb.saturating_mul(1 << 20)
}

/// Download `url` into a temp file (deleted when dropped). Redirects are followed one by one (at most ten),
/// each to an http(s) URL and, with `allowed`, under one of its prefixes. Errors name the URL (redacted) and
/// the HTTP status, never what the server sent.
pub fn fetch(
    url: &str,
    allowed: Option<&UrlPrefixes>,
) -> Result<tempfile::NamedTempFile, FetchError> {
    let http = |why: String| FetchError::Http {
        url: crate::redact::uris(url),
        why,
    };
    let refused = |why: String| FetchError::Refused {
        url: crate::redact::uris(url),
        why,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(format!("mlx/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut current = match allowed {
        Some(prefixes) => prefixes.allow(url).map_err(refused)?,
        None => url.to_string(),
    };
    let mut hops = 0;
    let response = loop {
        let response = agent
            .get(&current)
            .call()
            .map_err(|e| http(e.to_string()))?;
        if !response.status().is_redirection() {
            break response;
        }
        hops += 1;
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| http(format!("HTTP {} without a Location", response.status())))?;
        let next = url::Url::parse(&current)
            .and_then(|base| base.join(location))
            .map_err(|_| http("redirected to an invalid URL".into()))?;
        if hops > MAX_REDIRECTS {
            return Err(http(format!("more than {MAX_REDIRECTS} redirects")));
        }
        current = match allowed {
            Some(prefixes) => prefixes.allow(next.as_str()).map_err(|why| {
                refused(format!(
                    "redirected to {}: {why}",
                    crate::redact::uris(next.as_str())
                ))
            })?,
            None if matches!(next.scheme(), "http" | "https") => next.into(),
            None => return Err(http("redirected to a URL that is not http(s)".into())),
        };
    };
    let status = response.status();
    if !status.is_success() {
        return Err(http(format!("HTTP {status}")));
    }
    let cap = max_bytes();
    let mut file = tempfile::Builder::new()
        .prefix("mlx-data-")
        .suffix(".csv")
        .tempfile()
        .map_err(|source| FetchError::Io {
            url: crate::redact::uris(url),
            source,
        })?;
    let mut body = response.into_body().into_reader().take(cap + 1);
    let copied = std::io::copy(&mut body, &mut file).map_err(|e| http(e.to_string()))?;
    if copied > cap {
        return Err(FetchError::TooLarge {
            url: crate::redact::uris(url),
            mb: cap >> 20,
        });
    }
    file.flush().map_err(|source| FetchError::Io {
        url: crate::redact::uris(url),
        source,
    })?;
    Ok(file)
}

/// A local copy of `data` when it is a URL, `None` for a file path.
pub fn fetch_if_url(
    data: &Path,
    allowed: Option<&UrlPrefixes>,
) -> Result<Option<tempfile::NamedTempFile>, FetchError> {
    match data.to_str() {
        Some(s) if is_url(s) => fetch(s, allowed).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("https://example.org/t.csv"));
        assert!(is_url("HTTP://example.org/t.csv"));
        assert!(!is_url("data/http.csv"));
        assert!(!is_url("ftp://example.org/t.csv"));
        assert!(!is_url("htt"));
    }

    #[test]
    fn urls_are_normalised_before_a_prefix_is_checked() {
        let p = UrlPrefixes::new(&["http://127.0.0.1:5199/data/".into()]).unwrap();
        let ok = |u: &str| p.allow(u).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:5199/data/t.csv"),
            "http://127.0.0.1:5199/data/t.csv"
        );
        assert_eq!(
            ok("HTTP://127.0.0.1:5199/d%61ta/t.csv#x"),
            "http://127.0.0.1:5199/data/t.csv"
        );
        assert_eq!(
            ok("http://127.0.0.1:5199/data/a/../t.csv"),
            "http://127.0.0.1:5199/data/t.csv"
        );
        assert_eq!(
            ok("http://127.0.0.1:5199/data/t.csv?X-Amz-Credential=A%2F1"),
            "http://127.0.0.1:5199/data/t.csv?X-Amz-Credential=A%2F1"
        );
        for bad in [
            "http://127.0.0.1:5199/data/%2e%2e/secret2.csv",
            "http://127.0.0.1:5199/data/%2E./secret2.csv",
            "http://127.0.0.1:5199/data/..",
            "http://127.0.0.1:5199/data/../secret.csv",
            "http://127.0.0.1:5199/data/..%2fsecret.csv",
            "http://127.0.0.1:5199/data/..%5Csecret.csv",
            "http://127.0.0.1:5199/data/..\\secret.csv",
            "http://127.0.0.1:5199@evil.example/data/t.csv",
            "http://127.0.0.1:51990/data/t.csv",
            "http://127.0.0.1:5198/data/t.csv",
            "ftp://127.0.0.1:5199/data/t.csv",
            "not a url",
        ] {
            assert!(p.allow(bad).is_err(), "{bad}: {:?}", p.allow(bad));
        }
        // A prefix without a path gets one; without a trailing slash it matches whole segments.
        let host = UrlPrefixes::new(&["https://data.example".into()]).unwrap();
        assert!(host.allow("https://data.example/t.csv").is_ok());
        assert!(host.allow("https://data.example.evil.test/t.csv").is_err());
        let seg = UrlPrefixes::new(&["https://h/data".into()]).unwrap();
        assert!(seg.allow("https://h/data/t.csv").is_ok());
        assert!(seg.allow("https://h/database.csv").is_err());
        assert!(UrlPrefixes::new(&["/srv/data".into()]).is_err());
    }
}
