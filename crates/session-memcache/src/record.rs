//! The item value: a small header, then the body core encoded.
//!
//! ```text
//! [0]      format (1)
//! [1..9]   expires_at, i64 big-endian, ms since the epoch
//! [9..11]  owner length, u16 big-endian (0xffff: no owner)
//! [..]     owner (UTF-8), then the body
//! ```
//!
//! The version is not in the header: it is memcached's CAS value of the item.

use session_core::{Error, Millis, Result};

const FORMAT: u8 = 1;
const NO_OWNER: u16 = u16::MAX;
const FIXED: usize = 11;

/// A decoded item value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    pub expires_at: Millis,
    pub owner: Option<&'a str>,
    pub body: &'a [u8],
}

/// Encodes an item value.
pub(crate) fn encode(
    provider: &'static str,
    expires_at: Millis,
    owner: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>> {
    let owner_len = match owner {
        None => NO_OWNER,
        Some(o) => u16::try_from(o.len())
            .ok()
            .filter(|n| *n != NO_OWNER)
            .ok_or_else(|| Error::backend(provider, "session owner is longer than 65534 bytes"))?,
    };
    let mut out = Vec::with_capacity(FIXED + owner.map_or(0, str::len) + body.len());
    out.push(FORMAT);
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(&owner_len.to_be_bytes());
    out.extend_from_slice(owner.unwrap_or_default().as_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Decodes an item value; `None` when it is not one of ours.
pub(crate) fn decode(value: &[u8]) -> Option<Item<'_>> {
    let (&format, rest) = value.split_first()?;
    if format != FORMAT || rest.len() < FIXED - 1 {
        return None;
    }
    let expires_at = i64::from_be_bytes(rest[..8].try_into().ok()?);
    let owner_len = u16::from_be_bytes(rest[8..10].try_into().ok()?);
    let rest = &rest[10..];
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
    Some(Item {
        expires_at,
        owner,
        body,
    })
}

/// Replaces the expiry in an encoded value, leaving owner and body untouched.
pub(crate) fn with_expiry(value: &[u8], expires_at: Millis) -> Option<Vec<u8>> {
    decode(value)?;
    let mut out = value.to_vec();
    out[1..9].copy_from_slice(&expires_at.to_be_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for owner in [None, Some(""), Some("alice")] {
            let v = encode("memcache", -5, owner, b"\x01body").unwrap();
            let item = decode(&v).unwrap();
            assert_eq!(item.expires_at, -5);
            assert_eq!(item.owner, owner);
            assert_eq!(item.body, b"\x01body");
            let touched = with_expiry(&v, 99).unwrap();
            let item = decode(&touched).unwrap();
            assert_eq!(
                (item.expires_at, item.owner, item.body),
                (99, owner, &b"\x01body"[..])
            );
        }
    }

    #[test]
    fn rejects_foreign_values() {
        for v in [
            &b""[..],
            b"\x01short",
            b"\x02\0\0\0\0\0\0\0\0\xff\xff",
            b"\x01\0\0\0\0\0\0\0\0\0\x09ab",
        ] {
            assert!(decode(v).is_none(), "{v:?}");
        }
    }
}
