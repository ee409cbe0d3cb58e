//! HTTP to an MLflow tracking server: MLflow's auth variables, retries with backoff on 429/5xx and
//! dropped connections, timeouts, and the server's `error_code`/`message` turned into [`StoreError::Remote`].

use super::super::{Result, StoreError};
use base64::Engine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use ureq::http;

/// What a query value or path segment keeps unescaped (RFC 3986 unreserved).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Each segment of an artifact path percent-encoded, the slashes kept.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

pub struct Client {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
    max_retries: u32,
    backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    budget: Duration,
    /// Where the retry notes go (see [`crate::store::Notes`]).
    pub(super) notes: crate::store::Notes,
}

/// `--ca-cert`, set once by the CLI before any store is opened.
static CA_CERT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Trust the CA certificates in the PEM file `path` for every tracking-server connection of this process
/// (`--ca-cert`; overrides `MLFLOW_TRACKING_SERVER_CERT_PATH`).
pub fn set_ca_cert(path: std::path::PathBuf) {
    let _ = CA_CERT.set(path);
}

/// The CA bundle in effect: `--ca-cert`, else `MLFLOW_TRACKING_SERVER_CERT_PATH`.
pub fn ca_cert_path() -> Option<std::path::PathBuf> {
    CA_CERT
        .get()
        .cloned()
        .or_else(|| crate::settings::env::path("MLFLOW_TRACKING_SERVER_CERT_PATH"))
}

/// The certificates of a PEM bundle as the roots to trust.
fn load_ca_certs(path: &Path) -> Result<ureq::tls::RootCerts> {
    let bad = |why: String| StoreError::InvalidValue {
        what: format!(
            "CA certificate file {} (--ca-cert or MLFLOW_TRACKING_SERVER_CERT_PATH)",
            path.display()
        ),
        why,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item.map_err(|e| bad(e.to_string()))? {
            ureq::tls::PemItem::Certificate(c) => certs.push(c),
            _ => continue,
        }
    }
    if certs.is_empty() {
        return Err(bad("it holds no PEM certificate".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

use crate::settings::env::number as env_number;

impl Client {
    /// A client for the server at `base` (`http://host:port`), configured from MLflow's environment
    /// variables: `MLFLOW_TRACKING_TOKEN` or `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`,
    /// `MLFLOW_HTTP_REQUEST_TIMEOUT` (seconds to wait for an answer, default 15),
    /// `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (default 5), `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (seconds, default
    /// 0.5; waits double each retry), `MLX_HTTP_TOTAL_TIMEOUT` (seconds, default 30: no retry starts after
    /// that, so a hung server is given up on in well under a minute) and
    /// `MLFLOW_TRACKING_SERVER_CERT_PATH` (or `--ca-cert`: a PEM bundle of the CA certificates to trust
    /// instead of the built-in roots, as MLflow's client does).
    /// Credentials in the URI (`http://user:pass@host`) become Basic auth, as the `requests` library that
    /// MLflow's client uses does, and never stay in the URL this client prints.
    pub fn from_env(base: &str, notes: crate::store::Notes) -> Result<Client> {
        let (base, userinfo) = split_userinfo(base);
        let timeout = env_number::<f64>("MLFLOW_HTTP_REQUEST_TIMEOUT")
            .filter(|t| *t > 0.0)
            .unwrap_or(15.0);
        let answer = Duration::from_secs_f64(timeout);
        // Bodies (artifact transfers) may take longer than the wait for an answer.
        let transfer = Some(answer.max(Duration::from_secs(120)));
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_send_request(Some(answer))
            .timeout_recv_response(Some(answer))
            .timeout_send_body(transfer)
            .timeout_recv_body(transfer)
            .user_agent(format!("mlx/{}", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_cert_path() {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(load_ca_certs(&path)?)
                    .build(),
            );
        }
        let agent = config.build().into();
        let var = crate::settings::env::get;
        let auth = if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            Some(format!("Bearer {token}"))
        } else {
            var("MLFLOW_TRACKING_USERNAME").map(|user| {
                let pass = var("MLFLOW_TRACKING_PASSWORD").unwrap_or_default();
                let raw = format!("{user}:{pass}");
                basic(&raw)
            })
        }
        .or_else(|| userinfo.map(|u| basic(&u)));
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            agent,
            auth,
            max_retries: env_number("MLFLOW_HTTP_REQUEST_MAX_RETRIES").unwrap_or(5),
            backoff: Duration::from_secs_f64(
                env_number::<f64>("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")
                    .filter(|f| *f >= 0.0)
                    .unwrap_or(0.5),
            ),
            budget: Duration::from_secs_f64(
                env_number::<f64>("MLX_HTTP_TOTAL_TIMEOUT")
                    .filter(|t| *t >= 0.0)
                    .unwrap_or(30.0),
            ),
            notes,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/2.0/mlflow/<endpoint>?query`.
    pub fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.get_under("api", endpoint, query)
    }

    /// `GET /ajax-api/2.0/mlflow/<endpoint>?query`: what MLflow's server offers its own UI only (bulk
    /// metric histories). Its answers are Python's JSON, with bare `NaN` and `Infinity`: they are read
    /// as the strings the REST API sends for them.
    pub fn get_ajax(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value> {
        self.get_under("ajax-api", endpoint, query)
    }

    fn get_under(&self, api: &str, endpoint: &str, query: &[(&str, &str)]) -> Result<Value> {
        let mut url = format!("{}/{api}/2.0/mlflow/{endpoint}", self.base);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", encode(k), encode(v)));
        }
        self.json(http::Method::GET, endpoint, &url, None)
    }

    /// `POST`, `PATCH` or `DELETE /api/2.0/mlflow/<endpoint>` with a JSON body.
    pub fn send(&self, method: http::Method, endpoint: &str, body: &Value) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        self.json(method, endpoint, &url, Some(body))
    }

    pub fn post(&self, endpoint: &str, body: &Value) -> Result<Value> {
        self.send(http::Method::POST, endpoint, body)
    }

    fn json(
        &self,
        method: http::Method,
        endpoint: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON serializes"));
        let text = self.with_retries(&method, endpoint, url, || {
            let mut req = http::Request::builder().method(method.clone()).uri(url);
            if bytes.is_some() {
                req = req.header("Content-Type", "application/json");
            }
            req = self.authorize(req);
            let req = req
                .body(bytes.clone().unwrap_or_default())
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            let mut resp = self.agent.run(req)?;
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_string()?;
            Ok((status, text))
        })?;
        if text.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        let text = quote_non_finite(&text);
        let bad = |message: String| StoreError::Remote {
            method: method.to_string(),
            endpoint: endpoint.into(),
            status: 200,
            code: "BAD_RESPONSE".into(),
            message,
        };
        let value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("the answer is not JSON ({e})")))?;
        check_field_types(&value, &mut String::new()).map_err(bad)?;
        Ok(value)
    }

    fn authorize(&self, req: http::request::Builder) -> http::request::Builder {
        match &self.auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        }
    }

    fn artifact_url(&self, path: &str) -> String {
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encode_path(path.trim_matches('/'))
        )
    }

    /// Upload a local file to the artifact proxy at `path` (relative to the artifacts destination).
    pub fn put_file(&self, path: &str, local: &Path) -> Result<()> {
        let url = self.artifact_url(path);
        self.with_retries(&http::Method::PUT, path, &url, || {
            let file = std::fs::File::open(local)?;
            let req = self
                .authorize(http::Request::builder().method("PUT").uri(&url))
                .header("Content-Type", "application/octet-stream")
                .body(file)
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            let mut resp = self.agent.run(req)?;
            let status = resp.status().as_u16();
            Ok((status, resp.body_mut().read_to_string().unwrap_or_default()))
        })?;
        Ok(())
    }

    /// List one folder of the artifact proxy: `(name, is_dir, size)`.
    pub fn list_artifact_dir(&self, path: &str) -> Result<Vec<(String, bool, Option<u64>)>> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts?path={}",
            self.base,
            encode(path.trim_matches('/'))
        );
        let v = self.json(http::Method::GET, "mlflow-artifacts/artifacts", &url, None)?;
        Ok(v.get("files")
            .and_then(Value::as_array)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f.get("path")?.as_str()?.to_string(),
                            f.get("is_dir").and_then(Value::as_bool).unwrap_or(false),
                            f.get("file_size")
                                .and_then(|s| s.as_u64().or_else(|| s.as_str()?.parse().ok())),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Download the artifact at `path` into the local file `dest`.
    pub fn download(&self, path: &str, dest: &Path) -> Result<()> {
        let url = self.artifact_url(path);
        self.with_retries(&http::Method::GET, path, &url, || {
            let req = self
                .authorize(http::Request::builder().method("GET").uri(&url))
                .body(())
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            let mut resp = self.agent.run(req)?;
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                return Ok((status, resp.body_mut().read_to_string().unwrap_or_default()));
            }
            let mut file = std::fs::File::create(dest)?;
            let mut reader = resp.body_mut().as_reader();
            std::io::copy(&mut reader, &mut file)?;
            file.sync_all()?;
            Ok((status, String::new()))
        })?;
        Ok(())
    }

    /// Run `attempt` until it gets a non-retryable answer or the retries are used up; a 2xx answer's body
    /// is returned, any other status becomes [`StoreError::Remote`].
    fn with_retries(
        &self,
        method: &http::Method,
        endpoint: &str,
        url: &str,
        mut attempt: impl FnMut() -> std::result::Result<(u16, String), ureq::Error>,
    ) -> Result<String> {
        let mut tries = 0;
        let start = std::time::Instant::now();
        loop {
            let wait = self.backoff.mul_f64(2f64.powi(tries as i32));
            let result = attempt();
            // Another try only if the retries and the time budget allow it.
            let again = tries < self.max_retries && start.elapsed() + wait <= self.budget;
            let gave_up = || {
                format!(
                    "gave up after {} attempt{} over {:.1} s; MLFLOW_HTTP_REQUEST_TIMEOUT, \
                     MLFLOW_HTTP_REQUEST_MAX_RETRIES and MLX_HTTP_TOTAL_TIMEOUT set the limits",
                    tries + 1,
                    if tries == 0 { "" } else { "s" },
                    start.elapsed().as_secs_f64()
                )
            };
            match result {
                Ok((status, text)) if (200..300).contains(&status) => return Ok(text),
                Ok((status, _)) if retryable_status(status) && again => {}
                Ok((status, text)) => {
                    let mut e = remote_error(method, endpoint, status, &text);
                    if let StoreError::Remote { message, .. } = &mut e
                        && retryable_status(status)
                    {
                        message.push_str(&format!(" ({})", gave_up()));
                    }
                    return Err(e);
                }
                Err(e) if retryable_error(&e) && again => {
                    // Say so at once: the retries can take MLX_HTTP_TOTAL_TIMEOUT seconds in silence.
                    (self.notes)(&format!(
                        "mlx: cannot reach {}, retrying ({}/{}) ...",
                        crate::redact::uris(&self.base),
                        tries + 1,
                        self.max_retries
                    ));
                }
                Err(e) => {
                    let why = match e {
                        ureq::Error::Io(io) => io.to_string(),
                        other => other.to_string(),
                    };
                    let why = format!("{why} ({})", gave_up());
                    return Err(StoreError::Unreachable {
                        url: crate::redact::uris(url.split('?').next().unwrap_or(url)),
                        why,
                    });
                }
            }
            tries += 1;
            std::thread::sleep(wait);
        }
    }
}

/// Fields of MLflow's REST answers that are strings (proto3 JSON omits empty ones, so absent means "").
const STRING_FIELDS: &[&str] = &[
    "alias",
    "artifact_location",
    "artifact_uri",
    "current_stage",
    "description",
    "digest",
    "experiment_id",
    "key",
    "lifecycle_stage",
    "model_id",
    "name",
    "next_page_token",
    "path",
    "profile",
    "run_id",
    "run_name",
    "run_uuid",
    "schema",
    "source",
    "source_run_id",
    "source_type",
    "status",
    "user_id",
];

/// Fields that are int64: proto3 JSON writes them as numbers or as decimal strings.
const INT_FIELDS: &[&str] = &[
    "creation_time",
    "creation_timestamp",
    "end_time",
    "file_size",
    "last_update_time",
    "last_updated_timestamp",
    "start_time",
    "step",
    "timestamp",
    "version",
];

/// Python's `NaN`, `Infinity` and `-Infinity` outside strings turned into strings, so the text parses as
/// JSON (MLflow's REST API already sends them as strings; its UI's endpoints do not). Other text is
/// returned as it is.
fn quote_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w))
        {
            out.push_str(&format!("\"{word}\""));
            rest = &rest[word.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// Refuse an answer whose known fields have the wrong JSON type, naming the field — rather than reading
/// a number where a run id belongs as "" and failing later with `run '' does not exist`.
fn check_field_types(v: &Value, at: &mut String) -> std::result::Result<(), String> {
    let len = at.len();
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                at.truncate(len);
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(k);
                let want = if STRING_FIELDS.contains(&k.as_str()) {
                    (!matches!(x, Value::String(_) | Value::Null)).then_some("a string")
                } else if INT_FIELDS.contains(&k.as_str()) {
                    let ok = match x {
                        Value::Number(n) => n.is_i64() || n.is_u64(),
                        Value::String(s) => s.parse::<i64>().is_ok(),
                        Value::Null => true,
                        _ => false,
                    };
                    (!ok).then_some("an integer")
                } else {
                    None
                };
                if let Some(want) = want {
                    return Err(format!(
                        "field '{at}' is {}, expected {want}",
                        crate::redact::brief(&x.to_string())
                    ));
                }
                check_field_types(x, at)?;
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                at.truncate(len);
                at.push_str(&format!("[{i}]"));
                check_field_types(x, at)?;
            }
        }
        _ => {}
    }
    at.truncate(len);
    Ok(())
}

fn basic(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

/// `http://user:pass@host/x` → (`http://host/x`, `Some("user:pass")`), the userinfo percent-decoded.
fn split_userinfo(uri: &str) -> (String, Option<String>) {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return (uri.to_string(), None);
    };
    let after = &uri[scheme_end..];
    let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    match after[..auth_end].rfind('@') {
        Some(at) => {
            let decoded = percent_encoding::percent_decode_str(&after[..at])
                .decode_utf8_lossy()
                .into_owned();
            let decoded = if decoded.contains(':') {
                decoded
            } else {
                format!("{decoded}:")
            };
            (
                format!("{}{}", &uri[..scheme_end], &after[at + 1..]),
                Some(decoded),
            )
        }
        None => (uri.to_string(), None),
    }
}

fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn retryable_error(e: &ureq::Error) -> bool {
    use std::io::ErrorKind::*;
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            ConnectionReset
                | ConnectionAborted
                | ConnectionRefused
                | BrokenPipe
                | UnexpectedEof
                | TimedOut
                | Interrupted
        ),
        ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) | ureq::Error::Protocol(_) => true,
        _ => false,
    }
}

/// MLflow answers errors as `{"error_code": ..., "message": ...}`; anything else is quoted briefly.
fn remote_error(method: &http::Method, endpoint: &str, status: u16, text: &str) -> StoreError {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("error_code").unwrap_or_else(|| match status {
        401 => "UNAUTHENTICATED".into(),
        403 => "PERMISSION_DENIED".into(),
        404 => "ENDPOINT_NOT_FOUND".into(),
        _ => "HTTP_ERROR".into(),
    });
    let message = field("message").unwrap_or_else(|| {
        let mut t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if t.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|i| t.is_char_boundary(*i))
                .unwrap_or(0);
            t.truncate(cut);
            t.push('…');
        }
        if t.is_empty() { "no details".into() } else { t }
    });
    StoreError::Remote {
        method: method.to_string(),
        endpoint: endpoint.to_string(),
        status,
        code,
        // One line, always.
        message: message.replace(['\n', '\r'], " "),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_non_finite_numbers_become_strings_outside_strings_only() {
        let text =
            r#"{"a": NaN, "b": [Infinity, -Infinity, 1.5], "c": "NaN \" Infinity", "d": "x\\"}"#;
        let v: Value = serde_json::from_str(&quote_non_finite(text)).unwrap();
        assert_eq!(v["a"], "NaN");
        assert_eq!(v["b"], serde_json::json!(["Infinity", "-Infinity", 1.5]));
        assert_eq!(v["c"], "NaN \" Infinity");
        assert_eq!(v["d"], "x\\");
        assert!(matches!(
            quote_non_finite("[1]"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    use super::*;

    #[test]
    fn wrongly_typed_fields_are_named() {
        let ok = serde_json::json!({"run": {"info": {"run_id": "abc", "start_time": "12", "end_time": 3},
            "data": {"metrics": [{"key": "m", "value": "NaN", "step": 0}]}}});
        assert_eq!(check_field_types(&ok, &mut String::new()), Ok(()));
        let bad = serde_json::json!({"run": {"info": {"run_id": 12}}});
        assert_eq!(
            check_field_types(&bad, &mut String::new()),
            Err("field 'run.info.run_id' is 12, expected a string".into())
        );
        let bad = serde_json::json!({"runs": [{"info": {}}, {"info": {"start_time": 1.5}}]});
        assert_eq!(
            check_field_types(&bad, &mut String::new()),
            Err("field 'runs[1].info.start_time' is 1.5, expected an integer".into())
        );
    }

    #[test]
    fn userinfo_moves_from_the_url_to_basic_auth() {
        assert_eq!(
            split_userinfo("http://al%40ice:p%3Aw@h:5000/x"),
            (
                "http://h:5000/x".to_string(),
                Some("al@ice:p:w".to_string())
            )
        );
        assert_eq!(
            split_userinfo("https://tok@h"),
            ("https://h".to_string(), Some("tok:".to_string()))
        );
        assert_eq!(
            split_userinfo("http://h/p@q"),
            ("http://h/p@q".to_string(), None)
        );
    }
}
