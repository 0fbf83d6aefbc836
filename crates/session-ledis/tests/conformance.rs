//! The whole provider conformance suite against the sled provider, a fresh directory per
//! store.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::conformance;
use session_core::{
    Capabilities, Inserted, Millis, Moved, Provider, ProviderContext, RawStore, Result, Saved,
    SessionId, Stored, Version, Write,
};
use session_ledis::LedisProvider;
use tempfile::TempDir;

/// A store that removes its directory when the last reference goes.
struct InTempDir {
    store: Arc<dyn RawStore>,
    _dir: TempDir,
}

#[async_trait]
impl RawStore for InTempDir {
    fn provider(&self) -> &'static str {
        self.store.provider()
    }

    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }
    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.store.read(id).await
    }
    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.store.exist(id).await
    }
    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        self.store.insert(id, record).await
    }
    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        self.store.save(id, expected, record).await
    }
    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        self.store.touch(id, expires_at, ttl_ms).await
    }
    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        self.store.destroy(id).await
    }
    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        self.store.regenerate(old, expected, new, record).await
    }
    async fn count(&self, now: Millis) -> Result<u64> {
        self.store.count(now).await
    }
    async fn gc(&self, now: Millis) -> Result<u64> {
        self.store.gc(now).await
    }
    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        self.store.owner_sessions(owner, now).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledis_passes_the_conformance_suite() {
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!("data_dir={},db=0", dir.path().join("db").display());
        let store = LedisProvider.open(&config, &ctx).await?;
        Result::Ok(Arc::new(InTempDir { store, _dir: dir }) as Arc<dyn RawStore>)
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_namespace_passes_too() {
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!("data_dir={},db=7", dir.path().display());
        let store = LedisProvider.open(&config, &ctx).await?;
        Result::Ok(Arc::new(InTempDir { store, _dir: dir }) as Arc<dyn RawStore>)
    })
    .await;
    report.assert_passed();
}
