//! The documents, with CAS and memcached's expiry rules.

use std::collections::HashMap;

/// Expiry values up to this many seconds (30 days) are relative to now; larger ones are
/// absolute Unix times. This is memcached's rule, which Couchbase keeps.
pub(crate) const RELATIVE_EXPIRY_LIMIT_SECS: u32 = 30 * 24 * 60 * 60;

/// A document as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The client's flags (the SDK keeps its transcoder's format here).
    pub flags: u32,
    /// The datatype bits the client sent (JSON or not).
    pub datatype: u8,
    /// The document's current CAS.
    pub cas: u64,
    /// When the document expires, in ms since the epoch on the server's clock; `None` never.
    pub expires_at_ms: Option<i64>,
}

/// Why a data operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No (live) document under the key.
    NotFound,
    /// A document exists (ADD), or the CAS does not match.
    Exists,
}

/// How a mutation treats an existing document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// SET: create or overwrite (with a CAS: only overwrite that version).
    Set,
    /// ADD: create only.
    Add,
    /// REPLACE: overwrite only (with a CAS: only that version).
    Replace,
}

/// What a mutation writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mutation<'a> {
    pub(crate) value: &'a [u8],
    pub(crate) flags: u32,
    pub(crate) datatype: u8,
    pub(crate) expiry: u32,
    pub(crate) cas: u64,
}

type Key = (u32, Vec<u8>);

/// All documents of the bucket, keyed by collection ID and key.
#[derive(Debug, Default)]
pub(crate) struct Store {
    docs: HashMap<Key, Document>,
    last_cas: u64,
}

/// The absolute expiry, in ms, of a wire expiry value received at `now_ms`.
pub(crate) fn expiry_deadline(expiry: u32, now_ms: i64) -> Option<i64> {
    match expiry {
        0 => None,
        secs if secs <= RELATIVE_EXPIRY_LIMIT_SECS => Some(now_ms + i64::from(secs) * 1000),
        unix => Some(i64::from(unix) * 1000),
    }
}

impl Store {
    fn next_cas(&mut self) -> u64 {
        self.last_cas += 1;
        self.last_cas
    }

    /// The live document under `key`; an expired one is removed on the way (lazy expiry).
    fn live(&mut self, collection: u32, key: &[u8], now_ms: i64) -> Option<&mut Document> {
        let k = (collection, key.to_vec());
        let expired = self
            .docs
            .get(&k)
            .is_some_and(|d| d.expires_at_ms.is_some_and(|t| t <= now_ms));
        if expired {
            self.docs.remove(&k);
        }
        self.docs.get_mut(&k)
    }

    /// GET.
    pub(crate) fn get(&mut self, collection: u32, key: &[u8], now_ms: i64) -> Option<Document> {
        self.live(collection, key, now_ms).cloned()
    }

    /// SET / ADD / REPLACE; returns the new CAS.
    pub(crate) fn mutate(
        &mut self,
        collection: u32,
        key: &[u8],
        mode: Mode,
        m: Mutation<'_>,
        now_ms: i64,
    ) -> Result<u64, Refusal> {
        match (self.live(collection, key, now_ms), mode) {
            (Some(_), Mode::Add) => return Err(Refusal::Exists),
            (None, Mode::Replace) => return Err(Refusal::NotFound),
            (None, Mode::Set) if m.cas != 0 => return Err(Refusal::NotFound),
            (Some(doc), _) if m.cas != 0 && doc.cas != m.cas => return Err(Refusal::Exists),
            _ => {}
        }
        let cas = self.next_cas();
        self.docs.insert(
            (collection, key.to_vec()),
            Document {
                value: m.value.to_vec(),
                flags: m.flags,
                datatype: m.datatype,
                cas,
                expires_at_ms: expiry_deadline(m.expiry, now_ms),
            },
        );
        Ok(cas)
    }

    /// DELETE; returns the CAS of the deletion.
    pub(crate) fn delete(
        &mut self,
        collection: u32,
        key: &[u8],
        cas: u64,
        now_ms: i64,
    ) -> Result<u64, Refusal> {
        let doc = self
            .live(collection, key, now_ms)
            .ok_or(Refusal::NotFound)?;
        if cas != 0 && doc.cas != cas {
            return Err(Refusal::Exists);
        }
        self.docs.remove(&(collection, key.to_vec()));
        Ok(self.next_cas())
    }

    /// TOUCH and GAT: sets a new expiry; returns the document with its new CAS.
    pub(crate) fn touch(
        &mut self,
        collection: u32,
        key: &[u8],
        expiry: u32,
        now_ms: i64,
    ) -> Result<Document, Refusal> {
        let cas = self.last_cas + 1;
        let doc = self
            .live(collection, key, now_ms)
            .ok_or(Refusal::NotFound)?;
        doc.cas = cas;
        doc.expires_at_ms = expiry_deadline(expiry, now_ms);
        let doc = doc.clone();
        self.last_cas = cas;
        Ok(doc)
    }

    /// How many live documents there are.
    pub(crate) fn live_count(&self, now_ms: i64) -> usize {
        self.docs
            .values()
            .filter(|d| d.expires_at_ms.is_none_or(|t| t > now_ms))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn m(value: &[u8], expiry: u32, cas: u64) -> Mutation<'_> {
        Mutation {
            value,
            flags: 7,
            datatype: 0,
            expiry,
            cas,
        }
    }

    #[test]
    fn memcached_expiry_rules() {
        assert_eq!(expiry_deadline(0, NOW), None);
        assert_eq!(expiry_deadline(1, NOW), Some(NOW + 1000));
        // Exactly 30 days is still relative; one second more is an absolute time.
        assert_eq!(
            expiry_deadline(RELATIVE_EXPIRY_LIMIT_SECS, NOW),
            Some(NOW + 2_592_000_000)
        );
        assert_eq!(
            expiry_deadline(RELATIVE_EXPIRY_LIMIT_SECS + 1, NOW),
            Some(2_592_001_000)
        );
        assert_eq!(expiry_deadline(1_900_000_000, NOW), Some(1_900_000_000_000));
    }

    #[test]
    fn modes_and_cas() {
        let mut s = Store::default();
        assert_eq!(
            s.mutate(0, b"k", Mode::Replace, m(b"a", 0, 0), NOW),
            Err(Refusal::NotFound)
        );
        let c1 = s
            .mutate(0, b"k", Mode::Add, m(b"a", 0, 0), NOW)
            .unwrap_or_default();
        assert_eq!(
            s.mutate(0, b"k", Mode::Add, m(b"b", 0, 0), NOW),
            Err(Refusal::Exists)
        );
        let c2 = s
            .mutate(0, b"k", Mode::Replace, m(b"b", 0, c1), NOW)
            .unwrap_or_default();
        assert_ne!(c1, c2);
        assert_eq!(
            s.mutate(0, b"k", Mode::Replace, m(b"c", 0, c1), NOW),
            Err(Refusal::Exists)
        );
        assert_eq!(s.get(0, b"k", NOW).map(|d| d.value), Some(b"b".to_vec()));
        // Collections are separate key spaces.
        assert_eq!(s.get(8, b"k", NOW), None);
        assert_eq!(s.delete(0, b"k", c1, NOW), Err(Refusal::Exists));
        assert!(s.delete(0, b"k", c2, NOW).is_ok());
        assert_eq!(s.delete(0, b"k", 0, NOW), Err(Refusal::NotFound));
    }

    #[test]
    fn lazy_expiry_and_touch() {
        let mut s = Store::default();
        let c1 = s
            .mutate(0, b"k", Mode::Set, m(b"a", 10, 0), NOW)
            .unwrap_or_default();
        assert!(s.get(0, b"k", NOW + 9_999).is_some());
        let touched = s.touch(0, b"k", 20, NOW + 9_999).map(|d| d.cas);
        assert!(touched.is_ok_and(|c| c != c1));
        assert!(s.get(0, b"k", NOW + 29_998).is_some());
        assert_eq!(s.live_count(NOW + 29_998), 1);
        assert_eq!(s.get(0, b"k", NOW + 29_999), None);
        assert_eq!(s.touch(0, b"k", 20, NOW + 29_999), Err(Refusal::NotFound));
        assert_eq!(s.live_count(NOW + 29_999), 0);
    }
}
