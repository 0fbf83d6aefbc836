//! Every provider's config-string parser on arbitrary input: no panic, and an accepted config
//! never carries a control character into a key prefix or table name.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(config) = std::str::from_utf8(data) else {
        return;
    };
    let _ = session_file::FileConfig::from_str(config);
    if let Ok(redis) = session_redis::RedisConfig::from_str(config) {
        assert!(!redis.prefix.chars().any(char::is_control));
    }
    if let Ok(memcache) = session_memcache::MemcacheConfig::from_str(config) {
        assert!(memcache.prefix.bytes().all(|b| b.is_ascii_graphic()));
    }
    let _ = session_ledis::LedisConfig::from_str(config);
    if let Ok(pg) = session_postgres::PostgresConfig::from_str(config) {
        assert!(
            pg.table
                .quoted()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.\"".contains(c))
        );
    }
    if let Ok(mysql) = session_mysql::MySqlConfig::from_str(config) {
        assert!(
            mysql
                .table
                .quoted()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.`".contains(c))
        );
    }
    let _ = session_couchbase::CouchbaseConfig::from_str(config);
});
