//! The record codec: how a session's data is laid out in the bytes a provider stores.
//!
//! Layout: one format byte ([`FORMAT_V1`]), then a MessagePack envelope
//! `[created_ms, owner, {key: value-bytes}]`. A session with a lifetime of its own
//! (remember-me) or an ID issued after its creation (rotation) is written as [`FORMAT_V2`]
//! instead, whose envelope appends `idle_ms, absolute_ms, id_issued_ms` (each nil when
//! unset): a plain session keeps the V1 bytes, and V1 records stay readable. A session that
//! carries what the devices page shows or the per-owner cap ranks by (see
//! [`crate::devices`]: when it was bound to its owner, and with device metadata on its user
//! agent and client IP) is written as [`FORMAT_V3`], whose envelope appends `bound_ms,
//! user_agent, ip` to V2's; the format byte is 4 because 3 is a rotation's forward record.
//! Each value is itself MessagePack, encoded separately with named fields, so:
//!
//! - any serde type round-trips, including self-describing ones such as `serde_json::Value`
//!   (postcard cannot do that: it is not self-describing);
//! - a type mismatch on `get::<T>` is a typed [`Error::Decode`], not garbage;
//! - only the keys a handler reads are decoded.
//!
//! MessagePack (rmp-serde for values) was chosen over postcard because session values must
//! be self-describing; the codec benchmark in `BENCHMARKS.md` measures the cost. The
//! envelope itself is written and read with `rmp`'s primitives, not through serde: it is on
//! every request's path, and the bytes are the same (a test pins them). Input longer than
//! the configured limit is refused before decoding; every length prefix is checked against
//! the bytes that remain before it is used, and the entry count only reserves what the
//! remaining input could hold, so a forged length cannot make decoding allocate.

use bytes::Bytes;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::Millis;
use crate::error::{Error, Result};
pub use crate::values::Values;

/// The format of a plain record: `[created, owner, values]`.
pub const FORMAT_V1: u8 = 1;

/// The format of a record with a lifetime of its own or a rotated ID:
/// `[created, owner, values, idle_ms, absolute_ms, id_issued_ms]`.
pub const FORMAT_V2: u8 = 2;

/// The format of a record bound to an owner with binding metadata (see [`crate::devices`]):
/// `[created, owner, values, idle_ms, absolute_ms, id_issued_ms, bound_ms, user_agent, ip]`.
/// Not 3: that byte marks a rotation's forward record ([`crate::rotation::FORWARD`]).
pub const FORMAT_V3: u8 = 4;

/// The body of a record that was moved to a new ID (see [`crate::RawStore::regenerate`]): a
/// format byte no record has, so a reader that meets it treats the ID as unknown. It lives
/// only between the two steps of a move.
pub const TOMBSTONE: &[u8] = &[0];

/// A decoded session record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// When the session was created (for the absolute lifetime), ms since the epoch.
    pub created: Millis,
    /// The owner the session is bound to, if any.
    pub owner: Option<String>,
    /// Encoded values by key, sliced out of the stored body when decoded (not copied).
    pub values: Values,
    /// The session's own lifetime (remember-me), replacing the manager's; `None` for a
    /// plain session.
    pub lifetime: Option<Lifetime>,
    /// When the current ID was issued, when that was after `created` (a rotation or a
    /// regenerate with rotation on); `None` means at `created`.
    pub id_issued: Option<Millis>,
    /// What was recorded when the session was bound to its owner (see [`crate::devices`]);
    /// `None` for a session bound without it, or not bound. Boxed, since most records have
    /// none and a record is moved around on every request.
    pub binding: Option<Box<Binding>>,
}

/// What a session records when it is bound to an owner: stored as [`FORMAT_V3`], and only
/// when one of the fields is set, so every other record keeps its V1 or V2 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// When the session was bound to its owner, ms since the epoch (set when a per-owner
    /// cap is configured: the `refuse` policy ranks sessions by it).
    pub bound_at: Option<Millis>,
    /// The client's `User-Agent`, truncated (only with device metadata on).
    pub user_agent: Option<String>,
    /// The client's network (IPv4 /24, IPv6 /48; only with device metadata on).
    pub ip: Option<String>,
}

impl Binding {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.bound_at.is_none() && self.user_agent.is_none() && self.ip.is_none()
    }
}

/// A session's own lifetime, as stored with its record (see [`crate::SessionLifetime`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Idle lifetime in ms: the session expires this long after its last use.
    pub idle_ms: Millis,
    /// Absolute lifetime in ms from `created`, if any.
    pub absolute_ms: Option<Millis>,
}

impl Record {
    /// An empty record created at `created`.
    pub fn new(created: Millis) -> Self {
        Record {
            created,
            owner: None,
            values: Values::new(),
            lifetime: None,
            id_issued: None,
            binding: None,
        }
    }

    /// Records `binding`, or removes what was recorded when it is empty.
    pub fn set_binding(&mut self, binding: &Binding) {
        self.binding = (!binding.is_empty()).then(|| Box::new(binding.clone()));
    }

    /// When the current ID was issued.
    pub fn id_issued(&self) -> Millis {
        self.id_issued.unwrap_or(self.created)
    }

    /// The format the record is written in: the oldest that holds everything it carries.
    fn format(&self) -> u8 {
        if self.binding.is_some() {
            FORMAT_V3
        } else if self.lifetime.is_some() || self.id_issued.is_some() {
            FORMAT_V2
        } else {
            FORMAT_V1
        }
    }

    /// Encodes the record; a result over `limit` bytes is [`Error::TooLarge`].
    ///
    /// Written with `rmp`'s encoders into a buffer of the exact size (computed first, so an
    /// oversized record fails before anything is built): the bytes are the ones rmp-serde
    /// writes for the envelope (a test checks it), without serde's intermediate map and the
    /// buffer regrowth this runs into on every write.
    pub fn encode(&self, limit: usize) -> Result<Vec<u8>> {
        let size = self.encoded_len();
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        let mut out = Vec::with_capacity(size);
        let format = self.format();
        out.push(format);
        let encoded = (|| -> std::result::Result<(), rmp::encode::ValueWriteError> {
            rmp::encode::write_array_len(&mut out, fields_of(format))?;
            rmp::encode::write_sint(&mut out, self.created)?;
            match &self.owner {
                Some(owner) => rmp::encode::write_str(&mut out, owner)?,
                None => {
                    rmp::encode::write_nil(&mut out)
                        .map_err(rmp::encode::ValueWriteError::InvalidMarkerWrite)?;
                }
            }
            rmp::encode::write_map_len(&mut out, len_u32(self.values.len())?)?;
            for (key, value) in self.values.raw() {
                rmp::encode::write_str_len(&mut out, len_u32(key.len())?)?;
                out.extend_from_slice(key);
                rmp::encode::write_bin(&mut out, value)?;
            }
            if format >= FORMAT_V2 {
                for field in self.v2_fields() {
                    write_optional_int(&mut out, field)?;
                }
            }
            if let Some(binding) = self.binding.as_deref() {
                write_optional_int(&mut out, binding.bound_at)?;
                for text in [&binding.user_agent, &binding.ip] {
                    match text {
                        Some(text) => rmp::encode::write_str(&mut out, text)?,
                        None => rmp::encode::write_nil(&mut out)
                            .map_err(rmp::encode::ValueWriteError::InvalidMarkerWrite)?,
                    }
                }
            }
            Ok(())
        })();
        encoded.map_err(|e| Error::Corrupt(format!("cannot encode record: {e}")))?;
        Ok(out)
    }

    /// The exact length of [`Record::encode`]'s output.
    fn encoded_len(&self) -> usize {
        let owner = self
            .owner
            .as_ref()
            .map_or(1, |o| header_len(o.len(), 31) + o.len());
        let values: usize = self
            .values
            .raw()
            .map(|(k, v)| header_len(k.len(), 31) + k.len() + bin_header_len(v.len()) + v.len())
            .sum();
        let format = self.format();
        let mut extension = 0;
        if format >= FORMAT_V2 {
            extension += self
                .v2_fields()
                .into_iter()
                .map(|field| field.map_or(1, sint_len))
                .sum::<usize>();
        }
        if let Some(binding) = self.binding.as_deref() {
            extension += binding.bound_at.map_or(1, sint_len);
            extension += [&binding.user_agent, &binding.ip]
                .into_iter()
                .map(|text| {
                    text.as_ref()
                        .map_or(1, |t| header_len(t.len(), 31) + t.len())
                })
                .sum::<usize>();
        }
        // Format byte, fixarray, created, owner, map header, entries, extension.
        2 + sint_len(self.created) + owner + header_len(self.values.len(), 15) + values + extension
    }

    /// The trailing fields V2 added: idle and absolute lifetime, when the ID was issued.
    fn v2_fields(&self) -> [Option<Millis>; 3] {
        let lifetime = self.lifetime.as_ref();
        [
            lifetime.map(|l| l.idle_ms),
            lifetime.and_then(|l| l.absolute_ms),
            self.id_issued,
        ]
    }

    /// Decodes a record, refusing input over `limit` bytes, an unknown format byte or a
    /// malformed body with [`Error::Corrupt`].
    ///
    /// Read with `rmp`'s decoders straight from the slice: only the keys, values and owner
    /// are copied out, and every length prefix is checked against the bytes that remain
    /// before anything is copied, so a forged length cannot make decoding allocate.
    pub fn decode(bytes: &Bytes, limit: usize) -> Result<Self> {
        if bytes.len() > limit {
            return Err(Error::Corrupt(format!(
                "record of {} bytes is over the limit of {limit}",
                bytes.len()
            )));
        }
        let format = *bytes
            .first()
            .ok_or_else(|| Error::Corrupt("empty record".into()))?;
        let fields = match format {
            FORMAT_V1 | FORMAT_V2 | FORMAT_V3 => fields_of(format),
            _ => return Err(Error::Corrupt(format!("unknown record format {format}"))),
        };
        decode_envelope(bytes, fields).map_err(|e| Error::Corrupt(format!("malformed record: {e}")))
    }
}

/// Decodes the envelope of `expected` fields after the format byte of `body`.
fn decode_envelope(body: &Bytes, expected: u32) -> std::result::Result<Record, String> {
    let mut rd = &body[1..];
    let rd = &mut rd;
    let fields = rmp::decode::read_array_len(rd).map_err(|e| e.to_string())?;
    if fields != expected {
        return Err(format!(
            "expected {expected} envelope fields, found {fields}"
        ));
    }
    let created: Millis = rmp::decode::read_int(rd).map_err(|e| e.to_string())?;
    let owner = if rd.first() == Some(&NIL) {
        *rd = &rd[1..];
        None
    } else {
        let len = rmp::decode::read_str_len(rd).map_err(|e| e.to_string())?;
        let owner = take(rd, len)?;
        Some(
            std::str::from_utf8(owner)
                .map_err(|e| e.to_string())?
                .to_owned(),
        )
    };
    let entries = rmp::decode::read_map_len(rd).map_err(|e| e.to_string())?;
    // Every entry takes at least two bytes, so a forged count cannot reserve more than the
    // input could hold.
    let entries = usize::try_from(entries).map_err(|e| e.to_string())?;
    let mut values = Values::with_capacity(entries.min(rd.len() / 2));
    for _ in 0..entries {
        let len = rmp::decode::read_str_len(rd).map_err(|e| e.to_string())?;
        let key = take(rd, len)?;
        // Keys are short and nearly always ASCII: that check is a fraction of `from_utf8`'s.
        if !key.is_ascii() {
            std::str::from_utf8(key).map_err(|e| e.to_string())?;
        }
        let key = body.slice_ref(key);
        let len = rmp::decode::read_bin_len(rd).map_err(|e| e.to_string())?;
        let value = body.slice_ref(take(rd, len)?);
        values.insert_key(key, value);
    }
    let (mut lifetime, mut id_issued, mut binding) = (None, None, Binding::default());
    if expected >= 6 {
        let idle_ms = read_optional_int(rd)?;
        let absolute_ms = read_optional_int(rd)?;
        id_issued = read_optional_int(rd)?;
        lifetime = idle_ms.map(|idle_ms| Lifetime {
            idle_ms,
            absolute_ms,
        });
    }
    if expected == 9 {
        binding.bound_at = read_optional_int(rd)?;
        binding.user_agent = read_optional_str(rd)?;
        binding.ip = read_optional_str(rd)?;
    }
    if !rd.is_empty() {
        return Err(format!("{} trailing bytes", rd.len()));
    }
    // A binding of nils reads as none, as it is written.
    let binding = (!binding.is_empty()).then(|| Box::new(binding));
    Ok(Record {
        created,
        owner,
        values,
        lifetime,
        id_issued,
        binding,
    })
}

/// The envelope fields of a record in `format`.
fn fields_of(format: u8) -> u32 {
    match format {
        FORMAT_V3 => 9,
        FORMAT_V2 => 6,
        _ => 3,
    }
}

fn write_optional_int(
    out: &mut Vec<u8>,
    field: Option<Millis>,
) -> std::result::Result<(), rmp::encode::ValueWriteError> {
    match field {
        Some(v) => rmp::encode::write_sint(out, v).map(drop),
        None => {
            rmp::encode::write_nil(out).map_err(rmp::encode::ValueWriteError::InvalidMarkerWrite)
        }
    }
}

/// A string or nil.
fn read_optional_str(rd: &mut &[u8]) -> std::result::Result<Option<String>, String> {
    if rd.first() == Some(&NIL) {
        *rd = &rd[1..];
        return Ok(None);
    }
    let len = rmp::decode::read_str_len(rd).map_err(|e| e.to_string())?;
    let text = take(rd, len)?;
    std::str::from_utf8(text)
        .map(|t| Some(t.to_owned()))
        .map_err(|e| e.to_string())
}

/// An integer or nil.
fn read_optional_int(rd: &mut &[u8]) -> std::result::Result<Option<Millis>, String> {
    if rd.first() == Some(&NIL) {
        *rd = &rd[1..];
        return Ok(None);
    }
    rmp::decode::read_int(rd)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// MessagePack's nil marker.
const NIL: u8 = 0xc0;

fn take<'a>(rd: &mut &'a [u8], len: u32) -> std::result::Result<&'a [u8], String> {
    let len = usize::try_from(len).map_err(|e| e.to_string())?;
    if rd.len() < len {
        return Err(format!("a length of {len} runs past the end"));
    }
    let (head, rest) = rd.split_at(len);
    *rd = rest;
    Ok(head)
}

fn len_u32(len: usize) -> std::result::Result<u32, rmp::encode::ValueWriteError> {
    // Over 4 GiB; the size limit refuses such a record long before this.
    u32::try_from(len).map_err(|_| {
        rmp::encode::ValueWriteError::InvalidMarkerWrite(std::io::Error::other(
            "length over u32::MAX",
        ))
    })
}

/// Header bytes of a str/array/map of `len` whose fix form holds up to `fix_max`.
fn header_len(len: usize, fix_max: usize) -> usize {
    if len <= fix_max {
        1
    } else if fix_max == 31 && len < 256 {
        2 // str8
    } else if len <= usize::from(u16::MAX) {
        3
    } else {
        5
    }
}

fn bin_header_len(len: usize) -> usize {
    if len < 256 {
        2
    } else if len <= usize::from(u16::MAX) {
        3
    } else {
        5
    }
}

/// Bytes `rmp::encode::write_sint` uses for `v`.
fn sint_len(v: i64) -> usize {
    match v {
        -32..=127 => 1,
        -128..=-33 | 128..=255 => 2,
        -32_768..=-129 | 256..=65_535 => 3,
        -2_147_483_648..=-32_769 | 65_536..=4_294_967_295 => 5,
        _ => 9,
    }
}

/// Encodes one session value.
///
/// Most session values are small, so they are encoded into a buffer on the stack first and
/// copied into one allocation of the exact size; a value that does not fit is encoded again
/// into a growing buffer (at most 128 bytes of work are thrown away).
pub fn encode_value<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Bytes> {
    let mut stack = [0u8; STACK_VALUE];
    let mut cursor = std::io::Cursor::new(&mut stack[..]);
    if rmp_serde::encode::write_named(&mut cursor, value).is_ok() {
        let len = usize::try_from(cursor.position()).unwrap_or(STACK_VALUE);
        return Ok(Bytes::copy_from_slice(&stack[..len.min(STACK_VALUE)]));
    }
    rmp_serde::to_vec_named(value)
        .map(Bytes::from)
        .map_err(|e| Error::Encode {
            key: key.to_owned(),
            message: e.to_string(),
        })
}

/// Values up to this many encoded bytes take [`encode_value`]'s stack path.
const STACK_VALUE: usize = 128;

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

    fn dec(bytes: &[u8], limit: usize) -> Result<Record> {
        Record::decode(&Bytes::copy_from_slice(bytes), limit)
    }

    fn sample() -> Record {
        let mut r = Record::new(42);
        r.owner = Some("alice".into());
        r.values.insert("n", encode_value("n", &7u32).unwrap());
        r.values
            .insert("ключ", encode_value("ключ", "значение").unwrap());
        r
    }

    #[test]
    fn round_trips() {
        let r = sample();
        let bytes = r.encode(1 << 20).unwrap();
        assert_eq!(dec(&bytes, 1 << 20).unwrap(), r);
    }

    /// The bytes rmp-serde wrote for the envelope before the codec used `rmp` directly:
    /// records stored by earlier versions must keep decoding, and new ones stay readable by
    /// them.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct SerdeEnvelope {
        created: Millis,
        owner: Option<String>,
        values: std::collections::BTreeMap<String, serde_bytes::ByteBuf>,
    }

    fn serde_bytes_of(r: &Record) -> Vec<u8> {
        let envelope = SerdeEnvelope {
            created: r.created,
            owner: r.owner.clone(),
            values: r
                .values
                .iter()
                .map(|(k, v)| (k.to_owned(), serde_bytes::ByteBuf::from(v.to_vec())))
                .collect(),
        };
        let mut out = vec![FORMAT_V1];
        rmp_serde::encode::write(&mut out, &envelope).unwrap();
        out
    }

    #[test]
    fn bytes_match_the_serde_envelope_for_every_length_class() {
        let mut cases = vec![sample(), Record::new(0)];
        for created in [
            -1_i64,
            -33,
            -200,
            -40_000,
            -3_000_000_000,
            127,
            128,
            255,
            256,
            70_000,
            5_000_000_000,
            1_764_000_000_000,
        ] {
            let mut r = Record::new(created);
            r.owner = Some("o".repeat(usize::try_from(created.unsigned_abs() % 300).unwrap()));
            for len in [0usize, 1, 31, 32, 255, 256, 70_000] {
                r.values.insert(
                    &("k".repeat(len.min(300)) + &len.to_string()),
                    vec![7; len].into(),
                );
            }
            cases.push(r);
        }
        let mut many = Record::new(5);
        for i in 0..20 {
            many.values.insert(&format!("key{i}"), vec![1, 2, 3].into());
        }
        cases.push(many);
        for r in cases {
            let ours = r.encode(1 << 24).unwrap();
            assert_eq!(ours, serde_bytes_of(&r), "created {}", r.created);
            assert_eq!(ours.len(), r.encoded_len());
            assert_eq!(dec(&ours, 1 << 24).unwrap(), r);
        }
    }

    /// A session with its own lifetime or a rotated ID is written as V2, pinned here byte
    /// by byte; a plain one keeps the V1 bytes (checked above against the serde envelope).
    #[test]
    fn extended_records_are_v2_and_pinned() {
        let mut r = Record::new(5);
        r.values.insert("a", vec![1].into());
        assert_eq!(r.encode(1 << 10).unwrap()[0], FORMAT_V1);
        r.lifetime = Some(Lifetime {
            idle_ms: 600_000,
            absolute_ms: None,
        });
        r.id_issued = Some(7);
        let bytes = r.encode(1 << 10).unwrap();
        assert_eq!(
            bytes,
            [
                FORMAT_V2, 0x96, 0x05, 0xc0, 0x81, 0xa1, b'a', 0xc4, 0x01, 0x01, 0xce, 0x00, 0x09,
                0x27, 0xc0, 0xc0, 0x07,
            ]
        );
        assert_eq!(bytes.len(), r.encoded_len());
        assert_eq!(dec(&bytes, 1 << 10).unwrap(), r);
        r.lifetime = None;
        let bytes = r.encode(1 << 10).unwrap();
        assert_eq!(dec(&bytes, 1 << 10).unwrap().id_issued(), 7);
        // A V2 format byte on a V1 envelope (or the reverse) is corrupt, not misread.
        let mut v1 = Record::new(5).encode(64).unwrap();
        v1[0] = FORMAT_V2;
        assert!(matches!(dec(&v1, 64), Err(Error::Corrupt(_))));
    }

    /// A session bound with binding metadata is written as V3, pinned byte by byte; an
    /// owner alone keeps the V1 bytes, so sessions without the devices features are
    /// unchanged.
    #[test]
    fn bound_records_with_metadata_are_v3_and_pinned() {
        let mut r = Record::new(5);
        r.owner = Some("al".into());
        r.values.insert("a", vec![1].into());
        assert_eq!(r.encode(1 << 10).unwrap()[0], FORMAT_V1);
        r.set_binding(&Binding {
            bound_at: Some(9),
            user_agent: Some("ua".into()),
            ip: Some("1.2.3.0/24".into()),
        });
        let bytes = r.encode(1 << 10).unwrap();
        let mut expected = vec![
            FORMAT_V3, 0x99, 0x05, 0xa2, b'a', b'l', 0x81, 0xa1, b'a', 0xc4, 0x01, 0x01, 0xc0,
            0xc0, 0xc0, 0x09, 0xa2, b'u', b'a', 0xaa,
        ];
        expected.extend_from_slice(b"1.2.3.0/24");
        assert_eq!(bytes, expected);
        assert_eq!(bytes.len(), r.encoded_len());
        assert_eq!(dec(&bytes, 1 << 10).unwrap(), r);
        // With a lifetime and only a binding time: the V2 fields and nils for the rest.
        r.lifetime = Some(Lifetime {
            idle_ms: 600_000,
            absolute_ms: Some(1),
        });
        r.set_binding(&Binding {
            bound_at: Some(-40_000),
            ..Binding::default()
        });
        let bytes = r.encode(1 << 10).unwrap();
        assert_eq!(bytes[0], FORMAT_V3);
        assert_eq!(bytes.len(), r.encoded_len());
        assert_eq!(dec(&bytes, 1 << 10).unwrap(), r);
        // Unbound again: back to V2.
        r.set_binding(&Binding::default());
        assert_eq!(r.binding, None);
        assert_eq!(r.encode(1 << 10).unwrap()[0], FORMAT_V2);
        // A V3 format byte on a V2 envelope is corrupt, not misread.
        let mut v2 = r.encode(1 << 10).unwrap();
        v2[0] = FORMAT_V3;
        assert!(matches!(dec(&v2, 1 << 10), Err(Error::Corrupt(_))));
        // A damaged user agent is corrupt.
        let mut bad = expected.clone();
        bad[17] = 0xff;
        assert!(matches!(dec(&bad, 1 << 10), Err(Error::Corrupt(_))));
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
            dec(&bytes, bytes.len() - 1),
            Err(Error::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let good = sample().encode(1 << 20).unwrap();
        for cut in 0..good.len() {
            let _ = dec(&good[..cut], 1 << 20);
        }
        for bad in [
            &b""[..],
            &[2, 0, 0][..],
            &[1][..],
            &[1, 0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[1, 0x93, 0x01, 0xc0, 0xdf, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(matches!(dec(bad, 1 << 20), Err(Error::Corrupt(_))));
        }
    }

    /// A record body with `entries` written in the given order, as a foreign or damaged
    /// writer might.
    fn body_with(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = vec![FORMAT_V1, 0x93, 0x01, 0xc0];
        rmp::encode::write_map_len(&mut out, entries.len() as u32).unwrap();
        for (k, v) in entries {
            rmp::encode::write_str_len(&mut out, k.len() as u32).unwrap();
            out.extend_from_slice(k);
            rmp::encode::write_bin(&mut out, v).unwrap();
        }
        out
    }

    #[test]
    fn stored_maps_in_any_key_order_read_back() {
        // Out of order and with a repeated key: the later value wins.
        let body = body_with(&[(b"b", b"2"), (b"a", b"1"), (b"b", b"3")]);
        let r = dec(&body, 1 << 20).unwrap();
        assert_eq!(r.values.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.values.get("b").map(|v| &v[..]), Some(&b"3"[..]));
        for n in [0, 1, 9, 40] {
            let mut expect = Record::new(1);
            for i in 0..n {
                expect
                    .values
                    .insert(&format!("k{i:03}"), vec![i as u8].into());
            }
            let r = dec(&expect.encode(1 << 20).unwrap(), 1 << 20).unwrap();
            assert_eq!(r, expect, "{n} keys");
            assert_eq!(r.values.get("z"), None);
        }
    }

    #[test]
    fn a_damaged_map_is_corrupt() {
        let mut truncated = body_with(&[(b"a", b"1"), (b"b", b"2")]);
        truncated.pop();
        let bad_key = body_with(&[(b"a", b"1"), (b"\xff", b"2")]);
        let mut trailing = body_with(&[(b"a", b"1")]);
        trailing.push(0);
        let mut short_count = body_with(&[(b"a", b"1")]);
        short_count[4] = 0x82; // claims two entries, holds one
        for bad in [&truncated, &bad_key, &trailing, &short_count] {
            assert!(matches!(dec(bad, 1 << 20), Err(Error::Corrupt(_))));
        }
    }

    #[test]
    fn values_of_every_size_encode_alike() {
        for len in [0, 1, 100, 124, 125, 126, 127, 128, 129, 200, 5000] {
            let value = "v".repeat(len);
            let ours = encode_value("k", &value).unwrap();
            assert_eq!(&ours[..], &rmp_serde::to_vec_named(&value).unwrap()[..]);
            assert_eq!(decode_value::<String>("k", &ours).unwrap(), value);
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
