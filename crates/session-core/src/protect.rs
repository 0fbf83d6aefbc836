//! IDs at rest and in cookies: hashing the storage key, signing the cookie value.
//!
//! - With `hash_ids`, the backend key is a hash of the cookie's ID, so a dump of the store
//!   holds no usable cookie value.
//! - With signing keys, the cookie value is `<id>.<mac>`, where `mac` is HMAC-SHA256 over the
//!   cookie name and ID under the first key. Every key verifies (rotation: add a new key in
//!   front, keep the old one until old cookies are gone); verification is constant-time and
//!   fails closed: a value that does not verify is ignored like an unknown ID.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::error::Result;
use crate::id::{self, SessionId};
use crate::options::Options;

type HmacSha256 = Hmac<Sha256>;

/// The backend key for `id`: the ID itself, or with `hash_ids` the first `id_length` hex
/// characters of its SHA-512 (still a well-formed ID of the configured length).
///
/// Borrowed when IDs are not hashed: this runs for every provider call, and the common case
/// needs no copy.
pub(crate) fn storage_key<'a>(options: &Options, id: &'a SessionId) -> Result<Cow<'a, SessionId>> {
    if !options.hash_ids {
        return Ok(Cow::Borrowed(id));
    }
    hashed_key(options, id.as_str()).map(Cow::Owned)
}

/// The backend key for `id` when `hash_ids` is on.
pub(crate) fn hashed_key(options: &Options, id: &str) -> Result<SessionId> {
    let digest = hex::encode(Sha512::digest(id.as_bytes()));
    SessionId::parse(&digest[..options.id_length], options.id_length)
}

fn mac(key: &[u8], cookie_name: &str, id: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(cookie_name.as_bytes());
    mac.update(b"=");
    mac.update(id.as_bytes());
    Some(mac)
}

/// The cookie value carrying `id`: the ID, or `<id>.<mac>` when signing keys are set.
pub(crate) fn cookie_value(options: &Options, id: &SessionId) -> String {
    match options
        .signing_keys
        .first()
        .and_then(|k| mac(k, &options.cookie_name, id.as_str()))
    {
        Some(mac) => format!(
            "{}.{}",
            id.as_str(),
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        ),
        None => id.as_str().to_owned(),
    }
}

/// Why a cookie value was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    Malformed,
    BadSignature,
}

/// The ID in a cookie value, verifying its signature when signing keys are set: a
/// well-formed ID (as [`SessionId::parse`] checks), borrowed from `value`, so a request's
/// first lookup needs no copy of it.
pub(crate) fn parse_cookie_value<'v>(
    options: &Options,
    value: &'v str,
) -> Result<&'v str, Rejected> {
    if options.signing_keys.is_empty() {
        return id::check(value, options.id_length)
            .map(|()| value)
            .map_err(|_| Rejected::Malformed);
    }
    let (id, signature) = value.split_once('.').ok_or(Rejected::BadSignature)?;
    id::check(id, options.id_length).map_err(|_| Rejected::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Rejected::BadSignature)?;
    let verified = options.signing_keys.iter().any(|key| {
        mac(key, &options.cookie_name, id).is_some_and(|m| m.verify_slice(&signature).is_ok())
    });
    if verified {
        Ok(id)
    } else {
        Err(Rejected::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::SigningKeys;

    fn signed(keys: &[&[u8]]) -> Options {
        Options {
            signing_keys: SigningKeys::new(keys.iter().map(|k| k.to_vec()).collect()),
            ..Options::default()
        }
    }

    #[test]
    fn signed_values_verify_and_rotate() {
        let id = SessionId::generate(32).unwrap();
        let old = signed(&[&[1; 32]]);
        let value = cookie_value(&old, &id);
        assert!(value.starts_with(id.as_str()) && value.len() > 40);
        assert_eq!(parse_cookie_value(&old, &value), Ok(id.as_str()));
        // Rotation: a new first key signs, the old one still verifies.
        let rotated = signed(&[&[2; 32], &[1; 32]]);
        assert_eq!(parse_cookie_value(&rotated, &value), Ok(id.as_str()));
        assert_ne!(cookie_value(&rotated, &id), value);
        // Dropped key: fails closed.
        let only_new = signed(&[&[2; 32]]);
        assert_eq!(
            parse_cookie_value(&only_new, &value),
            Err(Rejected::BadSignature)
        );
    }

    #[test]
    fn tampering_fails_closed() {
        let options = signed(&[&[7; 32]]);
        let id = SessionId::generate(32).unwrap();
        let value = cookie_value(&options, &id);
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            flipped.as_str(),
            &value[..value.len() - 3],
            id.as_str(),
            &format!("{}.", id.as_str()),
            &format!("{}.!!!", id.as_str()),
        ] {
            assert!(parse_cookie_value(&options, bad).is_err(), "{bad} accepted");
        }
        let other = SessionId::generate(32).unwrap();
        let sig = value.split_once('.').unwrap().1;
        assert!(parse_cookie_value(&options, &format!("{}.{sig}", other.as_str())).is_err());
    }

    #[test]
    fn hashed_keys_hide_the_id() {
        let options = Options {
            hash_ids: true,
            ..Options::default()
        };
        let id = SessionId::generate(32).unwrap();
        let key = storage_key(&options, &id).unwrap();
        assert_ne!(*key, id);
        assert_eq!(key, storage_key(&options, &id).unwrap());
        assert_eq!(*storage_key(&Options::default(), &id).unwrap(), id);
    }
}
