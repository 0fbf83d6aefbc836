//! Helpers the providers' integration tests share (feature `test-support`): test tables
//! that are dropped again, a session context, the scenarios that are the same for every SQL
//! dialect, and [`sql_provider_tests!`](crate::sql_provider_tests), which writes the tests
//! every provider runs. What differs per dialect (the SQL a test runs to inspect or break
//! the database) stays in each provider's tests.
//!
//! These are test helpers: a failure is a panic with a message that says what failed.

mod config;
pub mod marks;
mod scenarios;
pub mod suite;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use session_core::{
    Manager, Options, Provider, ProviderContext, RawStore, SessionId, SystemClock, Write,
};
use sqlx::pool::PoolOptions;
use sqlx::{ColumnIndex, Database, Decode, Executor, IntoArguments, Type};

use crate::{Pool, SqlxProvider};

pub use config::*;
pub use scenarios::*;

/// The database server a provider's tests run against, and how they open its store.
pub trait TestServer: Send + Sync + 'static {
    /// A sqlx pool on the server for test-side inspection (`PgPool`, `MySqlPool`).
    type Admin: Admin;
    /// The provider under test.
    type Provider: SqlxProvider + Provider + Default + Clone;
    /// Its store.
    type Store: RawStore;
    /// The URL tests connect to.
    const URL: &'static str;
    /// The server's name in failure messages (`"PostgreSQL"`, `"MariaDB"`).
    const SERVER: &'static str;
    /// The statement that updates a table's planner statistics, before the table's name.
    const ANALYZE: &'static str;
    /// `name` quoted as an identifier in the server's dialect.
    fn quote(name: &str) -> String;
    /// The provider's `schema_sql`.
    fn schema_sql(table: &str) -> session_core::Result<String>;
    /// The exact statements the provider's previous layout (before `gc_after`) created
    /// `table` with, for the upgrade tests.
    fn previous_schema_sql(table: &str) -> String;
    /// `table`'s layout as the server's catalog describes it (columns with their types and
    /// defaults, indexes), written so that two tables of the same layout compare equal.
    fn layout(admin: &Self::Admin, table: &str) -> impl Future<Output = String> + Send;
    /// Parses `config` (the provider's config string) and opens a store with a
    /// [`context`] of 1 MiB records.
    fn open(config: String) -> impl Future<Output = session_core::Result<Self::Store>> + Send;
    /// The store's connection pool.
    fn pool(store: &Self::Store) -> &Pool<Self::Provider>;
}

/// A sqlx pool the tests use to look at or change the database behind the provider's back.
pub trait Admin: Send + Sync + Sized + 'static {
    /// Connects to `url` (two connections).
    fn connect(url: &str) -> impl Future<Output = sqlx::Result<Self>> + Send;
    /// Runs `statement` (SQL text, no parameters), failing the test on an error.
    fn exec(&self, statement: String) -> impl Future<Output = ()> + Send;
    /// The `owner` column of `table` (quoted), rows without an owner first.
    fn owners(&self, table: &str) -> impl Future<Output = Vec<Option<String>>> + Send;
    /// `(id, expires_at, gc_after)` of every row of `table` (quoted), by ID.
    fn marks(&self, table: &str) -> impl Future<Output = Vec<(String, i64, i64)>> + Send;
    /// Closes the pool.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

impl<DB: Database> Admin for sqlx::Pool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
{
    async fn connect(url: &str) -> sqlx::Result<Self> {
        PoolOptions::<DB>::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
    }

    async fn exec(&self, statement: String) {
        let shown = statement.chars().take(200).collect::<String>();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(self)
            .await
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
    }

    async fn owners(&self, table: &str) -> Vec<Option<String>> {
        let rows: Vec<(Option<String>,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT owner FROM {table} ORDER BY owner IS NOT NULL, owner"
        )))
        .fetch_all(self)
        .await
        .unwrap_or_else(|e| panic!("reading the owners of {table}: {e}"));
        rows.into_iter().map(|(owner,)| owner).collect()
    }

    async fn marks(&self, table: &str) -> Vec<(String, i64, i64)> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, expires_at, gc_after FROM {table} ORDER BY id"
        )))
        .fetch_all(self)
        .await
        .unwrap_or_else(|e| panic!("reading the GC marks of {table}: {e}"))
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

/// A table name no other test (or engineer) uses.
pub fn unique_table() -> String {
    let id = SessionId::generate(32).unwrap_or_else(|e| panic!("random table name: {e}"));
    format!("sess_test_{}", &id.as_str()[..16])
}

/// The context a store is opened with: the system clock and `max_record_size`.
pub fn context(max_record_size: usize) -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size,
        max_lifetime_ms: 60_000,
    }
}

/// Options for a manager on `provider` (a registry name) with `config`.
pub fn options(provider: &str, config: String) -> Options {
    Options {
        provider: provider.into(),
        provider_config: config,
        ..Options::default()
    }
}

/// A manager on `store` with default options and the system clock.
pub fn manager(store: Arc<dyn RawStore>) -> Manager {
    Manager::with_store(Options::default(), store, Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("a manager on the store: {e}"))
}

/// An admin pool on the test server; fails the test with a clear message when the server
/// cannot be reached.
pub async fn admin_pool<S: TestServer>() -> S::Admin {
    S::Admin::connect(S::URL)
        .await
        .unwrap_or_else(|e| panic!("{} at {} is not reachable: {e}", S::SERVER, S::URL))
}

/// Opens a store with `config`, failing the test with a clear message when the server
/// cannot be reached.
pub async fn open<S: TestServer>(config: String) -> S::Store {
    S::open(config)
        .await
        .unwrap_or_else(|e| panic!("{} at {} is not reachable: {e}", S::SERVER, S::URL))
}

/// Inserts one row into `table` per `(expires_at, owner)` of `rows`, behind the provider's
/// back, with its GC mark (`gc_after`) at its expiry; the `n`th row (from 1) has ID
/// [`nth_id`]`(n)`, version 1 and an empty body.
pub async fn fill<S: TestServer>(admin: &S::Admin, table: &str, rows: &[(i64, Option<&str>)]) {
    admin.exec(insert::<S>(table, rows, true)).await;
}

/// [`fill`] for a table of the previous layout, which has no `gc_after` column.
pub async fn fill_previous_layout<S: TestServer>(
    admin: &S::Admin,
    table: &str,
    rows: &[(i64, Option<&str>)],
) {
    admin.exec(insert::<S>(table, rows, false)).await;
}

/// The statement of [`fill`], with or without the `gc_after` column.
fn insert<S: TestServer>(table: &str, rows: &[(i64, Option<&str>)], marks: bool) -> String {
    let mark_column = if marks { ", gc_after" } else { "" };
    let mut statement = format!(
        "INSERT INTO {} (id, data, expires_at, version, owner{mark_column}) VALUES ",
        S::quote(table)
    );
    for (n, (expires_at, owner)) in rows.iter().enumerate() {
        let separator = if n == 0 { "" } else { ", " };
        let id = nth_id(n + 1);
        // Only test constants reach the text: hex IDs, numbers, and owners without quotes.
        let owner = owner.map_or_else(|| "NULL".to_owned(), |o| format!("'{o}'"));
        let mark = if marks {
            format!(", {expires_at}")
        } else {
            String::new()
        };
        let _ = write!(
            statement,
            "{separator}('{id}', '', {expires_at}, 1, {owner}{mark})"
        );
    }
    statement
}

/// The ID [`fill`] gives its `n`th row.
pub fn nth_id(n: usize) -> String {
    format!("{n:032x}")
}

/// Tables created by a test, dropped by [`Tables::drop_all`] at its end, or when the last
/// handle is dropped if the test panicked before that.
pub struct Tables<S: TestServer>(Arc<Names<S>>);

impl<S: TestServer> Default for Tables<S> {
    fn default() -> Self {
        Tables(Arc::new(Names(Mutex::default(), std::marker::PhantomData)))
    }
}

impl<S: TestServer> Clone for Tables<S> {
    fn clone(&self) -> Self {
        Tables(self.0.clone())
    }
}

/// The names behind [`Tables`]; drops what is left when the last handle goes.
struct Names<S: TestServer>(Mutex<Vec<String>>, std::marker::PhantomData<S>);

impl<S: TestServer> Tables<S> {
    /// A new unique table name, dropped with the others.
    pub fn add(&self) -> String {
        let name = unique_table();
        self.names().push(name.clone());
        name
    }

    /// Drops every table added so far.
    pub async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.names());
        drop_tables::<S>(names).await;
    }

    fn names(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: TestServer> Drop for Names<S> {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        // A panicking test never reached `drop_all`: clean up on a runtime of our own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("a runtime to drop the test tables: {e}"))
                .block_on(drop_tables::<S>(names));
        })
        .join();
    }
}

async fn drop_tables<S: TestServer>(names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    let admin = admin_pool::<S>().await;
    for name in names {
        admin
            .exec(format!("DROP TABLE IF EXISTS {}", S::quote(&name)))
            .await;
    }
    admin.close().await;
}

/// The `name=value` pair of a `Set-Cookie` value, as a browser sends it back.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

/// Stores a new session holding `k = value`; returns its cookie.
pub async fn create(manager: &Manager, value: &str) -> String {
    let session = manager.load([]);
    session
        .set("k", value)
        .await
        .unwrap_or_else(|e| panic!("set: {e}"));
    let commit = session
        .commit()
        .await
        .unwrap_or_else(|e| panic!("commit: {e}"));
    cookie_pair(
        &commit
            .set_cookie
            .unwrap_or_else(|| panic!("a new session sets a cookie")),
    )
}

/// A session write of `body` for `"alice"` that never expires.
pub fn write(body: &[u8]) -> Write<'_> {
    Write {
        body,
        expires_at: i64::MAX,
        ttl_ms: 60_000,
        owner: Some("alice"),
    }
}
