//! The Lua scripts that keep each operation to one round trip (and, in Redis, to as few
//! commands as the contract allows).
//!
//! Records are strings in the layout of [`crate::record`]; the scripts use its offsets (Lua
//! strings count from 1: the version is `sub(h, 2, 9)`, `expires_at` 10..17, the owner
//! shard byte 18, the owner length 19, the owner from 20). Version bytes are compared as
//! strings; times are decoded into Lua numbers (doubles: exact below 2^53 ms, far beyond any
//! real expiry).
//!
//! On a single server (and Sentinel) a script updates the record and its index entries
//! together (the store passes the index shard in `KEYS`; on a cluster it does not), building the old owner's set key itself from the prefix
//! and the shard byte in the record; Redis allows that outside cluster mode. On a cluster a
//! script touches only the session's own slot and answers what the index needs
//! ([`WRITTEN_INDEX_PENDING`] with the old owner); the store then updates the index shard and
//! the owner sets, each in its own slot, all in flight at once.
//!
//! # Commands per save
//!
//! Redis' `INFO commandstats` counts a script as one `EVALSHA` plus every command it runs. A
//! save that neither changes the owner nor moves the expiry into another *slack* bucket is
//! `EVALSHA`, `GETRANGE` (format, version, expiry and as many owner bytes as the new owner
//! has: the compare reads 19 bytes plus the owner) and one `SET ... PX` of the value the
//! store built: 3 commands, 4 per request with core's load (`GET`). The script builds no
//! string of its own; the value goes from `ARGV` to `SET` as is.
//!
//! The index score is written only when the expiry crosses a multiple of the slack
//! (`floor(expires_at / slack)` changes) or moves backwards, and the owner sets only when
//! the owner changed. Between two index writes the expiry stays in one bucket, so a score
//! is never ahead of its record and less than one slack behind it:
//!
//! - GC visits entries whose score is `<= now` and re-reads each record's `expires_at` before
//!   deleting; a live record only gets its score raised.
//! - `count` counts scores above `now`, plus the entries in the slack window below `now` whose
//!   record's `expires_at` is still above `now`.
//! - `owner_sessions` reads the owner set from one slack below `now` and re-checks each
//!   listed record's owner and expiry anyway.
//! - Index keys get `ttl + slack` as their TTL need, so they outlive every record whose later
//!   saves skipped the index.
//!
//! Owner sets have no reverse map (session -> owner): the owner is in the record. An entry
//! whose record Redis expired by itself is pruned from its owner set when that set is next
//! added to (entries scored more than the largest slack before the writer's `now` are dead),
//! so a set never holds more than its owner's live sessions plus a minute of dead ones.
//!
//! # Why not 2 commands (`GET` + `SET`)
//!
//! Stores that count 2 commands per write (tower-sessions, actix-session) load with `GET` and
//! write with a blind `SET`: the last writer wins, so of two concurrent requests changing one
//! session, one change is silently lost. Core's conditional save needs the compare and the
//! write to be one atomic step; Redis 7 has no conditional `SET` (Valkey 8.1's `SET ... IFEQ`
//! compares whole values, not a version), so that takes a script, and Redis counts the
//! `EVALSHA` and the read of the header besides the `SET`.

use std::fmt::Write as _;

use redis::{Cmd, Script, ToRedisArgs};

use crate::keys::TAGS;
use crate::record;

/// One call of a script, written straight into the `EVALSHA` command that is sent; the
/// store's `call` loads the script and sends it again when the server does not know it.
/// Every script the store runs goes through it.
///
/// Why not redis' `ScriptInvocation`: it keeps every key and argument in a `Vec` of its own
/// and copies them all into a command when it is invoked, about 3k instructions of a
/// save's client work for nothing (`bench/NOTES.md`). `EVALSHA` counts the keys before the
/// arguments, so the keys are given up front.
pub(crate) struct ScriptCall<'a> {
    pub(crate) script: &'a Script,
    pub(crate) cmd: Cmd,
}

impl<'a> ScriptCall<'a> {
    /// A call of `script` on `keys`; `bytes` is about how many bytes the arguments take,
    /// so the command is sized once.
    pub(crate) fn new(script: &'a Script, keys: &[&str], bytes: usize) -> Self {
        let key_bytes: usize = keys.iter().map(|k| k.len()).sum();
        // EVALSHA, the hash, the key count, the keys, and room for a dozen arguments.
        let mut cmd = Cmd::with_capacity(3 + keys.len() + 12, 64 + key_bytes + bytes);
        cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        ScriptCall { script, cmd }
    }

    /// Appends an argument (`ARGV[n]`).
    pub(crate) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }
}

/// Helpers every script starts with. `pending` answers a bare code when there is nothing
/// for the store to do (an array reply costs Redis measurably more than an integer) and
/// `{code, moved, old owner, its shard}` when a cluster's index is left to the store. `keep` extends a key to twice the TTL it needs, so the
/// writes that follow a moment later find it long enough and cost one `PTTL` instead of
/// `PTTL` + `PEXPIRE` each; an abandoned prefix thus lingers at most twice the index TTL.
const FUNCTIONS: &str = r#"
local function u64(h, at)
  local a, b, c, d, e, f, g, i = string.byte(h, at, at + 7)
  return ((((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f) * 256 + g) * 256 + i
end
local function owner_of(h, at)
  local shard = string.byte(h, at)
  if shard == nil or shard == 255 then return nil, nil end
  return string.sub(h, at + 2, at + 1 + string.byte(h, at + 1)), shard
end
local function owner_key(prefix, shard, owner)
  return prefix .. '{' .. TAGS()[shard + 1] .. '}:owner:' .. owner
end
local function keep(key, ttl)
  if redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, 2 * tonumber(ttl))
  end
end
local function add(key, score, id, ttl, cutoff)
  redis.call('ZADD', key, score, id)
  if cutoff and cutoff ~= '' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
  end
  keep(key, ttl)
end
local function pending(code, moved, owner, shard)
  if moved == nil then return code end
  return {code, moved and 1 or 0, owner or '', shard or -1}
end
"#;

fn script(body: &str) -> Script {
    // A function, not a table: most runs never name an owner set, and a table literal would
    // be built on every run.
    let mut tags = String::from("local function TAGS() return {");
    for tag in TAGS {
        let _ = write!(tags, "'{tag}',");
    }
    tags.push_str("} end");
    // The last byte offset a header can reach: one GETRANGE up to it reads any header whole.
    let header_end = record::MAX_HEADER - 1;
    Script::new(&format!(
        "{tags}\nlocal HEADER_END = {header_end}{FUNCTIONS}{body}"
    ))
}

/// The first number of a write script's answer: written, and (on a cluster) the index in
/// other slots still has to be updated by the store.
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
    pub(crate) add: Script,
    pub(crate) index_gc: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            // Single server only (a cluster sends a plain `SET ... PX NX`, then `add`).
            // KEYS: session, index shard [, owner set]. ARGV: value, ttl_ms, expires_at, id,
            // index TTL, owner-set prune cutoff. Returns 1 created, 0 exists.
            insert: script(
                r#"
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
add(KEYS[2], ARGV[3], ARGV[4], ARGV[5], nil)
if KEYS[3] then add(KEYS[3], ARGV[3], ARGV[4], ARGV[5], ARGV[6]) end
return 1
"#,
            ),
            // Compare-and-swap on the version bytes, then one SET of the whole record.
            // KEYS: session [, index shard, new owner's set] (one key: a cluster, the index
            // is left to the store). ARGV: value, expires_at, ttl_ms, expected version (8
            // bytes), slack, index TTL, id, the new value's owner bytes (shard, length,
            // owner), prefix, prune cutoff. The compare reads the header up to as many owner
            // bytes as the new owner has (their last offset is 16 + their count). Returns
            // code 1 saved, 0 conflict, -1 missing, or {2, moved, old owner, its shard}:
            // saved with the index pending.
            save: script(
                r#"
local h = redis.call('GETRANGE', KEYS[1], 0, 16 + #ARGV[8])
if h == '' then return pending(-1) end
if string.byte(h, 1) ~= 1 then return redis.error_reply('ERR session record of an unknown format') end
if string.sub(h, 2, 9) ~= ARGV[4] then return pending(0) end
local same = string.sub(h, 18) == ARGV[8]
local old, old_shard
if not same then old, old_shard = owner_of(redis.call('GETRANGE', KEYS[1], 17, HEADER_END), 1) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
local exp, was, slack = tonumber(ARGV[2]), u64(h, 10), tonumber(ARGV[5])
local moved = exp < was or math.floor(exp / slack) ~= math.floor(was / slack)
if not moved and same then return pending(1) end
local owner = owner_of(ARGV[8], 1)
if same and owner then old, old_shard = owner, string.byte(h, 18) end
if #KEYS == 1 then return pending(2, moved, old, old_shard) end
if moved then add(KEYS[2], ARGV[2], ARGV[7], ARGV[6], nil) end
if old and old ~= owner then
  redis.call('ZREM', owner_key(ARGV[9], old_shard, old), ARGV[7])
end
if owner and (moved or owner ~= old) then add(KEYS[3], ARGV[2], ARGV[7], ARGV[6], ARGV[10]) end
return pending(1)
"#,
            ),
            // KEYS: session [, index shard]. ARGV: expires_at (8 bytes), ttl_ms, expires_at,
            // id, index TTL, prefix. `PEXPIRE` answers 0 for a missing key, so it
            // doubles as the existence check and runs before `SETRANGE` could create one.
            // The expiry is rewritten in place. Returns {code, 1, owner,
            // shard}: code 0 no record, 1 touched, 2 touched with the index pending.
            touch: script(
                r#"
if redis.call('PEXPIRE', KEYS[1], ARGV[2]) == 0 then return pending(0) end
redis.call('SETRANGE', KEYS[1], 9, ARGV[1])
local owner, shard = owner_of(redis.call('GETRANGE', KEYS[1], 17, HEADER_END), 1)
if #KEYS == 1 then return pending(2, true, owner, shard) end
add(KEYS[2], ARGV[3], ARGV[4], ARGV[5], nil)
if owner then add(owner_key(ARGV[6], shard, owner), ARGV[3], ARGV[4], ARGV[5], nil) end
return pending(1)
"#,
            ),
            // KEYS: session [, index shard]. ARGV: id, prefix. Returns how many records it
            // deleted, or on a cluster {deleted, 0, owner, shard}: the store then drops the
            // index entries.
            destroy: script(
                r#"
local owner, shard = owner_of(redis.call('GETRANGE', KEYS[1], 17, HEADER_END), 1)
local n = redis.call('DEL', KEYS[1])
if #KEYS == 2 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if owner then redis.call('ZREM', owner_key(ARGV[2], shard, owner), ARGV[1]) end
  return n
end
return pending(n, false, owner, shard)
"#,
            ),
            // Single server only. KEYS: every index shard. ARGV: now, now - the largest
            // slack, prefix. A score is at most one slack behind its record's expiry, so
            // entries above `now` are live, and only those in the slack window below it need
            // their record's expiry checked.
            count: script(
                r#"
local now = tonumber(ARGV[1])
local n = 0
for _, idx in ipairs(KEYS) do
  n = n + redis.call('ZCOUNT', idx, '(' .. ARGV[1], '+inf')
  local ids = redis.call('ZRANGEBYSCORE', idx, '(' .. ARGV[2], ARGV[1])
  for _, id in ipairs(ids) do
    local e = redis.call('GETRANGE', ARGV[3] .. '{' .. id .. '}', 9, 16)
    if #e == 8 and u64(e, 1) > now then n = n + 1 end
  end
end
return n
"#,
            ),
            // Single server only (it derives session keys from index members). KEYS: every
            // index shard. ARGV: now, batch size, prefix. Returns {entries looked at,
            // entries dropped}.
            gc_inline: script(
                r#"
local now = tonumber(ARGV[1])
local left = tonumber(ARGV[2])
local seen, removed = 0, 0
for _, idx in ipairs(KEYS) do
  if left <= 0 then break end
  local ids = redis.call('ZRANGEBYSCORE', idx, '-inf', ARGV[1], 'LIMIT', 0, left)
  left = left - #ids
  seen = seen + #ids
  for _, id in ipairs(ids) do
    local key = ARGV[3] .. '{' .. id .. '}'
    local h = redis.call('GETRANGE', key, 0, HEADER_END)
    if #h >= 17 and u64(h, 10) > now then
      redis.call('ZADD', idx, 'GT', string.format('%d', u64(h, 10)), id)
    else
      if h ~= '' then
        redis.call('DEL', key)
        local owner, shard = owner_of(h, 18)
        if owner then redis.call('ZREM', owner_key(ARGV[3], shard, owner), id) end
      end
      redis.call('ZREM', idx, id)
      removed = removed + 1
    end
  end
end
return {seen, removed}
"#,
            ),
            // Cluster GC, session side. KEYS: session. ARGV: now. Deletes the record unless it
            // was refreshed past `now`. Returns {its expiry or '' when deleted, owner, shard}.
            gc_record: script(
                r#"
local h = redis.call('GETRANGE', KEYS[1], 0, HEADER_END)
if #h >= 17 and u64(h, 10) > tonumber(ARGV[1]) then
  return {string.format('%d', u64(h, 10)), '', -1}
end
local owner, shard = owner_of(h, 18)
redis.call('DEL', KEYS[1])
return {'', owner or '', shard or -1}
"#,
            ),
            // Cluster index side: one sorted set in its own slot. KEYS: set. ARGV: score, id,
            // TTL, prune cutoff ('' none).
            add: script(
                r#"
add(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return 1
"#,
            ),
            // Cluster GC, index side. KEYS: index shard. ARGV: now, then (id, expiry or '')
            // pairs from gc_record. An entry whose record is gone is dropped only if its score
            // is still expired (a write meanwhile raised it); a kept record's score is raised,
            // never lowered. Returns how many entries were dropped.
            index_gc: script(
                r#"
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV, 2 do
  local id, e = ARGV[i], ARGV[i + 1]
  if e == '' then
    local s = redis.call('ZSCORE', KEYS[1], id)
    if s and tonumber(s) <= now then
      redis.call('ZREM', KEYS[1], id)
      removed = removed + 1
    end
  else
    redis.call('ZADD', KEYS[1], 'GT', e, id)
  end
end
return removed
"#,
            ),
        }
    }

    /// Every script, for loading them ahead of the first request.
    pub(crate) fn all(&self) -> [&Script; 9] {
        [
            &self.insert,
            &self.save,
            &self.touch,
            &self.destroy,
            &self.count,
            &self.gc_inline,
            &self.gc_record,
            &self.add,
            &self.index_gc,
        ]
    }
}
