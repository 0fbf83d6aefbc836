//! [`Values`]: a record's encoded values by key.

use bytes::Bytes;

/// A session record's encoded values by key, in key order.
///
/// A sorted vector rather than a `BTreeMap`: sessions hold a handful of keys, so lookups by
/// binary search are as fast, and a decoded record costs one allocation for all its entries
/// instead of one per key plus tree nodes. Keys are `Bytes` like the values, so decoding
/// slices both out of the stored body; a key is always valid UTF-8 (checked when decoded,
/// or it came from a `&str`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Values {
    entries: Vec<(Bytes, Bytes)>,
}

impl Values {
    /// No values.
    pub fn new() -> Self {
        Values::default()
    }

    /// Room for `n` entries.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Values {
            entries: Vec::with_capacity(n),
        }
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k[..].cmp(key))
    }

    /// The encoded value of `key`.
    pub fn get(&self, key: &str) -> Option<&Bytes> {
        self.find(key.as_bytes()).ok().map(|i| &self.entries[i].1)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key.as_bytes()).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(&mut self, key: &str, value: Bytes) -> Option<Bytes> {
        // Looked up first: replacing a value, the usual write, then copies no key.
        match self.find(key.as_bytes()) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                let key = Bytes::copy_from_slice(key.as_bytes());
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// [`Values::insert`] with a key already known to be UTF-8 (the decoder checks it).
    pub(crate) fn insert_key(&mut self, key: Bytes, value: Bytes) -> Option<Bytes> {
        // Records are written in key order, so decoding appends.
        if self
            .entries
            .last()
            .is_none_or(|(last, _)| last[..] < key[..])
        {
            self.entries.push((key, value));
            return None;
        }
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Bytes> {
        let i = self.find(key.as_bytes()).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k)
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.entries
            .iter()
            // Never skips: every key is UTF-8 (see the type's docs).
            .filter_map(|(k, v)| Some((std::str::from_utf8(k).ok()?, v)))
    }

    /// The entries with their keys as bytes, in key order (for the encoder).
    pub(crate) fn raw(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Values {
    type Item = (&'a str, &'a Bytes);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Bytes)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut v = Values::new();
        assert_eq!(v.insert("b", Bytes::from_static(b"2")), None);
        assert_eq!(v.insert("a", Bytes::from_static(b"1")), None);
        assert_eq!(v.insert("c", Bytes::from_static(b"3")), None);
        assert_eq!(
            v.insert("b", Bytes::from_static(b"two")).as_deref(),
            Some(&b"2"[..])
        );
        assert_eq!(v.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(v.get("b").map(|b| &b[..]), Some(&b"two"[..]));
        assert!(v.contains_key("c") && !v.contains_key("d"));
        assert_eq!(v.remove("a").as_deref(), Some(&b"1"[..]));
        assert_eq!(v.remove("a"), None);
        assert_eq!(v.len(), 2);
        v.clear();
        assert!(v.is_empty());
    }
}
