//! The conformance matrix: every provider x every case of `session_core::conformance`.

use std::sync::Arc;

use anyhow::{Result, bail};
use session_core::conformance::{self, Outcome, Report};
use session_core::{ProviderContext, RawStore, Registry};

/// One provider to test, and how to give each case an isolated namespace.
pub struct Target {
    /// Column title in the matrix.
    pub label: String,
    /// Registry name.
    pub provider: String,
    /// Builds a config string for one case (fresh directory, prefix, table, ...).
    pub config: Box<dyn Fn() -> Result<String> + Send + Sync>,
}

fn registry() -> Result<Registry> {
    Ok(Registry::new()
        .with(session_memory::MemoryProvider)?
        .with(session_file::FileProvider)?
        .with(session_redis::RedisProvider)?
        .with(session_couchbase::CouchbaseProvider)?
        .with(session_postgres::PostgresProvider)?
        .with(session_mysql::MySqlProvider)?
        .with(session_memcache::MemcacheProvider)?
        .with(session_ledis::LedisProvider)?)
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

/// A config factory adding a fresh key prefix to `base` for every case.
fn fresh_prefix(base: String) -> Box<dyn Fn() -> Result<String> + Send + Sync> {
    Box::new(move || {
        let n = getrandom::u64().map_err(|e| anyhow::anyhow!("OS random numbers: {e}"))?;
        Ok(format!("{base},prefix=xtask-{n:016x}:"))
    })
}

/// Like [`fresh_prefix`] for providers configured by URL (`?prefix=`).
fn fresh_query_prefix(base: String) -> Box<dyn Fn() -> Result<String> + Send + Sync> {
    Box::new(move || {
        let n = getrandom::u64().map_err(|e| anyhow::anyhow!("OS random numbers: {e}"))?;
        Ok(format!("{base}?prefix=xtask-{n:016x}:"))
    })
}

/// Table names the SQL targets create all start with this; [`drop_tables`] removes them.
const TABLE_PREFIX: &str = "xtask_conformance_";

/// A config factory adding a fresh table to a SQL URL for every case.
fn fresh_table(base: &'static str) -> Box<dyn Fn() -> Result<String> + Send + Sync> {
    Box::new(move || {
        let n = getrandom::u64().map_err(|e| anyhow::anyhow!("OS random numbers: {e}"))?;
        Ok(format!("{base}?table={TABLE_PREFIX}{n:016x}"))
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

/// Things the targets need for as long as the matrix runs: a Redis Cluster and the
/// Couchbase test server (CI has no Couchbase Server; see crates/couchbase-testserver).
pub struct Services {
    _cluster: crate::redis_cluster::cluster::RedisCluster,
    _couchbase: couchbase_testserver::TestServer,
}

impl Drop for Services {
    fn drop(&mut self) {
        drop_tables();
    }
}

/// The runtime the matrix and its services run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?)
}

/// The in-tree providers, configured for this machine's services.
pub fn default_targets(runtime: &tokio::runtime::Runtime) -> Result<(Vec<Target>, Services)> {
    let couchbase = runtime.block_on(couchbase_testserver::TestServer::start(
        couchbase_testserver::TestConfig::default(),
    ))?;
    let couchbase_config = {
        let config = couchbase_testserver::TestConfig::default();
        format!(
            "couchbase://{}:{}@{}/{}",
            config.username,
            config.password,
            couchbase.addr(),
            couchbase.bucket()
        )
    };
    let cluster = crate::redis_cluster::cluster::RedisCluster::start(3);
    let cluster_config = format!("cluster=true,addrs={}", cluster.addrs().join("|"));
    let targets = vec![
        Target {
            label: "memory".into(),
            provider: "memory".into(),
            config: Box::new(|| Ok(String::new())),
        },
        Target {
            label: "file".into(),
            provider: "file".into(),
            config: fresh_dirs()?,
        },
        Target {
            label: "redis".into(),
            provider: "redis".into(),
            config: fresh_prefix("addr=127.0.0.1:6379".into()),
        },
        Target {
            label: "redis-cluster".into(),
            provider: "redis".into(),
            config: fresh_prefix(cluster_config),
        },
        Target {
            label: "memcache".into(),
            provider: "memcache".into(),
            config: fresh_query_prefix("memcache://127.0.0.1:11211".into()),
        },
        Target {
            label: "postgres".into(),
            provider: "postgres".into(),
            config: fresh_table("postgres://postgres@127.0.0.1:5432/test"),
        },
        Target {
            label: "mysql".into(),
            provider: "mysql".into(),
            config: fresh_table("mysql://root@127.0.0.1:3306/test"),
        },
        Target {
            label: "ledis".into(),
            provider: "ledis".into(),
            config: fresh_dirs()?,
        },
        Target {
            label: "couchbase".into(),
            provider: "couchbase".into(),
            config: fresh_query_prefix(couchbase_config),
        },
    ];
    Ok((
        targets,
        Services {
            _cluster: cluster,
            _couchbase: couchbase,
        },
    ))
}

async fn run_target(registry: Arc<Registry>, target: &Target) -> Report {
    let configs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let name = target.provider.clone();
    let factory = |ctx: ProviderContext| {
        let registry = registry.clone();
        let name = name.clone();
        let config = (target.config)();
        let configs = configs.clone();
        async move {
            let config = config.map_err(|e| session_core::Error::config("xtask", e.to_string()))?;
            if let Ok(mut seen) = configs.lock() {
                seen.push(config.clone());
            }
            let store: Arc<dyn RawStore> = registry.open(&name, &config, &ctx).await?;
            Ok(store)
        }
    };
    let mut report = conformance::run(&factory).await;
    report.provider = target.label.clone();
    report
}

/// Runs every target and prints the matrix; fails when a case failed.
pub fn matrix(runtime: &tokio::runtime::Runtime, targets: &[Target]) -> Result<()> {
    let registry = Arc::new(registry()?);
    let reports: Vec<Report> = runtime.block_on(async {
        let mut reports = Vec::new();
        for target in targets {
            reports.push(run_target(registry.clone(), target).await);
        }
        reports
    });
    print_matrix(&reports);
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

/// `cargo xtask conformance [--provider NAME --config STR]`.
pub fn main(args: &[String]) -> Result<()> {
    let mut provider = None;
    let mut config = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--provider" => provider = it.next().cloned(),
            "--config" => config = it.next().cloned(),
            other => bail!("unknown argument {other:?}"),
        }
    }
    let runtime = runtime()?;
    let (mut targets, services) = default_targets(&runtime)?;
    if let Some(provider) = provider {
        match config {
            Some(config) => {
                if !registry()?.names().contains(&provider) {
                    bail!("unknown provider {provider:?}");
                }
                // A fixed config is shared by every case: give it an empty namespace, since
                // the count cases expect to see only their own sessions.
                targets = vec![Target {
                    label: provider.clone(),
                    provider: provider.clone(),
                    config: Box::new(move || Ok(config.clone())),
                }];
            }
            None => targets.retain(|t| t.provider == provider || t.label == provider),
        }
        if targets.is_empty() {
            bail!("no conformance target for provider {provider:?}");
        }
    }
    let result = matrix(&runtime, &targets);
    let _in_runtime = runtime.enter();
    drop(services);
    result
}
