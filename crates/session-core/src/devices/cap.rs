//! Enforcing [`crate::Options::max_sessions_per_owner`]: the refusal before a binding is
//! written, and the ranking after it (the scheme and its bound are in [`crate::devices`]).

use std::cmp::Ordering;

use super::Listed;
use super::handle::DeviceHandle;
use super::limit::OwnerLimitPolicy;
use crate::commit::CookieAction;
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::working::WorkingCopy;

impl Manager {
    /// Under the `refuse` policy, refuses to bind a session to `owner` when the owner holds
    /// the maximum already, before anything is written. Nothing to check otherwise.
    pub(crate) async fn check_owner_room(&self, owner: &str) -> Result<()> {
        let options = self.options();
        let Some(limit) = options.max_sessions_per_owner else {
            return Ok(());
        };
        if options.owner_limit_policy != OwnerLimitPolicy::Refuse {
            return Ok(());
        }
        // The index lists live sessions; a stale entry can only make this refuse early, and
        // the ranking after the write is what the bound rests on.
        if self.owner_sessions(owner).await?.len() >= limit {
            return Err(Error::SessionLimit { limit });
        }
        Ok(())
    }

    /// The order the cap keeps sessions in: the first `max_sessions_per_owner` survive.
    fn cap_order(&self, a: &Listed, b: &Listed) -> Ordering {
        let by_policy = match self.options().owner_limit_policy {
            OwnerLimitPolicy::Evict => b.last_seen.cmp(&a.last_seen),
            OwnerLimitPolicy::Refuse => bound_at(a).cmp(&bound_at(b)),
        };
        by_policy.then(a.handle.cmp(&b.handle))
    }
}

/// When a session was bound: as recorded, or its creation for a record bound before a cap
/// was configured.
fn bound_at(listed: &Listed) -> i64 {
    listed
        .record
        .binding
        .as_ref()
        .and_then(|b| b.bound_at)
        .unwrap_or(listed.record.created)
}

/// After a commit that bound the session in `working` to an owner, destroys the owner's
/// sessions ranked past the cap. When the session's own is among them, it is gone and the
/// login fails with [`Error::SessionLimit`]; the working copy is then an empty session and
/// no cookie is sent (the error answer carries none anyway).
pub(crate) async fn enforce(
    manager: &Manager,
    working: &mut WorkingCopy,
    cookie: &mut CookieAction,
) -> Result<()> {
    let Some(limit) = manager.options().max_sessions_per_owner else {
        return Ok(());
    };
    let (Some(id), Some(_), Some(owner)) = (&working.id, working.version, &working.current.owner)
    else {
        return Ok(());
    };
    let own = DeviceHandle::of(&*manager.key(id)?);
    let mut listed = manager.listed(owner).await?;
    listed.sort_by(|a, b| manager.cap_order(a, b));
    for out in listed.iter().skip(limit) {
        manager.destroy_listed(out).await?;
    }
    // Ranked out, or already destroyed by a racing login that ranked it out.
    if !listed.iter().take(limit).any(|l| l.handle == own) {
        if !listed.iter().any(|l| l.handle == own) {
            // Not listed at all: make sure it is gone rather than trust that it is.
            manager.store().destroy(&*manager.key(id)?).await?;
        }
        *working = WorkingCopy::empty(manager.clock().now());
        *cookie = CookieAction::Keep;
        return Err(Error::SessionLimit { limit });
    }
    Ok(())
}
