//! Key names of one store, and the index shards that spread index writes over a cluster.
//!
//! - `P{<id>}`: one session's record ([`crate::record`]).
//! - `P{<tag>}`, one of [`SHARDS`] sorted sets: the IDs of the sessions that hash to that
//!   shard, scored by expiry (count, GC).
//! - `P{<tag>}:owner:<owner>`: one owner's sessions, scored by expiry; the shard is the
//!   owner's hash, so different owners' sets spread over the shards too.
//!
//! The tags are not `index:00`.. `index:15` but names whose cluster slots (CRC16 mod 16384)
//! fall one in each sixteenth of the slot space, so any cluster with evenly split slots gets
//! index shards on every master in proportion to its slots (three masters: 5, 6 and 5 of 16).

use session_core::SessionId;

/// How many index shards there are.
pub(crate) const SHARDS: usize = 16;

/// The hash tag of each shard; shard `i`'s slot lies in `i * 1024 .. (i + 1) * 1024`.
pub(crate) const TAGS: [&str; SHARDS] = [
    "index:00",
    "index:01:63",
    "index:02:40",
    "index:03:43",
    "index:04:10",
    "index:05:13",
    "index:06:3",
    "index:07:4",
    "index:08:1",
    "index:09:2",
    "index:10:60",
    "index:11:63",
    "index:12:3",
    "index:13:4",
    "index:14:10",
    "index:15:13",
];

/// The shard of a session ID or an owner: FNV-1a, so every process agrees without state.
pub(crate) fn shard(name: &str) -> usize {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash as usize % SHARDS
}

/// [`Keys::session`] as a command argument.
pub(crate) struct SessionKey<'a> {
    prefix: &'a str,
    id: &'a str,
}

impl SessionKey<'_> {
    /// The key's pieces in order: the one place its format is written down.
    fn parts(&self) -> [&str; 4] {
        [self.prefix, "{", self.id, "}"]
    }
}

impl redis::ToRedisArgs for SessionKey<'_> {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        for part in self.parts() {
            // The writer appends to the command's `Vec`, which cannot fail.
            let _ = std::io::Write::write_all(&mut arg, part.as_bytes());
        }
    }
}

/// Builds the key names of one store.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    indexes: Vec<String>,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
            indexes: TAGS
                .iter()
                .map(|tag| format!("{prefix}{{{tag}}}"))
                .collect(),
        }
    }

    /// The session's own key. IDs are hex or base-62 only, so they cannot close the hash tag.
    pub(crate) fn session(&self, id: &str) -> String {
        // Built by hand: `format!` costs about 1.5k instructions here, a tenth of a read's
        // own work (`bench/NOTES.md`).
        let mut key = String::with_capacity(self.session_len(id));
        for part in self.session_arg(id).parts() {
            key.push_str(part);
        }
        key
    }

    pub(crate) fn session_of(&self, id: &SessionId) -> String {
        self.session(id.as_str())
    }

    /// The session's own key as a command argument, written straight into the command's
    /// buffer: a read then builds no key `String` of its own.
    pub(crate) fn session_arg<'a>(&'a self, id: &'a str) -> SessionKey<'a> {
        SessionKey {
            prefix: &self.prefix,
            id,
        }
    }

    /// How many bytes [`Keys::session`] of `id` takes.
    pub(crate) fn session_len(&self, id: &str) -> usize {
        self.prefix.len() + id.len() + 2
    }

    /// The index shard holding `id`.
    pub(crate) fn index_of(&self, id: &str) -> &str {
        &self.indexes[shard(id)]
    }

    /// Every index shard.
    pub(crate) fn indexes(&self) -> &[String] {
        &self.indexes
    }

    /// Every index shard's key, as a script's `KEYS`.
    pub(crate) fn index_names(&self) -> Vec<&str> {
        self.indexes.iter().map(String::as_str).collect()
    }

    /// The key of `owner`'s set and its shard number (stored in the record, so a script can
    /// name the old owner's set without hashing).
    pub(crate) fn owner(&self, owner: &str) -> (String, u8) {
        let shard = shard(owner);
        (self.owner_in(shard, owner), shard as u8)
    }

    /// The key of `owner`'s set in `shard`.
    pub(crate) fn owner_in(&self, shard: usize, owner: &str) -> String {
        format!("{}:owner:{owner}", self.indexes[shard % SHARDS])
    }

    /// The prefix, for scripts that derive session and owner keys themselves.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_every_shard() {
        let mut seen = [0usize; SHARDS];
        for n in 0..1600 {
            seen[shard(&format!("{n:032x}"))] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }

    #[test]
    fn key_names() {
        let keys = Keys::new("p:");
        assert_eq!(keys.session("ab"), "p:{ab}");
        assert_eq!(keys.indexes()[1], "p:{index:01:63}");
        let (owner, shard) = keys.owner("alice");
        assert_eq!(
            owner,
            format!("p:{{{}}}:owner:alice", TAGS[usize::from(shard)])
        );
    }
}
