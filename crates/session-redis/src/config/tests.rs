//! The accepted forms and their errors.

use std::str::FromStr;
use std::time::Duration;

use session_core::Error;
use session_core::config_string::Secret;

use super::{Endpoint, RedisConfig, Topology};

fn tcp(host: &str, port: u16) -> Endpoint {
    Endpoint::Tcp {
        host: host.into(),
        port,
    }
}

fn field_of(e: Error) -> String {
    match e {
        Error::Config { field, .. } => field,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn empty_is_the_local_default() {
    let c = RedisConfig::from_str("").unwrap();
    assert_eq!(c, RedisConfig::default());
    assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
    assert_eq!(c.prefix, "session:");
}

#[test]
fn positional_form() {
    let c = RedisConfig::from_str("127.0.0.1:6380,100,s3cret").unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6380)));
    assert_eq!(c.pool_size, Some(100));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret"));
    let c = RedisConfig::from_str("redis.example:7000").unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("redis.example", 7000)));
    assert_eq!(c.password, None);
    let c = RedisConfig::from_str(":6379").unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
    assert_eq!(
        field_of(RedisConfig::from_str("a:1,x,pw").unwrap_err()),
        "pool_size"
    );
    assert!(RedisConfig::from_str("a:1,1,pw,extra").is_err());
}

#[test]
fn macaron_key_value_form() {
    let c = RedisConfig::from_str(
        "network=tcp,addr=:6379,password=macaron,db=2,pool_size=100,idle_timeout=180,prefix=app:",
    )
    .unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("macaron"));
    assert_eq!(c.db, 2);
    assert_eq!(c.pool_size, Some(100));
    assert_eq!(c.idle_timeout, Some(Duration::from_secs(180)));
    assert_eq!(c.prefix, "app:");
}

#[test]
fn unix_socket() {
    let c = RedisConfig::from_str("network=unix,addr=/run/redis.sock").unwrap();
    assert_eq!(
        c.topology,
        Topology::Single(Endpoint::Unix("/run/redis.sock".into()))
    );
    let c = RedisConfig::from_str("redis+unix:///run/redis.sock?prefix=x:").unwrap();
    assert_eq!(
        c.topology,
        Topology::Single(Endpoint::Unix("/run/redis.sock".into()))
    );
    assert_eq!(c.prefix, "x:");
    assert_eq!(
        field_of(RedisConfig::from_str("network=udp").unwrap_err()),
        "network"
    );
}

#[test]
fn sentinel_form() {
    let c = RedisConfig::from_str(
        "ha_mode=sentinel,master_name=mymaster,sentinel_Addrs=10.0.0.1:26379|10.0.0.2:26379,\
         password=pw,db=1,dial_timeout=2,read_timeout=500ms",
    )
    .unwrap();
    assert_eq!(
        c.topology,
        Topology::Sentinel {
            master_name: "mymaster".into(),
            sentinels: vec![tcp("10.0.0.1", 26379), tcp("10.0.0.2", 26379)],
            sentinel_password: None,
        }
    );
    assert_eq!(c.db, 1);
    assert_eq!(c.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.response_timeout, Duration::from_millis(500));
    assert_eq!(
        field_of(RedisConfig::from_str("ha_mode=sentinel,sentinel_addrs=a:1").unwrap_err()),
        "master_name"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("ha_mode=sentinel,master_name=m").unwrap_err()),
        "sentinel_addrs"
    );
}

#[test]
fn cluster_forms() {
    let want = Topology::Cluster(vec![
        tcp("127.0.0.1", 7100),
        tcp("127.0.0.1", 7101),
        tcp("127.0.0.1", 7102),
    ]);
    let c =
        RedisConfig::from_str("cluster=true,addrs=127.0.0.1:7100|127.0.0.1:7101|127.0.0.1:7102")
            .unwrap();
    assert_eq!(c.topology, want);
    let c = RedisConfig::from_str(
        "ha_mode=cluster,addrs=127.0.0.1:7100|127.0.0.1:7101|127.0.0.1:7102,prefix=s:",
    )
    .unwrap();
    assert_eq!(c.topology, want);
    let c = RedisConfig::from_str(
        "redis://127.0.0.1:7100?cluster=true&addrs=127.0.0.1:7101|127.0.0.1:7102",
    )
    .unwrap();
    assert_eq!(c.topology, want);
    assert_eq!(
        field_of(RedisConfig::from_str("cluster=true,addrs=a:1,db=3").unwrap_err()),
        "db"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("cluster=maybe").unwrap_err()),
        "cluster"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("ha_mode=ring").unwrap_err()),
        "ha_mode"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("addrs=a:1|b:2").unwrap_err()),
        "addrs"
    );
}

#[test]
fn url_form() {
    let c =
        RedisConfig::from_str("redis://app:p%40ss@cache.local:6390/4?prefix=web:&read_timeout=2")
            .unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("cache.local", 6390)));
    assert_eq!(c.username.as_deref(), Some("app"));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("p@ss"));
    assert_eq!(c.db, 4);
    assert_eq!(c.prefix, "web:");
    assert_eq!(c.response_timeout, Duration::from_secs(2));
    let c = RedisConfig::from_str("redis://:pw@[::1]").unwrap();
    assert_eq!(c.topology, Topology::Single(tcp("::1", 6379)));
    assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw"));
    assert_eq!(
        field_of(RedisConfig::from_str("redis://h/x").unwrap_err()),
        "db"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("redis://h?colour=red").unwrap_err()),
        "colour"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("redis://h?password=x").unwrap_err()),
        "password"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("memcache://h").unwrap_err()),
        "url"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("redis://h/#insecure").unwrap_err()),
        "url"
    );
}

#[test]
fn tls_is_a_clear_error() {
    let e = RedisConfig::from_str("rediss://cache.local:6380").unwrap_err();
    assert!(e.to_string().contains("TLS"), "{e}");
    let e = RedisConfig::from_str("addr=:6379,tls=true").unwrap_err();
    assert_eq!(field_of(e), "tls");
    assert!(RedisConfig::from_str("addr=:6379,tls=false").is_ok());
}

#[test]
fn unknown_key_is_named() {
    let e = RedisConfig::from_str("addr=:6379,colour=blue").unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    assert_eq!(field_of(e), "colour");
    assert_eq!(
        field_of(RedisConfig::from_str("addr=:6379,justaword").unwrap_err()),
        "justaword"
    );
}

#[test]
fn bad_numbers() {
    assert_eq!(field_of(RedisConfig::from_str("db=x").unwrap_err()), "db");
    assert_eq!(field_of(RedisConfig::from_str("db=-1").unwrap_err()), "db");
    assert_eq!(
        field_of(RedisConfig::from_str("pool_size=0").unwrap_err()),
        "pool_size"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("pool_size=-5").unwrap_err()),
        "pool_size"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("idle_timeout=soon").unwrap_err()),
        "idle_timeout"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("dial_timeout=99999999999999999999").unwrap_err()),
        "dial_timeout"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("addr=h:99999").unwrap_err()),
        "addr"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("addr=h:0").unwrap_err()),
        "addr"
    );
    assert_eq!(
        field_of(RedisConfig::from_str("addr=::1:6379").unwrap_err()),
        "addr"
    );
}

#[test]
fn read_and_write_timeouts_take_the_longer() {
    let c = RedisConfig::from_str("read_timeout=3,write_timeout=1").unwrap();
    assert_eq!(c.response_timeout, Duration::from_secs(3));
    let c = RedisConfig::from_str("write_timeout=1m,read_timeout=2s").unwrap();
    assert_eq!(c.response_timeout, Duration::from_secs(60));
    let c = RedisConfig::from_str("write_timeout=250ms").unwrap();
    assert_eq!(c.response_timeout, Duration::from_millis(250));
}

#[test]
fn prefix_rules() {
    assert_eq!(RedisConfig::from_str("prefix=").unwrap().prefix, "");
    assert_eq!(
        field_of(RedisConfig::from_str("prefix=a{b}").unwrap_err()),
        "prefix"
    );
}

#[test]
fn debug_hides_passwords() {
    let c = RedisConfig::from_str(
        "ha_mode=sentinel,master_name=m,sentinel_addrs=a:1,password=hunter2,sentinel_password=swordfish",
    )
    .unwrap();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("swordfish"),
        "{shown}"
    );
}

#[test]
fn near_cache_is_off_by_default_and_single_server_only() {
    assert_eq!(RedisConfig::from_str("addr=:6379").unwrap().near_cache, 0);
    assert_eq!(
        RedisConfig::from_str("addr=:6379,near_cache=1000")
            .unwrap()
            .near_cache,
        1000
    );
    assert_eq!(
        RedisConfig::from_str("redis://127.0.0.1/?near_cache=5")
            .unwrap()
            .near_cache,
        5
    );
    for bad in [
        "addr=:6379,near_cache=-1",
        "addr=:6379,near_cache=lots",
        "cluster=true,addrs=a:1|b:2|c:3,near_cache=10",
        "ha_mode=sentinel,master_name=m,sentinel_addrs=a:1,near_cache=10",
    ] {
        assert_eq!(
            field_of(RedisConfig::from_str(bad).unwrap_err()),
            "near_cache",
            "{bad}"
        );
    }
}
