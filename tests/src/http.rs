//! A minimal HTTP/1.1 client for tests of the driver's API and of `/metrics`
//! endpoints: one request per connection, plain text, no dependencies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result};

/// An answer: its status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| format!("not JSON ({}): {}", self.status, self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `METHOD base+path` with an optional `Authorization` header value.
pub fn request(method: &str, base: &str, path: &str, authorization: Option<&str>) -> Result<Response> {
    let host = base.strip_prefix("http://").context("an http:// URL")?.trim_end_matches('/');
    let mut stream = TcpStream::connect(host).with_context(|| format!("connecting to {host}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).context("a UTF-8 answer")?;
    let (head, body) = text.split_once("\r\n\r\n").context("an HTTP answer")?;
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).context("status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body)? } else { body.to_string() };
    Ok(Response { status, headers, body })
}

/// `GET base+path`.
pub fn get(base: &str, path: &str, authorization: Option<&str>) -> Result<Response> {
    request("GET", base, path, authorization)
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("a chunk size")?;
        let size = usize::from_str_radix(size.trim(), 16).context("a hex chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("a whole chunk")?);
        body = rest[size..].trim_start_matches("\r\n");
    }
}

/// The value of one Prometheus sample, `name{labels}` as rendered (labels in
/// the order the exporter writes them), or the sum over all label sets when
/// `labels` is `None`.
pub fn sample(metrics: &str, name: &str, labels: Option<&str>) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| match labels {
            Some(labels) => *series == format!("{name}{{{labels}}}"),
            None => *series == name || series.strip_prefix(name).is_some_and(|r| r.starts_with('{')),
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}
