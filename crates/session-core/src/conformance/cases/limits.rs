//! Records core refuses or cannot read: the size limit and malformed bodies.

use super::support::{cookie_pair, get_string, write};
use crate::conformance::context::{CaseResult, Ctx, check};
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::record::{Record, encode_value};
use crate::store::RawStore as _;

pub(super) async fn record_size_limit(c: &Ctx<'_>) -> CaseResult {
    let options = c.options();
    let limit = options.max_record_size;
    let (m, store) = c.manager(options).await?;
    // Find the payload length that makes the record exactly `limit` bytes.
    let size_for = |n: usize| -> Result<usize> {
        let mut record = Record::new(c.clock_now());
        record
            .values
            .insert("blob", encode_value("blob", &"x".repeat(n))?);
        Ok(record.encode(usize::MAX)?.len())
    };
    let mut n = limit - 64;
    while size_for(n)? < limit {
        n += 1;
    }
    check(size_for(n)? == limit, || {
        "cannot build a record of exactly the limit".into()
    })?;
    let s = m.load([]);
    s.set("blob", &"x".repeat(n)).await?;
    let cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    check(
        get_string(&m, &cookie, "blob").await?.map(|v| v.len()) == Some(n),
        || "a record at the limit did not round-trip".into(),
    )?;
    let writes = store.writes();
    let s = m.load([cookie.as_str()]);
    s.set("blob", &"x".repeat(n + 1)).await?;
    check(
        matches!(s.commit().await, Err(Error::TooLarge { .. })),
        || "a record over the limit was not Error::TooLarge".into(),
    )?;
    check(store.writes() == writes, || {
        "an oversized record reached the provider".into()
    })?;
    check(
        get_string(&m, &cookie, "blob").await?.map(|v| v.len()) == Some(n),
        || "the stored record changed after a refused save".into(),
    )?;
    let s = m.load([]);
    s.set("blob", &"x".repeat(n + 1)).await?;
    check(
        matches!(s.commit().await, Err(Error::TooLarge { .. })),
        || "a new record over the limit was not Error::TooLarge".into(),
    )?;
    Ok(store.provider())
}

pub(super) async fn malformed_record_reads_absent(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let exp = c.clock_now() + 60_000;
    let bodies: [&[u8]; 5] = [
        b"",
        b"\x00\x00\x00",
        b"\x02future",
        b"\x01\xdd\xff\xff\xff\xff",
        b"not msgpack at all",
    ];
    for body in bodies {
        let id = SessionId::generate(32)?;
        store.insert(&id, write(body, exp)).await?;
        let header = format!("{}={}", m.options().cookie_name, id.as_str());
        let s = m.load([header.as_str()]);
        check(s.keys().await?.is_empty(), || {
            format!("malformed record {body:?} was not empty")
        })?;
        s.set("k", "v").await?;
        let set = s.commit().await?.set_cookie.unwrap_or_default();
        check(!set.contains(id.as_str()), || {
            "a malformed record's ID was adopted".into()
        })?;
        check(!store.exist(&id).await?, || {
            "a malformed record was left behind".into()
        })?;
        check(m.read(id.as_str()).await?.is_none(), || {
            "Manager::read returned a malformed record".into()
        })?;
    }
    Ok(store.provider())
}
