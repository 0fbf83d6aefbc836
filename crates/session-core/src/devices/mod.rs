//! A user's devices: the live sessions of an owner, with a little metadata and an opaque
//! handle each, revocable one by one; and a cap on how many sessions an owner may hold.
//!
//! Sessions bound to an owner ([`Session::set_owner`], at login) are listed by
//! [`Manager::devices`] (or [`Session::devices`] for the owner of the session asking), most
//! recently seen first, each as a [`Device`]. Both need a provider that keeps an owner index
//! ([`crate::Capabilities::owner_index`]; every provider but memcached and Couchbase).
//!
//! - **Handle.** A [`DeviceHandle`] is a domain-separated SHA-256 of the session's backend
//!   key, cut to 128 bits: stable across processes and restarts, never the session ID nor
//!   the key, and not reversible to either. [`Manager::revoke_device`] destroys the session
//!   with that handle only if it belongs to the given owner, so a handle of another owner's
//!   session revokes nothing. With `hash_ids` on, the key is already a hash; the handle is a
//!   hash of that.
//! - **Created** is when the session was created (kept across regenerate and rotation).
//! - **Last seen** costs no write of its own: it is derived from the expiry core already
//!   refreshes, at `touch_interval` granularity, on use (`expires_at − idle lifetime`, the
//!   session's own idle lifetime for a remember-me session). One limit: once a session's
//!   expiry is held at its absolute deadline (the deadline is less than one idle lifetime
//!   away), its expiry no longer moves, and last seen stays at `deadline − idle`, a lower
//!   bound of the real time.
//! - **User agent and client IP** are personal data, so they are **off by default**. With
//!   [`Options::device_metadata`] (`DEVICE_METADATA = true`) they are stored in the record
//!   when a session is bound to its owner, cut down first: the `User-Agent` to
//!   [`MAX_USER_AGENT`] bytes on a character boundary without control characters, the
//!   address to its network (IPv4 /24, IPv6 /48). Adapters hand core the `User-Agent`
//!   header and the TCP peer address (behind a reverse proxy that is the proxy's address:
//!   the adapters trust no forwarded header). They are kept as long as the session and
//!   removed with it, on unbinding or flush. Say so in your privacy notice.
//!
//! # Per-owner cap
//!
//! [`Options::max_sessions_per_owner`] (`MAX_SESSIONS_PER_OWNER = N`, unset by default)
//! bounds an owner's sessions; [`Options::owner_limit_policy`] (`OWNER_LIMIT_POLICY`) says
//! what a login over the cap does ([`OwnerLimitPolicy`]): `evict` (the default) destroys
//! the least recently seen sessions, `refuse` refuses the login with
//! [`Error::SessionLimit`], answered 409 by every adapter ([`crate::response`]). A cap on a
//! provider without an owner index is refused by [`Manager::new`] with [`Error::Config`].
//!
//! The cap is enforced when a session is bound to an owner (the owner changes to `Some`):
//!
//! 1. under `refuse`, [`Session::set_owner`] first counts the owner's sessions and refuses
//!    with nothing written when there are `N` already, so an ordinary refused login leaves
//!    the visitor's session as it was (bind before `regenerate` for that: see the example);
//! 2. at commit, after the session is written with its owner, the owner's sessions are
//!    listed and ranked in one total order: under `evict` most recently seen first, under
//!    `refuse` earliest bound first (the binding time is stored in the record when a cap
//!    is configured), ties by handle; every session ranked past `N` is destroyed. If that
//!    includes the login's own session, the login fails with [`Error::SessionLimit`] and its
//!    session is gone (the client is signed out, its cookie names nothing).
//!
//! **The bound.** Logins of one owner that race are each checked after their own write, so
//! the last of them to list sees every session written before it and destroys all but the
//! first `N` of the order: once every racing login has returned, the owner holds at most
//! `N` sessions (exactly `min(N, sessions)`), and they are the first `N` of the order. A
//! session among those is never destroyed by a racing login, since any login that sees it
//! ranks it within its first `N` too. While logins are still in flight the owner can hold
//! up to `N` plus the number of logins in flight. A login that returned `Ok` can still be
//! displaced afterwards by a racing login that ranks before it and listed later (under
//! `evict` a more recent one, which is the policy; under `refuse` one bound at an earlier
//! or equal instant whose write landed later); its next request then finds it signed out.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Manager, MockClock, Options, OwnerLimitPolicy};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let options = Options {
//!     max_sessions_per_owner: Some(2),
//!     owner_limit_policy: OwnerLimitPolicy::Evict,
//!     ..Options::default()
//! };
//! // A clock the example moves by hand: sessions last seen in the same millisecond rank by
//! // their handles, so each login here happens a second after the one before.
//! let clock = MockClock::default();
//! let manager = Manager::with_store(options, Arc::new(MemoryStore::default()), Arc::new(clock.clone()))?;
//!
//! // A login: bind first (under `refuse` this is where an ordinary refusal happens, with
//! // nothing written), then move to a new ID.
//! async fn login(manager: &Manager, user: &str) -> session_core::Result<String> {
//!     let session = manager.load([]);
//!     session.set_owner(Some(user)).await?;
//!     session.regenerate().await?;
//!     session.set("uid", user).await?;
//!     let set_cookie = session.commit().await?.set_cookie.unwrap_or_default();
//!     Ok(set_cookie.split(';').next().unwrap_or_default().to_owned())
//! }
//! let laptop = login(&manager, "gopher").await?;
//! clock.advance(Duration::from_secs(1));
//! let phone = login(&manager, "gopher").await?;
//!
//! // The phone's "your devices" page: two sessions, the phone's own marked current.
//! let session = manager.load([phone.as_str()]);
//! let devices = session.devices().await?;
//! assert_eq!(devices.len(), 2);
//! let other = devices.iter().find(|d| !d.current).expect("the laptop");
//!
//! // Revoke the laptop by its handle: its cookie names nothing any more.
//! assert!(session.revoke_device(&other.handle).await?);
//! session.commit().await?;
//! let laptop_session = manager.load([laptop.as_str()]);
//! assert_eq!(laptop_session.get::<String>("uid").await?, None);
//!
//! // Three logins with a cap of two: the least recently seen session is evicted.
//! clock.advance(Duration::from_secs(1));
//! login(&manager, "gopher").await?;
//! clock.advance(Duration::from_secs(1));
//! login(&manager, "gopher").await?;
//! assert_eq!(manager.devices("gopher", None).await?.len(), 2);
//! # Ok(())
//! # }
//! ```
//!
//! [`Options::device_metadata`]: crate::Options::device_metadata
//! [`Options::max_sessions_per_owner`]: crate::Options::max_sessions_per_owner
//! [`Options::owner_limit_policy`]: crate::Options::owner_limit_policy
//! [`Error::SessionLimit`]: crate::Error::SessionLimit
//! [`Error::Config`]: crate::Error::Config

mod cap;
mod client;
mod handle;
mod limit;

use std::net::IpAddr;

use serde::Serialize;

use crate::clock::Millis;
use crate::error::Result;
use crate::events::Event;
use crate::id::SessionId;
use crate::load::{Live, Verdict};
use crate::manager::Manager;
use crate::record::{Binding, Record};
use crate::session::Session;

pub(crate) use cap::enforce;
pub(crate) use client::ClientInfo;
pub use client::MAX_USER_AGENT;
pub use handle::{DeviceHandle, ParseHandleError};
pub use limit::OwnerLimitPolicy;

/// One live session of an owner, as shown on a "your devices" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The session's opaque handle, to revoke it with; never the session ID nor the
    /// backend key.
    pub handle: DeviceHandle,
    /// When the session was created, ms since the epoch.
    pub created: Millis,
    /// When the session was last used, ms since the epoch, at `touch_interval` granularity
    /// (see the module docs for the one case where it is a lower bound).
    pub last_seen: Millis,
    /// The client's `User-Agent` at login, truncated; only with device metadata on.
    pub user_agent: Option<String>,
    /// The client's network at login (IPv4 /24, IPv6 /48); only with device metadata on.
    pub ip: Option<String>,
    /// A remember-me session, with a lifetime of its own ([`crate::lifetime`]).
    pub persistent: bool,
    /// It is the session asking.
    pub current: bool,
}

/// A live session of an owner as read from the store, for listing and ranking.
pub(crate) struct Listed {
    pub(crate) key: SessionId,
    pub(crate) handle: DeviceHandle,
    pub(crate) last_seen: Millis,
    pub(crate) record: Record,
}

impl Manager {
    /// The live sessions of `owner`, most recently seen first (ties by handle); `current`
    /// (a cookie's ID) marks the session asking. [`crate::Error::Unsupported`] when the
    /// provider keeps no owner index.
    pub async fn devices(&self, owner: &str, current: Option<&SessionId>) -> Result<Vec<Device>> {
        let current = current
            .map(|id| self.key(id).map(|key| DeviceHandle::of(&key)))
            .transpose()?;
        let mut listed = self.listed(owner).await?;
        listed.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.handle.cmp(&b.handle)));
        Ok(listed
            .into_iter()
            .map(|l| {
                let binding = l.record.binding.map(|b| *b).unwrap_or_default();
                Device {
                    current: Some(l.handle) == current,
                    handle: l.handle,
                    created: l.record.created,
                    last_seen: l.last_seen,
                    persistent: l.record.lifetime.is_some(),
                    user_agent: binding.user_agent,
                    ip: binding.ip,
                }
            })
            .collect())
    }

    /// Destroys the session of `owner` whose handle is `handle`; returns false when `owner`
    /// has no such live session (a handle of another owner's session revokes nothing).
    ///
    /// To revoke the session asking, use [`Session::revoke_device`], which also removes its
    /// cookie.
    pub async fn revoke_device(&self, owner: &str, handle: &DeviceHandle) -> Result<bool> {
        let found = self
            .listed(owner)
            .await?
            .into_iter()
            .find(|l| l.handle == *handle);
        match found {
            Some(listed) => self.destroy_listed(&listed).await,
            None => Ok(false),
        }
    }

    /// Destroys a listed session; returns whether it was still there.
    pub(crate) async fn destroy_listed(&self, listed: &Listed) -> Result<bool> {
        let destroyed = self.store().destroy(&listed.key).await?;
        if destroyed {
            self.emit(Event::Destroyed {
                session: listed.key.fingerprint(),
            });
        }
        Ok(destroyed)
    }

    /// The live sessions bound to `owner`, each read once (concurrently). An index entry
    /// whose record is gone, expired, corrupt, mid-move or bound to someone else meanwhile
    /// is skipped: the record, not the index, says whose a session is.
    pub(crate) async fn listed(&self, owner: &str) -> Result<Vec<Listed>> {
        let keys = self.owner_sessions(owner).await?;
        let reads = keys.into_iter().map(|key| async move {
            let read = self.store().read(&key).await;
            (key, read)
        });
        let now = self.clock().now();
        let mut listed = Vec::new();
        for (key, read) in futures_util::future::join_all(reads).await {
            // The key stands in for the ID: `judge` uses it only to name the session in
            // events, and a forward record (which no owner index lists) reads as dead.
            if let Verdict::Live(Live { stored, record, .. }) =
                self.judge(key.as_str(), read, now)?
                && record.owner.as_deref() == Some(owner)
            {
                listed.push(Listed {
                    handle: DeviceHandle::of(&key),
                    last_seen: self.last_seen(&record, stored.expires_at, now),
                    key,
                    record,
                });
            }
        }
        Ok(listed)
    }

    /// When the session holding `record`, expiring at `expires_at`, was last used: the
    /// instant its expiry was last set from (see the module docs), within `created..=now`.
    fn last_seen(&self, record: &Record, expires_at: Millis, now: Millis) -> Millis {
        expires_at
            .saturating_sub(self.idle_ms_of(record))
            .min(now)
            .max(record.created)
    }

    /// What a binding to an owner records now: the binding time when a cap is configured,
    /// and with device metadata on, what the adapter said about the client.
    pub(crate) fn binding(&self, client: Option<&ClientInfo>) -> Binding {
        let options = self.options();
        let client = client.filter(|_| options.device_metadata);
        Binding {
            bound_at: options.max_sessions_per_owner.map(|_| self.clock().now()),
            user_agent: client.and_then(|c| c.user_agent.clone()),
            ip: client.and_then(|c| c.ip.clone()),
        }
    }
}

impl Session {
    /// The devices of this session's owner (empty when unbound), `current` marked.
    pub async fn devices(&self) -> Result<Vec<Device>> {
        let Some(owner) = self.owner().await? else {
            return Ok(Vec::new());
        };
        let id = self.id().await?;
        let result = self.manager().devices(&owner, id.as_ref()).await;
        self.note(result).await
    }

    /// Revokes one of this session's owner's devices by handle; false when no such device.
    /// Revoking the session's own handle is a logout of this device: it is destroyed as by
    /// [`Session::destroy`], and its cookie removed.
    pub async fn revoke_device(&self, handle: &DeviceHandle) -> Result<bool> {
        let Some(owner) = self.owner().await? else {
            return Ok(false);
        };
        if let Some(id) = self.id().await?
            && DeviceHandle::of(&*self.manager().key(&id)?) == *handle
        {
            self.destroy().await?;
            return Ok(true);
        }
        let result = self.manager().revoke_device(&owner, handle).await;
        self.note(result).await
    }

    /// Hands over what device metadata records about the client: the `User-Agent` header
    /// and the peer address. Adapters call it before the handler runs, and only when
    /// [`crate::Options::device_metadata`] is on (otherwise it is not kept). Only the first
    /// call counts. Both are cut down at once (see [`crate::devices`]); they are stored
    /// only if the request binds the session to an owner.
    pub fn present_client(&self, user_agent: Option<&[u8]>, peer: Option<IpAddr>) {
        if self.manager().options().device_metadata {
            self.set_client(ClientInfo::new(user_agent, peer));
        }
    }
}
