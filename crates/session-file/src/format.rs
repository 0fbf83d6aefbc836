//! The on-disk format of one session file.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "RSSF"
//!      4     1  format (1)
//!      5     1  flags (bit 0: an owner follows; other bits must be 0)
//!      6     8  version      u64 little-endian
//!     14     8  expires_at   i64 little-endian, ms since the epoch
//!     22     4  owner_len    u32 little-endian (0 without owner)
//!     26     8  body_len     u64 little-endian
//!     34     -  owner (UTF-8, owner_len bytes), then body (body_len bytes), then end of file
//! ```
//!
//! Both lengths are checked against caps and against the file's size before anything is
//! allocated, so a hostile or damaged file can never make the reader allocate more than the
//! configured record limit, and a truncated file is recognised as such.

use std::fmt;
use std::io::{self, Read};

/// Identifies a session file of this crate.
pub(crate) const MAGIC: [u8; 4] = *b"RSSF";
/// The format byte written today; anything else is reported as corrupt.
pub(crate) const FORMAT: u8 = 1;
/// Length of the fixed part of the header.
pub(crate) const FIXED_LEN: usize = 34;
/// Longest owner accepted, in bytes. An owner is a user ID, not a document.
pub(crate) const MAX_OWNER_LEN: usize = 64 * 1024;

const FLAG_OWNER: u8 = 1;

/// Why a file is not a valid session file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) &'static str);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A parsed session file (the body only when it was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) version: u64,
    pub(crate) expires_at: i64,
    pub(crate) owner: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Serialises a session file.
pub(crate) fn encode(version: u64, expires_at: i64, owner: Option<&str>, body: &[u8]) -> Vec<u8> {
    let owner_bytes = owner.map(str::as_bytes).unwrap_or_default();
    let mut out = Vec::with_capacity(FIXED_LEN + owner_bytes.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT);
    out.push(if owner.is_some() { FLAG_OWNER } else { 0 });
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&expires_at.to_le_bytes());
    // Callers refuse owners over MAX_OWNER_LEN, so the length always fits.
    out.extend_from_slice(
        &u32::try_from(owner_bytes.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(owner_bytes);
    out.extend_from_slice(body);
    out
}

/// Reads a session file of `file_len` bytes from `r`. The body is read only when `with_body`
/// is set (GC and count need the header alone). I/O failures are `Err`; a file that is not a
/// valid session file is `Ok(Err(_))`.
pub(crate) fn read_from(
    r: &mut impl Read,
    file_len: u64,
    max_body: usize,
    with_body: bool,
) -> io::Result<Result<Record, Corrupt>> {
    let mut fixed = [0u8; FIXED_LEN];
    if let Err(c) = read_exact(r, &mut fixed)? {
        return Ok(Err(c));
    }
    let (version, expires_at, owner_len, body_len) = match parse_fixed(&fixed, max_body) {
        Ok(v) => v,
        Err(c) => return Ok(Err(c)),
    };
    // owner_len <= 64 KiB and body_len <= max_body, so neither sum can overflow a u64.
    let expected = FIXED_LEN as u64 + owner_len.map_or(0, |n| n as u64) + body_len as u64;
    if file_len < expected {
        return Ok(Err(Corrupt(
            "the file is shorter than its header says (truncated)",
        )));
    }
    if file_len > expected {
        return Ok(Err(Corrupt("the file has bytes after its body")));
    }
    let owner = match owner_len {
        None => None,
        Some(n) => {
            let mut bytes = vec![0u8; n];
            if let Err(c) = read_exact(r, &mut bytes)? {
                return Ok(Err(c));
            }
            match String::from_utf8(bytes) {
                Ok(owner) => Some(owner),
                Err(_) => return Ok(Err(Corrupt("the owner is not UTF-8"))),
            }
        }
    };
    let mut body = Vec::new();
    if with_body {
        body = vec![0u8; body_len];
        if let Err(c) = read_exact(r, &mut body)? {
            return Ok(Err(c));
        }
    }
    Ok(Ok(Record {
        version,
        expires_at,
        owner,
        body,
    }))
}

/// Decodes the fixed header: version, expiry, owner length (`None` without owner), body length.
fn parse_fixed(
    fixed: &[u8; FIXED_LEN],
    max_body: usize,
) -> Result<(u64, i64, Option<usize>, usize), Corrupt> {
    if fixed[0..4] != MAGIC {
        return Err(Corrupt("not a session file (bad magic)"));
    }
    if fixed[4] != FORMAT {
        return Err(Corrupt("unknown format byte"));
    }
    let flags = fixed[5];
    if flags & !FLAG_OWNER != 0 {
        return Err(Corrupt("unknown flags"));
    }
    let version = u64::from_le_bytes(le8(&fixed[6..14]));
    let expires_at = i64::from_le_bytes(le8(&fixed[14..22]));
    let mut owner_len = [0u8; 4];
    owner_len.copy_from_slice(&fixed[22..26]);
    let owner_len = u32::from_le_bytes(owner_len) as usize;
    let body_len = u64::from_le_bytes(le8(&fixed[26..34]));
    let owner_len = if flags & FLAG_OWNER != 0 {
        if owner_len > MAX_OWNER_LEN {
            return Err(Corrupt("owner longer than the limit"));
        }
        Some(owner_len)
    } else if owner_len != 0 {
        return Err(Corrupt("owner length without owner flag"));
    } else {
        None
    };
    let body_len = match usize::try_from(body_len) {
        Ok(n) if n <= max_body => n,
        _ => return Err(Corrupt("body longer than the record size limit")),
    };
    Ok((version, expires_at, owner_len, body_len))
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(bytes);
    out
}

/// `read_exact` that reports a short file as corrupt rather than as an I/O failure.
fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> io::Result<Result<(), Corrupt>> {
    match r.read_exact(buf) {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Err(Corrupt(
            "the file ends inside its header or body (truncated)",
        ))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn decode(bytes: &[u8], max_body: usize, with_body: bool) -> Result<Record, Corrupt> {
        read_from(
            &mut Cursor::new(bytes),
            bytes.len() as u64,
            max_body,
            with_body,
        )
        .unwrap()
    }

    #[test]
    fn round_trips_with_and_without_owner() {
        for owner in [None, Some("alice"), Some(""), Some("ünïcødé")] {
            let bytes = encode(7, -3, owner, b"body bytes");
            let record = decode(&bytes, 1024, true).unwrap();
            assert_eq!(record.version, 7);
            assert_eq!(record.expires_at, -3);
            assert_eq!(record.owner.as_deref(), owner);
            assert_eq!(record.body, b"body bytes");
            let header = decode(&bytes, 1024, false).unwrap();
            assert!(header.body.is_empty());
            assert_eq!(header.owner.as_deref(), owner);
        }
    }

    #[test]
    fn every_truncation_is_corrupt() {
        let bytes = encode(u64::MAX, i64::MAX, Some("owner"), b"0123456789");
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], 1024, true).is_err(), "length {len}");
            assert!(decode(&bytes[..len], 1024, false).is_err(), "length {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, 1024, true).is_err());
    }

    #[test]
    fn hostile_headers_are_corrupt_without_allocating() {
        let mut bytes = encode(1, 1, None, b"x");
        bytes[26..34].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            decode(&bytes, 1024, true),
            Err(Corrupt("body longer than the record size limit"))
        );
        let mut bytes = encode(1, 1, Some("o"), b"x");
        bytes[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&bytes, 1024, true).is_err());
        let mut bytes = encode(1, 1, None, b"x");
        bytes[22..26].copy_from_slice(&1u32.to_le_bytes());
        assert!(decode(&bytes, 1024, true).is_err());
        let mut bytes = encode(1, 1, Some("\u{e9}"), b"x");
        bytes[FIXED_LEN] = 0xff;
        assert_eq!(
            decode(&bytes, 1024, true),
            Err(Corrupt("the owner is not UTF-8"))
        );
        for (at, value) in [(0, b'X'), (4, 2), (5, 0x80)] {
            let mut bytes = encode(1, 1, None, b"x");
            bytes[at] = value;
            assert!(decode(&bytes, 1024, true).is_err(), "byte {at}");
        }
    }

    #[test]
    fn body_at_the_limit_is_accepted_and_over_it_refused() {
        let bytes = encode(1, 1, None, &[7u8; 16]);
        assert!(decode(&bytes, 16, true).is_ok());
        assert!(decode(&bytes, 15, true).is_err());
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = decode(&bytes, 1024, true);
            let mut with_magic = MAGIC.to_vec();
            with_magic.push(FORMAT);
            with_magic.extend_from_slice(&bytes);
            let _ = decode(&with_magic, 1024, true);
        }
    }
}
