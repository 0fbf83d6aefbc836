//! Lifecycle and security events, for audit logs and intrusion detection.
//!
//! Events carry ID fingerprints (see [`crate::SessionId::fingerprint`]), never raw IDs.

use std::sync::Arc;

/// Something that happened to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new session was stored and its cookie issued.
    Created {
        /// Fingerprint of the new ID.
        session: String,
    },
    /// A session moved to a new ID.
    Regenerated {
        /// Fingerprint of the old ID.
        from: String,
        /// Fingerprint of the new ID.
        to: String,
    },
    /// A session was given a new ID by periodic rotation; the old one forwards to it for
    /// the grace (see [`crate::rotation`]).
    Rotated {
        /// Fingerprint of the old ID.
        from: String,
        /// Fingerprint of the new ID.
        to: String,
    },
    /// A session was destroyed (logout, emptied, or "log out everywhere").
    Destroyed {
        /// Fingerprint of the ID.
        session: String,
    },
    /// A presented session had expired (idle or absolute lifetime).
    Expired {
        /// Fingerprint of the ID.
        session: String,
    },
    /// A well-formed ID the store does not know was presented (strict mode refused it).
    UnknownId {
        /// Fingerprint of the ID.
        session: String,
    },
    /// A stored record did not decode and was discarded.
    Corrupt {
        /// Fingerprint of the ID.
        session: String,
    },
    /// A conditional save conflicted with a concurrent request and was replayed.
    ConflictRetried {
        /// Fingerprint of the ID.
        session: String,
        /// Which attempt conflicted (1-based).
        attempt: u32,
    },
    /// A signed cookie failed verification and was ignored.
    BadSignature,
}

/// Receives every [`Event`]; set with [`crate::Manager::set_event_hook`]. It runs on the
/// request path: keep it cheap (hand work to a channel).
pub type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;

/// `make()` when a subscriber wants DEBUG spans, else a disabled span.
///
/// `debug_span!` alone still costs a callsite check and, in builds where tracing's `log`
/// feature is on (actix-web turns it on), a trip through `Span::log`: measurable on every
/// request (`bench/NOTES.md`) although nobody listens. `level_enabled!` is one atomic load
/// when no subscriber is installed.
pub(crate) fn debug_span(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        make()
    } else {
        tracing::Span::none()
    }
}
