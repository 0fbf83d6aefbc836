//! Encryption at rest: [`Encrypted`], a [`RawStore`] around another that seals every record
//! body with XChaCha20-Poly1305 before the backend sees it, and the [`EncryptionKeys`] it
//! uses.
//!
//! Turn it on with [`Options::encryption_keys`] (`ENCRYPTION_KEYS`, `ENCRYPTION_KEYS_FILE`):
//! [`Manager`] then wraps its provider's store, for every provider. [`Encrypted::new`] wraps
//! a store by hand.
//!
//! ```
//! use std::sync::Arc;
//! use session_core::encryption::FORMAT_ENCRYPTED;
//! use session_core::{EncryptionKeys, Manager, Options, RawStore, SessionId, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! // Usually ENCRYPTION_KEYS in the config file, or EncryptionKeys::from_env.
//! let keys = EncryptionKeys::parse(&format!("1:{}", "0f".repeat(32)))?;
//! let options = Options { encryption_keys: keys, ..Options::default() };
//! let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(options, store.clone(), Arc::new(SystemClock))?;
//!
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let cookie = session.commit().await?.set_cookie.expect("a new session sets its cookie");
//!
//! // What the backend holds is sealed; the manager reads it back as usual.
//! let value = cookie.split([';', '=']).nth(1).expect("name=value");
//! let held = store.read(&SessionId::parse(value, 32)?).await?.expect("stored");
//! assert_eq!(held.body[0], FORMAT_ENCRYPTED);
//! assert!(!held.body.windows(6).any(|w| w == b"gopher"));
//! let name_value = cookie.split(';').next().expect("name=value");
//! let session = manager.load([name_value]);
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("gopher"));
//! # Ok(())
//! # }
//! ```
//!
//! # Record layout
//!
//! ```text
//! [FORMAT_ENCRYPTED (1 byte)] [key ID (1 byte)] [nonce (24 bytes)] [ciphertext + tag (16 bytes)]
//! ```
//!
//! The ciphertext is the record body core would otherwise have stored ([`crate::record`]),
//! so an encrypted record is [`OVERHEAD`] (42) bytes longer. The nonce is 24 random bytes
//! from the operating system for every write; with XChaCha20's 192-bit nonces random nonces
//! are safe for any number of records under one key. The associated data is the format byte,
//! the key ID and the backend key the store is called with (the session ID, or its hash with
//! [`Options::hash_ids`]): a record copied or moved under another ID, or with its key ID
//! byte changed, fails authentication.
//!
//! [`Options::max_record_size`] still limits the record before encryption; the provider is
//! opened with a limit [`OVERHEAD`] bytes higher, since that is what it stores. A provider
//! whose backend has a hard item limit checks it against that figure: memcached's default
//! 1 MiB items, for one, need `max_record_size` 42 bytes under 1 MiB (or a larger `-I`).
//!
//! # What is and is not protected
//!
//! Protected (confidential and tamper-evident): everything in the record body, that is every
//! key and value, the creation time, and the owner as the record holds it. Not encrypted: the
//! session ID (use [`Options::hash_ids`] so the backend holds only its hash), the expiry and
//! version the backend keeps beside the body, the record's length, and the owner name in the
//! owner index of the providers that keep one (Redis sets, SQL columns), which is stored in
//! the clear so "log out everywhere" can look it up. A [`record::TOMBSTONE`] (the marker a
//! move to a new ID leaves for an instant) is stored as it is: it holds nothing.
//!
//! # A record that does not decrypt
//!
//! A record under a key ID that is not configured (the key was removed), one whose tag does
//! not verify (another key, tampering, copied from another ID), and a plaintext record while
//! plaintext is refused are all reported by `read` as [`Error::Corrupt`]. Core treats a
//! corrupt record as absent: the client gets a new, empty session and the event hook sees
//! [`Event::Corrupt`]; the request never fails. Core also deletes the record then (best
//! effort), as it does any corrupt record, so removing a key logs out the sessions written
//! under it and removes their records as their cookies come back; the rest expire.
//!
//! # Key rotation
//!
//! Every key decrypts, the first encrypts, and each record names its key, so rotating is:
//!
//! 1. add the new key *second* on every server (`1:OLD,2:NEW`) and deploy: every server can
//!    now read records under either key;
//! 2. move it first (`2:NEW,1:OLD`) and deploy: new writes use it;
//! 3. once every session written under the old key has expired (the idle lifetime after
//!    step 2, or the absolute lifetime), remove the old key.
//!
//! Skipping step 1 in a rolling deployment lets a server that does not know the new key yet
//! meet a record under it, treat it as corrupt and delete it: that user is logged out.
//! Records are rewritten under the current key whenever their data changes; an expiry
//! refresh (`touch`) leaves the body, and so its key, as it is.
//!
//! # Turning encryption on for live sessions
//!
//! With keys configured, a plaintext record (format byte [`record::FORMAT_V1`]) is refused
//! like any record that does not decrypt, so turning encryption on outright logs every user
//! out. Set [`Options::encryption_accept_plaintext`] (`ENCRYPTION_ACCEPT_PLAINTEXT = true`)
//! for the changeover instead: plaintext records are then read as they are, and each is
//! stored encrypted from its next write on. A session whose data never changes again is only
//! touched, so it stays plaintext until it expires: keep the switch on for the idle lifetime
//! (or the absolute lifetime, if shorter), then turn it off, which drops whatever plaintext
//! record is left.
//!
//! [`Options::encryption_keys`]: crate::Options::encryption_keys
//! [`Options::encryption_accept_plaintext`]: crate::Options::encryption_accept_plaintext
//! [`Options::hash_ids`]: crate::Options::hash_ids
//! [`Options::max_record_size`]: crate::Options::max_record_size
//! [`Manager`]: crate::Manager
//! [`Event::Corrupt`]: crate::Event::Corrupt

mod keys;

use std::sync::Arc;

use bytes::Bytes;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{AeadInOut, KeyInit, Tag, XChaCha20Poly1305, XNonce};

pub use keys::{EncryptionKeys, KEY_LEN};

use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::options::Options;
use crate::record;
use crate::store::{Inserted, Moved, RawStore, Saved, Stored, Version, Write};
use crate::wrapper::Wrapper;

/// The format byte of an encrypted record: unlike the plaintext formats' small numbers, so
/// that future plaintext formats can count up without meeting it.
pub const FORMAT_ENCRYPTED: u8 = 0xE1;

/// Nonce length of XChaCha20-Poly1305.
const NONCE_LEN: usize = 24;
/// Tag length of Poly1305.
const TAG_LEN: usize = 16;
/// Format byte and key ID.
const HEADER_LEN: usize = 2;

/// How many bytes longer an encrypted record is than the body it seals.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// The associated data of one record, kept on the stack: the two header bytes, then the
/// backend key (an ID or an ID's hash, at most 128 characters).
type AssociatedData = smallvec::SmallVec<[u8; 256]>;

/// A store whose record bodies are encrypted: see the [module docs](self).
///
/// Every operation forwards to the inner store, [`RawStore::read_in_memory`] included (it
/// decrypts synchronously), as do the store's capabilities and its provider name: it is a
/// [`Wrapper`], which forwards what it does not change.
pub struct Encrypted {
    inner: Arc<dyn RawStore>,
    keys: EncryptionKeys,
    accept_plaintext: bool,
}

impl std::fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encrypted")
            .field("provider", &self.inner.provider())
            .field("keys", &self.keys)
            .field("accept_plaintext", &self.accept_plaintext)
            .finish()
    }
}

impl Encrypted {
    /// Wraps `inner`, encrypting with the first of `keys` and decrypting with any. No keys
    /// is an [`Error::Config`]. Plaintext records are refused; see
    /// [`Encrypted::accept_plaintext`].
    pub fn new(inner: Arc<dyn RawStore>, keys: EncryptionKeys) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::config(
                "encryption_keys",
                "at least one key is needed to encrypt",
            ));
        }
        Ok(Encrypted {
            inner,
            keys,
            accept_plaintext: false,
        })
    }

    /// Whether to read plaintext records as they are (each is encrypted on its next write):
    /// the switch for turning encryption on over live sessions. Off by default.
    pub fn accept_plaintext(mut self, accept: bool) -> Self {
        self.accept_plaintext = accept;
        self
    }

    /// The wrapped store, which holds the encrypted bytes.
    pub fn inner(&self) -> &Arc<dyn RawStore> {
        &self.inner
    }

    /// `record` with its body sealed for backend key `key`.
    fn seal_write<'a>(
        &self,
        key: &SessionId,
        record: Write<'a>,
        sealed: &'a mut Vec<u8>,
    ) -> Result<Write<'a>> {
        if record.body == record::TOMBSTONE {
            return Ok(record);
        }
        *sealed = self.seal(key.as_str(), record.body)?;
        Ok(Write {
            body: sealed,
            ..record
        })
    }

    /// `body` encrypted under the current key for backend key `key`, in the stored layout.
    fn seal(&self, key: &str, body: &[u8]) -> Result<Vec<u8>> {
        let current = self.keys.current().ok_or_else(|| {
            Error::config("encryption_keys", "at least one key is needed to encrypt")
        })?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| {
            Error::backend(
                self.inner.provider(),
                format!("the OS random number generator failed: {e}"),
            )
        })?;
        let header = [FORMAT_ENCRYPTED, current.id];
        let mut out = Vec::with_capacity(body.len() + OVERHEAD);
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.resize(HEADER_LEN + NONCE_LEN + body.len(), 0);
        let cipher = XChaCha20Poly1305::new((&*current.bytes).into());
        let buffer = InOutBuf::new(body, &mut out[HEADER_LEN + NONCE_LEN..])
            .map_err(|_| self.failed("encrypt"))?;
        let tag = cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &associated_data(header, key), buffer)
            .map_err(|_| self.failed("encrypt"))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// A stored record with its body decrypted (read under backend key `key`), or
    /// [`Error::Corrupt`] when it does not decrypt.
    fn open(&self, key: &str, stored: Stored) -> Result<Stored> {
        let body = match stored.body.first() {
            Some(&FORMAT_ENCRYPTED) => self.decrypt(key, &stored.body)?,
            _ if stored.body == record::TOMBSTONE => return Ok(stored),
            Some(&(record::FORMAT_V1 | record::FORMAT_V2)) if self.accept_plaintext => {
                return Ok(stored);
            }
            Some(&(record::FORMAT_V1 | record::FORMAT_V2)) => {
                return Err(Error::Corrupt(
                    "plaintext record while encryption is on and plaintext is not accepted".into(),
                ));
            }
            _ => return Err(Error::Corrupt("not an encrypted record".into())),
        };
        Ok(Stored {
            body: Bytes::from(body),
            ..stored
        })
    }

    /// The plaintext of an encrypted body.
    fn decrypt(&self, key: &str, body: &[u8]) -> Result<Vec<u8>> {
        if body.len() < OVERHEAD {
            return Err(Error::Corrupt("encrypted record is truncated".into()));
        }
        let header = [body[0], body[1]];
        let Some(secret) = self.keys.find(header[1]) else {
            return Err(Error::Corrupt(format!(
                "record encrypted under key ID {}, which is not configured",
                header[1]
            )));
        };
        let (nonce, rest) = body[HEADER_LEN..].split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| self.failed("decrypt"))?;
        let tag = Tag::try_from(tag).map_err(|_| self.failed("decrypt"))?;
        let mut plain = vec![0u8; ciphertext.len()];
        let buffer = InOutBuf::new(ciphertext, &mut plain).map_err(|_| self.failed("decrypt"))?;
        XChaCha20Poly1305::new((&*secret.bytes).into())
            .decrypt_inout_detached(&nonce, &associated_data(header, key), buffer, &tag)
            .map_err(|_| {
                Error::Corrupt(format!(
                    "record under key ID {} does not decrypt (tampered, or stored under another ID)",
                    header[1]
                ))
            })?;
        Ok(plain)
    }

    /// An AEAD call that cannot fail on this input did: a bug, reported, never a panic.
    fn failed(&self, what: &str) -> Error {
        Error::backend(
            self.inner.provider(),
            format!("XChaCha20-Poly1305 could not {what} a record"),
        )
    }
}

/// The associated data of a record: its header, then the backend key it is stored under.
fn associated_data(header: [u8; HEADER_LEN], key: &str) -> AssociatedData {
    let mut aad = AssociatedData::new();
    aad.extend_from_slice(&header);
    aad.extend_from_slice(key.as_bytes());
    aad
}

/// The store a [`crate::Manager`] with `options` uses: `store` wrapped in [`Encrypted`]
/// when encryption keys are set, else `store` itself, untouched.
pub(crate) fn wrap(options: &Options, store: Arc<dyn RawStore>) -> Result<Arc<dyn RawStore>> {
    if options.encryption_keys.is_empty() {
        return Ok(store);
    }
    Ok(Arc::new(
        Encrypted::new(store, options.encryption_keys.clone())?
            .accept_plaintext(options.encryption_accept_plaintext),
    ))
}

/// The largest body the provider of a manager with `options` is handed: the record limit,
/// plus the encryption overhead when records are encrypted.
pub(crate) fn stored_limit(options: &Options) -> usize {
    if options.encryption_keys.is_empty() {
        options.max_record_size
    } else {
        options.max_record_size.saturating_add(OVERHEAD)
    }
}

/// Only what encryption changes: the bodies written (sealed) and read (opened). The rest
/// (`exist`, `touch`, `destroy`, `count`, `gc`, `owner_sessions`, the provider name and the
/// capabilities) never sees a body and is forwarded by [`Wrapper`]'s defaults.
impl Wrapper for Encrypted {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.inner
            .read(id)
            .await?
            .map(|stored| self.open(id.as_str(), stored))
            .transpose()
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let read = self.inner.read_in_memory(id)?;
        Some(read.and_then(|found| {
            found
                .map(|(own, stored)| Ok((own, self.open(id, stored)?)))
                .transpose()
        }))
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let mut sealed = Vec::new();
        let record = self.seal_write(id, record, &mut sealed)?;
        self.inner.insert(id, record).await
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let mut sealed = Vec::new();
        let record = self.seal_write(id, record, &mut sealed)?;
        self.inner.save(id, expected, record).await
    }

    /// Sealed under the *new* ID, the one the record will be read under; the inner store's
    /// own move (default or override) does the rest.
    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        let mut sealed = Vec::new();
        let record = self.seal_write(new, record, &mut sealed)?;
        self.inner.regenerate(old, expected, new, record).await
    }
}
