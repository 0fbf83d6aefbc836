//! What a request does when its session cannot be read because the store is down.
//!
//! A backend failure is never taken for "unknown session" (that would log every user out):
//! under [`OutagePolicy::Fail`], the default, the request fails and the adapter answers 503.
//! Public pages that merely *look* at the session (a greeting, a "sign in" link) would rather
//! keep serving through a Redis restart; [`OutagePolicy::Anonymous`] lets them:
//!
//! - **Reads see an empty session.** `get` answers `None`, `keys` nothing, `id` and `owner`
//!   `None`: the visitor is served as if not signed in. [`crate::Session::is_degraded`] says
//!   when that is why.
//! - **Writes are refused** with [`crate::Error::Degraded`] (`set`, `delete`, `flush`,
//!   `set_owner`, `regenerate`, `destroy`, `destroy_other_sessions`, and so every flash
//!   operation that writes): an empty stand-in must not overwrite, replace or delete the
//!   real session. Core answers the refusal with 503 and its own message (see
//!   [`crate::response`]) when the handler passes it on; a handler may also catch it and
//!   carry on.
//! - **Nothing is stored and the cookie is left alone**: no record, no `Set-Cookie`, not even
//!   a removal, so the client still holds its ID when the store comes back.
//! - **One request, one view.** The policy decides once, at the read that fails. A store
//!   that recovers while the request runs changes nothing for that request: it finishes
//!   anonymous and writes nothing (its handler already acted on an empty session, so writing
//!   now could replace the real one). The next request reads the store again.
//! - **After a successful read, an outage is reported as usual**, with one exception: the
//!   expiry refresh of an unchanged session is skipped with a warning under `Anonymous`
//!   (the handler asked for nothing to be written, and the next request refreshes it). A
//!   change the handler made and that cannot be saved is still an error (503): silently
//!   dropping it would be worse.
//!
//! The manager's default comes from [`crate::Options::outage_policy`] (`OUTAGE_POLICY = fail`
//! or `anonymous`); an adapter overrides it per route with
//! [`crate::Session::set_outage_policy`] before the handler runs.

use std::str::FromStr;

use crate::error::Error;

/// How a request behaves when its session cannot be read because the store is down. See the
/// [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutagePolicy {
    /// The request fails with the backend error (503 from every adapter). The default.
    #[default]
    Fail,
    /// The handler sees an empty, read-only session; writes are refused with
    /// [`Error::Degraded`]; nothing is stored and no cookie is sent.
    Anonymous,
}

impl OutagePolicy {
    /// The policy's name in configuration: `fail` or `anonymous`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutagePolicy::Fail => "fail",
            OutagePolicy::Anonymous => "anonymous",
        }
    }
}

impl std::fmt::Display for OutagePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutagePolicy {
    type Err = Error;

    /// `fail` or `anonymous`, in any case.
    fn from_str(value: &str) -> Result<Self, Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fail" => Ok(OutagePolicy::Fail),
            "anonymous" => Ok(OutagePolicy::Anonymous),
            _ => Err(Error::config(
                "outage_policy",
                format!("expected fail or anonymous, got {value:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_its_own_names_in_any_case_and_nothing_else() {
        for policy in [OutagePolicy::Fail, OutagePolicy::Anonymous] {
            assert_eq!(policy.as_str().parse::<OutagePolicy>().ok(), Some(policy));
            assert_eq!(
                policy.as_str().to_uppercase().parse::<OutagePolicy>().ok(),
                Some(policy)
            );
        }
        for bad in ["", "anon", "open", "fail-open"] {
            assert!(
                matches!(bad.parse::<OutagePolicy>(), Err(Error::Config { field, .. }) if field == "outage_policy"),
                "{bad:?}"
            );
        }
        assert_eq!(OutagePolicy::default(), OutagePolicy::Fail);
    }
}
