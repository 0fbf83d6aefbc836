//! A plain HTTP/1.1 client over real TCP, with no cookie jar: tests write `Cookie` themselves.

#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The cookie name of `session_core::Options::default()`.
pub const COOKIE_NAME: &str = "MacaronSession";

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The single session `Set-Cookie` line, if any.
    pub fn session_set_cookie(&self) -> Option<String> {
        let lines: Vec<String> = self
            .set_cookies()
            .into_iter()
            .filter(|l| l.starts_with(&format!("{COOKIE_NAME}=")))
            .collect();
        assert!(lines.len() <= 1, "several session cookies: {lines:?}");
        lines.into_iter().next()
    }

    /// The `name=value` pair of the session cookie set by this reply.
    pub fn session_cookie(&self) -> Option<String> {
        self.session_set_cookie()
            .and_then(|l| l.split(';').next().map(str::to_owned))
    }

    /// The attributes of the session `Set-Cookie`, trimmed, after the `name=value` pair.
    pub fn cookie_attributes(&self) -> Vec<String> {
        self.session_set_cookie()
            .map(|l| l.split(';').skip(1).map(|a| a.trim().to_owned()).collect())
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client for the app at `base` (`http://127.0.0.1:PORT`).
#[derive(Clone)]
pub struct Http {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(base: impl Into<String>) -> Self {
        Http {
            base: base.into(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        let body = match body {
            Some((content_type, body)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                Full::new(Bytes::from(body))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self
            .client
            .request(request.body(body).expect("valid request"))
            .await
            .unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::GET, path, cookie, None).await
    }

    pub async fn put(&self, path: &str, cookie: Option<&str>, value: &str) -> Reply {
        self.send(
            Method::PUT,
            path,
            cookie,
            Some(("text/plain", value.to_owned())),
        )
        .await
    }

    pub async fn delete(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Method::DELETE, path, cookie, None).await
    }

    pub async fn post_form(&self, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        self.send(
            Method::POST,
            path,
            cookie,
            Some(("application/x-www-form-urlencoded", form.to_owned())),
        )
        .await
    }
}

/// The four `<h2>` lines of the signup template, given its four fields.
pub fn signup_page(success: &str, error: &str, info: &str, warning: &str) -> String {
    format!("<h2>{success}</h2>\n<h2>{error}</h2>\n<h2>{info}</h2>\n<h2>{warning}</h2>")
}
