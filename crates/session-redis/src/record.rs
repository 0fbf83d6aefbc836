//! How one session is stored: a single Redis string, a small fixed header then the body.
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format ([`FORMAT`]), so a later reader can tell layouts apart |
//! | 1..9 | version, u64 big-endian (the conditional save compares these 8 bytes) |
//! | 9..17 | `expires_at`, ms since the epoch, big-endian (touch rewrites it in place) |
//! | 17 | owner shard, or [`NO_OWNER`] |
//! | 18 | owner length (core caps owners at 255 bytes) |
//! | 19.. | owner, then the body |
//!
//! The scripts read these offsets too (`scripts.rs`); the two must change together, and a
//! change of meaning takes a new [`FORMAT`].

use bytes::{Buf, Bytes};
use session_core::{Error, Millis, Result, Stored, Version};

/// The layout version in byte 0.
pub(crate) const FORMAT: u8 = 1;
/// Offset of `expires_at`.
pub(crate) const EXPIRES_AT: usize = 9;
/// Offset of the owner shard byte; everything from here on is the variable part.
pub(crate) const OWNER_SHARD: usize = 17;
/// Length of the fixed header.
pub(crate) const FIXED: usize = 19;
/// The owner shard byte of a session bound to nobody.
pub(crate) const NO_OWNER: u8 = 0xFF;
/// The longest header: fixed part plus the longest owner. Reading this many bytes from the
/// start of a record gets its whole header in one `GETRANGE`.
pub(crate) const MAX_HEADER: usize = FIXED + u8::MAX as usize;

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("redis session record: {what}"))
}

/// A millisecond time as 8 big-endian bytes; times before the epoch are stored as 0 (the
/// record is long expired either way).
pub(crate) fn millis_bytes(ms: Millis) -> [u8; 8] {
    u64::try_from(ms).unwrap_or(0).to_be_bytes()
}

fn millis_at(bytes: &[u8], at: usize) -> Option<Millis> {
    let raw: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(Millis::try_from(u64::from_be_bytes(raw)).unwrap_or(Millis::MAX))
}

/// The stored value of a record: header and body.
pub(crate) fn encode(
    version: Version,
    expires_at: Millis,
    owner: Option<(u8, &str)>,
    body: &[u8],
) -> Result<Vec<u8>> {
    let (shard, owner) = owner.unwrap_or((NO_OWNER, ""));
    let owner_len = u8::try_from(owner.len()).map_err(|_| Error::Encode {
        key: "owner".into(),
        message: "the owner is longer than 255 bytes".into(),
    })?;
    let mut value = Vec::with_capacity(FIXED + owner.len() + body.len());
    value.push(FORMAT);
    value.extend_from_slice(&version.0.to_be_bytes());
    value.extend_from_slice(&millis_bytes(expires_at));
    value.push(shard);
    value.push(owner_len);
    value.extend_from_slice(owner.as_bytes());
    value.extend_from_slice(body);
    Ok(value)
}

/// The header fields a reader of the first bytes of a record needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// The version.
    pub(crate) version: Version,
    /// `expires_at`.
    pub(crate) expires_at: Millis,
    /// The owner, if bound.
    pub(crate) owner: Option<&'a str>,
    /// Where the body starts.
    pub(crate) body_at: usize,
}

/// Parses the header at the start of `bytes` (a whole record or its first bytes).
pub(crate) fn header(bytes: &[u8]) -> Result<Header<'_>> {
    match bytes.first() {
        Some(&FORMAT) => {}
        Some(other) => return Err(corrupt(&format!("unknown format {other}"))),
        None => return Err(corrupt("empty value")),
    }
    let short = || corrupt("header cut short");
    let version = bytes
        .get(1..9)
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .ok_or_else(short)?;
    let expires_at = millis_at(bytes, EXPIRES_AT).ok_or_else(short)?;
    let (shard, len) = match bytes.get(OWNER_SHARD..FIXED) {
        Some(&[shard, len]) => (shard, usize::from(len)),
        _ => return Err(short()),
    };
    let owner = if shard == NO_OWNER {
        None
    } else {
        let raw = bytes.get(FIXED..FIXED + len).ok_or_else(short)?;
        Some(std::str::from_utf8(raw).map_err(|_| corrupt("owner is not UTF-8"))?)
    };
    Ok(Header {
        version: Version(u64::from_be_bytes(version)),
        expires_at,
        owner,
        body_at: FIXED + owner.map_or(0, str::len),
    })
}

/// A whole stored value as core's [`Stored`]; the body is a slice of the same buffer.
pub(crate) fn decode(value: Vec<u8>) -> Result<Stored> {
    let (version, expires_at, body_at) = {
        let h = header(&value)?;
        (h.version, h.expires_at, h.body_at)
    };
    // `advance`, not `slice`: slicing clones first, and the first clone of a `Bytes` made
    // from a `Vec` allocates its shared header; moving the start allocates nothing.
    let mut body = Bytes::from(value);
    body.advance(body_at);
    Ok(Stored {
        body,
        version,
        expires_at,
    })
}

/// `expires_at` from the 8 bytes a `GETRANGE key 9 16` returns; `None` when the record is
/// gone (empty answer) or cut short.
pub(crate) fn expiry(bytes: &[u8]) -> Option<Millis> {
    millis_at(bytes, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_owner() {
        let value = encode(Version(7), 1_700_000_000_000, Some((3, "alice")), b"body").unwrap();
        assert_eq!(value[0], FORMAT);
        assert_eq!(value[OWNER_SHARD], 3);
        let h = header(&value).unwrap();
        assert_eq!(h.owner, Some("alice"));
        assert_eq!(h.expires_at, 1_700_000_000_000);
        let stored = decode(value).unwrap();
        assert_eq!(&stored.body[..], b"body");
        assert_eq!(stored.version, Version(7));

        let value = encode(Version(u64::MAX), 5, None, b"").unwrap();
        assert_eq!(value.len(), FIXED);
        let stored = decode(value.clone()).unwrap();
        assert_eq!(stored.version, Version(u64::MAX));
        assert!(stored.body.is_empty());
        assert_eq!(header(&value).unwrap().owner, None);
        assert_eq!(expiry(&value[EXPIRES_AT..OWNER_SHARD]), Some(5));
    }

    #[test]
    fn foreign_or_short_values_are_corrupt() {
        assert!(matches!(decode(vec![]), Err(Error::Corrupt(_))));
        assert!(matches!(decode(vec![2; 40]), Err(Error::Corrupt(_))));
        let value = encode(Version(1), 5, Some((0, "bob")), b"x").unwrap();
        assert!(matches!(
            decode(value[..20].to_vec()),
            Err(Error::Corrupt(_))
        ));
        let long = "o".repeat(256);
        assert!(encode(Version(1), 5, Some((0, &long)), b"").is_err());
    }
}
