//! Makes sure the servers the tests talk to are listening and the programs the tasks run are
//! installed.
//!
//! For each service: use it if something already listens on its port; otherwise start the
//! installed binary; otherwise (as root on Debian) install it with apt and start it;
//! otherwise fail with a message naming what to install. Programs (the private servers some
//! tests start, the bench's load generator and profiler) are installed the same way.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// A server the tests reach on a fixed loopback port.
pub struct Service {
    /// What it is called in messages.
    pub name: &'static str,
    /// The loopback port it listens on.
    pub port: u16,
    /// Debian package providing the binary.
    pub package: &'static str,
    /// The binary that must exist to start it.
    pub binary: &'static str,
    /// Shell command that starts it in the background.
    pub start: &'static str,
}

/// A program a task runs, and the Debian package that installs it.
pub type Tool = (&'static str, &'static str);

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

/// The programs that start a private Redis or Redis Cluster and talk to it.
pub const REDIS_TOOLS: &[Tool] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-tools"),
];

/// Programs the tests start themselves (private servers for cluster and outage tests),
/// besides [`REDIS_TOOLS`].
const TEST_TOOLS: &[Tool] = &[("memcached", "memcached")];

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

/// The packages that install the programs of `tools` that are missing, each named once.
fn missing_packages(tools: &[Tool]) -> Vec<&'static str> {
    let mut packages: Vec<&str> = Vec::new();
    for (binary, package) in tools {
        if !installed(binary) && !packages.contains(package) {
            packages.push(package);
        }
    }
    packages
}

/// Installs the programs of `tools` that are missing, with one apt call.
pub fn ensure_tools(tools: &[Tool]) -> Result<()> {
    let missing = missing_packages(tools);
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// Makes `service` listen: started if installed, installed first if not.
pub fn ensure_service(service: &Service) -> Result<()> {
    if listening(service.port) {
        return Ok(());
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
    Ok(())
}

/// Makes the services on these loopback ports listen.
pub fn ensure_ports(ports: &[u16]) -> Result<()> {
    for port in ports {
        let Some(service) = SERVICES.iter().find(|s| s.port == *port) else {
            bail!("no service known on 127.0.0.1:{port}");
        };
        ensure_service(service)?;
    }
    Ok(())
}

/// Ensures every service listens and every program the tests spawn is installed.
pub fn ensure_all() -> Result<()> {
    ensure_tools(&[REDIS_TOOLS, TEST_TOOLS].concat())?;
    SERVICES.iter().try_for_each(ensure_service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_programs_need_no_package() {
        assert!(missing_packages(&[("sh", "dash")]).is_empty());
    }

    #[test]
    fn a_missing_program_is_installed_from_its_package_once() {
        let missing = missing_packages(&[
            ("sh", "dash"),
            ("xtask-no-such-program", "xtask-package"),
            ("xtask-no-such-helper", "xtask-package"),
        ]);
        assert_eq!(missing, ["xtask-package"]);
    }

    #[test]
    fn every_test_port_has_a_service() {
        for entry in demo_support::providers() {
            if let demo_support::TestStore::Server {
                server: demo_support::TestServer::Local { port, .. },
                ..
            } = entry.test_store
            {
                assert!(
                    SERVICES.iter().any(|s| s.port == port),
                    "{} tests on port {port}, which no service provides",
                    entry.name
                );
            }
        }
    }

    #[test]
    fn a_service_that_is_not_listening_is_started() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("memcached.pid");
        // In the background of the shell rather than `-d`, so the test knows the PID to stop.
        let start = format!(
            "memcached -u nobody -l 127.0.0.1 -p {port} >/dev/null 2>&1 & echo $! > {}",
            pid_file.display()
        );
        let service = Service {
            name: "memcached (test)",
            port,
            package: "memcached",
            binary: "memcached",
            start: start.leak(),
        };
        assert!(!listening(port));
        ensure_service(&service).unwrap();
        assert!(listening(port));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(sh(&format!("kill {}", pid.trim())));
    }
}
