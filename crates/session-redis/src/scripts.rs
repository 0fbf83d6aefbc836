//! Key layout and the Lua scripts that keep each operation to one round trip.
//!
//! Keys (`P` is the prefix):
//!
//! - `P{<id>}`: one hash per session with fields `b` (body), `v` (version), `e` (expires_at,
//!   ms since the epoch) and `o` (owner, absent when unbound); its Redis TTL is core's `ttl_ms`.
//! - `P{index}`: sorted set of session IDs scored by expires_at (count, GC).
//! - `P{index}:owners`: hash ID -> owner, so the index side knows a session's owner even after
//!   Redis expired the record itself.
//! - `P{index}:owner:<owner>`: sorted set of one owner's session IDs scored by expires_at.
//!
//! The hash tags put a session's key in its own slot and every index key in one shared slot.
//! On a single server the session scripts update the index in the same script (atomic). On a
//! cluster they cannot (two slots), so the store runs the index script separately right after
//! a session script that changed something; `#KEYS` tells a script which case it is in.

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
/// key prefix, then the session's ID (and expiry / owner / TTL). Index keys get a TTL at
/// least as long as any session they list, so an abandoned prefix leaves nothing behind.
const INDEX_FUNCTIONS: &str = r#"
local function keep(key, ttl)
  if ttl and redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
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
    redis.call('HSET', owners, id, owner)
    keep(owners, ttl)
    redis.call('ZADD', oprefix .. owner, exp, id)
    keep(oprefix .. owner, ttl)
  elseif old then
    redis.call('HDEL', owners, id)
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

/// Every script the store runs, hashed once.
pub(crate) struct Scripts {
    pub(crate) insert: Script,
    pub(crate) save: Script,
    pub(crate) touch: Script,
    pub(crate) destroy: Script,
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
            // has_owner, owner, id, owner prefix.
            insert: with_index(
                r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local owner = nil
if ARGV[5] == '1' then owner = ARGV[6] end
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'v', ARGV[2], 'e', ARGV[3])
if owner then redis.call('HSET', KEYS[1], 'o', owner) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if #KEYS == 3 then idx_set(KEYS[2], KEYS[3], ARGV[8], ARGV[7], ARGV[3], owner, ARGV[4]) end
return 1
"#,
            ),
            // As insert, plus ARGV[9] = the expected version. Returns 1 saved, 0 conflict,
            // -1 missing.
            save: with_index(
                r#"
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[9] then return 0 end
local owner = nil
if ARGV[5] == '1' then owner = ARGV[6] end
redis.call('HSET', KEYS[1], 'b', ARGV[1], 'v', ARGV[2], 'e', ARGV[3])
if owner then
  redis.call('HSET', KEYS[1], 'o', owner)
else
  redis.call('HDEL', KEYS[1], 'o')
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if #KEYS == 3 then idx_set(KEYS[2], KEYS[3], ARGV[8], ARGV[7], ARGV[3], owner, ARGV[4]) end
return 1
"#,
            ),
            // KEYS: session [, index, owners]. ARGV: expires_at, ttl_ms, id, owner prefix.
            // Returns 0 when there is no record, 1 when touched.
            touch: with_index(
                r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if #KEYS == 3 then idx_touch(KEYS[2], KEYS[3], ARGV[4], ARGV[3], ARGV[1], false, ARGV[2]) end
return 1
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
            // owner prefix, ttl_ms.
            index_set: with_index(
                r#"
local owner = nil
if ARGV[3] == '1' then owner = ARGV[4] end
idx_set(KEYS[1], KEYS[2], ARGV[5], ARGV[1], ARGV[2], owner, ARGV[6])
return 1
"#,
            ),
            // KEYS: index, owners. ARGV: id, expires_at, owner prefix, ttl_ms.
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
    pub(crate) fn all(&self) -> [&Script; 10] {
        [
            &self.insert,
            &self.save,
            &self.touch,
            &self.destroy,
            &self.gc_inline,
            &self.gc_record,
            &self.index_set,
            &self.index_touch,
            &self.index_del,
            &self.index_gc,
        ]
    }
}
