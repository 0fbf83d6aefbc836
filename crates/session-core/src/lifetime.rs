//! Remember-me: a session with a lifetime of its own.
//!
//! By default every session lives by the manager's options: it expires after
//! [`Options::idle_lifetime`] without use (and at [`Options::absolute_lifetime`] after its
//! creation, if set), and its cookie is a browser-session cookie (no `Max-Age`) unless
//! [`Options::cookie_lifetime`] says otherwise. [`Session::set_lifetime`] gives one session
//! its own idle and absolute lifetimes instead, typically at login when the user ticks
//! "remember me":
//!
//! - the lifetime is stored with the session's record (the [`crate::record`] codec's
//!   [`FORMAT_V2`](crate::record::FORMAT_V2)), so the next request, on any server, judges
//!   expiry by it; it moves with the session on [`Session::regenerate`] and on rotation;
//! - both limits are cut to [`Options::max_persistent_lifetime`], and the absolute one is
//!   that maximum when none is asked for, so no session outlives it;
//! - the cookie becomes persistent: `Max-Age` is the time left until the session expires,
//!   sent again whenever the expiry moves (every write or expiry refresh), so the browser
//!   forgets the cookie when the server forgets the session.
//!
//! `set_lifetime(None)` makes the session a plain one again ("forget me"); its cookie goes
//! back to a browser-session cookie.
//!
//! The method is named `set_lifetime` rather than `remember_me` because it sets what the
//! record stores (a lifetime), and a shorter lifetime than the default is as valid as a
//! longer one (a kiosk session); [`Session::set_persistent`] is the one-argument shorthand
//! for the usual checkbox.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Manager, Options, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//!
//! // Login with "remember me" ticked.
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! session.set_persistent(Duration::from_secs(14 * 24 * 3600)).await?;
//! let set_cookie = session.commit().await?.set_cookie.expect("a new session sets its cookie");
//! assert!(set_cookie.contains("Max-Age=1209600"));
//! # Ok(())
//! # }
//! ```
//!
//! [`Options::idle_lifetime`]: crate::Options::idle_lifetime
//! [`Options::absolute_lifetime`]: crate::Options::absolute_lifetime
//! [`Options::cookie_lifetime`]: crate::Options::cookie_lifetime
//! [`Options::max_persistent_lifetime`]: crate::Options::max_persistent_lifetime

use std::time::Duration;

use crate::clock::{Millis, duration_millis};
use crate::error::Result;
use crate::manager::Manager;
use crate::record::{Lifetime, Record};
use crate::session::Session;
use crate::store::Write;
use crate::working::Change;

/// The lifetime one session is given by [`Session::set_lifetime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// The session expires this long after its last use (at least one second).
    pub idle: Duration,
    /// The session expires this long after its creation however active it is; `None`
    /// means [`crate::Options::max_persistent_lifetime`].
    pub absolute: Option<Duration>,
}

impl SessionLifetime {
    /// A remember-me lifetime: idle for up to `idle`, and no absolute limit other than the
    /// configured maximum.
    pub fn persistent(idle: Duration) -> Self {
        SessionLifetime {
            idle,
            absolute: None,
        }
    }

    /// The lifetime as stored, both limits cut to `max` (and the idle one to at least a
    /// second, so a session cannot be made to expire as it is written).
    fn bounded(self, max: Duration) -> Lifetime {
        let cut = |d: Duration| duration_millis(d.clamp(Duration::from_secs(1), max));
        Lifetime {
            idle_ms: cut(self.idle),
            absolute_ms: Some(cut(self.absolute.unwrap_or(max))),
        }
    }

    fn of(stored: Lifetime) -> Self {
        let duration = |ms: Millis| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        SessionLifetime {
            idle: duration(stored.idle_ms),
            absolute: stored.absolute_ms.map(duration),
        }
    }
}

impl Session {
    /// Gives this session a lifetime of its own (see [`crate::lifetime`]), or makes it a
    /// plain session again with `None`. Limits over
    /// [`crate::Options::max_persistent_lifetime`] are cut to it. Takes effect at commit:
    /// the record stores it, and the cookie is sent again, with `Max-Age` for a session
    /// with a lifetime and without for a plain one.
    pub async fn set_lifetime(&self, lifetime: Option<SessionLifetime>) -> Result<()> {
        let max = self.manager().options().max_persistent_lifetime;
        let lifetime = lifetime.map(|l| l.bounded(max));
        self.change_with_cookie("set_lifetime", |record| {
            (record.lifetime != lifetime).then_some(Change::Lifetime(lifetime))
        })
        .await
    }

    /// Remember-me: [`Session::set_lifetime`] with [`SessionLifetime::persistent`]`(idle)`.
    pub async fn set_persistent(&self, idle: Duration) -> Result<()> {
        self.set_lifetime(Some(SessionLifetime::persistent(idle)))
            .await
    }

    /// The session's own lifetime, as stored (cut to the maximum), or `None` for a plain
    /// session.
    pub async fn lifetime(&self) -> Result<Option<SessionLifetime>> {
        Ok(self
            .record_field(|r| r.lifetime)
            .await?
            .map(SessionLifetime::of))
    }
}

impl Manager {
    /// The idle lifetime of the session holding `record`, in ms.
    pub(crate) fn idle_ms_of(&self, record: &Record) -> Millis {
        record.lifetime.map_or(self.inner.idle_ms, |l| l.idle_ms)
    }

    /// The instant the session holding `record` reaches its absolute lifetime.
    pub(crate) fn absolute_deadline(&self, record: &Record) -> Millis {
        let absolute = match record.lifetime {
            Some(own) => own.absolute_ms,
            None => self.inner.absolute_ms,
        };
        absolute.map_or(Millis::MAX, |abs| record.created.saturating_add(abs))
    }

    /// What to write for `record`, encoded as `body`, expiring from now: the expiry and the
    /// TTL come from one clock read (a system clock read is a good part of a write's cost).
    pub(crate) fn write_for<'a>(&self, record: &'a Record, body: &'a [u8]) -> Write<'a> {
        let now = self.inner.clock.now();
        Write::new(
            body,
            self.expiry_at(record, now),
            now,
            record.owner.as_deref(),
        )
    }

    /// The expiry to write at `now` for the session holding `record`.
    pub(crate) fn expiry_at(&self, record: &Record, now: Millis) -> Millis {
        now.saturating_add(self.idle_ms_of(record))
            .min(self.absolute_deadline(record))
    }

    /// The cookie `Max-Age` for a session holding `record` that expires at `expires_at`:
    /// the time left, rounded up to a second, for a session with a lifetime of its own;
    /// `None` when the manager's [`crate::Options::cookie_lifetime`] applies.
    pub(crate) fn own_max_age(&self, record: &Record, expires_at: Millis) -> Option<Duration> {
        record.lifetime?;
        let left = crate::store::ttl_ms(expires_at, self.inner.clock.now());
        let secs = u64::try_from(left).unwrap_or(0).div_ceil(1000);
        Some(Duration::from_secs(secs))
    }
}
