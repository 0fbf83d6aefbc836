//! Encryption at rest against the machine's Redis (127.0.0.1:6379): with encryption keys, no
//! key or value a handler stored appears in anything Redis holds for the session, whatever
//! the provider's key layout.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use redis::AsyncCommands;
use session_core::{EncryptionKeys, Manager, Options, Registry};
use session_redis::{RedisProvider, testing};

const KEY: &str = "enc-test-key-7c1d";
const VALUE: &str = "enc-test-value-e52a";

/// A manager on the machine's Redis under a fresh prefix (returned for the scan).
async fn manager(keys: EncryptionKeys) -> (Manager, String) {
    let tag = testing::unique_prefix().unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("addr={},prefix={tag}", testing::LOCAL_REDIS),
        encryption_keys: keys,
        ..Options::default()
    };
    (Manager::new(options, &registry).await.unwrap(), tag)
}

/// Stores `KEY = VALUE` in a new session and reads it back through the manager.
async fn store_and_read(m: &Manager) {
    let s = m.load([]);
    s.set(KEY, VALUE).await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let s = m.load([cookie.as_str()]);
    assert_eq!(s.get::<String>(KEY).await.unwrap().as_deref(), Some(VALUE));
}

/// Every byte Redis holds under keys containing `tag`: key names, and the contents of each
/// key read by its type (strings, hashes, sets, sorted sets, lists), so the scan does not
/// depend on the provider's layout. Removes the keys afterwards.
async fn raw_bytes(tag: &str) -> Vec<Vec<u8>> {
    let client = redis::Client::open(format!("redis://{}/", testing::LOCAL_REDIS)).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<Vec<u8>> = conn.keys(format!("*{tag}*")).await.unwrap();
    assert!(
        !keys.is_empty(),
        "the provider stored nothing under the prefix"
    );
    let mut out = Vec::new();
    for key in &keys {
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let contents: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![conn.get(key).await.unwrap()],
            "hash" => conn.hgetall::<_, Vec<Vec<u8>>>(key).await.unwrap(),
            "set" => conn.smembers(key).await.unwrap(),
            "zset" => conn.zrange(key, 0, -1).await.unwrap(),
            "list" => conn.lrange(key, 0, -1).await.unwrap(),
            other => panic!("a key of type {other} the scan cannot read"),
        };
        out.push(key.clone());
        out.extend(contents);
    }
    let _: () = conn.del(&keys).await.unwrap();
    out
}

fn holds(bytes: &[Vec<u8>], needle: &str) -> bool {
    bytes
        .iter()
        .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_plaintext_key_or_value_with_encryption_on() {
    testing::require_redis(testing::LOCAL_REDIS).await.unwrap();

    // The scan finds them when records are not encrypted.
    let (plain, tag) = manager(EncryptionKeys::default()).await;
    store_and_read(&plain).await;
    let bytes = raw_bytes(&tag).await;
    assert!(holds(&bytes, KEY) && holds(&bytes, VALUE));

    let keys = EncryptionKeys::new([(1, [0x3c; 32])]).unwrap();
    let (encrypted, tag) = manager(keys).await;
    store_and_read(&encrypted).await;
    let bytes = raw_bytes(&tag).await;
    assert!(!holds(&bytes, KEY), "the key is stored in the clear");
    assert!(!holds(&bytes, VALUE), "the value is stored in the clear");
}
