//! A plain HTTP/1.1 client over TCP: no cookie jar, the scenarios write `Cookie` themselves.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, VARY};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::scenarios::Failure;

/// What a request carries besides its cookie.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Text(String),
    Form(String),
}

/// One answer, read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `METHOD /path`, for messages.
    pub(crate) request: String,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// Every `Set-Cookie` line, as sent.
    pub(crate) fn set_cookie_lines(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The `Set-Cookie` lines for cookie `name`.
    pub(crate) fn session_set_cookies(&self, name: &str) -> Vec<String> {
        self.set_cookie_lines()
            .into_iter()
            .filter(|line| line.split_once('=').is_some_and(|(n, _)| n.trim() == name))
            .collect()
    }

    /// Whether `Cache-Control` holds the `no-store` directive.
    pub(crate) fn no_store(&self) -> bool {
        self.headers.get_all(CACHE_CONTROL).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
            })
        })
    }

    /// Whether `Vary` names `Cookie` (or is `*`), so a shared cache keeps one answer per
    /// session.
    pub(crate) fn varies_on_cookie(&self) -> bool {
        self.varies_on("cookie")
    }

    /// Whether `Vary` names request header `name` (or is `*`).
    pub(crate) fn varies_on(&self, name: &str) -> bool {
        self.headers.get_all(VARY).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|h| h.trim() == "*" || h.trim().eq_ignore_ascii_case(name))
            })
        })
    }

    /// The `Content-Type`, if it is text.
    pub(crate) fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// Fails unless the status is `expected`.
    pub(crate) fn expect_status(&self, expected: StatusCode) -> Result<&Self, Failure> {
        if self.status == expected {
            Ok(self)
        } else {
            Err(Failure::failed(format!(
                "{}: expected {expected}, got {} (body {:?})",
                self.request,
                self.status,
                truncate(&self.body)
            )))
        }
    }

    /// Fails unless the status is 200 and the body is `expected`.
    pub(crate) fn expect_text(&self, expected: &str) -> Result<&Self, Failure> {
        self.expect_status(StatusCode::OK)?;
        if self.body == expected {
            Ok(self)
        } else {
            Err(Failure::failed(format!(
                "{}: expected body {expected:?}, got {:?}",
                self.request,
                truncate(&self.body)
            )))
        }
    }

    /// The body parsed as a JSON object.
    pub(crate) fn json(&self) -> Result<serde_json::Value, Failure> {
        serde_json::from_str(&self.body).map_err(|e| {
            Failure::failed(format!(
                "{}: body is not JSON ({e}): {:?}",
                self.request,
                truncate(&self.body)
            ))
        })
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The HTTP client bound to one base URL.
pub(crate) struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    base_url: String,
}

impl Client {
    pub(crate) fn new(base_url: &str) -> Self {
        Client {
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            base_url: base_url.to_owned(),
        }
    }

    /// Sends one request with the given `(name, value)` header lines, and reads the whole
    /// answer.
    pub(crate) async fn send_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Reply, Failure> {
        let request_line = format!("{method} {path}");
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base_url));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Text(text) => {
                builder = builder.header(CONTENT_TYPE, "text/plain; charset=utf-8");
                Bytes::from(text)
            }
            Body::Form(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(form)
            }
        };
        let request = builder
            .body(Full::new(bytes))
            .map_err(|e| Failure::failed(format!("{request_line}: cannot build request: {e}")))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| Failure::failed(format!("{request_line}: request failed: {e:?}")))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Failure::failed(format!("{request_line}: reading the body: {e}")))?
            .to_bytes();
        Ok(Reply {
            request: request_line,
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
