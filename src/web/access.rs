//! Who may talk to `mlx serve` and `mlx ui` (issue 13, points 2 and 11), one rule for both servers: the
//! `Host` header must name this server (DNS rebinding), a POST from a browser page must come from this
//! server's own origin (CSRF), admin bodies must be `application/json` (which a cross-site form cannot send
//! without a preflight nobody answers), and the admin bearer token is compared in constant time.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// A token that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0} is empty; give a token, or --allow-unauthenticated-admin")]
    Empty(String),
    #[error("cannot read --token-file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// The admin bearer token, kept as its SHA-256 so every compare takes the same time whatever is sent.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    fn new(secret: &str) -> Token {
        Token(Sha256::digest(secret.as_bytes()).into())
    }

    /// Whether `given` is the token, in constant time.
    pub fn matches(&self, given: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        digest.ct_eq(&self.0).into()
    }

    /// The token from `--token`, else `--token-file` (one line; its newline is not part of the token),
    /// else `$MLX_SERVE_TOKEN`. An empty token from any of them is an error, not "no token".
    pub fn resolve(
        flag: Option<String>,
        file: Option<&Path>,
        env: Option<String>,
    ) -> Result<Option<Token>, TokenError> {
        let (secret, source) = if let Some(t) = flag {
            (t, "--token".to_string())
        } else if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
                path: path.display().to_string(),
                source,
            })?;
            (
                text.trim_end_matches(['\n', '\r']).to_string(),
                format!("--token-file {}", path.display()),
            )
        } else if let Some(t) = env {
            (t, "MLX_SERVE_TOKEN".to_string())
        } else {
            return Ok(None);
        };
        if secret.trim().is_empty() {
            return Err(TokenError::Empty(source));
        }
        Ok(Some(Token::new(&secret)))
    }
}

/// The `Host` names this server answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    names: Vec<String>,
    /// Bound to every address: any IP literal names this server (a rebinding attack needs a DNS name).
    any_ip: bool,
    any: bool,
}

impl AllowedHosts {
    /// Loopback names, the address bound (`bind` as given, and `ip` as resolved), and `extra`
    /// (`--allowed-hosts`; `*` allows any).
    pub fn new(bind: &str, ip: IpAddr, extra: &[String]) -> AllowedHosts {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_string)
            .collect();
        names.push(bind.trim_matches(['[', ']']).to_ascii_lowercase());
        names.push(ip.to_string());
        names.extend(extra.iter().map(|h| {
            host_name(h).unwrap_or_else(|| h.trim_matches(['[', ']']).to_ascii_lowercase())
        }));
        AllowedHosts {
            any: extra.iter().any(|h| h == "*"),
            any_ip: ip.is_unspecified(),
            names,
        }
    }

    /// Whether a `Host` value names this server: exactly an allowed name or address, with an optional
    /// port, and nothing else (no trailing dot, no bytes after `]`, nothing outside ASCII).
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let Some(name) = host_name(host) else {
            return false;
        };
        self.names.contains(&name) || (self.any_ip && name.parse::<IpAddr>().is_ok())
    }
}

/// The name of a `Host` value, lowercased, when the value is exactly `name[:port]` (a DNS name or an IPv4
/// address: letters, digits, `-` and `.`) or `[v6][:port]`; `None` for anything else.
fn host_name(host: &str) -> Option<String> {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            v6.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?),
            };
            (v6, port)
        }
        None => {
            let (name, port) = match host.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (host, None),
            };
            let name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
            if name.is_empty() || !name.bytes().all(name_byte) {
                return None;
            }
            (name, port)
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// `host[:port]` with the scheme's default port dropped, for comparing an Origin with a Host.
fn authority(host: &str, default_port: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.strip_suffix(default_port) {
        Some(bare) if default_port.len() > 1 => bare.to_string(),
        _ => lower,
    }
}

/// The access rule of one server.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: Option<Token>,
    pub allow_unauthenticated_admin: bool,
    pub hosts: AllowedHosts,
    /// How to turn admin actions on, for the 403 when they are off.
    pub disabled: &'static str,
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    let mut r = Response::new(Body::from(
        serde_json::json!({"error_code": code, "message": message, "error": message}).to_string(),
    ));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn forbidden(message: String) -> Response {
    refuse(StatusCode::FORBIDDEN, "PERMISSION_DENIED", message)
}

impl Access {
    /// The admin rule: the bearer token (scheme case-insensitive) when one is configured; without one,
    /// refused unless explicitly allowed.
    pub fn check_admin(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        match &self.token {
            Some(token) => {
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, t)| t.trim());
                match given {
                    Some(t) if token.matches(t) => Ok(()),
                    _ => Err(Box::new(refuse(
                        StatusCode::UNAUTHORIZED,
                        "PERMISSION_DENIED",
                        "a valid 'Authorization: Bearer <token>' header is required".into(),
                    ))),
                }
            }
            None if self.allow_unauthenticated_admin => Ok(()),
            None => Err(Box::new(refuse(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                self.disabled.to_string(),
            ))),
        }
    }
}

/// An admin body must be `application/json` (an empty body too): a cross-site form or `text/plain` post
/// cannot set it without a CORS preflight, which these servers never approve.
pub fn require_json(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Box::new(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_PARAMETER_VALUE",
            format!(
                "admin requests need 'Content-Type: application/json' (got '{}')",
                crate::redact::brief(ct)
            ),
        )))
    }
}

/// Middleware for every request: a `Host` this server answers to (403 otherwise), and on a POST an
/// `Origin`, when a browser sends one, that is this server's own.
pub async fn check_request(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let mut given = request.headers().get_all(header::HOST).iter();
    let (first, second) = (given.next(), given.next());
    let host = match (first, second) {
        // A Host that is not visible ASCII, or two of them, names nothing this server answers to.
        (Some(v), None) => Some(
            v.to_str()
                .map(str::to_string)
                .map_err(|_| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ),
        (Some(v), Some(_)) => Some(Err(String::from_utf8_lossy(v.as_bytes()).into_owned())),
        (None, _) => request.uri().authority().map(|a| Ok(a.to_string())),
    };
    let host = match host {
        Some(Ok(h)) if access.hosts.allows(&h) => Some(h),
        None => None,
        Some(Ok(h) | Err(h)) => {
            return forbidden(format!(
                "Host '{}' is not this server's name; start the server with --allowed-hosts NAME to allow it",
                crate::redact::brief(&h)
            ));
        }
    };
    if request.method() != Method::GET
        && request.method() != Method::HEAD
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let origin = origin.to_str().unwrap_or("");
        let same = match (origin.split_once("://"), &host) {
            (Some((scheme, rest)), Some(host)) => {
                let default = match scheme {
                    "http" => ":80",
                    "https" => ":443",
                    _ => "",
                };
                !default.is_empty() && authority(rest, default) == authority(host, default)
            }
            _ => false,
        };
        if !same {
            return forbidden(format!(
                "cross-origin request from '{}' refused",
                crate::redact::brief(origin)
            ));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_loopback_the_bound_address_and_the_allowed_ones() {
        let h = AllowedHosts::new(
            "127.0.0.1",
            "127.0.0.1".parse().unwrap(),
            &["models.lan".into()],
        );
        for ok in [
            "127.0.0.1:5000",
            "localhost",
            "LOCALHOST:1",
            "[::1]:80",
            "models.lan:5000",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "rebind.evil.example",
            "10.0.0.1:5000",
            "models.lan.evil",
            "",
            // Issue 30, points 5 and 7: only exactly an allowed name, with an optional port.
            "127.0.0.1.evil.example",
            "127.0.0.1.evil.example:5000",
            "127.0.0.1evil",
            "localhost.evil",
            "localhost.",
            "localhost.:5000",
            "[::1]evil.com",
            "[::1]:80evil",
            "[::1]:",
            "[127.0.0.1]",
            "::1",
            "localhost:",
            "localhost:80:80",
            "localhost:123456",
            "localhost:-1",
            "localhost@evil.example",
            "localhost evil",
            "rebind.evil.example\u{ff}",
            "localhost\u{ff}",
            "l\u{f6}calhost",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        let any = AllowedHosts::new("0.0.0.0", "0.0.0.0".parse().unwrap(), &[]);
        assert!(any.allows("192.168.1.7:5000") && !any.allows("rebind.evil.example"));
        for bad in [
            "127.0.0.1.evil.example",
            "[::1]evil.com",
            "10.0.0.1.",
            "[::1",
        ] {
            assert!(!any.allows(bad), "{bad}");
        }
        assert!(any.allows("[fe80::1]:5000") && any.allows("10.1.2.3"));
        assert!(AllowedHosts::new("::1", "::1".parse().unwrap(), &["*".into()]).allows("x"));
    }

    #[test]
    fn tokens_compare_whole_and_refuse_empty() {
        let t = Token::resolve(Some("s3cret".into()), None, None)
            .unwrap()
            .unwrap();
        assert!(t.matches("s3cret") && !t.matches("s3cre") && !t.matches("s3cret "));
        assert!(matches!(
            Token::resolve(Some(String::new()), None, Some("x".into())),
            Err(TokenError::Empty(_))
        ));
        assert!(Token::resolve(None, None, Some("  ".into())).is_err());
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("t");
        std::fs::write(&f, "from-file\n").unwrap();
        let t = Token::resolve(None, Some(&f), None).unwrap().unwrap();
        assert!(t.matches("from-file"));
        std::fs::write(&f, "\n").unwrap();
        assert!(Token::resolve(None, Some(&f), None).is_err());
        assert!(Token::resolve(None, None, None).unwrap().is_none());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let access = Access {
            token: Token::resolve(Some("t0k".into()), None, None).unwrap(),
            allow_unauthenticated_admin: false,
            hosts: AllowedHosts::new("127.0.0.1", "127.0.0.1".parse().unwrap(), &[]),
            disabled: "off",
        };
        for (value, ok) in [
            ("Bearer t0k", true),
            ("bearer t0k", true),
            ("BEARER  t0k", true),
            ("Basic t0k", false),
            ("Bearer t0", false),
            ("t0k", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            assert_eq!(access.check_admin(&h).is_ok(), ok, "{value}");
        }
    }
}
