//! CSRF protection tied to the session: a synchronizer token stored in the session.
//!
//! [`Session::csrf_token`] returns the session's token, creating it on first use: 32 bytes
//! from the operating system's CSPRNG, URL-safe base64 without padding (43 characters),
//! stored under the reserved key [`CSRF_KEY`]. A page puts it in its forms (or a script in
//! an `X-CSRF-Token` header); [`Session::verify_csrf`] checks what a request sent back, in
//! constant time. [`Session::regenerate`] (login, privilege change) gives the session a new
//! token, so a token seen before login is worthless after it.
//!
//! Only credentials the browser attaches by itself need this: routes under the header
//! transport ([`crate::transport`]) are not exposed to CSRF, since a cross-site page cannot
//! make the browser send `Authorization: Bearer <token>`.
//!
//! Nothing happens unless it is used: a session that never asks for a token stores none
//! and pays nothing. Note that asking for one stores it, so the session is created (and its
//! cookie set) if it did not exist yet, which is what a form page needs anyway.
//!
//! The adapters offer a guard per framework (`CsrfLayer` for axum, `CsrfMiddleware` for
//! actix-web and poem) that answers unsafe methods ([`is_unsafe`]: all but GET, HEAD,
//! OPTIONS and TRACE) with `403 Forbidden` and [`CSRF_REJECTED`] unless they carry the
//! token, in the [`CSRF_HEADER`] header or else in the [`CSRF_FORM_FIELD`] field of an
//! `application/x-www-form-urlencoded` body of at most [`MAX_FORM_BYTES`]
//! ([`verify_request`] is the decision they share). A handler can also call
//! [`Session::verify_csrf`] itself, for example for a multipart form it parsed.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Manager, Options, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! # let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//! let session = manager.load([]);
//! // The form page embeds the token.
//! let token = session.csrf_token().await?;
//! assert_eq!(token, session.csrf_token().await?, "one token per session");
//! // The form's POST sends it back.
//! assert!(session.verify_csrf(&token).await?);
//! assert!(!session.verify_csrf("forged").await?);
//! // Login: a new ID and a new token.
//! session.regenerate().await?;
//! assert!(!session.verify_csrf(&token).await?);
//! # Ok(())
//! # }
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::record::encode_value;
use crate::session::Session;
use crate::working::{Change, WorkingCopy};

/// The session key that holds the CSRF token; reserved (like `_flash`).
pub const CSRF_KEY: &str = "_csrf";

/// The request header the adapters' CSRF guards read the token from.
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The form field the adapters' CSRF guards read the token from, in an
/// `application/x-www-form-urlencoded` body.
pub const CSRF_FORM_FIELD: &str = "csrf_token";

/// Random bytes in a token (256 bits).
const TOKEN_BYTES: usize = 32;

/// The body of the 403 a CSRF guard answers with.
pub const CSRF_REJECTED: &str = "missing or invalid CSRF token";

/// A fresh token: [`TOKEN_BYTES`] from the OS CSPRNG, URL-safe base64 without padding.
fn fresh_token() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::backend(
            "os-rng",
            format!("could not draw a CSRF token from the OS: {e}"),
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Session {
    /// The session's CSRF token, created and stored on first use. See [`crate::csrf`].
    pub async fn csrf_token(&self) -> Result<String> {
        if let Some(token) = self.get::<String>(CSRF_KEY).await? {
            return Ok(token);
        }
        let token = fresh_token()?;
        self.set(CSRF_KEY, &token).await?;
        Ok(token)
    }

    /// Whether `token` is the session's CSRF token, compared in constant time. False when
    /// the session has none (it was never asked for, or the session is new or gone).
    pub async fn verify_csrf(&self, token: &str) -> Result<bool> {
        let Some(expected) = self.get::<String>(CSRF_KEY).await? else {
            return Ok(false);
        };
        // `ct_eq` on slices of different lengths is false without comparing: the length
        // of a token is public anyway.
        Ok(bool::from(expected.as_bytes().ct_eq(token.as_bytes())))
    }
}

/// The largest form body a CSRF guard reads to find [`CSRF_FORM_FIELD`]: a bigger one is
/// treated as carrying no token (403), so a guard never buffers more than this.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Whether a request of `method` must carry a valid token: POST, PUT, PATCH and DELETE (and
/// any method that is not known to be safe); GET, HEAD, OPTIONS and TRACE pass.
pub fn is_unsafe(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// Whether a guard should look for the token in the body: there is no [`CSRF_HEADER`] and
/// the body is an `application/x-www-form-urlencoded` form.
pub fn reads_form(header: Option<&[u8]>, content_type: Option<&[u8]>) -> bool {
    header.is_none()
        && content_type.is_some_and(|ct| {
            let essence = ct.split(|&b| b == b';').next().unwrap_or_default();
            essence
                .trim_ascii()
                .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        })
}

/// The [`CSRF_FORM_FIELD`] of a form body, if it has exactly one.
pub fn form_token(body: &[u8]) -> Option<String> {
    let mut found = form_urlencoded::parse(body)
        .filter(|(name, _)| name == CSRF_FORM_FIELD)
        .map(|(_, value)| value.into_owned());
    let token = found.next()?;
    // Two fields: which one the form meant is a guess, and a guess must not pass.
    found.next().is_none().then_some(token)
}

/// What a guard decides for an unsafe request: whether the token it carries, in the
/// [`CSRF_HEADER`] line `header` or else in the form body `form`, is the session's.
pub async fn verify_request(
    session: &Session,
    header: Option<&[u8]>,
    form: Option<&[u8]>,
) -> Result<bool> {
    let token = match header {
        Some(line) => std::str::from_utf8(line).ok().map(|t| t.trim().to_owned()),
        None => form.and_then(form_token),
    };
    match token {
        Some(token) if !token.is_empty() => session.verify_csrf(&token).await,
        _ => Ok(false),
    }
}

/// Gives a session that holds a CSRF token a fresh one, as a change of the request, so the
/// move of [`Session::regenerate`] writes it with the rest in one go.
pub(crate) fn rotate(
    working: &mut WorkingCopy,
    new_id: impl FnOnce() -> Result<SessionId>,
) -> Result<()> {
    if !working.current.values.contains_key(CSRF_KEY) {
        return Ok(());
    }
    let bytes = encode_value(CSRF_KEY, &fresh_token()?)?;
    working.current.values.insert(CSRF_KEY, bytes);
    working.change(Change::Set(CSRF_KEY.to_owned()), new_id)
}
