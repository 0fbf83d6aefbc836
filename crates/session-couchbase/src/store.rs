//! The store: session records as Couchbase documents, written with CAS.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use couchbase::authenticator::PasswordAuthenticator;
use couchbase::cluster::Cluster;
use couchbase::collection::Collection;
use couchbase::error::ErrorKind;
use couchbase::options::cluster_options::ClusterOptions;
use couchbase::options::kv_options::{InsertOptions, ReplaceOptions};
use session_core::{
    Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved, SessionId,
    Stored, Version, Write,
};

use crate::NAME;
use crate::config::CouchbaseConfig;
use crate::document;

/// Couchbase's document size limit.
const MAX_DOCUMENT: usize = 20 * 1024 * 1024;

/// How often `touch` re-reads and retries when a concurrent write changed the CAS.
const TOUCH_ATTEMPTS: u32 = 8;

/// An operation or connection attempt did not finish within its bound.
#[derive(Debug, thiserror::Error)]
#[error("couchbase {operation} did not complete within {after:?}")]
pub struct TimedOut {
    /// What was attempted.
    pub operation: &'static str,
    /// The bound that was reached.
    pub after: Duration,
}

/// A session store on one Couchbase collection.
pub struct CouchbaseStore {
    // Kept so the SDK's connections stay open: dropping the cluster closes them.
    _cluster: Cluster,
    collection: Collection,
    prefix: String,
    timeout: Duration,
    description: String,
}

impl fmt::Debug for CouchbaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CouchbaseStore")
            .field("collection", &self.description)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn backend(e: couchbase::error::Error) -> Error {
    Error::backend(NAME, e)
}

/// The document TTL for `ttl_ms`: whole seconds, rounded up so the document never expires
/// before core's own expiry. The SDK sends TTLs of 30 days or more as absolute Unix times,
/// as the server requires.
fn ttl(ttl_ms: Millis) -> Duration {
    let ms = u64::try_from(ttl_ms.max(1)).unwrap_or(1);
    Duration::from_secs(ms.div_ceil(1000))
}

impl CouchbaseStore {
    /// Connects as `config` says and checks that the collection answers.
    ///
    /// Both steps are bounded by `connect_timeout`: the SDK retries a refused login (and
    /// waits for an unknown bucket) forever, so reaching the bound is reported as a backend
    /// error that names the likely causes. A record size limit (`ctx.max_record_size`) that
    /// would not fit in a Couchbase document is a config error.
    pub async fn open(config: CouchbaseConfig, ctx: &ProviderContext) -> Result<CouchbaseStore> {
        config.validate()?;
        if ctx.max_record_size.saturating_add(document::HEADER_LEN) > MAX_DOCUMENT {
            return Err(Error::config(
                "max_record_size",
                format!(
                    "Couchbase documents hold at most {MAX_DOCUMENT} bytes, header included ({} bytes)",
                    document::HEADER_LEN
                ),
            ));
        }
        let options = ClusterOptions::new(
            PasswordAuthenticator::new(
                config.username.clone(),
                config.password.expose().to_owned(),
            )
            .into(),
        );
        let bound = config.connect_timeout;
        let cluster = tokio::time::timeout(
            bound,
            Cluster::connect(&config.connection_string, options),
        )
        .await
        .map_err(|_| {
            Error::backend(
                NAME,
                format!(
                    "no connection to {} within {bound:?} (unreachable, or wrong user or password)",
                    config.connection_string
                ),
            )
        })?
        .map_err(backend)?;
        let collection = cluster
            .bucket(config.bucket.clone())
            .scope(config.scope.clone())
            .collection(config.collection.clone());
        let store = CouchbaseStore {
            _cluster: cluster,
            collection,
            prefix: config.prefix.clone(),
            timeout: config.timeout,
            description: format!("{}.{}.{}", config.bucket, config.scope, config.collection),
        };
        // Session IDs are hex, so this key is never a session's.
        let probe = format!("{}probe", store.prefix);
        match tokio::time::timeout(bound, store.collection.get(probe, None)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if matches!(e.kind(), ErrorKind::DocumentNotFound) => {}
            Ok(Err(e)) => return Err(backend(e)),
            Err(_) => {
                return Err(Error::backend(
                    NAME,
                    format!(
                        "collection {} did not answer within {bound:?} (does the bucket, scope and collection exist?)",
                        store.description
                    ),
                ));
            }
        }
        Ok(store)
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{}", self.prefix, id.as_str())
    }

    /// Runs one SDK call within the operation bound.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = couchbase::error::Result<T>>,
    ) -> Result<couchbase::error::Result<T>> {
        tokio::time::timeout(self.timeout, call).await.map_err(|_| {
            Error::backend(
                NAME,
                TimedOut {
                    operation,
                    after: self.timeout,
                },
            )
        })
    }

    /// The raw document and its CAS, or `None`.
    async fn get_raw(&self, key: &str) -> Result<Option<(Vec<u8>, u32, u64)>> {
        match self.bounded("get", self.collection.get(key, None)).await? {
            Ok(got) => {
                let (raw, flags) = got.content_as_raw();
                Ok(Some((raw.to_vec(), flags, got.cas())))
            }
            Err(e) if matches!(e.kind(), ErrorKind::DocumentNotFound) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    /// Replaces `key` if its CAS is still `cas`.
    async fn replace(&self, key: &str, cas: u64, doc: &[u8], ttl_ms: Millis) -> Result<Saved> {
        let options = ReplaceOptions::new().cas(cas).expiry(ttl(ttl_ms));
        let call = self
            .collection
            .replace_raw(key, doc, document::binary_flags(), options);
        match self.bounded("replace", call).await? {
            Ok(done) => Ok(Saved::Saved(Version(done.cas()))),
            Err(e) => match e.kind() {
                ErrorKind::CasMismatch | ErrorKind::DocumentExists => Ok(Saved::Conflict),
                ErrorKind::DocumentNotFound => Ok(Saved::Missing),
                _ => Err(backend(e)),
            },
        }
    }
}

#[async_trait]
impl RawStore for CouchbaseStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        Ok(self
            .get_raw(&self.key(id))
            .await?
            .map(|(raw, flags, cas)| document::decode(&raw, flags, cas)))
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let doc = document::encode(record.expires_at, record.body);
        let options = InsertOptions::new().expiry(ttl(record.ttl_ms));
        let key = self.key(id);
        let call = self
            .collection
            .insert_raw(&key, &doc, document::binary_flags(), options);
        match self.bounded("insert", call).await? {
            Ok(done) => Ok(Inserted::Created(Version(done.cas()))),
            Err(e) if matches!(e.kind(), ErrorKind::DocumentExists) => Ok(Inserted::Exists),
            Err(e) => Err(backend(e)),
        }
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let key = self.key(id);
        if expected.0 == 0 {
            // CAS 0 means "unconditional" on the wire, and no stored document has CAS 0.
            return Ok(match self.get_raw(&key).await? {
                Some(_) => Saved::Conflict,
                None => Saved::Missing,
            });
        }
        let doc = document::encode(record.expires_at, record.body);
        self.replace(&key, expected.0, &doc, record.ttl_ms).await
    }

    /// Couchbase's TOUCH changes the document's TTL but not the expiry stored inside it, which
    /// core reads. So this reads the document and replaces it with the new expiry under its
    /// CAS, retrying (bounded) when a concurrent write got in between; a plain replace never
    /// creates a document, so a session destroyed meanwhile stays destroyed.
    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        let key = self.key(id);
        for _ in 0..TOUCH_ATTEMPTS {
            let Some((raw, flags, cas)) = self.get_raw(&key).await? else {
                return Ok(false);
            };
            let Some(doc) = document::with_expiry(&raw, flags, expires_at) else {
                // Not a session document: core reads it as expired and never touches it.
                return Ok(false);
            };
            match self.replace(&key, cas, &doc, ttl_ms).await? {
                Saved::Saved(_) => return Ok(true),
                Saved::Missing => return Ok(false),
                Saved::Conflict => continue,
            }
        }
        Err(Error::Conflict {
            attempts: TOUCH_ATTEMPTS,
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        match self
            .bounded("remove", self.collection.remove(self.key(id), None))
            .await?
        {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind(), ErrorKind::DocumentNotFound) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    /// Couchbase removes each document when its TTL (set from core's expiry) runs out, and
    /// the key-value API has no way to list keys, so there is nothing to collect and no count
    /// to report: `Unsupported`, rather than a made-up 0.
    async fn gc(&self, now: Millis) -> Result<u64> {
        let _ = now;
        Err(Error::unsupported(
            NAME,
            "gc (Couchbase expires documents itself)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl(1), Duration::from_secs(1));
        assert_eq!(ttl(0), Duration::from_secs(1));
        assert_eq!(ttl(-5), Duration::from_secs(1));
        assert_eq!(ttl(1_000), Duration::from_secs(1));
        assert_eq!(ttl(1_001), Duration::from_secs(2));
        assert_eq!(ttl(60 * 86_400_000), Duration::from_secs(60 * 86_400));
    }
}
