//! The document format: a 9-byte header (format tag, expiry) and core's record body, stored
//! as raw binary.
//!
//! Raw binary rather than JSON: the body is already an encoded record, so JSON would need
//! base64 (a third larger, and a decode on every read) for nothing, since no query ever looks
//! inside a session. The expiry is kept in the document because core checks it on every load
//! and never trusts the backend's TTL; the document's own TTL is set as well, so Couchbase
//! removes expired sessions by itself.

use couchbase::transcoding;
use session_core::{Bytes, Millis, Stored, Version};

/// The format tag; a later format gets another.
const TAG: u8 = 0x01;

/// Length of the header before the body.
pub(crate) const HEADER_LEN: usize = 9;

/// The SDK's "common flags" for binary content.
pub(crate) fn binary_flags() -> u32 {
    transcoding::raw_binary::encode(&[])
        .map(|(_, flags)| flags)
        .unwrap_or(3 << 24)
}

/// Encodes a document.
pub(crate) fn encode(expires_at: Millis, body: &[u8]) -> Vec<u8> {
    let mut doc = Vec::with_capacity(HEADER_LEN + body.len());
    doc.push(TAG);
    doc.extend_from_slice(&expires_at.to_be_bytes());
    doc.extend_from_slice(body);
    doc
}

/// Decodes a document read with CAS `cas`.
///
/// A document under the prefix that is not in this format (written by something else, or
/// truncated) reads as an already expired record with its raw bytes: core then treats it like
/// any corrupt or expired record (absent, and deleted), instead of failing every request.
pub(crate) fn decode(raw: &[u8], flags: u32, cas: u64) -> Stored {
    let version = Version(cas);
    match (raw.split_first(), flags == binary_flags()) {
        (Some((&TAG, rest)), true) if rest.len() >= HEADER_LEN - 1 => {
            let (expiry, body) = rest.split_at(HEADER_LEN - 1);
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(expiry);
            Stored {
                body: Bytes::copy_from_slice(body),
                version,
                expires_at: Millis::from_be_bytes(bytes),
            }
        }
        _ => Stored {
            body: Bytes::copy_from_slice(raw),
            version,
            expires_at: Millis::MIN,
        },
    }
}

/// Returns `raw` with its expiry replaced, or `None` when it is not in this format.
pub(crate) fn with_expiry(raw: &[u8], flags: u32, expires_at: Millis) -> Option<Vec<u8>> {
    if flags != binary_flags() || raw.len() < HEADER_LEN || raw[0] != TAG {
        return None;
    }
    Some(encode(expires_at, &raw[HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let flags = binary_flags();
        for body in [&b""[..], b"\x01record", &[0xff; 300]] {
            let doc = encode(1_790_000_060_000, body);
            assert_eq!(doc.len(), HEADER_LEN + body.len());
            let stored = decode(&doc, flags, 42);
            assert_eq!(stored.body, body);
            assert_eq!(stored.expires_at, 1_790_000_060_000);
            assert_eq!(stored.version, Version(42));
            let moved = with_expiry(&doc, flags, 7).expect("our format");
            assert_eq!(decode(&moved, flags, 1).expires_at, 7);
            assert_eq!(decode(&moved, flags, 1).body, body);
        }
    }

    #[test]
    fn foreign_documents_read_as_expired() {
        let flags = binary_flags();
        let json_flags = 0x02 << 24;
        for (raw, f) in [
            (&b""[..], flags),
            (b"\x01short", flags),
            (b"\x02123456789body", flags),
            (b"{\"json\":true}", json_flags),
        ] {
            let stored = decode(raw, f, 1);
            assert_eq!(stored.expires_at, Millis::MIN, "{raw:?}");
            assert_eq!(stored.body, raw);
            assert_eq!(with_expiry(raw, f, 5), None);
        }
        // The right bytes with JSON flags are not ours either.
        assert_eq!(
            decode(&encode(5, b"x"), json_flags, 1).expires_at,
            Millis::MIN
        );
    }
}
