//! Pieces of a session store that are the same whatever the SQL dialect.

use std::fmt::Display;
use std::future::Future;

use session_core::{Result, SessionId};

/// Runs `batch_step` (one GC statement that deletes at most `batch` expired rows and returns
/// how many it deleted) until a batch comes back short; returns the total deleted.
///
/// Small batches keep each statement's locks and log writes short. A short batch means
/// nothing expired is left, or the rest is locked by requests touching it right now: those
/// are being refreshed, not garbage.
pub async fn gc_in_batches<F: Future<Output = Result<u64>>>(
    batch: u64,
    mut batch_step: impl FnMut() -> F,
) -> Result<u64> {
    let mut removed = 0u64;
    loop {
        let deleted = batch_step().await?;
        removed = removed.saturating_add(deleted);
        if deleted < batch {
            return Ok(removed);
        }
    }
}

/// The session IDs in `rows` (one column of IDs read from `table`). A value that is not a
/// well-formed ID, which only something other than the provider can have written, is skipped
/// with a warning rather than failing the whole query.
pub fn session_ids(rows: Vec<(String,)>, table: &dyn Display) -> Vec<SessionId> {
    rows.into_iter()
        .filter_map(|(id,)| {
            SessionId::parse_any(&id)
                .inspect_err(|_| {
                    tracing::warn!(table = %table, "skipping a malformed session id");
                })
                .ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn gc_stops_at_the_first_short_batch() {
        let mut batches = vec![10, 10, 3, 10].into_iter();
        let mut calls = 0;
        let removed = gc_in_batches(10, || {
            calls += 1;
            std::future::ready(Ok(batches.next().unwrap()))
        })
        .await
        .unwrap();
        assert_eq!((removed, calls), (23, 3));
    }

    #[tokio::test]
    async fn gc_stops_at_the_first_error() {
        let mut calls = 0;
        let result = gc_in_batches(10, || {
            calls += 1;
            std::future::ready(if calls == 1 {
                Ok(10)
            } else {
                Err(session_core::Error::backend("test", "down"))
            })
        })
        .await;
        assert!(result.unwrap_err().is_backend());
        assert_eq!(calls, 2);
    }

    #[test]
    fn malformed_ids_are_skipped() {
        let good = SessionId::generate(32).unwrap();
        let rows = vec![
            (good.as_str().to_owned(),),
            ("../etc/passwd".to_owned(),),
            (String::new(),),
        ];
        assert_eq!(session_ids(rows, &"sessions"), [good]);
    }
}
