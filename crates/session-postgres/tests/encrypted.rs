//! Encryption at rest against the machine's PostgreSQL: with encryption keys, no key or value
//! a handler stored appears in the provider's table.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_core::{EncryptionKeys, Manager, Options, Registry};
use session_postgres::PostgresProvider;

const KEY: &str = "enc-test-key-19b0";
const VALUE: &str = "enc-test-value-a6f3";

/// Stores `KEY = VALUE` through a manager on `table` and reads it back.
async fn store_and_read(table: &str, keys: EncryptionKeys) {
    let registry = Registry::new().with(PostgresProvider).unwrap();
    let options = Options {
        provider: "postgres".into(),
        provider_config: format!("{}?table={table}&pool_size=2", common::URL),
        encryption_keys: keys,
        ..Options::default()
    };
    let m = Manager::new(options, &registry).await.unwrap();
    let s = m.load([]);
    s.set(KEY, VALUE).await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let s = m.load([cookie.as_str()]);
    assert_eq!(s.get::<String>(KEY).await.unwrap().as_deref(), Some(VALUE));
}

/// Every row of `table`, each column as the bytes PostgreSQL holds (`bytea` as is, every
/// other column in its text form), so the scan does not depend on the schema.
async fn raw_rows(table: &str) -> Vec<Vec<u8>> {
    let admin = common::admin_pool().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_name = $1",
    )
    .bind(table)
    .fetch_all(&admin)
    .await
    .unwrap();
    let mut out = Vec::new();
    for (column, kind) in columns {
        let cast = if kind == "bytea" { "" } else { "::text::bytea" };
        // The names come from information_schema and the test's own table name.
        let sql = format!("SELECT \"{column}\"{cast} FROM \"{table}\"");
        let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&admin)
            .await
            .unwrap();
        out.extend(values.into_iter().flatten());
    }
    admin.close().await;
    assert!(!out.is_empty(), "the provider stored nothing");
    out
}

fn holds(bytes: &[Vec<u8>], needle: &str) -> bool {
    bytes
        .iter()
        .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[tokio::test]
async fn postgres_holds_no_plaintext_key_or_value_with_encryption_on() {
    let tables = common::Tables::default();

    // The scan finds them when records are not encrypted.
    let plain = tables.add();
    store_and_read(&plain, EncryptionKeys::default()).await;
    let rows = raw_rows(&plain).await;
    assert!(holds(&rows, KEY) && holds(&rows, VALUE));

    let encrypted = tables.add();
    store_and_read(&encrypted, EncryptionKeys::new([(1, [0x3c; 32])]).unwrap()).await;
    let rows = raw_rows(&encrypted).await;
    assert!(!holds(&rows, KEY), "the key is stored in the clear");
    assert!(!holds(&rows, VALUE), "the value is stored in the clear");

    tables.drop_all().await;
}
