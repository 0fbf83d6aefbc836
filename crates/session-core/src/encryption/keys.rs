//! [`EncryptionKeys`]: the ordered list of record encryption keys, and the text form they are
//! configured in.

use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of an encryption key in bytes (256 bits).
pub const KEY_LEN: usize = 32;

/// One key: its ID and its bytes, wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EncryptionKey {
    pub(crate) id: u8,
    pub(crate) bytes: Zeroizing<[u8; KEY_LEN]>,
}

/// Record encryption keys, current first: the first encrypts every record written, every one
/// decrypts. Empty (the default) means records are stored unencrypted.
///
/// Built with [`EncryptionKeys::parse`], [`EncryptionKeys::from_file`],
/// [`EncryptionKeys::from_env`] or [`EncryptionKeys::new`]. `Debug` prints the key IDs,
/// never the keys; key bytes are zeroed when the last copy is dropped.
///
/// The text form is a list of `ID:KEY` entries, current key first, separated by commas or
/// whitespace (so a key file may hold one entry a line), where `ID` is a decimal key ID from
/// 0 to 255 and `KEY` is 64 hexadecimal digits (256 bits, for example from
/// `openssl rand -hex 32`); `#` starts a comment that runs to the end of the line:
///
/// ```text
/// 2:8f1c…64 hex digits…, 1:03ab…64 hex digits…
/// ```
///
/// The key ID is a byte because it is stored in every record: one byte names the key without
/// making the record noticeably longer. Errors name the entry by position and never echo key
/// material.
///
/// ```
/// use session_core::EncryptionKeys;
///
/// let current = "a".repeat(64);
/// let previous = "b".repeat(64);
/// let keys = EncryptionKeys::parse(&format!("2:{current}, 1:{previous}"))?;
/// assert_eq!(keys.current_id(), Some(2));
/// assert_eq!(keys.ids().collect::<Vec<_>>(), [2, 1]);
/// assert!(!format!("{keys:?}").contains(&current));
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionKeys(Vec<EncryptionKey>);

/// The field configuration errors name.
const FIELD: &str = "encryption_keys";

impl EncryptionKeys {
    /// Keys from `(ID, bytes)` pairs, current first. Two keys with one ID are an
    /// [`Error::Config`].
    pub fn new(keys: impl IntoIterator<Item = (u8, [u8; KEY_LEN])>) -> Result<Self> {
        let mut list: Vec<EncryptionKey> = Vec::new();
        for (id, bytes) in keys {
            if list.iter().any(|k| k.id == id) {
                return Err(Error::config(FIELD, format!("key ID {id} appears twice")));
            }
            list.push(EncryptionKey {
                id,
                bytes: Zeroizing::new(bytes),
            });
        }
        Ok(EncryptionKeys(list))
    }

    /// Parses the text form (see [`EncryptionKeys`]): `ID:HEX` entries, current first,
    /// separated by commas or whitespace. Empty text gives no keys (encryption off).
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_for(FIELD, text)
    }

    /// [`EncryptionKeys::parse`] with errors naming `field` (the option key being set).
    pub(crate) fn parse_for(field: &str, text: &str) -> Result<Self> {
        let mut pairs = Vec::new();
        let entries = text
            .lines()
            .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
            .flat_map(|line| line.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|entry| !entry.is_empty());
        for (n, entry) in entries.enumerate() {
            pairs.push(parse_entry(entry).map_err(|why| {
                Error::config(field, format!("entry {} (`ID:HEX`): {why}", n + 1))
            })?);
        }
        Self::new(pairs).map_err(|e| match e {
            Error::Config { message, .. } => Error::config(field, message),
            other => other,
        })
    }

    /// Reads keys from a file in the text form, one entry a line or comma-separated, `#`
    /// comments allowed. A file without keys is an error: pointing at a key file means
    /// encryption is meant to be on.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_for(FIELD, path.as_ref())
    }

    /// [`EncryptionKeys::from_file`] with errors naming `field`.
    pub(crate) fn from_file_for(field: &str, path: &Path) -> Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::config(field, format!("{}: {e}", path.display())))?,
        );
        let keys = Self::parse_for(field, &text)?;
        if keys.is_empty() {
            return Err(Error::config(
                field,
                format!("{} holds no keys", path.display()),
            ));
        }
        Ok(keys)
    }

    /// Reads keys in the text form from environment variable `var`. An unset or empty
    /// variable is an error: a typo in the name must not turn encryption off silently.
    pub fn from_env(var: &str) -> Result<Self> {
        let text = Zeroizing::new(
            std::env::var(var)
                .map_err(|e| Error::config(var, format!("cannot read the variable: {e}")))?,
        );
        let keys = Self::parse_for(var, &text)?;
        if keys.is_empty() {
            return Err(Error::config(var, "holds no keys"));
        }
        Ok(keys)
    }

    /// Whether there are no keys (encryption off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The ID of the key new records are encrypted with (the first), if any.
    pub fn current_id(&self) -> Option<u8> {
        self.0.first().map(|k| k.id)
    }

    /// Every key ID, current first.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().map(|k| k.id)
    }

    /// The key new records are encrypted with.
    pub(crate) fn current(&self) -> Option<&EncryptionKey> {
        self.0.first()
    }

    /// The key with ID `id`, if configured.
    pub(crate) fn find(&self, id: u8) -> Option<&EncryptionKey> {
        self.0.iter().find(|k| k.id == id)
    }
}

impl std::fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncryptionKeys(ids {:?}, keys redacted)",
            self.ids().collect::<Vec<_>>()
        )
    }
}

/// One `ID:HEX` entry; the error says what is wrong without quoting the key.
fn parse_entry(entry: &str) -> std::result::Result<(u8, [u8; KEY_LEN]), String> {
    let (id, hex_key) = entry
        .split_once(':')
        .ok_or_else(|| "expected `ID:HEX`".to_owned())?;
    let id: u8 = id
        .parse()
        .map_err(|_| "the key ID must be a number from 0 to 255".to_owned())?;
    let mut bytes = [0u8; KEY_LEN];
    hex::decode_to_slice(hex_key, &mut bytes).map_err(|_| {
        format!(
            "key {id} must be {} hexadecimal digits (256 bits)",
            KEY_LEN * 2
        )
    })?;
    Ok((id, bytes))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn hex_key(byte: u8) -> String {
        hex::encode([byte; KEY_LEN])
    }

    #[test]
    fn parses_comma_and_line_separated_entries_current_first() {
        let text = format!("1:{}, 0:{}", hex_key(1), hex_key(0));
        let keys = EncryptionKeys::parse(&text).unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), [1, 0]);
        assert_eq!(keys.current_id(), Some(1));
        assert_eq!(keys.find(0).map(|k| *k.bytes), Some([0; KEY_LEN]));

        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "# current\n7:{}\n\n  # retired last week\n  3:{}  \n",
            hex_key(7),
            hex_key(3)
        )
        .unwrap();
        let keys = EncryptionKeys::from_file(file.path()).unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), [7, 3]);
        assert_eq!(keys.find(3).map(|k| *k.bytes), Some([3; KEY_LEN]));
    }

    #[test]
    fn empty_text_is_no_keys_but_an_empty_file_is_an_error() {
        assert!(EncryptionKeys::parse(" ").unwrap().is_empty());
        let file = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            EncryptionKeys::from_file(file.path()),
            Err(Error::Config { .. })
        ));
    }

    #[test]
    fn bad_entries_are_config_errors_that_never_quote_the_key() {
        let secret = "ab".repeat(31); // 62 digits: one byte short
        for text in [
            format!("1:{secret}"),
            format!("1:{secret}zz"),
            format!("256:{}", hex_key(1)),
            format!("x:{}", hex_key(1)),
            hex_key(1),
            format!("1:{}, 1:{}", hex_key(1), hex_key(2)),
        ] {
            match EncryptionKeys::parse(&text) {
                Err(Error::Config { field, message }) => {
                    assert_eq!(field, "encryption_keys", "{text}");
                    assert!(!message.contains(&secret[..16]), "{message}");
                    assert!(!message.contains(&hex_key(1)[..16]), "{message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_prints_ids_not_keys() {
        let keys = EncryptionKeys::new([(4, [0xAB; KEY_LEN])]).unwrap();
        let debug = format!("{keys:?}");
        assert!(debug.contains("[4]"), "{debug}");
        assert!(!debug.to_lowercase().contains("abab"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");
    }

    #[test]
    fn from_env_refuses_an_unset_variable() {
        assert!(matches!(
            EncryptionKeys::from_env("SESSION_CORE_TEST_SURELY_UNSET_VARIABLE"),
            Err(Error::Config { field, .. }) if field == "SESSION_CORE_TEST_SURELY_UNSET_VARIABLE"
        ));
    }
}
