//! Makes sure the servers the tests talk to are listening.
//!
//! For each service: use it if something already listens on its port; otherwise start the
//! installed binary; otherwise (as root on Debian) install it with apt and start it;
//! otherwise fail with a message naming what to install.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

struct Service {
    name: &'static str,
    port: u16,
    /// Debian package providing the binary.
    package: &'static str,
    /// The binary that must exist to start it.
    binary: &'static str,
    /// Shell command that starts it in the background.
    start: &'static str,
}

const SERVICES: &[Service] = &[
    Service {
        name: "Redis",
        port: 6379,
        package: "redis-server",
        binary: "redis-server",
        start: "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
    },
    Service {
        name: "memcached",
        port: 11211,
        package: "memcached",
        binary: "memcached",
        start: "memcached -d -u nobody -l 127.0.0.1 -p 11211 -m 256 -I 2m",
    },
    Service {
        name: "PostgreSQL",
        port: 5432,
        package: "postgresql",
        binary: "pg_ctlcluster",
        start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start",
    },
    Service {
        name: "MariaDB",
        port: 3306,
        package: "mariadb-server",
        binary: "mariadbd",
        start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    },
];

/// Binaries the tests start themselves (private servers for cluster and outage tests).
const BINARIES: &[(&str, &str)] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-tools"),
    ("memcached", "memcached"),
];

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn installed(binary: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {binary} || test -x /usr/sbin/{binary}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sh(cmd: &str) -> bool {
    eprintln!("xtask: $ {cmd}");
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_install(packages: &[&str]) -> Result<()> {
    if !is_root() || !installed("apt-get") {
        bail!(
            "missing {}: install it (Debian: apt-get install -y {})",
            packages.join(", "),
            packages.join(" ")
        );
    }
    let list = packages.join(" ");
    if !sh(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q {list} >/dev/null 2>&1 || \
         (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q {list} >/dev/null)"
    )) {
        bail!("apt-get install {list} failed");
    }
    Ok(())
}

fn wait_for(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if listening(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Ensures every service listens and every binary the tests spawn is installed.
pub fn ensure_all() -> Result<()> {
    let missing: Vec<&str> = BINARIES
        .iter()
        .filter(|(bin, _)| !installed(bin))
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    for service in SERVICES {
        if listening(service.port) {
            continue;
        }
        if !installed(service.binary) {
            apt_install(&[service.package])?;
        }
        if !sh(service.start) || !wait_for(service.port, Duration::from_secs(30)) {
            bail!(
                "{} is not listening on 127.0.0.1:{} and could not be started (`{}`)",
                service.name,
                service.port,
                service.start
            );
        }
        eprintln!(
            "xtask: started {} on 127.0.0.1:{}",
            service.name, service.port
        );
    }
    Ok(())
}
