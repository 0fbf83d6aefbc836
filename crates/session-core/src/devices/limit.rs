//! What a per-owner session cap does when a login would exceed it.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// What happens when an owner already holds [`crate::Options::max_sessions_per_owner`]
/// sessions and logs in again (`OWNER_LIMIT_POLICY`); see [`crate::devices`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerLimitPolicy {
    /// The new login wins: the owner's least recently seen sessions are destroyed (the
    /// default, as Spring Session's `maximumSessions`: a user who forgot to sign out on an
    /// old device is not locked out).
    #[default]
    Evict,
    /// The new login is refused with [`Error::SessionLimit`] (409) until the owner signs out
    /// somewhere.
    Refuse,
}

impl OwnerLimitPolicy {
    /// The config-string form: `evict` or `refuse`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OwnerLimitPolicy::Evict => "evict",
            OwnerLimitPolicy::Refuse => "refuse",
        }
    }
}

impl fmt::Display for OwnerLimitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OwnerLimitPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "evict" => Ok(OwnerLimitPolicy::Evict),
            "refuse" => Ok(OwnerLimitPolicy::Refuse),
            _ => Err(Error::config(
                "owner_limit_policy",
                format!("expected evict or refuse, got {s:?}"),
            )),
        }
    }
}
