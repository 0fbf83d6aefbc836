//! The workspace's providers, listed once: each one's registry name, how to register it, and
//! where the project's tests find a store for it. The demos build their registry from this
//! list (`PROVIDER` / `SESSION_PROVIDER`), and `cargo xtask conformance` builds its matrix
//! from it.
//!
//! Each provider is compiled in by the cargo feature of its name (all by default), so a crate
//! that tests with one backend does not build the others. A provider whose feature is off
//! stays in [`providers`] (its name and test store are still known) and in the registry as a
//! stand-in that says which feature to turn on.

use std::sync::Arc;

use session_core::{Provider, ProviderContext, RawStore, Registry};

/// Adds one provider to a registry.
type Register = fn(Registry) -> session_core::Result<Registry>;

/// The entry of the provider `$provider`, registered under `$name` when the feature of that
/// name is on.
macro_rules! entry {
    ($name:literal, $provider:path, $test_store:expr) => {{
        #[cfg(feature = $name)]
        let register: Option<Register> = Some(|registry| registry.with($provider));
        #[cfg(not(feature = $name))]
        let register: Option<Register> = None;
        ProviderEntry {
            name: $name,
            register,
            test_store: $test_store,
        }
    }};
}

/// One in-tree provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderEntry {
    /// The registry name, which is also the cargo feature that compiles it in.
    pub name: &'static str,
    register: Option<Register>,
    /// Where the project's tests find a store for it.
    pub test_store: TestStore,
}

impl ProviderEntry {
    /// Whether this build includes the provider (its feature is on).
    pub fn is_compiled(&self) -> bool {
        self.register.is_some()
    }

    /// Adds the provider to `registry`. A provider this build leaves out is registered as a
    /// stand-in whose `open` fails naming the feature to turn on, so a demo asked for it says
    /// how to get it rather than that no such provider exists.
    pub fn register(&self, registry: Registry) -> session_core::Result<Registry> {
        match self.register {
            Some(register) => register(registry),
            None => registry.with(LeftOut(self.name)),
        }
    }
}

/// Stands in for a provider this build leaves out.
struct LeftOut(&'static str);

#[async_trait::async_trait]
impl Provider for LeftOut {
    fn name(&self) -> &'static str {
        self.0
    }

    async fn open(
        &self,
        _config: &str,
        _ctx: &ProviderContext,
    ) -> session_core::Result<Arc<dyn RawStore>> {
        Err(session_core::Error::config(
            "provider",
            format!(
                "this build does not include the {name} provider (enable the feature \
                 `demo-support/{name}`)",
                name = self.0
            ),
        ))
    }
}

/// Where a test finds a store for a provider, and how it keeps the stores of two tests apart
/// (the conformance suite's count cases expect to see only their own sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStore {
    /// In the process: every open is a new, empty store; the config string is empty.
    InProcess,
    /// On disk: the config string is a directory, a fresh one per store.
    Directory,
    /// On a server, in a namespace of its own per store.
    Server {
        /// Which server.
        server: TestServer,
        /// How a config string names the namespace.
        namespace: Namespace,
    },
}

/// A server a provider's tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestServer {
    /// A server the project's machines run on loopback, reached with `config`.
    Local {
        /// The config string that reaches it, before a namespace is added.
        config: &'static str,
        /// The loopback port it listens on.
        port: u16,
    },
    /// The in-repository Couchbase data-service server (`crates/couchbase-testserver`),
    /// which the test starts itself and reaches with a `couchbase://user:password@addr/bucket`
    /// URL.
    CouchbaseTestServer,
}

/// How a config string names a namespace of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// A key prefix added as `,prefix=NAME` to a `key=value` config.
    KeyPrefix,
    /// A key prefix added as `?prefix=NAME` to a URL config.
    QueryPrefix,
    /// A table added as `?table=NAME` to a URL config; `NAME` must be a valid SQL name.
    Table,
}

impl Namespace {
    /// `base` with the namespace `name` added.
    pub fn apply(self, base: &str, name: &str) -> String {
        match self {
            Namespace::KeyPrefix => format!("{base},prefix={name}"),
            Namespace::QueryPrefix => format!("{base}?prefix={name}"),
            Namespace::Table => format!("{base}?table={name}"),
        }
    }
}

/// Every in-tree provider, compiled in or not, in the order the conformance matrix shows them.
pub fn providers() -> [ProviderEntry; 8] {
    use Namespace::{KeyPrefix, QueryPrefix, Table};
    let local = |config, port, namespace| TestStore::Server {
        server: TestServer::Local { config, port },
        namespace,
    };
    let couchbase = TestStore::Server {
        server: TestServer::CouchbaseTestServer,
        namespace: QueryPrefix,
    };
    [
        entry!(
            "memory",
            session_memory::MemoryProvider,
            TestStore::InProcess
        ),
        entry!("file", session_file::FileProvider, TestStore::Directory),
        entry!(
            "redis",
            session_redis::RedisProvider,
            local("addr=127.0.0.1:6379", 6379, KeyPrefix)
        ),
        entry!(
            "memcache",
            session_memcache::MemcacheProvider,
            local("memcache://127.0.0.1:11211", 11211, QueryPrefix)
        ),
        entry!(
            "postgres",
            session_postgres::PostgresProvider,
            local("postgres://postgres@127.0.0.1:5432/test", 5432, Table)
        ),
        entry!(
            "mysql",
            session_mysql::MySqlProvider,
            local("mysql://root@127.0.0.1:3306/test", 3306, Table)
        ),
        entry!("ledis", session_ledis::LedisProvider, TestStore::Directory),
        entry!("couchbase", session_couchbase::CouchbaseProvider, couchbase),
    ]
}

/// A registry holding every in-tree provider: `memory`, `file`, `redis`, `memcache`,
/// `postgres`, `mysql`, `ledis` and `couchbase`, those this build leaves out as stand-ins
/// (see [`ProviderEntry::register`]).
///
/// Registering opens nothing: a provider connects only when a manager is built for it, so
/// a demo links the backends built in but needs none of their servers unless asked to use one.
pub fn registry() -> session_core::Result<Registry> {
    providers()
        .iter()
        .try_fold(Registry::new(), |registry, p| p.register(registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_holds_every_listed_provider_once() {
        let mut names = registry().unwrap().names();
        names.sort();
        let mut listed: Vec<&str> = providers().iter().map(|p| p.name).collect();
        listed.sort_unstable();
        assert_eq!(names, listed);
    }

    #[test]
    fn every_in_tree_provider_is_listed() {
        let mut names: Vec<&str> = providers().iter().map(|p| p.name).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "couchbase",
                "file",
                "ledis",
                "memcache",
                "memory",
                "mysql",
                "postgres",
                "redis"
            ]
        );
    }

    #[cfg(all(
        feature = "memory",
        feature = "file",
        feature = "redis",
        feature = "memcache",
        feature = "postgres",
        feature = "mysql",
        feature = "couchbase",
        feature = "ledis"
    ))]
    #[test]
    fn the_default_build_includes_all_eight() {
        assert!(providers().iter().all(ProviderEntry::is_compiled));
    }

    #[tokio::test]
    async fn a_provider_left_out_of_the_build_names_its_feature() {
        let left_out = ProviderEntry {
            name: "redis",
            register: None,
            test_store: TestStore::InProcess,
        };
        assert!(!left_out.is_compiled());
        let registry = left_out.register(Registry::new()).unwrap();
        assert_eq!(registry.names(), ["redis"]);
        let context = ProviderContext {
            clock: Arc::new(session_core::SystemClock),
            max_record_size: 1024,
            max_lifetime_ms: 60_000,
        };
        let Err(error) = registry.open("redis", "", &context).await else {
            panic!("a left-out provider opened a store");
        };
        let message = error.to_string();
        assert!(message.contains("`demo-support/redis`"), "{message}");
    }

    #[test]
    fn namespaces_extend_the_config_string() {
        assert_eq!(
            Namespace::KeyPrefix.apply("addr=127.0.0.1:6379", "t:"),
            "addr=127.0.0.1:6379,prefix=t:"
        );
        assert_eq!(
            Namespace::QueryPrefix.apply("memcache://127.0.0.1:11211", "t:"),
            "memcache://127.0.0.1:11211?prefix=t:"
        );
        assert_eq!(
            Namespace::Table.apply("mysql://root@127.0.0.1:3306/test", "t_1"),
            "mysql://root@127.0.0.1:3306/test?table=t_1"
        );
    }
}
