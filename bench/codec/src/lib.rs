//! The four record formats the codec benchmark compares, on one 10-key session.
//!
//! - `ours`: session-core's format (`record.rs`): a format byte, then a MessagePack envelope
//!   whose values are each MessagePack (rmp-serde, named fields), decoded per key on `get`.
//! - `postcard`: the same envelope and per-value layout with postcard (not self-describing:
//!   a `serde_json::Value` could not be stored).
//! - `json`: serde_json, values as `serde_json::Value` in one object (actix-session/axum-session
//!   style).
//! - `ts`: tower-sessions' format: rmp-serde of the whole record with `serde_json::Value`s.
//!
//! Encode starts from typed values and ends with the bytes a store writes; decode starts
//! from those bytes and ends with all ten typed values (the worst case for per-key decoding).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use session_core::record::{Record, decode_value, encode_value};

const LIMIT: usize = 1 << 20;
const CREATED: i64 = 1_780_000_000_000;

/// A small nested value, as sessions hold (preferences, a flash message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prefs {
    /// UI theme.
    pub theme: String,
    /// Language tag.
    pub lang: String,
    /// Minutes from UTC.
    pub tz_offset: i32,
}

/// The ten values of the benchmark session.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    /// `user_id`
    pub user_id: u64,
    /// `name`
    pub name: String,
    /// `email`
    pub email: String,
    /// `roles`
    pub roles: Vec<String>,
    /// `csrf`
    pub csrf: String,
    /// `cart`
    pub cart: Vec<u32>,
    /// `remember`
    pub remember: bool,
    /// `last_seen`
    pub last_seen: i64,
    /// `prefs`
    pub prefs: Prefs,
    /// `visits`
    pub visits: u32,
}

/// The benchmark session.
pub fn sample() -> Data {
    Data {
        user_id: 4_294_967_311,
        name: "Gopher McGopherface".into(),
        email: "gopher@example.invalid".into(),
        roles: vec!["admin".into(), "editor".into(), "viewer".into()],
        csrf: "x3QbJ9v0Lq2bTzVYp8HkW4nA1sDfGhJkLmNoPqRsTuV".into(),
        cart: vec![17, 4242, 99_000, 7, 123_456],
        remember: true,
        last_seen: 1_780_000_123_456,
        prefs: Prefs {
            theme: "dark".into(),
            lang: "en-GB".into(),
            tz_offset: -300,
        },
        visits: 1234,
    }
}

/// Calls `$m!(key, field)` for every value, in key order.
macro_rules! each_field {
    ($m:ident) => {{
        $m!("cart", cart);
        $m!("csrf", csrf);
        $m!("email", email);
        $m!("last_seen", last_seen);
        $m!("name", name);
        $m!("prefs", prefs);
        $m!("remember", remember);
        $m!("roles", roles);
        $m!("user_id", user_id);
        $m!("visits", visits);
    }};
}

fn field<T>(
    map: &mut BTreeMap<String, Vec<u8>>,
    key: &str,
    f: impl Fn(&[u8]) -> Result<T>,
) -> Result<T> {
    let bytes = map.remove(key).with_context(|| format!("missing {key}"))?;
    f(&bytes)
}

/// session-core's format.
pub fn ours_encode(data: &Data) -> Result<Vec<u8>> {
    let mut record = Record::new(CREATED);
    macro_rules! put {
        ($k:literal, $f:ident) => {
            record.values.insert($k.into(), encode_value($k, &data.$f)?);
        };
    }
    each_field!(put);
    Ok(record.encode(LIMIT)?)
}

/// session-core's format.
pub fn ours_decode(bytes: &[u8]) -> Result<Data> {
    // A store hands core the body as `Bytes`; the copy stands for that.
    let record = Record::decode(&session_core::Bytes::copy_from_slice(bytes), LIMIT)?;
    macro_rules! take {
        ($k:literal) => {{
            let bytes = record
                .values
                .get($k)
                .with_context(|| format!("missing {}", $k))?;
            decode_value($k, bytes)?
        }};
    }
    Ok(Data {
        user_id: take!("user_id"),
        name: take!("name"),
        email: take!("email"),
        roles: take!("roles"),
        csrf: take!("csrf"),
        cart: take!("cart"),
        remember: take!("remember"),
        last_seen: take!("last_seen"),
        prefs: take!("prefs"),
        visits: take!("visits"),
    })
}

#[derive(Serialize, Deserialize)]
struct PostcardEnvelope {
    created: i64,
    owner: Option<String>,
    values: BTreeMap<String, serde_bytes::ByteBuf>,
}

/// The same envelope and per-value layout with postcard.
pub fn postcard_encode(data: &Data) -> Result<Vec<u8>> {
    let mut values = BTreeMap::new();
    macro_rules! put {
        ($k:literal, $f:ident) => {
            values.insert(
                $k.to_owned(),
                serde_bytes::ByteBuf::from(postcard::to_allocvec(&data.$f)?),
            );
        };
    }
    each_field!(put);
    let envelope = PostcardEnvelope {
        created: CREATED,
        owner: None,
        values,
    };
    let mut out = vec![1u8];
    out.extend_from_slice(&postcard::to_allocvec(&envelope)?);
    Ok(out)
}

fn postcard_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(postcard::from_bytes(bytes)?)
}

/// The same envelope and per-value layout with postcard.
pub fn postcard_decode(bytes: &[u8]) -> Result<Data> {
    let body = bytes.get(1..).context("empty")?;
    let envelope: PostcardEnvelope = postcard::from_bytes(body)?;
    let mut values: BTreeMap<String, Vec<u8>> = envelope
        .values
        .into_iter()
        .map(|(k, v)| (k, v.into_vec()))
        .collect();
    macro_rules! take {
        ($k:literal) => {
            field(&mut values, $k, postcard_value)?
        };
    }
    Ok(Data {
        user_id: take!("user_id"),
        name: take!("name"),
        email: take!("email"),
        roles: take!("roles"),
        csrf: take!("csrf"),
        cart: take!("cart"),
        remember: take!("remember"),
        last_seen: take!("last_seen"),
        prefs: take!("prefs"),
        visits: take!("visits"),
    })
}

#[derive(Serialize, Deserialize)]
struct JsonRecord {
    created: i64,
    owner: Option<String>,
    values: BTreeMap<String, serde_json::Value>,
}

fn json_values(data: &Data) -> Result<BTreeMap<String, serde_json::Value>> {
    let mut values = BTreeMap::new();
    macro_rules! put {
        ($k:literal, $f:ident) => {
            values.insert($k.to_owned(), serde_json::to_value(&data.$f)?);
        };
    }
    each_field!(put);
    Ok(values)
}

fn from_values<M>(mut take: M) -> Result<Data>
where
    M: FnMut(&str) -> Result<serde_json::Value>,
{
    macro_rules! take {
        ($k:literal) => {
            serde_json::from_value(take($k)?)?
        };
    }
    Ok(Data {
        user_id: take!("user_id"),
        name: take!("name"),
        email: take!("email"),
        roles: take!("roles"),
        csrf: take!("csrf"),
        cart: take!("cart"),
        remember: take!("remember"),
        last_seen: take!("last_seen"),
        prefs: take!("prefs"),
        visits: take!("visits"),
    })
}

/// serde_json with `serde_json::Value`s.
pub fn json_encode(data: &Data) -> Result<Vec<u8>> {
    let record = JsonRecord {
        created: CREATED,
        owner: None,
        values: json_values(data)?,
    };
    Ok(serde_json::to_vec(&record)?)
}

/// serde_json with `serde_json::Value`s.
pub fn json_decode(bytes: &[u8]) -> Result<Data> {
    let mut record: JsonRecord = serde_json::from_slice(bytes)?;
    from_values(|k| {
        record
            .values
            .remove(k)
            .with_context(|| format!("missing {k}"))
    })
}

#[derive(Serialize, Deserialize)]
struct TsRecord {
    id: i128,
    data: HashMap<String, serde_json::Value>,
    expiry_date: i64,
}

/// tower-sessions' format: rmp-serde of the whole record with `serde_json::Value`s.
pub fn ts_encode(data: &Data) -> Result<Vec<u8>> {
    let record = TsRecord {
        id: 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
        data: json_values(data)?.into_iter().collect(),
        expiry_date: 1_780_000_000,
    };
    Ok(rmp_serde::to_vec(&record)?)
}

/// tower-sessions' format: rmp-serde of the whole record with `serde_json::Value`s.
pub fn ts_decode(bytes: &[u8]) -> Result<Data> {
    let mut record: TsRecord = rmp_serde::from_slice(bytes)?;
    from_values(|k| {
        record
            .data
            .remove(k)
            .with_context(|| format!("missing {k}"))
    })
}

/// Every format as (name, encode, decode).
pub type Codec = (
    &'static str,
    fn(&Data) -> Result<Vec<u8>>,
    fn(&[u8]) -> Result<Data>,
);

/// The formats, ours first.
pub const CODECS: [Codec; 4] = [
    ("ours_rmp_per_value", ours_encode, ours_decode),
    ("postcard_per_value", postcard_encode, postcard_decode),
    ("serde_json_value", json_encode, json_decode),
    ("tower_sessions_rmp_json_value", ts_encode, ts_decode),
];
