//! Key layout and the Lua scripts that keep each operation to one round trip.
//!
//! Keys (`P` is the prefix):
//!
//! - `P{<id>}`: one hash per session with fields `b` (body), `v` (version), `e` (expires_at,
//!   ms since the epoch), `s` (the expiry the index currently holds for it, see below) and `o`
//!   (owner, absent when unbound); its Redis TTL is core's `ttl_ms`.
//! - `P{index}`: sorted set of session IDs scored by expires_at (count, GC).
//! - `P{index}:owners`: hash ID -> owner, so the index side knows a session's owner even after
//!   Redis expired the record itself.
//! - `P{index}:owner:<owner>`: sorted set of one owner's session IDs scored by expires_at.
//!
//! The hash tags put a session's key in its own slot and every index key in one shared slot.
//! On a single server the session scripts update the index in the same script (atomic). On a
//! cluster they cannot (two slots), so the store runs the index script separately right after
//! a session script that answered [`WRITTEN_INDEX_PENDING`]; `#KEYS` tells a script which case
//! it is in.
//!
//! # Commands per save
//!
//! Redis' `INFO commandstats` counts a script as one `EVALSHA` plus every command it runs. A
//! save of an existing session whose owner did not change runs `HMGET v o s` (version
//! compare and old owner in one command), one `HSET` (body, version, expiry) and `PEXPIRE`:
//! 4 commands with the `EVALSHA`, 5 per request with core's load (`HMGET`). It writes the
//! index score only when the expiry moved by at least the *slack* since the score was last
//! written (field `s`); the owner index only when the owner changed (old owner from the
//! record, no `HGET owners`); `HDEL o` only when an owner is removed; index TTLs only together
//! with an index write. Insert and touch always write the exact expiry to the index.
//!
//! A lagging score is safe because it is never ahead of the record and at most one slack
//! behind it (a backwards move is written at once):
//!
//! - GC visits entries whose score is `<= now` and re-reads each record's stored `e` before
//!   deleting (`gc_inline`, `gc_record`); a live record only gets its score raised.
//! - `count` counts scores above `now`, plus the entries in the slack window below `now` whose
//!   record's `e` is still above `now` (the `count` script; on a cluster the store checks
//!   them).
//! - `owner_sessions` reads the owner set from one slack below `now` and re-checks each
//!   listed record's owner and `e` anyway.
//! - Index keys get `ttl + slack` as their TTL need, so they outlive every record whose later
//!   saves skipped the index.
//!
//! # Why not 2 commands (`GET` + `SET`)
//!
//! Stores that count 2 commands per write (tower-sessions, actix-session) load with `GET` and
//! write with a blind `SET`: the last writer wins, so of two concurrent requests changing one
//! session, one change is silently lost. Core's conditional save (the version compare that
//! lets it merge concurrent changes instead) needs the compare and the write to be one atomic
//! step. Redis 7 has no conditional `SET` (Valkey 8.1's `SET ... IFEQ` would be one), so that
//! takes a script or `WATCH`/`MULTI`/`EXEC`, and Redis counts every command inside either: the
//! `EVALSHA` itself, a read of the version (`HMGET`), the write (`HSET`) and the TTL
//! (`PEXPIRE`, since `HSET` cannot set one). Storing the record as one string would merge the
//! last two (`SET ... PX`) at the price of moving version, expiry and owner into the value.

use redis::Script;
use session_core::SessionId;

/// Builds the key names of one store.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    index: String,
    owners: String,
    owner_prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
            index: format!("{prefix}{{index}}"),
            owners: format!("{prefix}{{index}}:owners"),
            owner_prefix: format!("{prefix}{{index}}:owner:"),
        }
    }

    /// The session's own key. IDs are hex or base-62 only, so they cannot close the hash tag.
    pub(crate) fn session(&self, id: &str) -> String {
        format!("{}{{{id}}}", self.prefix)
    }

    pub(crate) fn session_of(&self, id: &SessionId) -> String {
        self.session(id.as_str())
    }

    pub(crate) fn index(&self) -> &str {
        &self.index
    }

    pub(crate) fn owners(&self) -> &str {
        &self.owners
    }

    /// Prefix of the per-owner sets; scripts append the owner.
    pub(crate) fn owner_prefix(&self) -> &str {
        &self.owner_prefix
    }

    pub(crate) fn owner(&self, owner: &str) -> String {
        format!("{}{owner}", self.owner_prefix)
    }

    /// The session-key prefix, for scripts that derive session keys from index members.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Index maintenance shared by every script. Arguments: index key, owners hash key, owner-set
/// key prefix, then the session's ID (and expiry / owner / index TTL). Index keys get a TTL at
/// least as long as any session they list, so an abandoned prefix leaves nothing behind.
///
/// `keep` extends a key to twice the TTL it needs, so the calls that follow (other sessions'
/// writes a moment later) find it long enough and cost one `PTTL` instead of `PTTL` +
/// `PEXPIRE` each. An abandoned prefix thus lingers at most twice the index TTL.
///
/// `idx_save` is the single-server save path: it knows the old owner from the record (the
/// record and the index change in one script there, so the record's `o` and the owners hash
/// agree) and does only what changed.
const INDEX_FUNCTIONS: &str = r#"
local function keep(key, ttl)
  if ttl and redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, 2 * tonumber(ttl))
  end
end
local function idx_set(idx, owners, oprefix, id, exp, owner, ttl)
  redis.call('ZADD', idx, exp, id)
  keep(idx, ttl)
  local old = redis.call('HGET', owners, id)
  if old and old ~= owner then
    redis.call('ZREM', oprefix .. old, id)
  end
  if owner then
    if old ~= owner then redis.call('HSET', owners, id, owner) end
    keep(owners, ttl)
    redis.call('ZADD', oprefix .. owner, exp, id)
    keep(oprefix .. owner, ttl)
  elseif old then
    redis.call('HDEL', owners, id)
  end
end
local function idx_save(idx, owners, oprefix, id, exp, owner, old, moved, ttl)
  if moved then
    redis.call('ZADD', idx, exp, id)
    keep(idx, ttl)
  end
  if owner ~= old then
    if old then redis.call('ZREM', oprefix .. old, id) end
    if owner then
      redis.call('HSET', owners, id, owner)
    else
      redis.call('HDEL', owners, id)
    end
  end
  if owner and (moved or owner ~= old) then
    keep(owners, ttl)
    redis.call('ZADD', oprefix .. owner, exp, id)
    keep(oprefix .. owner, ttl)
  end
end
local function idx_touch(idx, owners, oprefix, id, exp, gt, ttl)
  keep(idx, ttl)
  if gt then
    redis.call('ZADD', idx, 'GT', exp, id)
  else
    redis.call('ZADD', idx, exp, id)
  end
  local old = redis.call('HGET', owners, id)
  if old then
    keep(owners, ttl)
    keep(oprefix .. old, ttl)
    if gt then
      redis.call('ZADD', oprefix .. old, 'GT', exp, id)
    else
      redis.call('ZADD', oprefix .. old, exp, id)
    end
  end
end
local function idx_del(idx, owners, oprefix, id)
  redis.call('ZREM', idx, id)
  local old = redis.call('HGET', owners, id)
  if old then
    redis.call('ZREM', oprefix .. old, id)
    redis.call('HDEL', owners, id)
  end
end
"#;

fn with_index(body: &str) -> Script {
    Script::new(&format!("{INDEX_FUNCTIONS}{body}"))
}

/// What a write script answers: 1 written (index done or unchanged), 2 written but the index
/// (in another cluster slot) still has to be updated by the index script, 0 conflict or
/// exists, -1 missing.
pub(crate) const WRITTEN_INDEX_PENDING: i64 = 2;

/// Every script the store runs, hashed once.
pub(crate) struct Scripts {
    pub(crate) insert: Script,
    pub(crate) save: Script,
    pub(crate) touch: Script,
    pub(crate) destroy: Script,
    pub(crate) count: Script,
    pub(crate) gc_inline: Script,
    pub(crate) gc_record: Script,
    pub(crate) index_set: Script,
    pub(crate) index_touch: Script,
    pub(crate) index_del: Script,
    pub(crate) index_gc: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            // KEYS: session [, index, owners]. ARGV: body, version, expires_at, ttl_ms,
            // has_owner, owner, id, owner prefix, (save: expected version), slack, index TTL.
            // The record's `s` is the expiry the index holds for it (see the module docs).
            insert: with_index(
                r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local owner = nil
if ARGV[5] == '1' then owner = ARGV[6] end
if owner then
  redis.call('HSET', KEYS[1], 'b', ARGV[1], 'v', ARGV[2], 'e', ARGV[3], 's', ARGV[3], 'o', owner)
else
  redis.call('HSET', KEYS[1], 'b', ARGV[1], 'v', ARGV[2], 'e', ARGV[3], 's', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if #KEYS == 3 then
  idx_set(KEYS[2], KEYS[3], ARGV[8], ARGV[7], ARGV[3], owner, ARGV[11])
  return 1
end
return 2
"#,
            ),
            // Compare-and-swap on the version, then only what changed: the index score when
            // the expiry moved by the slack or more (or backwards), the owner index when the
            // owner changed, `HDEL o` only when an owner is removed. Returns 1 / 2 saved,
            // 0 conflict, -1 missing.
            save: with_index(
                r#"
local cur = redis.call('HMGET', KEYS[1], 'v', 'o', 's')
if not cur[1] then return -1 end
if cur[1] ~= ARGV[9] then return 0 end
local owner = nil
if ARGV[5] == '1' then owner = ARGV[6] end
local old = cur[2] or nil
local exp = tonumber(ARGV[3])
local scored = tonumber(cur[3])
local moved = (not scored) or exp < scored or exp - scored >= tonumber(ARGV[10])
local fields = {'b', ARGV[1], 'v', ARGV[2], 'e', ARGV[3]}
if owner and owner ~= old then
  fields[#fields + 1] = 'o'
  fields[#fields + 1] = owner
end
if moved then
  fields[#fields + 1] = 's'
  fields[#fields + 1] = ARGV[3]
end
redis.call('HSET', KEYS[1], unpack(fields))
if old and not owner then redis.call('HDEL', KEYS[1], 'o') end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if not moved and owner == old then return 1 end
if #KEYS == 3 then
  idx_save(KEYS[2], KEYS[3], ARGV[8], ARGV[7], ARGV[3], owner, old, moved, ARGV[11])
  return 1
end
return 2
"#,
            ),
            // KEYS: session [, index, owners]. ARGV: expires_at, ttl_ms, id, owner prefix,
            // index TTL. `PEXPIRE` answers 0 for a missing key, so it doubles as the existence
            // check and runs before `HSET` can create anything. Returns 0 when there is no
            // record, 1 touched, 2 touched with the index pending.
            touch: with_index(
                r#"
if redis.call('PEXPIRE', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1], 's', ARGV[1])
if #KEYS == 3 then
  idx_touch(KEYS[2], KEYS[3], ARGV[4], ARGV[3], ARGV[1], false, ARGV[5])
  return 1
end
return 2
"#,
            ),
            // KEYS: session [, index, owners]. ARGV: id, owner prefix.
            destroy: with_index(
                r#"
local n = redis.call('DEL', KEYS[1])
if #KEYS == 3 then idx_del(KEYS[2], KEYS[3], ARGV[2], ARGV[1]) end
return n
"#,
            ),
            // Single server only. KEYS: index. ARGV: now, now - the largest slack, session key
            // prefix. A score is at most one slack behind its record's expiry, so entries
            // above `now` are live, and only those in the slack window below it need their
            // record's stored expiry checked.
            count: Script::new(
                r#"
local now = tonumber(ARGV[1])
local n = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], ARGV[1])
for _, id in ipairs(ids) do
  local e = redis.call('HGET', ARGV[3] .. '{' .. id .. '}', 'e')
  if e and tonumber(e) > now then n = n + 1 end
end
return n
"#,
            ),
            // Single server only (it derives session keys from index members). KEYS: index,
            // owners. ARGV: now, batch size, session key prefix, owner prefix. Returns
            // {entries looked at, sessions removed}.
            gc_inline: with_index(
                r#"
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local removed = 0
for _, id in ipairs(ids) do
  local key = ARGV[3] .. '{' .. id .. '}'
  local e = redis.call('HGET', key, 'e')
  if e and tonumber(e) > now then
    idx_touch(KEYS[1], KEYS[2], ARGV[4], id, e, true, nil)
  else
    redis.call('DEL', key)
    idx_del(KEYS[1], KEYS[2], ARGV[4], id)
    removed = removed + 1
  end
end
return {#ids, removed}
"#,
            ),
            // Cluster GC, session side. KEYS: session. ARGV: now. Deletes the record unless it
            // was refreshed past `now`; returns its expiry when kept, nil when gone.
            gc_record: Script::new(
                r#"
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(ARGV[1]) then return e end
redis.call('DEL', KEYS[1])
return false
"#,
            ),
            // Cluster index side. KEYS: index, owners. ARGV: id, expires_at, has_owner, owner,
            // owner prefix, index TTL.
            index_set: with_index(
                r#"
local owner = nil
if ARGV[3] == '1' then owner = ARGV[4] end
idx_set(KEYS[1], KEYS[2], ARGV[5], ARGV[1], ARGV[2], owner, ARGV[6])
return 1
"#,
            ),
            // KEYS: index, owners. ARGV: id, expires_at, owner prefix, index TTL.
            index_touch: with_index(
                r#"
idx_touch(KEYS[1], KEYS[2], ARGV[3], ARGV[1], ARGV[2], false, ARGV[4])
return 1
"#,
            ),
            // KEYS: index, owners. ARGV: id, owner prefix.
            index_del: with_index(
                r#"
idx_del(KEYS[1], KEYS[2], ARGV[2], ARGV[1])
return 1
"#,
            ),
            // KEYS: index, owners. ARGV: now, owner prefix, then (id, expiry or '') pairs from
            // gc_record. An entry whose record is gone is dropped only if its score is still
            // expired (a write meanwhile raised it); a kept record's score is raised, never
            // lowered. Returns how many entries were dropped.
            index_gc: with_index(
                r#"
local now = tonumber(ARGV[1])
local removed = 0
for i = 3, #ARGV, 2 do
  local id, e = ARGV[i], ARGV[i + 1]
  if e == '' then
    local s = redis.call('ZSCORE', KEYS[1], id)
    if s and tonumber(s) <= now then
      idx_del(KEYS[1], KEYS[2], ARGV[2], id)
      removed = removed + 1
    end
  else
    idx_touch(KEYS[1], KEYS[2], ARGV[2], id, e, true, nil)
  end
end
return removed
"#,
            ),
        }
    }

    /// Every script, for loading them ahead of the first request.
    pub(crate) fn all(&self) -> [&Script; 11] {
        [
            &self.insert,
            &self.save,
            &self.touch,
            &self.destroy,
            &self.count,
            &self.gc_inline,
            &self.gc_record,
            &self.index_set,
            &self.index_touch,
            &self.index_del,
            &self.index_gc,
        ]
    }
}
