//! [`MemcacheStore`]: the [`RawStore`] over memcached's meta protocol.

use async_trait::async_trait;
use memcache::exp::{AsyncMetaClient, Delete, Get, Meta, MutationStatus, Ttl};
use session_core::{
    Bytes, Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved,
    SessionId, Stored, Version, Write,
};

use crate::config::MemcacheConfig;
use crate::{NAME, crawl, record};

/// Bytes memcached spends per item besides key and value (item header, CAS, suffix), so a
/// value that passes the client-side check also fits on the server.
const ITEM_OVERHEAD: usize = 64;
/// Touch retries when a concurrent write changes the CAS between our read and write.
const TOUCH_ATTEMPTS: u32 = 5;
/// memcached reads a relative TTL above 30 days as an absolute Unix time; `Ttl::secs`
/// converts such values itself, but only up to 2106 (u32 seconds), so far-future expiries
/// are sent as "never" (core still enforces `expires_at`).
const MAX_TTL_SECS: u64 = 20 * 365 * 24 * 3600;

/// Sessions in memcached. Build it through [`crate::MemcacheProvider`] or
/// [`MemcacheStore::open`].
pub struct MemcacheStore {
    client: AsyncMetaClient,
    cfg: MemcacheConfig,
}

impl std::fmt::Debug for MemcacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemcacheStore")
            .field("servers", &self.cfg.servers)
            .field("prefix", &self.cfg.prefix)
            .finish()
    }
}

impl MemcacheStore {
    /// Sets up the client for `config`. Servers are dialed lazily, so an unreachable server
    /// shows up as [`Error::Backend`] on the first operation, not here: a site can start
    /// while memcached is still coming up. A record size limit (`ctx.max_record_size`) above
    /// the item size limit is a config error: such records could never be stored.
    pub async fn open(config: MemcacheConfig, ctx: &ProviderContext) -> Result<Self> {
        config.validate()?;
        if ctx.max_record_size > config.max_item_size {
            return Err(Error::config(
                "max_item_size",
                format!(
                    "the record size limit ({} bytes) is above memcached's item size limit ({} \
                     bytes): lower the limit or raise memcached's -I and max_item_size",
                    ctx.max_record_size, config.max_item_size
                ),
            ));
        }
        let client = AsyncMetaClient::builder()
            .connect_timeout(Some(config.timeout))
            .io_timeout(Some(config.timeout))
            .connect_multiple_async(config.servers.iter())
            .await
            .map_err(backend)?;
        Ok(MemcacheStore {
            client,
            cfg: config,
        })
    }

    /// The key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.cfg.prefix
    }

    /// The item size limit this store assumes (memcached's `-I`).
    pub fn max_item_size(&self) -> usize {
        self.cfg.max_item_size
    }

    /// The key of session `id` (prefix + ID).
    pub fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.cfg.prefix, id.as_str())
    }

    /// The client, for tests and tools that inspect items directly.
    pub fn client(&self) -> &AsyncMetaClient {
        &self.client
    }

    /// Encodes a record, refusing one memcached would reject as too large (memcached would
    /// answer `SERVER_ERROR object too large`; checking first gives the caller a typed error
    /// and costs no round trip).
    fn value(&self, key: &str, record: &Write<'_>) -> Result<Vec<u8>> {
        let value = record::encode(NAME, record.expires_at, record.owner, record.body)?;
        let limit = self
            .cfg
            .max_item_size
            .saturating_sub(key.len() + ITEM_OVERHEAD);
        if value.len() > limit {
            return Err(Error::TooLarge {
                size: value.len(),
                limit,
            });
        }
        Ok(value)
    }

    async fn get_with_cas(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        let got = self
            .client
            .run(Get::new(key).meta(Meta::NONE.cas()))
            .await
            .map_err(backend)?;
        if !got.hit() {
            return Ok(None);
        }
        let value = got.value.unwrap_or_default();
        let cas = got
            .item
            .cas
            .ok_or_else(|| Error::backend(NAME, "memcached returned no CAS value"))?;
        Ok(Some((value, cas)))
    }
}

/// The TTL memcached gets for `ttl_ms` (rounded up to whole seconds, at least one).
pub(crate) fn ttl(ttl_ms: Millis) -> Ttl {
    let ms = u64::try_from(ttl_ms).unwrap_or(0).max(1);
    let secs = ms.div_ceil(1000);
    if secs > MAX_TTL_SECS {
        Ttl::NEVER
    } else {
        // Bounded by MAX_TTL_SECS above, so this fits.
        Ttl::secs(u32::try_from(secs).unwrap_or(u32::MAX))
    }
}

pub(crate) fn backend(e: memcache::exp::Error) -> Error {
    if let memcache::exp::Error::Server(message) = &e
        && message.contains("too large")
    {
        return Error::backend(
            NAME,
            format!(
                "memcached refused the item as too large ({message}); raise its -I limit \
                 and the provider's max_item_size, or lower the record size limit"
            ),
        );
    }
    Error::backend(NAME, e)
}

fn unexpected(op: &str, status: MutationStatus) -> Error {
    Error::backend(
        NAME,
        format!("unexpected memcached answer to {op}: {status:?}"),
    )
}

#[async_trait]
impl RawStore for MemcacheStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            gc: true,
            ..Capabilities::NONE
        }
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let Some((value, cas)) = self.get_with_cas(&self.key(id)).await? else {
            return Ok(None);
        };
        Ok(Some(match record::decode(&value) {
            Some(item) => Stored {
                body: Bytes::copy_from_slice(item.body),
                version: Version(cas),
                expires_at: item.expires_at,
            },
            // Not our format: an expired, empty record, which core discards and replaces.
            None => {
                tracing::warn!(session = %id, "memcached item is not a session record");
                Stored {
                    body: Bytes::new(),
                    version: Version(cas),
                    expires_at: 0,
                }
            }
        }))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        let got = self
            .client
            .run(Get::new(self.key(id)).without_value())
            .await
            .map_err(backend)?;
        Ok(got.hit())
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let key = self.key(id);
        let value = self.value(&key, &record)?;
        let done = self
            .client
            .set(&key, &value)
            .add()
            .ttl(ttl(record.ttl_ms))
            .return_cas()
            .send()
            .await
            .map_err(backend)?;
        match done.status {
            MutationStatus::Applied => {
                let cas = done
                    .cas
                    .ok_or_else(|| Error::backend(NAME, "memcached returned no CAS value"))?;
                Ok(Inserted::Created(Version(cas)))
            }
            MutationStatus::AlreadyExists => Ok(Inserted::Exists),
            other => Err(unexpected("add", other)),
        }
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let key = self.key(id);
        let value = self.value(&key, &record)?;
        let done = self
            .client
            .set(&key, &value)
            .compare_cas(expected.0)
            .ttl(ttl(record.ttl_ms))
            .return_cas()
            .send()
            .await
            .map_err(backend)?;
        match done.status {
            MutationStatus::Applied => {
                let cas = done
                    .cas
                    .ok_or_else(|| Error::backend(NAME, "memcached returned no CAS value"))?;
                Ok(Saved::Saved(Version(cas)))
            }
            MutationStatus::CasMismatch => Ok(Saved::Conflict),
            MutationStatus::NotFound => Ok(Saved::Missing),
            other => Err(unexpected("cas", other)),
        }
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        let key = self.key(id);
        for attempt in 0..TOUCH_ATTEMPTS {
            let Some((value, cas)) = self.get_with_cas(&key).await? else {
                return Ok(false);
            };
            let Some(current) = record::decode(&value) else {
                // Not a record of ours: leave it for core to discard.
                return Ok(true);
            };
            if attempt > 0 && current.expires_at >= expires_at {
                // We lost a race to a concurrent write that pushed the expiry at least as far.
                return Ok(true);
            }
            let Some(touched) = record::with_expiry(&value, expires_at) else {
                return Ok(true);
            };
            let done = self
                .client
                .set(&key, &touched)
                .compare_cas(cas)
                .ttl(ttl(ttl_ms))
                .send()
                .await
                .map_err(backend)?;
            match done.status {
                MutationStatus::Applied => return Ok(true),
                MutationStatus::NotFound => return Ok(false),
                MutationStatus::CasMismatch => continue,
                other => return Err(unexpected("touch", other)),
            }
        }
        Err(Error::Conflict {
            attempts: TOUCH_ATTEMPTS,
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let done = self
            .client
            .run(Delete::new(self.key(id)))
            .await
            .map_err(backend)?;
        match done.status {
            MutationStatus::Applied => Ok(true),
            MutationStatus::NotFound => Ok(false),
            other => Err(unexpected("delete", other)),
        }
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        crawl::collect(&self.client, &self.cfg, now).await
    }
}
