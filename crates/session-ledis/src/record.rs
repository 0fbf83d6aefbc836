//! Byte layouts of the three trees.
//!
//! ```text
//! sessions  id                      -> [1][version u64][expires_at i64][owner len u16][owner][body]
//! expiry    [expires_at, sortable][id] -> ()
//! owners    owner 0x00 id           -> ()
//! ```
//!
//! Integers are big-endian; `expires_at` in the expiry key has its sign bit flipped so
//! byte order is numeric order, negative times included.

use session_core::{Error, Millis, Result};

const FORMAT: u8 = 1;
const NO_OWNER: u16 = u16::MAX;
const FIXED: usize = 19;

/// A decoded session value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value<'a> {
    pub version: u64,
    pub expires_at: Millis,
    pub owner: Option<&'a str>,
    pub body: &'a [u8],
}

impl Value<'_> {
    /// Encodes the value.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let owner_len = match self.owner {
            None => NO_OWNER,
            Some(o) => u16::try_from(o.len())
                .ok()
                .filter(|n| *n != NO_OWNER)
                .ok_or_else(|| {
                    Error::backend(crate::NAME, "session owner is longer than 65534 bytes")
                })?,
        };
        let owner = self.owner.unwrap_or_default();
        let mut out = Vec::with_capacity(FIXED + owner.len() + self.body.len());
        out.push(FORMAT);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&owner_len.to_be_bytes());
        out.extend_from_slice(owner.as_bytes());
        out.extend_from_slice(self.body);
        Ok(out)
    }

    /// Decodes a value; `None` when the bytes are not one.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Value<'_>> {
        if bytes.len() < FIXED || bytes[0] != FORMAT {
            return None;
        }
        let version = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
        let expires_at = i64::from_be_bytes(bytes[9..17].try_into().ok()?);
        let owner_len = u16::from_be_bytes(bytes[17..19].try_into().ok()?);
        let rest = &bytes[FIXED..];
        let (owner, body) = if owner_len == NO_OWNER {
            (None, rest)
        } else {
            let n = usize::from(owner_len);
            if rest.len() < n {
                return None;
            }
            let (owner, body) = rest.split_at(n);
            (Some(std::str::from_utf8(owner).ok()?), body)
        };
        Some(Value {
            version,
            expires_at,
            owner,
            body,
        })
    }
}

/// `expires_at` as 8 bytes whose order is numeric order.
pub(crate) fn sortable(expires_at: Millis) -> [u8; 8] {
    ((expires_at as u64) ^ (1 << 63)).to_be_bytes()
}

/// The expiry index key of a record.
pub(crate) fn expiry_key(expires_at: Millis, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&sortable(expires_at));
    key.extend_from_slice(id);
    key
}

/// Splits an expiry index key into `(expires_at, id)`.
pub(crate) fn parse_expiry_key(key: &[u8]) -> Option<(Millis, &[u8])> {
    let (time, id) = key.split_at_checked(8)?;
    let raw = u64::from_be_bytes(time.try_into().ok()?) ^ (1 << 63);
    Some((raw as i64, id))
}

/// The exclusive upper bound of expiry keys with `expires_at <= now`; `None` when every key
/// qualifies.
pub(crate) fn expired_bound(now: Millis) -> Option<[u8; 8]> {
    now.checked_add(1).map(sortable)
}

/// The owner index key of a record.
pub(crate) fn owner_key(owner: &str, id: &[u8]) -> Vec<u8> {
    let mut key = owner_prefix(owner);
    key.extend_from_slice(id);
    key
}

/// The prefix of every owner index key of `owner`.
pub(crate) fn owner_prefix(owner: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(owner.len() + 1 + 32);
    key.extend_from_slice(owner.as_bytes());
    key.push(0);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        for owner in [None, Some(""), Some("alice")] {
            let v = Value {
                version: 7,
                expires_at: -3,
                owner,
                body: b"body",
            };
            assert_eq!(Value::decode(&v.encode().unwrap()), Some(v));
        }
        assert_eq!(Value::decode(b"\x02short"), None);
    }

    #[test]
    fn expiry_keys_sort_numerically() {
        let times = [i64::MIN, -5, -1, 0, 1, 1_790_000_000_000, i64::MAX];
        let keys: Vec<_> = times.iter().map(|t| expiry_key(*t, b"id")).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (t, k) in times.iter().zip(&keys) {
            assert_eq!(parse_expiry_key(k), Some((*t, &b"id"[..])));
        }
        let bound = expired_bound(0).unwrap();
        assert!(expiry_key(0, b"zz").as_slice() < &bound[..]);
        assert!(expiry_key(1, b"").as_slice() >= &bound[..]);
        assert_eq!(expired_bound(i64::MAX), None);
    }
}
