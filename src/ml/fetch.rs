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

fn max_bytes() -> u64 {
    let mb = crate::settings::env::number::<u64>("MLX_MAX_DATA_MB")
        .filter(|mb| *mb > 0)
        .unwrap_or(DEFAULT_MAX_MB);
    mb.saturating_mul(1 << 20)
}

/// Download `url` into a temp file (deleted when dropped).
pub fn fetch(url: &str) -> Result<tempfile::NamedTempFile, FetchError> {
    let http = |why: String| FetchError::Http {
        url: crate::redact::uris(url),
        why,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(format!("mlx/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| http(e.to_string()))?;
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
pub fn fetch_if_url(data: &Path) -> Result<Option<tempfile::NamedTempFile>, FetchError> {
    match data.to_str() {
        Some(s) if is_url(s) => fetch(s).map(Some),
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
}
