//! Core's response headers written into actix-web's header map: translation only, the rule
//! is [`session_core::response`]'s.

use actix_web::http::header::{
    self, CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue, SET_COOKIE, VARY,
};
use session_core::{HeaderName, ResponseHeaders};

/// A response's headers, for core to write into.
pub(crate) struct Headers<'a>(pub(crate) &'a mut HeaderMap);

impl ResponseHeaders for Headers<'_> {
    fn append(&mut self, name: HeaderName, value: &str) -> bool {
        HeaderValue::from_str(value)
            .map(|value| self.0.append(header_name(name), value))
            .is_ok()
    }

    fn remove(&mut self, name: HeaderName) {
        self.0.remove(header_name(name));
    }

    fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
        self.0.get_all(header_name(name)).map(HeaderValue::as_bytes)
    }

    fn append_other(&mut self, name: &str, value: &str) -> bool {
        match (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.0.append(name, value);
                true
            }
            _ => false,
        }
    }
}

fn header_name(name: HeaderName) -> header::HeaderName {
    match name {
        HeaderName::SetCookie => SET_COOKIE,
        HeaderName::CacheControl => CACHE_CONTROL,
        HeaderName::Vary => VARY,
        HeaderName::ContentType => CONTENT_TYPE,
    }
}
