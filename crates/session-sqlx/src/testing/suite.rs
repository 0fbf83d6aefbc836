//! Whole tests every sqlx-based provider runs, generic over its [`TestServer`];
//! [`sql_provider_tests!`](crate::sql_provider_tests) writes a `#[tokio::test]` for each.

use std::future::Future;
use std::sync::Arc;

use session_core::{Error, Inserted, Manager, Moved, RawStore, Registry, SessionId, Write};

use super::{Admin, Tables, TestServer, admin_pool, fill, manager, open, options, scenarios};

/// Writes the tests of this module for a provider, in a module `sql_provider_tests`:
/// `sql_provider_tests!(common::Server);` in one of its integration-test files, where
/// `common::Server` is its [`TestServer`].
#[macro_export]
macro_rules! sql_provider_tests {
    ($server:ty) => {
        mod sql_provider_tests {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::suite;

            #[tokio::test]
            async fn works_on_a_table_created_from_schema_sql() {
                suite::works_on_a_table_created_from_schema_sql::<$server>().await;
            }

            #[tokio::test]
            async fn hostile_strings_are_bound_parameters() {
                suite::hostile_strings_are_bound_parameters::<$server>().await;
            }

            #[tokio::test]
            async fn gc_deletes_in_batches_until_none_is_left() {
                suite::gc_deletes_in_batches_until_none_is_left::<$server>().await;
            }

            #[tokio::test]
            async fn provider_open_returns_a_working_store() {
                suite::provider_open_returns_a_working_store::<$server>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn instances_starting_together_create_the_table_once() {
                suite::instances_starting_together_create_the_table_once::<$server>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn exhausted_pool_is_a_backend_error_and_recovers() {
                suite::exhausted_pool_is_a_backend_error_and_recovers::<$server>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_moves_of_one_record_have_one_winner() {
                suite::concurrent_moves_of_one_record_have_one_winner::<$server>().await;
            }

            #[tokio::test]
            async fn an_unreachable_server_at_start_is_a_backend_error() {
                suite::an_unreachable_server_at_start_is_a_backend_error::<$server>().await;
            }

            #[tokio::test]
            async fn every_write_keeps_the_gc_mark_within_the_slack() {
                $crate::testing::marks::every_write_keeps_the_gc_mark_within_the_slack::<$server>()
                    .await;
            }

            #[tokio::test]
            async fn gc_is_exact_whatever_the_mark() {
                $crate::testing::marks::gc_is_exact_whatever_the_mark::<$server>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn upgrades_the_previous_layout() {
                $crate::testing::marks::upgrades_the_previous_layout::<$server>().await;
            }
        }
    };
}

/// `S`'s URL with `table` and further query parameters (`&`-joined) added.
fn config<S: TestServer>(table: &str, more: &str) -> String {
    format!("{}?table={table}{more}", S::URL)
}

/// A store on a table created beforehand from the provider's `schema_sql` (as a team running
/// its own migrations would) works: the longest ID and an expiry beyond 2038 read back.
pub async fn works_on_a_table_created_from_schema_sql<S: TestServer>() {
    let tables = Tables::<S>::default();
    let table = tables.add();
    let admin = admin_pool::<S>().await;
    let schema = S::schema_sql(&table).unwrap_or_else(|e| panic!("schema_sql: {e}"));
    admin.exec(schema).await;
    let store = open::<S>(config::<S>(&table, "&pool_size=2")).await;
    scenarios::longest_id_and_far_expiry_read_back(&store).await;
    drop(store);
    admin.close().await;
    tables.drop_all().await;
}

/// Owners are free text: quotes, placeholders of both dialects and SQL are stored and
/// matched verbatim, and the table is intact afterwards.
pub async fn hostile_strings_are_bound_parameters<S: TestServer>() {
    let tables = Tables::<S>::default();
    let table = tables.add();
    let store = open::<S>(config::<S>(&table, "&pool_size=2")).await;
    let manager = manager(Arc::new(store));
    let owner = "o'brien\"; DROP TABLE sessions; -- \\ ` ? $1 ' OR '1'='1";
    scenarios::hostile_strings_are_bound_parameters(&manager, owner).await;

    let admin = admin_pool::<S>().await;
    let stored = admin.owners(&S::quote(&table)).await;
    assert_eq!(stored, [None, Some(owner.to_owned())]);
    let count = manager.count().await;
    assert_eq!(
        count.unwrap_or_else(|e| panic!("count: {e}")),
        2,
        "the table is intact"
    );
    admin.close().await;
    tables.drop_all().await;
}

/// GC deletes expired rows in batches until none is left, and nothing live.
pub async fn gc_deletes_in_batches_until_none_is_left<S: TestServer>() {
    let tables = Tables::<S>::default();
    let table = tables.add();
    let store = open::<S>(config::<S>(&table, "&pool_size=2")).await;
    let admin = admin_pool::<S>().await;
    // 2 500 expired rows (more than two GC batches) and 5 live ones.
    let rows: Vec<_> = (1..=2505)
        .map(|n| (if n <= 2500 { 1000 } else { 10_000 }, None))
        .collect();
    fill::<S>(&admin, &table, &rows).await;
    let gc = |now| store.gc(now);
    assert_eq!(gc(1000).await.unwrap_or_else(|e| panic!("gc: {e}")), 2500);
    let count = store.count(0).await;
    assert_eq!(count.unwrap_or_else(|e| panic!("count: {e}")), 5);
    assert_eq!(gc(1000).await.unwrap_or_else(|e| panic!("gc: {e}")), 0);
    admin.close().await;
    tables.drop_all().await;
}

/// The registry's way in (`Provider::open` with a config string) gives a working store.
pub async fn provider_open_returns_a_working_store<S: TestServer>() {
    let tables = Tables::<S>::default();
    let config = config::<S>(&tables.add(), "");
    scenarios::open_instances(S::Provider::default(), &config, 1).await;
    tables.drop_all().await;
}

/// Instances starting at once on a new table all open it (schema creation does not race).
pub async fn instances_starting_together_create_the_table_once<S: TestServer>() {
    let tables = Tables::<S>::default();
    let config = config::<S>(&tables.add(), "&pool_size=1");
    scenarios::open_instances(S::Provider::default(), &config, 6).await;
    tables.drop_all().await;
}

/// See [`scenarios::exhausted_pool_is_a_backend_error_and_recovers`].
pub async fn exhausted_pool_is_a_backend_error_and_recovers<S: TestServer>() {
    let tables = Tables::<S>::default();
    let config = config::<S>(&tables.add(), "&pool_size=1&acquire_timeout=0.5");
    let store = Arc::new(open::<S>(config).await);
    let manager = manager(store.clone());
    scenarios::exhausted_pool_is_a_backend_error_and_recovers(&manager, S::pool(&store)).await;
    drop((manager, store));
    tables.drop_all().await;
}

/// Movers of one record at once (regenerate with the same expected version, each to its
/// own new ID): exactly one moves it, every other one finds the old record gone (Missing,
/// not Conflict: the winner deleted it) and leaves nothing behind.
pub async fn concurrent_moves_of_one_record_have_one_winner<S: TestServer>() {
    const MOVERS: usize = 8;
    let tables = Tables::<S>::default();
    let store = Arc::new(open::<S>(config::<S>(&tables.add(), "&pool_size=8")).await);
    for round in 0..20 {
        let old = SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"));
        let inserted = store.insert(&old, super::write(b"data")).await;
        let Ok(Inserted::Created(version)) = inserted else {
            panic!("insert: {inserted:?}");
        };
        let movers: Vec<_> = (0..MOVERS)
            .map(|_| {
                let (store, old) = (store.clone(), old.clone());
                tokio::spawn(async move {
                    let new = SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"));
                    let moved = store
                        .regenerate(&old, version, &new, super::write(b"data"))
                        .await;
                    (new, moved.unwrap_or_else(|e| panic!("regenerate: {e}")))
                })
            })
            .collect();
        let mut winners = 0;
        for mover in movers {
            let (new, moved) = mover.await.unwrap_or_else(|e| panic!("a mover: {e}"));
            let exists = store.exist(&new).await;
            let exists = exists.unwrap_or_else(|e| panic!("exist: {e}"));
            match moved {
                Moved::Moved(_) => {
                    winners += 1;
                    assert!(exists, "round {round}: the winner's record is missing");
                }
                Moved::Missing => assert!(!exists, "round {round}: a loser left its record"),
                other => panic!("round {round}: a concurrent mover answered {other:?}"),
            }
        }
        assert_eq!(
            winners, 1,
            "round {round}: {winners} movers carried the record"
        );
        let old_left = store.exist(&old).await;
        assert!(!old_left.unwrap_or_else(|e| panic!("exist: {e}")));
    }
    drop(store);
    tables.drop_all().await;
}

/// A server that is down when the provider opens is an [`Error::Backend`] naming the
/// provider, after at most the acquire timeout.
pub async fn an_unreachable_server_at_start_is_a_backend_error<S: TestServer>() {
    let mut url = url::Url::parse(S::URL).unwrap_or_else(|e| panic!("{}: {e}", S::URL));
    // Port 1 on the loopback interface: nothing listens there, so the connection is refused.
    url.set_port(Some(1))
        .unwrap_or_else(|()| panic!("{} takes no port", S::URL));
    url.set_query(Some("acquire_timeout=1"));
    let provider = S::Provider::default();
    let opened =
        session_core::Provider::open(&provider, url.as_str(), &super::context(1 << 20)).await;
    let name = session_core::Provider::name(&provider);
    match opened {
        Err(e @ Error::Backend { .. }) => {
            assert!(e.to_string().contains(&format!("`{name}`")), "{e}");
        }
        Err(e) => panic!("expected Error::Backend, got {e:?}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
}

/// Each config string of `cases` is refused by `Manager::new` with a config error naming
/// its key, before any connection is tried.
pub async fn config_errors_come_before_any_connection<S: TestServer>(cases: &[(&str, &str)]) {
    let provider = S::Provider::default();
    let name = session_core::Provider::name(&provider);
    let registry = Registry::new()
        .with(provider)
        .unwrap_or_else(|e| panic!("registering {name}: {e}"));
    for (config, field) in cases {
        match Manager::new(options(name, (*config).into()), &registry).await {
            Err(Error::Config { field: got, .. }) => assert_eq!(&got, field, "{config}"),
            other => panic!("{config}: expected a config error, got {other:?}"),
        }
    }
}

/// An insert whose owner the table cannot hold is an [`Error::Encode`] for `owner`, and
/// nothing is written. Returns the ID it tried.
pub async fn owner_is_refused_before_writing(store: &dyn RawStore, owner: &str) -> SessionId {
    let id = SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"));
    let write = Write {
        body: b"x",
        expires_at: 1,
        ttl_ms: 1,
        owner: Some(owner),
    };
    let result = store.insert(&id, write).await;
    assert!(
        matches!(&result, Err(Error::Encode { key, .. }) if key == "owner"),
        "{result:?}"
    );
    let exists = store.exist(&id).await;
    assert!(!exists.unwrap_or_else(|e| panic!("exist: {e}")));
    id
}

/// A store, a manager and a stored session (`k = "v"`) for an outage test: the test breaks
/// the database in its own dialect while [`Outage::run`] sends requests.
pub struct Outage<S: TestServer> {
    tables: Tables<S>,
    /// The store, on a pool of two connections with an acquire timeout of 2 s.
    pub store: Arc<S::Store>,
    /// A manager on the store.
    pub manager: Manager,
    /// The stored session's cookie.
    pub cookie: String,
    /// An admin pool on the server.
    pub admin: S::Admin,
}

impl<S: TestServer> Outage<S> {
    /// Opens the store on a new table, with `params` (`&`-joined) added to its config.
    pub async fn new(params: &str) -> Self {
        let tables = Tables::<S>::default();
        let params = format!("&pool_size=2&acquire_timeout=2{params}");
        let store = Arc::new(open::<S>(config::<S>(&tables.add(), &params)).await);
        let manager = manager(store.clone());
        let cookie = super::create(&manager, "v").await;
        let admin = admin_pool::<S>().await;
        Outage {
            tables,
            store,
            manager,
            cookie,
            admin,
        }
    }

    /// See [`scenarios::killed_connections_give_backend_errors_then_recover`].
    pub async fn run(&self, kill: impl Future<Output = usize>) {
        scenarios::killed_connections_give_backend_errors_then_recover(
            &self.manager,
            &self.cookie,
            kill,
        )
        .await;
    }

    /// Closes the admin pool and drops the table.
    pub async fn end(self) {
        self.admin.close().await;
        let tables = self.tables.clone();
        drop(self);
        tables.drop_all().await;
    }
}

/// A store on a new table and an admin pool, for a test that looks at the database itself.
pub struct Fixture<S: TestServer> {
    tables: Tables<S>,
    /// The table's name, unquoted.
    pub table: String,
    /// The store, on a pool of two connections.
    pub store: S::Store,
    /// An admin pool on the server.
    pub admin: S::Admin,
}

impl<S: TestServer> Fixture<S> {
    /// Opens the store; it creates the table.
    pub async fn new() -> Self {
        let tables = Tables::<S>::default();
        let table = tables.add();
        let store = open::<S>(config::<S>(&table, "&pool_size=2")).await;
        let admin = admin_pool::<S>().await;
        Fixture {
            tables,
            table,
            store,
            admin,
        }
    }

    /// [`Fixture::new`] with 5 000 rows for query plans, expiring one second apart (the
    /// `n`th at `n * 1000`), every thousandth owned by `alice`, and the table analysed.
    pub async fn for_plans() -> Self {
        let fixture = Self::new().await;
        let rows: Vec<_> = (1..=5000)
            .map(|n| (n * 1000, (n % 1000 == 0).then_some("alice")))
            .collect();
        fill::<S>(&fixture.admin, &fixture.table, &rows).await;
        let analyze = format!("{} {}", S::ANALYZE, S::quote(&fixture.table));
        fixture.admin.exec(analyze).await;
        fixture
    }

    /// Closes the admin pool and drops the table.
    pub async fn end(self) {
        self.admin.close().await;
        let tables = self.tables.clone();
        drop(self);
        tables.drop_all().await;
    }
}
