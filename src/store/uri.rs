//! `file:` URIs and local paths, both ways, with the `percent-encoding` crate (as Python's `Path.as_uri`
//! and MLflow's `local_file_uri_to_path`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::path::{Path, PathBuf};

/// What stays as it is in a `file:` URI's path: RFC 3986's unreserved characters, sub-delims, `/ : @`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// `file:///abs/path`, percent-encoding what a URI cannot hold.
pub fn path_to_file_uri(path: &Path) -> String {
    format!(
        "file://{}",
        utf8_percent_encode(&path.to_string_lossy(), KEEP)
    )
}

/// The local path of a `file:` URI or plain path; None for other schemes.
pub fn file_uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = if let Some(r) = uri.strip_prefix("file://") {
        // file://host/path is not local unless host is empty or localhost
        if r.starts_with('/') {
            r
        } else {
            r.strip_prefix("localhost")?
        }
    } else if let Some(r) = uri.strip_prefix("file:") {
        r
    } else if uri.contains("://") {
        return None;
    } else {
        uri
    };
    Some(PathBuf::from(
        percent_decode_str(rest).decode_utf8_lossy().into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_round_trip() {
        let p = Path::new("/tmp/my store/ü");
        let uri = path_to_file_uri(p);
        assert_eq!(uri, "file:///tmp/my%20store/%C3%BC");
        assert_eq!(file_uri_to_path(&uri).unwrap(), p);
        assert_eq!(file_uri_to_path("file:/a/b").unwrap(), Path::new("/a/b"));
        assert_eq!(file_uri_to_path("rel/dir").unwrap(), Path::new("rel/dir"));
        assert!(file_uri_to_path("s3://bucket/x").is_none());
        assert_eq!(file_uri_to_path("file:///a%2").unwrap(), Path::new("/a%2"));
        assert_eq!(
            path_to_file_uri(Path::new("/a/b-c_d.e~f:g@h")),
            "file:///a/b-c_d.e~f:g@h"
        );
    }
}
