//! Every provider in this workspace, by name, for `PROVIDER` / `SESSION_PROVIDER`.

use session_core::Registry;

/// A registry holding every in-tree provider: `memory`, `file`, `redis`, `memcache`,
/// `postgres`, `mysql`, `couchbase` and `ledis`.
///
/// Registering opens nothing: a provider connects only when a manager is built for it, so
/// the demos link every backend but need none of their servers unless asked to use one.
pub fn registry() -> session_core::Result<Registry> {
    Registry::new()
        .with(session_memory::MemoryProvider)?
        .with(session_file::FileProvider)?
        .with(session_redis::RedisProvider)?
        .with(session_memcache::MemcacheProvider)?
        .with(session_postgres::PostgresProvider)?
        .with(session_mysql::MySqlProvider)?
        .with(session_couchbase::CouchbaseProvider)?
        .with(session_ledis::LedisProvider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_in_tree_provider_is_registered_once() {
        let mut names = registry().unwrap().names();
        names.sort();
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
}
