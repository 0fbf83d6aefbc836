//! A request's working copy of its session: the record as the handler sees it, where it is
//! stored, and the log of changes made to it, kept to be replayed onto a newer stored record
//! when a conditional save meets a conflict.

use crate::clock::Millis;
use crate::error::Result;
use crate::id::SessionId;
use crate::load::Live;
use crate::record::Record;
use crate::store::Version;

/// The session as one request sees it.
pub(crate) struct WorkingCopy {
    /// The ID in use: adopted from the cookie, or assigned when the session first got data.
    pub(crate) id: Option<SessionId>,
    /// The stored version, when a record exists under `id`.
    pub(crate) version: Option<Version>,
    pub(crate) expires_at: Millis,
    /// When the record was read (0 when there is none). Whether an expiry refresh is due is
    /// judged against it, which spares reading the clock again on a read-only request.
    pub(crate) read_at: Millis,
    pub(crate) current: Record,
    /// Changes since the record was last read or written, replayed on conflict.
    pub(crate) changes: Vec<Change>,
    /// The cookie named an ID that a rotation replaced (within its grace): the session was
    /// found under its new ID, which the client must be sent.
    pub(crate) followed: bool,
}

impl WorkingCopy {
    /// A session that is not stored (yet): no ID, no version. `changes` are the ones that
    /// produced `current`, kept so a later conflict can still replay them.
    pub(crate) fn fresh(current: Record, changes: Vec<Change>) -> Self {
        WorkingCopy {
            id: None,
            version: None,
            expires_at: 0,
            read_at: 0,
            current,
            changes,
            followed: false,
        }
    }

    /// An empty session that is not stored, created at `now`.
    pub(crate) fn empty(now: Millis) -> Self {
        Self::fresh(Record::new(now), Vec::new())
    }

    /// A live stored session adopted under `id`.
    pub(crate) fn adopted(id: SessionId, live: Live) -> Self {
        WorkingCopy {
            id: Some(id),
            version: Some(live.stored.version),
            expires_at: live.stored.expires_at,
            read_at: live.read_at,
            current: live.record,
            changes: Vec::new(),
            followed: false,
        }
    }

    /// Applies `change` and logs it. A new session gets its ID when it first holds data
    /// (`new_id` makes one), so handlers can see it before the commit.
    pub(crate) fn change(
        &mut self,
        change: Change,
        new_id: impl FnOnce() -> Result<SessionId>,
    ) -> Result<()> {
        change.apply_own(&mut self.current);
        self.changes.push(change);
        if self.id.is_none() && !self.current.values.is_empty() {
            self.id = Some(new_id()?);
        }
        Ok(())
    }

    /// `record` with this request's changes replayed onto it, in order.
    pub(crate) fn replayed_onto(&self, mut record: Record) -> Record {
        for change in &self.changes {
            change.replay(&mut record, &self.current);
        }
        record
    }
}

/// One change a request made, kept to be replayed onto a newer stored record on conflict.
///
/// `Set` holds only the key: the value lives once, in the request's own record (which holds
/// every key's final value), instead of being copied into the log as well.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Set(String),
    Delete(String),
    Flush,
    Owner(Option<String>),
    /// The session's own lifetime (remember-me), or back to the manager's.
    Lifetime(Option<crate::record::Lifetime>),
    /// What a binding to an owner records (see [`crate::devices`]); empty on unbinding.
    Binding(crate::record::Binding),
}

impl Change {
    /// Applies the change to the request's own record. A `Set` is already there: `set`
    /// stored the value itself.
    fn apply_own(&self, record: &mut Record) {
        match self {
            Change::Set(_) => {}
            Change::Delete(k) => {
                record.values.remove(k);
            }
            Change::Flush => {
                record.values.clear();
                record.owner = None;
                // Like the owner, remember-me belongs to the login that a flush ends.
                record.lifetime = None;
                record.binding = None;
            }
            Change::Owner(owner) => record.owner.clone_from(owner),
            Change::Lifetime(lifetime) => record.lifetime = *lifetime,
            Change::Binding(binding) => record.set_binding(binding),
        }
    }

    /// Replays the change onto `target`, a newer record, taking set values from `ours`, the
    /// request's own record. A key `ours` lacks was removed by a later change in the same
    /// log, which the replay applies in turn, so skipping it here gives the same result.
    fn replay(&self, target: &mut Record, ours: &Record) {
        match self {
            Change::Set(k) => {
                if let Some(v) = ours.values.get(k) {
                    target.values.insert(k, v.clone());
                }
            }
            other => other.apply_own(target),
        }
    }
}
