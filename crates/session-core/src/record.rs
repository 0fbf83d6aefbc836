//! The record codec: how a session's data is laid out in the bytes a provider stores.
//!
//! Layout: one format byte ([`FORMAT_V1`]), then a MessagePack envelope
//! `[created_ms, owner, {key: value-bytes}]`. Each value is itself MessagePack, encoded
//! separately with named fields, so:
//!
//! - any serde type round-trips, including self-describing ones such as `serde_json::Value`
//!   (postcard cannot do that: it is not self-describing);
//! - a type mismatch on `get::<T>` is a typed [`Error::Decode`], not garbage;
//! - only the keys a handler reads are decoded.
//!
//! rmp-serde was chosen over postcard because session values must be self-describing; the
//! codec benchmark in `BENCHMARKS.md` measures the cost. Input longer than the configured
//! limit is refused before decoding, and rmp-serde never preallocates beyond what the input
//! can hold, so a forged length prefix cannot make decoding allocate.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::error::{Error, Result};

/// The only record format this version writes and reads.
pub const FORMAT_V1: u8 = 1;

/// A decoded session record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// When the session was created (for the absolute lifetime), ms since the epoch.
    pub created: Millis,
    /// The owner the session is bound to, if any.
    pub owner: Option<String>,
    /// Encoded values by key.
    pub values: BTreeMap<String, Vec<u8>>,
}

#[derive(Serialize)]
struct EnvelopeRef<'a> {
    created: Millis,
    owner: Option<&'a str>,
    values: BTreeMap<&'a str, &'a serde_bytes::Bytes>,
}

#[derive(Deserialize)]
struct Envelope {
    created: Millis,
    owner: Option<String>,
    values: BTreeMap<String, serde_bytes::ByteBuf>,
}

impl Record {
    /// An empty record created at `created`.
    pub fn new(created: Millis) -> Self {
        Record {
            created,
            owner: None,
            values: BTreeMap::new(),
        }
    }

    /// Encodes the record; a result over `limit` bytes is [`Error::TooLarge`].
    pub fn encode(&self, limit: usize) -> Result<Vec<u8>> {
        let envelope = EnvelopeRef {
            created: self.created,
            owner: self.owner.as_deref(),
            values: self
                .values
                .iter()
                .map(|(k, v)| (k.as_str(), serde_bytes::Bytes::new(v)))
                .collect(),
        };
        let mut out = vec![FORMAT_V1];
        rmp_serde::encode::write(&mut out, &envelope)
            .map_err(|e| Error::Corrupt(format!("cannot encode record: {e}")))?;
        if out.len() > limit {
            return Err(Error::TooLarge {
                size: out.len(),
                limit,
            });
        }
        Ok(out)
    }

    /// Decodes a record, refusing input over `limit` bytes, an unknown format byte or a
    /// malformed body with [`Error::Corrupt`].
    pub fn decode(bytes: &[u8], limit: usize) -> Result<Self> {
        if bytes.len() > limit {
            return Err(Error::Corrupt(format!(
                "record of {} bytes is over the limit of {limit}",
                bytes.len()
            )));
        }
        let (format, body) = bytes
            .split_first()
            .ok_or_else(|| Error::Corrupt("empty record".into()))?;
        if *format != FORMAT_V1 {
            return Err(Error::Corrupt(format!("unknown record format {format}")));
        }
        let envelope: Envelope = rmp_serde::from_slice(body)
            .map_err(|e| Error::Corrupt(format!("malformed record: {e}")))?;
        Ok(Record {
            created: envelope.created,
            owner: envelope.owner,
            values: envelope
                .values
                .into_iter()
                .map(|(k, v)| (k, v.into_vec()))
                .collect(),
        })
    }
}

/// Encodes one session value.
pub fn encode_value<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| Error::Encode {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes one session value as `T`.
pub fn decode_value<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    rmp_serde::from_slice(bytes).map_err(|e| Error::Decode {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new(42);
        r.owner = Some("alice".into());
        r.values
            .insert("n".into(), encode_value("n", &7u32).unwrap());
        r.values
            .insert("ключ".into(), encode_value("ключ", "значение").unwrap());
        r
    }

    #[test]
    fn round_trips() {
        let r = sample();
        let bytes = r.encode(1 << 20).unwrap();
        assert_eq!(Record::decode(&bytes, 1 << 20).unwrap(), r);
    }

    #[test]
    fn limits_apply_on_encode_and_decode() {
        let r = sample();
        let bytes = r.encode(1 << 20).unwrap();
        assert!(matches!(
            r.encode(bytes.len() - 1),
            Err(Error::TooLarge { .. })
        ));
        assert!(r.encode(bytes.len()).is_ok());
        assert!(matches!(
            Record::decode(&bytes, bytes.len() - 1),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let good = sample().encode(1 << 20).unwrap();
        for cut in 0..good.len() {
            let _ = Record::decode(&good[..cut], 1 << 20);
        }
        for bad in [
            &b""[..],
            &[2, 0, 0][..],
            &[1][..],
            &[1, 0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[1, 0x93, 0x01, 0xc0, 0xdf, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(matches!(
                Record::decode(bad, 1 << 20),
                Err(Error::Corrupt(_))
            ));
        }
    }

    #[test]
    fn type_mismatch_is_a_decode_error() {
        let bytes = encode_value("k", "text").unwrap();
        assert!(matches!(
            decode_value::<u64>("k", &bytes),
            Err(Error::Decode { .. })
        ));
    }
}
