//! `cargo xtask conformance`: every provider x every case of `session_core::conformance`,
//! printed as a matrix. The providers and where their stores live come from
//! `demo_support::providers()`; this module adds a second redis target on a Redis Cluster it
//! starts, an encrypted column (`NAME+enc`) for every target, and starts what the chosen
//! targets need (the machine's services, the cluster, the Couchbase test server).

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use demo_support::{Namespace, ProviderEntry, TestServer, TestStore};
use session_core::conformance::{self, Outcome, Report};
use session_core::encryption::{Encrypted, EncryptionKeys, OVERHEAD};
use session_core::{ProviderContext, RawStore};
use session_redis::testing::cluster::RedisCluster;

/// What `cargo xtask conformance --help` prints.
pub const HELP: &str = "\
usage: cargo xtask conformance [--provider NAME [--config STR]]

Runs every case of the provider conformance suite (session_core::conformance) against every
in-tree provider and prints the provider x case matrix; fails when a case fails.

Before running, it makes sure what the chosen providers need is up: Redis, memcached,
PostgreSQL and MariaDB on their standard loopback ports (started, or installed with apt when
run as root on Debian), a three-master Redis Cluster on free ports and the in-repository
Couchbase test server (both stopped at the end).

options:
  --provider NAME   only this provider: memory, file, redis, memcache, postgres, mysql,
                    ledis, couchbase, redis-cluster or redis-near-cache (`redis` runs all
                    three redis targets), each with its encrypted column; NAME+enc runs
                    only that column
  --config STR      with --provider: open every case's store with this config string
                    instead of the machine's test setup; nothing is started for it. It must
                    name an empty namespace, since the count cases expect to see only their
                    own sessions
  -h, --help        this text";

/// The label of the extra redis target on a Redis Cluster.
const REDIS_CLUSTER: &str = "redis-cluster";
/// The label of the redis column with the near cache on (the machine's Redis).
const REDIS_NEAR_CACHE: &str = "redis-near-cache";

/// What an encrypted column's label adds to its provider's.
const ENCRYPTED: &str = "+enc";

/// One provider to test, and how to give each case an isolated namespace.
pub struct Target {
    /// Column title in the matrix.
    pub label: String,
    /// Registry name.
    pub provider: String,
    /// Builds a config string for one case (fresh directory, prefix, table, ...).
    pub config: Box<dyn Fn() -> Result<String> + Send + Sync>,
    /// Whether each case's store is wrapped in `session_core::Encrypted`.
    pub encrypted: bool,
}

/// A config factory handing out fresh directories below one scratch directory, which is
/// removed when the factory is dropped.
fn fresh_dirs() -> Result<Box<dyn Fn() -> Result<String> + Send + Sync>> {
    let scratch = tempfile::Builder::new()
        .prefix("xtask-conformance-")
        .tempdir()?;
    let next = std::sync::atomic::AtomicU32::new(0);
    Ok(Box::new(move || {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(scratch
            .path()
            .join(format!("case-{n}"))
            .display()
            .to_string())
    }))
}

/// Table names the SQL targets create all start with this; [`drop_tables`] removes them.
const TABLE_PREFIX: &str = "xtask_conformance_";

/// A config factory adding a fresh namespace (key prefix or table) to `base` for every case.
fn fresh_namespace(
    base: String,
    namespace: Namespace,
) -> Box<dyn Fn() -> Result<String> + Send + Sync> {
    Box::new(move || {
        let n = getrandom::u64().map_err(|e| anyhow::anyhow!("OS random numbers: {e}"))?;
        let name = match namespace {
            Namespace::Table => format!("{TABLE_PREFIX}{n:016x}"),
            Namespace::KeyPrefix | Namespace::QueryPrefix => format!("xtask-{n:016x}:"),
        };
        Ok(namespace.apply(&base, &name))
    })
}

/// Drops the tables the SQL targets created (best effort, with the database CLIs).
fn drop_tables() {
    let pattern = format!("{TABLE_PREFIX}%");
    let postgres = format!(
        "psql -h 127.0.0.1 -U postgres -d test -Atc \"SELECT format('DROP TABLE IF EXISTS %I;', tablename) FROM pg_tables WHERE tablename LIKE '{pattern}'\" | psql -h 127.0.0.1 -U postgres -d test -q"
    );
    let mysql = format!(
        "mariadb -h 127.0.0.1 -u root test -N -e \"SELECT CONCAT('DROP TABLE IF EXISTS \\`', table_name, '\\`;') FROM information_schema.tables WHERE table_schema = 'test' AND table_name LIKE '{pattern}'\" | mariadb -h 127.0.0.1 -u root test"
    );
    for cmd in [postgres, mysql] {
        let ok = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("xtask: could not drop the conformance tables: {cmd}");
        }
    }
}

/// What the targets need for as long as the matrix runs, stopped when dropped (inside the
/// runtime, which the Couchbase test server runs on).
#[derive(Default)]
struct Services {
    cluster: Option<RedisCluster>,
    couchbase: Option<couchbase_testserver::TestServer>,
    /// Whether SQL targets ran, so their tables are dropped at the end.
    tables: bool,
}

impl Drop for Services {
    fn drop(&mut self) {
        if self.tables {
            drop_tables();
        }
    }
}

/// The runtime the matrix and its services run on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?)
}

/// The matrix's columns before anything is started: each compiled-in provider, with the
/// redis one three times (the machine's Redis, a cluster, the near cache on), kept when `only` names its label or
/// its provider.
fn plan(only: Option<&str>) -> Result<Vec<(String, ProviderEntry)>> {
    let mut columns = Vec::new();
    for entry in demo_support::providers() {
        if !entry.is_compiled() {
            continue;
        }
        let mut labels = vec![entry.name.to_owned()];
        if entry.name == session_redis::NAME {
            labels.push(REDIS_CLUSTER.to_owned());
            labels.push(REDIS_NEAR_CACHE.to_owned());
        }
        for label in labels {
            columns.push((format!("{label}{ENCRYPTED}"), entry));
            columns.push((label, entry));
        }
    }
    // Plain columns first, then the encrypted ones, in the same order.
    columns.sort_by_key(|(label, _)| label.ends_with(ENCRYPTED));
    let labels: Vec<String> = columns.iter().map(|(label, _)| label.clone()).collect();
    if let Some(only) = only {
        columns.retain(|(label, entry)| {
            label == only || (entry.name == only && !only.ends_with(ENCRYPTED))
        });
        if columns.is_empty() {
            bail!(
                "no conformance target for provider {only:?}; targets: {}",
                labels.join(", ")
            );
        }
    }
    Ok(columns)
}

/// Starts what `columns` need and builds their targets.
fn prepare(
    runtime: &tokio::runtime::Runtime,
    columns: Vec<(String, ProviderEntry)>,
) -> Result<(Vec<Target>, Services)> {
    let mut services = Services::default();
    let mut targets = Vec::new();
    for (label, entry) in columns {
        let encrypted = label.ends_with(ENCRYPTED);
        let config = match entry.test_store {
            TestStore::InProcess => Box::new(|| Ok(String::new())),
            TestStore::Directory => fresh_dirs()?,
            TestStore::Server { namespace, .. } if label.starts_with(REDIS_CLUSTER) => {
                let cluster = match services.cluster.take() {
                    Some(cluster) => cluster,
                    None => {
                        crate::services::ensure_tools(crate::services::REDIS_TOOLS)?;
                        eprintln!("xtask: starting a Redis Cluster of three masters");
                        RedisCluster::start(3).context("starting a Redis Cluster")?
                    }
                };
                let base = format!("cluster=true,addrs={}", cluster.addrs().join("|"));
                services.cluster = Some(cluster);
                fresh_namespace(base, namespace)
            }
            TestStore::Server {
                server: TestServer::Local { config, port },
                namespace,
            } if label.starts_with(REDIS_NEAR_CACHE) => {
                crate::services::ensure_ports(&[port])?;
                fresh_namespace(format!("{config},near_cache=1000"), namespace)
            }
            TestStore::Server {
                server: TestServer::Local { config, port },
                namespace,
            } => {
                crate::services::ensure_ports(&[port])?;
                services.tables |= namespace == Namespace::Table;
                fresh_namespace(config.to_owned(), namespace)
            }
            TestStore::Server {
                server: TestServer::CouchbaseTestServer,
                namespace,
            } => {
                let credentials = couchbase_testserver::TestConfig::default();
                let server = match services.couchbase.take() {
                    Some(server) => server,
                    None => runtime
                        .block_on(couchbase_testserver::TestServer::start(
                            couchbase_testserver::TestConfig::default(),
                        ))
                        .context("starting the Couchbase test server")?,
                };
                let base = format!(
                    "couchbase://{}:{}@{}/{}",
                    credentials.username,
                    credentials.password,
                    server.addr(),
                    server.bucket()
                );
                services.couchbase = Some(server);
                fresh_namespace(base, namespace)
            }
        };
        targets.push(Target {
            label,
            provider: entry.name.to_owned(),
            config,
            encrypted,
        });
    }
    Ok((targets, services))
}

/// Runs the matrix for the targets `only` selects (all when `None`), starting what they need
/// first and stopping it afterwards.
pub fn run(only: Option<&str>) -> Result<()> {
    let columns = plan(only)?;
    let runtime = runtime()?;
    let (targets, services) = prepare(&runtime, columns)?;
    let result = matrix(&runtime, &targets);
    let _in_runtime = runtime.enter();
    drop(services);
    result
}

/// Runs every case of `provider` with the one config string `config`, starting nothing.
fn run_with_config(provider: &str, config: String) -> Result<()> {
    let registry = demo_support::registry()?;
    if !registry.names().iter().any(|name| name == provider) {
        bail!(
            "unknown provider {provider:?}; providers: {}",
            registry.names().join(", ")
        );
    }
    let target = Target {
        label: provider.to_owned(),
        provider: provider.to_owned(),
        config: Box::new(move || Ok(config.clone())),
        encrypted: false,
    };
    matrix(&runtime()?, &[target])
}

async fn run_target(registry: Arc<session_core::Registry>, target: &Target) -> Report {
    let configs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let name = target.provider.clone();
    let factory = |mut ctx: ProviderContext| {
        let registry = registry.clone();
        let name = name.clone();
        let config = (target.config)();
        let configs = configs.clone();
        let keys = target.encrypted.then(test_keys);
        async move {
            let config = config.map_err(|e| session_core::Error::config("xtask", e.to_string()))?;
            if let Ok(mut seen) = configs.lock() {
                seen.push(config.clone());
            }
            let Some(keys) = keys else {
                return registry.open(&name, &config, &ctx).await;
            };
            // As `Manager::new` does with encryption on: the provider holds sealed records.
            ctx.max_record_size += OVERHEAD;
            let store: Arc<dyn RawStore> = Arc::new(Encrypted::new(
                registry.open(&name, &config, &ctx).await?,
                keys?,
            )?);
            Ok(store)
        }
    };
    let mut report = conformance::run(&factory).await;
    report.provider = target.label.clone();
    report
}

/// The keys of the encrypted columns: two, so that the key ID is not the only one there is.
fn test_keys() -> session_core::Result<EncryptionKeys> {
    EncryptionKeys::new([(2, [0x5e; 32]), (1, [0xc1; 32])])
}

/// Runs every target and prints the matrix; fails when a case failed.
fn matrix(runtime: &tokio::runtime::Runtime, targets: &[Target]) -> Result<()> {
    let registry = Arc::new(demo_support::registry()?);
    let reports: Vec<Report> = runtime.block_on(async {
        let mut reports = Vec::new();
        for target in targets {
            let started = std::time::Instant::now();
            reports.push(run_target(registry.clone(), target).await);
            eprintln!(
                "xtask: conformance {} took {:.1} s",
                target.label,
                started.elapsed().as_secs_f64()
            );
        }
        reports
    });
    // The encrypted columns in a matrix of their own, so each stays readable.
    let (encrypted, plain): (Vec<Report>, Vec<Report>) = reports
        .iter()
        .cloned()
        .partition(|r| r.provider.ends_with(ENCRYPTED));
    for part in [plain, encrypted] {
        if !part.is_empty() {
            print_matrix(&part);
        }
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.provider.as_str())
        .collect();
    for report in reports.iter().filter(|r| !r.passed()) {
        eprintln!("{}", report.table());
    }
    if !failed.is_empty() {
        bail!("conformance failed for: {}", failed.join(", "));
    }
    Ok(())
}

fn print_matrix(reports: &[Report]) {
    let width = conformance::case_names()
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(10);
    let cell = reports
        .iter()
        .map(|r| r.provider.len())
        .chain(["unsupported".len()])
        .max()
        .unwrap_or(11);
    let mut header = format!("{:<width$}", "case");
    for r in reports {
        header.push_str(&format!(" | {:^cell$}", r.provider));
    }
    println!("\n{header}");
    println!("{}", "-".repeat(header.len()));
    for name in conformance::case_names() {
        let mut row = format!("{name:<width$}");
        for r in reports {
            let outcome = match r.cases.iter().find(|c| c.name == name).map(|c| &c.outcome) {
                Some(Outcome::Passed) => "pass",
                Some(Outcome::Unsupported(_)) => "unsupported",
                Some(Outcome::Failed(_)) => "FAIL",
                None => "-",
            };
            row.push_str(&format!(" | {outcome:^cell$}"));
        }
        println!("{}", row.trim_end());
    }
    println!();
}

/// `cargo xtask conformance [--provider NAME [--config STR]]`.
pub fn main(args: &[String]) -> Result<()> {
    let mut provider = None;
    let mut config = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--provider" => provider = Some(it.next().context("--provider needs a name")?),
            "--config" => config = Some(it.next().context("--config needs a config string")?),
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }
    match (provider, config) {
        (Some(provider), Some(config)) => run_with_config(provider, config.clone()),
        (None, Some(_)) => bail!("--config needs --provider\n\n{HELP}"),
        (provider, None) => run(provider.map(String::as_str)),
    }
}
