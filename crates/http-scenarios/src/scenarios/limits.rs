//! The record size limit seen from the client: a value that would make the session's record
//! larger than `max_record_size` is the client's doing, answered with 413 by the session
//! layer, and costs the session nothing it held.

use http::StatusCode;
use session_core::record::{Record, encode_value};
use session_core::{Clock, Error, SystemClock};

use super::{Ctx, Failure, ScenarioFuture, ScenarioResult, ensure};
use crate::checks;
use crate::client::Reply;

/// How far past the limit the "well over" value goes: several MiB, as a careless upload
/// would.
const WELL_OVER: usize = 3 << 20;

/// A session holding `keep`: a value whose record is exactly at the limit is stored; one byte
/// over is 413, and so is a value several MiB over; neither answers 500, sets a cookie,
/// writes anything, or loses what the session held. A new session with an oversized value is
/// 413 too, and gets no cookie.
pub(crate) fn oversized_record(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let limit = ctx.target.max_record_size;
        let sid = ctx.new_session("keep", "kept").await?;
        let at_limit = "x".repeat(value_len_for_record(limit)?);

        let reply = ctx.put("big", &at_limit, Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT).map_err(|_| {
            Failure::failed(format!(
                "PUT /session/big: a value whose record is exactly max_record_size \
                 ({limit} bytes) was refused with {} ({:?})",
                reply.status, reply.body
            ))
        })?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        expect_kept(ctx, &sid, &at_limit).await?;

        for (label, len) in [
            ("one byte over", at_limit.len() + 1),
            ("well over", at_limit.len() + WELL_OVER),
        ] {
            let writes = ctx.target.writes.as_ref().map(|count| count());
            let reply = ctx.put("big", &"y".repeat(len), Some(&sid)).await?;
            expect_refused(ctx, &reply, label)?;
            if let (Some(before), Some(count)) = (writes, &ctx.target.writes) {
                let after = count();
                ensure(after == before, || {
                    format!(
                        "{label}: the store saw writes for a refused record ({before} -> {after})"
                    )
                })?;
            }
            expect_kept(ctx, &sid, &at_limit).await?;
        }

        // The value alone is over the limit, whatever the record adds to it.
        let reply = ctx.put("big", &"z".repeat(limit + 1), None).await?;
        expect_refused(ctx, &reply, "a new session over")?;
        checks::no_set_cookie_at_all(&reply)
    })
}

/// The length of the string value that, stored under `big` next to `keep` = `"kept"`, makes
/// a record of exactly `limit` bytes in core's record format.
fn value_len_for_record(limit: usize) -> Result<usize, Failure> {
    let size = |len: usize| -> Result<usize, Failure> {
        let mut record = Record::new(SystemClock.now());
        for (key, value) in [("keep", "kept".to_owned()), ("big", "x".repeat(len))] {
            let encoded = encode_value(key, &value)
                .map_err(|e| Failure::failed(format!("cannot encode a test value: {e}")))?;
            record.values.insert(key, encoded);
        }
        record
            .encode(usize::MAX)
            .map(|body| body.len())
            .map_err(|e| Failure::failed(format!("cannot encode a test record: {e}")))
    };
    // The size grows with the value, by one byte per byte except where a length prefix
    // widens, so the smallest length reaching the limit is found by bisection.
    let (mut low, mut high) = (0, limit);
    while low < high {
        let mid = low + (high - low) / 2;
        if size(mid)? < limit {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    if size(low)? == limit && size(low + 1)? == limit + 1 {
        Ok(low)
    } else {
        Err(Failure::failed(format!(
            "no value makes a record of exactly {limit} bytes (a length prefix widens there); \
             configure another max_record_size"
        )))
    }
}

/// The answer to an oversized record: 413 with core's public message (so the session layer
/// answered, not a framework body limit), and no `Set-Cookie`.
fn expect_refused(ctx: &Ctx, reply: &Reply, label: &str) -> ScenarioResult {
    let expected = Error::TooLarge { size: 0, limit: 0 }.public_message();
    ensure(
        reply.status == StatusCode::PAYLOAD_TOO_LARGE && reply.body == expected,
        || {
            format!(
                "{}, {label} max_record_size ({}): expected 413 with {expected:?} from the \
                 session layer, got {} with {:?}",
                reply.request,
                ctx.target.max_record_size,
                reply.status,
                reply.body.chars().take(200).collect::<String>()
            )
        },
    )?;
    checks::no_set_cookie_at_all(reply)
}

/// The session still holds `keep` and the value stored at the limit.
async fn expect_kept(ctx: &Ctx, sid: &str, big: &str) -> ScenarioResult {
    ctx.get("/session/keep", Some(sid))
        .await?
        .expect_text("kept")?;
    let reply = ctx.get("/session/big", Some(sid)).await?;
    reply.expect_status(StatusCode::OK)?;
    ensure(reply.body == big, || {
        format!(
            "GET /session/big: the value stored at the limit came back as {} bytes, not {}",
            reply.body.len(),
            big.len()
        )
    })
}
