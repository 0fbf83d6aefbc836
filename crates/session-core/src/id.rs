//! Session IDs: generated from the OS CSPRNG, parsed strictly, redacted when printed.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shortest accepted ID length in hex characters (128 bits).
pub const MIN_ID_LENGTH: usize = 32;
/// Longest accepted ID length in hex characters (512 bits).
pub const MAX_ID_LENGTH: usize = 128;
/// Default ID length in hex characters (128 bits).
pub const DEFAULT_ID_LENGTH: usize = 32;

/// A well-formed session ID: exactly the configured number of lowercase hex characters.
///
/// A `SessionId` can only be made by [`SessionId::generate`] or [`SessionId::parse`], so a
/// provider never receives a path, a quote, a control byte or an over-long key. `Debug` and
/// `Display` print a short fingerprint, never the ID itself: raw IDs stay out of logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
///
/// The text is an `Arc<str>`: an ID is cloned several times per request (the session's own
/// copy, events, provider keys), and a clone is then a reference-count bump, not an
/// allocation.
pub struct SessionId(Arc<str>);

impl SessionId {
    /// Generates a fresh ID of `len` hex characters from the operating system's CSPRNG.
    ///
    /// `len` must lie in [`MIN_ID_LENGTH`]..=[`MAX_ID_LENGTH`]; [`crate::Options::validate`]
    /// guarantees this for configured lengths.
    pub fn generate(len: usize) -> Result<Self> {
        check_length(len)?;
        let mut bytes = [0u8; MAX_ID_LENGTH / 2];
        let needed = len.div_ceil(2);
        getrandom::fill(&mut bytes[..needed]).map_err(|e| {
            Error::backend(
                "os-rng",
                format!("the OS random number generator failed: {e}"),
            )
        })?;
        let mut text = hex::encode(&bytes[..needed]);
        text.truncate(len);
        Ok(SessionId(text.into()))
    }

    /// Parses an ID of exactly `len` lowercase hex characters; anything else is rejected
    /// before it can reach a provider.
    pub fn parse(value: &str, len: usize) -> Result<Self> {
        check(value, len)?;
        Ok(SessionId(value.into()))
    }

    /// Parses an ID of any accepted length (used by providers reading keys back from their
    /// backend, where the length was checked when the key was written).
    pub fn parse_any(value: &str) -> Result<Self> {
        if !(MIN_ID_LENGTH..=MAX_ID_LENGTH).contains(&value.len()) {
            return Err(Error::InvalidId("wrong length"));
        }
        Self::parse(value, value.len())
    }

    /// The ID itself, for building backend keys and cookie values. Never log it: use
    /// [`SessionId::fingerprint`] or the `Display` impl instead.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short, non-reversible fingerprint of the ID (first 8 hex characters of its SHA-256),
    /// safe to log and enough to correlate log lines.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// [`SessionId::fingerprint`] of an ID not (yet) held as a `SessionId`.
pub(crate) fn fingerprint(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    hex::encode(&digest[..4])
}

/// What [`SessionId::parse`] checks, without making an ID: `value` is exactly `len`
/// lowercase hex characters.
pub(crate) fn check(value: &str, len: usize) -> Result<()> {
    check_length(len)?;
    if value.len() != len {
        return Err(Error::InvalidId("wrong length"));
    }
    // No early exit: a fold over plain byte arithmetic compiles to a few vector
    // instructions, where a per-byte branch or table lookup costs a loop of them.
    let hex = value.bytes().fold(true, |ok, b| {
        ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
    });
    if !hex {
        return Err(Error::InvalidId("not lowercase hex"));
    }
    Ok(())
}

/// Lets maps keyed by `SessionId` be searched with a `&str` (an ID checked but not yet
/// copied into a `SessionId`): equality and hashing are the text's own.
impl std::borrow::Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

fn check_length(len: usize) -> Result<()> {
    if (MIN_ID_LENGTH..=MAX_ID_LENGTH).contains(&len) {
        Ok(())
    } else {
        Err(Error::config(
            "id_length",
            format!(
                "must be between {MIN_ID_LENGTH} and {MAX_ID_LENGTH} hex characters, got {len}"
            ),
        ))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(#{})", self.fingerprint())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_unique_hex_of_the_asked_length() {
        let mut seen = HashSet::new();
        for len in [32, 33, 64, 128] {
            for _ in 0..2000 {
                let id = SessionId::generate(len).unwrap();
                assert_eq!(id.as_str().len(), len);
                assert!(SessionId::parse(id.as_str(), len).is_ok());
                assert!(seen.insert(id));
            }
        }
    }

    #[test]
    fn short_lengths_are_a_config_error() {
        assert!(matches!(SessionId::generate(16), Err(Error::Config { .. })));
        assert!(matches!(
            SessionId::parse("ab", 2),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn malformed_values_are_rejected() {
        let good = "0123456789abcdef0123456789abcdef";
        assert!(SessionId::parse(good, 32).is_ok());
        for bad in [
            "",
            "../../etc/passwd",
            "..\\x",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde\0",
            "0123456789abcdef0123456789abcd\r\n",
            "\"123456789abcdef0123456789abcdef",
            "é123456789abcdef0123456789abcde",
            &"a".repeat(300),
        ] {
            assert!(SessionId::parse(bad, 32).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_and_display_redact() {
        let id = SessionId::generate(32).unwrap();
        assert!(!format!("{id:?}").contains(id.as_str()));
        assert!(!format!("{id}").contains(id.as_str()));
    }
}
