//! The one error type of the session crates.

use std::error::Error as StdError;

/// A boxed error from a backend client library (redis, sqlx, io, ...).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Result alias used throughout the session crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a session.
///
/// How an error is answered (status, public message, log level) is decided once, in
/// [`crate::response`]. Adapters never replace the client's cookie because of an error: a
/// backend outage must not look like "unknown session".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed (connection refused, timeout, I/O error, ...).
    #[error("session provider `{provider}` failed: {source}")]
    Backend {
        /// Name of the provider that failed.
        provider: &'static str,
        /// What the client library reported.
        #[source]
        source: BoxError,
    },
    /// The provider cannot do this operation (for example counting keys in memcached).
    #[error("session provider `{provider}` does not support {operation}")]
    Unsupported {
        /// Name of the provider.
        provider: &'static str,
        /// The operation that is not supported.
        operation: &'static str,
    },
    /// A configuration value is invalid; `field` names the option or config key.
    #[error("invalid session configuration `{field}`: {message}")]
    Config {
        /// The option, INI/TOML key or provider-config key at fault.
        field: String,
        /// Why the value was rejected.
        message: String,
    },
    /// No provider of this name is registered.
    #[error("unknown session provider `{name}` (registered: {})", registered.join(", "))]
    UnknownProvider {
        /// The name that was asked for.
        name: String,
        /// The names that are registered.
        registered: Vec<String>,
    },
    /// Two providers were registered under one name.
    #[error("session provider `{0}` is already registered")]
    DuplicateProvider(String),
    /// A session ID string is not well formed.
    #[error("invalid session id: {0}")]
    InvalidId(&'static str),
    /// A record is larger than the configured limit; nothing was written. The client sent
    /// too much, so it is answered with 413.
    #[error("session record is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Encoded size of the record.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// A value could not be encoded for storage.
    #[error("cannot encode session value `{key}`: {message}")]
    Encode {
        /// The session key.
        key: String,
        /// What the encoder reported.
        message: String,
    },
    /// A stored value does not decode as the requested type.
    #[error("session value `{key}` does not decode as the requested type: {message}")]
    Decode {
        /// The session key.
        key: String,
        /// What the decoder reported.
        message: String,
    },
    /// A stored record is corrupt (core reads such a record as absent).
    #[error("corrupt session record: {0}")]
    Corrupt(String),
    /// Concurrent writers kept conflicting; the bounded retry gave up.
    #[error("session save kept conflicting with concurrent requests ({attempts} attempts)")]
    Conflict {
        /// How many conditional saves were tried.
        attempts: u32,
    },
    /// A write was refused because the session is served read-only: its store could not be
    /// read and the request runs under [`crate::OutagePolicy::Anonymous`] (see
    /// [`crate::outage`]). Nothing was stored; answered with 503 like the outage behind it.
    #[error(
        "session `{operation}` refused: the store is unavailable and the session is served read-only"
    )]
    Degraded {
        /// The refused operation (`set`, `delete`, `regenerate`, ...).
        operation: &'static str,
    },
    /// A login was refused, or lost a race, because its owner holds the most sessions
    /// allowed ([`crate::Options::max_sessions_per_owner`], see [`crate::devices`]).
    /// Answered with 409: the request conflicts with the owner's other sessions, and
    /// retrying does not help until one of them ends (429 would invite clients and proxies
    /// to retry after a delay).
    #[error("the owner holds the most sessions allowed ({limit})")]
    SessionLimit {
        /// The configured cap.
        limit: usize,
    },
    /// The provider's capacity is exhausted (bounded memory provider).
    #[error("session provider `{provider}` is full ({capacity} sessions)")]
    CapacityExceeded {
        /// Name of the provider.
        provider: &'static str,
        /// The configured bound.
        capacity: usize,
    },
}

impl Error {
    /// Wraps a client-library error as a backend failure of `provider`.
    pub fn backend(provider: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            provider,
            source: source.into(),
        }
    }

    /// An `Unsupported` error for `operation` on `provider`.
    pub fn unsupported(provider: &'static str, operation: &'static str) -> Self {
        Error::Unsupported {
            provider,
            operation,
        }
    }

    /// A configuration error naming `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// True for errors caused by an unavailable or failing backend: answered with 503 (see
    /// [`Error::http_status`]), and the client's cookie is left alone.
    pub fn is_backend(&self) -> bool {
        matches!(
            self,
            Error::Backend { .. } | Error::Conflict { .. } | Error::CapacityExceeded { .. }
        )
    }

    /// True for [`Error::Degraded`]: a write refused because the session is served
    /// read-only during an outage. Not a backend error: the handler may catch it and carry
    /// on, and the commit does not report it again.
    pub fn is_degraded(&self) -> bool {
        matches!(self, Error::Degraded { .. })
    }

    /// True for [`Error::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}
