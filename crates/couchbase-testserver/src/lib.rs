//! A Couchbase data-service server for tests, kept in the repository because no Couchbase
//! Server can be installed where this workspace is built and tested.
//!
//! It speaks what the official Rust SDK (`couchbase` 1.x) needs from a cluster's data
//! service, over the memcached binary protocol, on one loopback port:
//!
//! - **Bootstrap**: `HELLO` (grants only DataType, XError, SelectBucket, JSON and Collections,
//!   the features implemented here), `GET_ERROR_MAP`, `SASL_LIST_MECHS`, `SASL_AUTH` /
//!   `SASL_STEP` with SCRAM-SHA512, SHA256 and SHA1 and real proof verification (RFC 5802:
//!   PBKDF2, ClientKey/StoredKey), `SELECT_BUCKET`, `GET_CLUSTER_CONFIG` (a terse single-node
//!   config, so the SDK never needs HTTP) and `GET_COLLECTION_ID`.
//! - **Documents**: `GET`, `SET`, `ADD`, `REPLACE`, `DELETE`, `TOUCH`, `GAT`, with CAS and
//!   memcached's expiry rules: 0 is no expiry, up to 30 days is relative seconds, anything
//!   larger is an absolute Unix time. Every other opcode gets `UNKNOWN_COMMAND`.
//! - Requests on one connection are answered in order (the SDK pipelines).
//!
//! For tests it adds what a real cluster cannot give: an injectable [`Clock`] (expiry is
//! decided by the server's clock, which a test moves with a [`ManualClock`] or links to the
//! clock of the code under test) and fault injection: TMPFAIL on data operations
//! ([`TestServer::set_tmpfail`]), dropped connections ([`TestServer::drop_connections`]),
//! refused authentication ([`TestServer::set_refuse_auth`]), and an outage
//! ([`TestServer::stop`] then [`TestServer::restart`] on the same port).
//!
//! The cluster config names one node: the server's own port as the data service, and
//! port 8091 as the management service, because the SDK refuses a config without one; nothing
//! is served on 8091 and the SDK never needs it for key-value work.
//!
//! What it is not: a cluster. One node, one bucket, no replicas, no durability, no
//! sub-document operations, no query/search/management HTTP services, no TLS. The SDK's
//! config polling and connection handling are exercised; rebalances are not.
//!
//! The server binds `127.0.0.1:0` (an ephemeral port), runs on the calling tokio runtime and
//! stops when dropped.
//!
//! # Example
//!
//! ```
//! use couchbase_testserver::{TestConfig, TestServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = TestServer::start(TestConfig {
//!     bucket: "sessions".into(),
//!     username: "app".into(),
//!     password: "secret".into(),
//!     ..TestConfig::default()
//! })
//! .await?;
//! assert!(server.url().starts_with("couchbase://127.0.0.1:"));
//! // Connect with couchbase::cluster::Cluster::connect(server.url(), options) as `app`.
//! # Ok(())
//! # }
//! ```
//!
//! Wrap the SDK's `Cluster::connect` in `tokio::time::timeout`: with a wrong password (or
//! [`TestServer::set_refuse_auth`]) the SDK retries forever instead of returning an error.
//!
//! The SDK always names its mechanism `SCRAM-SHA512` in `SASL_AUTH` (a quirk of 1.1.0), so it
//! only ever uses SHA-512 here; SHA-256 and SHA-1 are checked against the RFC test vectors.

mod clock;
mod cluster_config;
mod connection;
mod protocol;
mod scram;
mod store;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngCore as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock};
pub use scram::Mechanism;
#[doc(hidden)]
pub use scram::client as scram_client;
pub use store::Document;

use connection::CollectionLookup;
use scram::Secret;

/// The collections manifest UID reported by `GET_COLLECTION_ID`; collections never change.
const MANIFEST_UID: u64 = 1;

/// The first ID given to a named collection, as on Couchbase Server (0 is `_default`).
const FIRST_COLLECTION_ID: u32 = 8;

/// How to start a [`TestServer`].
#[derive(Debug, Clone)]
pub struct TestConfig {
    /// The one bucket the server holds; `SELECT_BUCKET` of any other name is refused.
    pub bucket: String,
    /// The one user allowed to authenticate.
    pub username: String,
    /// That user's password.
    pub password: String,
    /// Named collections besides `_default._default`, as `(scope, collection)` pairs.
    pub collections: Vec<(String, String)>,
    /// The SASL mechanisms offered, in the order listed to clients.
    pub mechanisms: Vec<Mechanism>,
    /// PBKDF2 iteration count of the stored credentials (Couchbase uses thousands; tests
    /// gain nothing from more, and the SDK repeats the work on every connection).
    pub iterations: u32,
    /// The clock that decides expiry.
    pub clock: Clock,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            bucket: "default".into(),
            username: "Administrator".into(),
            password: "password".into(),
            collections: Vec::new(),
            mechanisms: Mechanism::ALL.to_vec(),
            iterations: 1024,
            clock: Clock::system(),
        }
    }
}

/// The configuration the connections read.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) bucket: String,
    pub(crate) uuid: String,
    pub(crate) username: String,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) secrets: HashMap<Mechanism, Secret>,
    collections: Vec<(String, String, u32)>,
}

impl Settings {
    /// The ID of `scope.collection`.
    pub(crate) fn collection_id(
        &self,
        scope: &str,
        collection: &str,
    ) -> Result<u32, CollectionLookup> {
        if scope == "_default" && collection == "_default" {
            return Ok(0);
        }
        if let Some((_, _, id)) = self
            .collections
            .iter()
            .find(|(s, c, _)| s == scope && c == collection)
        {
            return Ok(*id);
        }
        if scope == "_default" || self.collections.iter().any(|(s, _, _)| s == scope) {
            Err(CollectionLookup::UnknownCollection)
        } else {
            Err(CollectionLookup::UnknownScope)
        }
    }

    /// Whether a collection with this ID exists.
    pub(crate) fn has_collection_id(&self, id: u32) -> bool {
        id == 0 || self.collections.iter().any(|(_, _, c)| *c == id)
    }
}

/// Faults a test has switched on.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    tmpfail: AtomicBool,
    refuse_auth: AtomicBool,
}

impl Faults {
    pub(crate) fn tmpfail(&self) -> bool {
        self.tmpfail.load(Ordering::SeqCst)
    }

    pub(crate) fn refuse_auth(&self) -> bool {
        self.refuse_auth.load(Ordering::SeqCst)
    }
}

/// State shared by the accept loop and every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pub(crate) faults: Faults,
    pub(crate) port: u16,
    store: Mutex<store::Store>,
    /// Moving it on closes every open connection.
    epoch: watch::Sender<u64>,
    /// Every connection holds a clone of the current generation's token, so a test can wait
    /// until all connections of a generation are gone.
    generation: Mutex<Arc<()>>,
    accepted: AtomicU64,
}

impl Shared {
    /// The store; a panic in another connection does not make the data unusable.
    pub(crate) fn lock_store(&self) -> MutexGuard<'_, store::Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_generation(&self) -> MutexGuard<'_, Arc<()>> {
        self.generation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The config revision. The topology never changes, so neither does the revision.
    pub(crate) fn config_rev(&self) -> i64 {
        1
    }
}

/// A running server. Dropping it stops it and closes its connections.
#[derive(Debug)]
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1` with an ephemeral port.
    ///
    /// Fails when the port cannot be bound or the config offers no SASL mechanism.
    pub async fn start(config: TestConfig) -> io::Result<TestServer> {
        if config.mechanisms.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "at least one SASL mechanism must be offered",
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let mut rng = rand::rng();
        let secrets = config
            .mechanisms
            .iter()
            .map(|&m| {
                let mut salt = vec![0u8; 16];
                rng.fill_bytes(&mut salt);
                (
                    m,
                    Secret::derive(m, &config.password, salt, config.iterations.max(1)),
                )
            })
            .collect();
        let mut uuid = [0u8; 16];
        rng.fill_bytes(&mut uuid);
        let collections = config
            .collections
            .iter()
            .zip(FIRST_COLLECTION_ID..)
            .map(|((s, c), id)| (s.clone(), c.clone(), id))
            .collect();
        let shared = Arc::new(Shared {
            settings: Settings {
                bucket: config.bucket,
                uuid: uuid.iter().map(|b| format!("{b:02x}")).collect(),
                username: config.username,
                mechanisms: config.mechanisms,
                secrets,
                collections,
            },
            clock: config.clock,
            faults: Faults::default(),
            port: addr.port(),
            store: Mutex::new(store::Store::default()),
            epoch: watch::Sender::new(0),
            generation: Mutex::new(Arc::new(())),
            accepted: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(TestServer {
            shared,
            addr,
            accept: Mutex::new(Some(accept)),
        })
    }

    /// The connection string for the SDK: `couchbase://127.0.0.1:PORT` (an explicit port, so
    /// the SDK neither looks up DNS SRV records nor tries HTTP).
    pub fn url(&self) -> String {
        format!("couchbase://{}", self.addr)
    }

    /// The address the server listens on (kept across [`TestServer::restart`]).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.shared.settings.bucket
    }

    /// The clock that decides expiry.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// While on, every data operation (get, mutations, touch) answers `TMPFAIL`.
    pub fn set_tmpfail(&self, on: bool) {
        self.shared.faults.tmpfail.store(on, Ordering::SeqCst);
    }

    /// While on, every authentication attempt is refused, even with the right password.
    pub fn set_refuse_auth(&self, on: bool) {
        self.shared.faults.refuse_auth.store(on, Ordering::SeqCst);
    }

    /// Closes every open connection and returns once they are closed; the server keeps
    /// listening, so clients reconnect.
    pub async fn drop_connections(&self) {
        let old = std::mem::replace(&mut *self.shared.lock_generation(), Arc::new(()));
        self.shared.epoch.send_modify(|e| *e += 1);
        while Arc::strong_count(&old) > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Stops listening and closes every connection: clients get "connection refused" until
    /// [`TestServer::restart`]. The documents are kept, as a restarted node keeps its data.
    pub async fn stop(&self) {
        let accept = self.lock_accept().take();
        if let Some(accept) = accept {
            accept.abort();
            // Waiting for the aborted task drops its listener, so the port is closed on return.
            let _ = accept.await;
        }
        self.drop_connections().await;
    }

    /// Listens again on the same address after [`TestServer::stop`]. Does nothing when the
    /// server is listening.
    pub async fn restart(&self) -> io::Result<()> {
        if self.is_listening() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        let accept = tokio::spawn(accept_loop(listener, self.shared.clone()));
        *self.lock_accept() = Some(accept);
        Ok(())
    }

    /// Whether the server is accepting connections.
    pub fn is_listening(&self) -> bool {
        self.lock_accept().is_some()
    }

    /// How many connections have been accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The live document `key` of the default collection, as stored.
    pub fn document(&self, key: &str) -> Option<Document> {
        self.document_in("_default", "_default", key)
    }

    /// The live document `key` of `scope.collection`, as stored.
    pub fn document_in(&self, scope: &str, collection: &str, key: &str) -> Option<Document> {
        let id = self.shared.settings.collection_id(scope, collection).ok()?;
        let now = self.shared.clock.now_ms();
        self.shared.lock_store().get(id, key.as_bytes(), now)
    }

    /// How many live documents the bucket holds, over all collections.
    pub fn document_count(&self) -> usize {
        let now = self.shared.clock.now_ms();
        self.shared.lock_store().live_count(now)
    }

    fn lock_accept(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.accept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(accept) = self.lock_accept().take() {
            accept.abort();
        }
        self.shared.epoch.send_modify(|e| *e += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let epoch = shared.epoch.subscribe();
                let generation = shared.lock_generation().clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    connection::serve(stream, shared, epoch).await;
                    drop(generation);
                });
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}
