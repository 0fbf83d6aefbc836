//! Settings an adapter applies per route: the request's session runs under them instead of
//! the manager's options.
//!
//! Each adapter has one generic per-route layer or middleware over [`RouteSetting`]; the
//! outage policy ([`crate::outage`]) and the transport ([`crate::transport`]) are its two
//! settings. A setting is applied before the handler runs and takes effect when the session
//! is first used.

use crate::outage::OutagePolicy;
use crate::session::Session;
use crate::transport::Transport;

/// A setting an adapter applies to a request's session for the routes it wraps.
pub trait RouteSetting: Copy + std::fmt::Debug + Send + Sync + 'static {
    /// Applies the setting to `session` (a plain store: no `.await`, no allocation).
    fn apply(self, session: &Session);

    /// Whether the session needs the request's token header under this setting: the
    /// adapter then hands its lines over with [`Session::present_token`].
    fn reads_token_header(self) -> bool {
        false
    }
}

impl RouteSetting for OutagePolicy {
    fn apply(self, session: &Session) {
        session.set_outage_policy(self);
    }
}

impl RouteSetting for Transport {
    fn apply(self, session: &Session) {
        session.set_transport(self);
    }

    fn reads_token_header(self) -> bool {
        self != Transport::Cookie
    }
}
