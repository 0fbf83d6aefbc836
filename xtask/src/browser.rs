//! `cargo xtask browser`: the demos' `/app` page set (`demo_support::pages`) driven in
//! headless Chromium, as a person would use it, for each of the three demos.
//!
//! Chromium and its WebDriver server come from Debian (`chromium`, `chromium-driver`),
//! installed with apt like the test services when missing; nothing is downloaded at run
//! time. Each demo example is built, started on a free port with the memory provider and
//! device metadata on, and used from two isolated browsers (one WebDriver session each, each
//! its own Chromium with a fresh `--user-data-dir`): what one browser does to the other's
//! session can only travel through the server, as between two real devices.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::services::{Tool, ensure_tools};

/// `cargo xtask browser --help`.
pub const HELP: &str = "\
usage: cargo xtask browser

Builds the axum, actix-web and poem demo examples and drives each one's /app pages in
headless Chromium through chromedriver (WebDriver): sign in and see the flash message once,
sign in as the same user from a second, isolated browser, see both devices, revoke the other
one and find it signed out, check that \"remember me\" gives a persistent cookie and a plain
sign-in a session cookie, sign out. Installs Debian's chromium and chromium-driver with apt
when they are missing (as root), and fails when they cannot be had. `cargo xtask test` runs
it after the conformance matrix.

options:
  -h, --help   this text";

/// The browser and its WebDriver server, from Debian.
const BROWSER_TOOLS: &[Tool] = &[
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
];

/// The demos: the package whose `demo` example is driven, and its name in messages.
const DEMOS: &[(&str, &str)] = &[
    ("adapter-axum", "axum"),
    ("adapter-actix", "actix-web"),
    ("adapter-poem", "poem"),
];

/// The longest one demo's whole run may take before it is called hung (a safety net so a
/// stuck browser fails the task instead of stalling CI; runs take a few seconds).
const DEMO_DEADLINE: Duration = Duration::from_secs(180);

/// How often [`submit`] looks whether the page changed, 20 ms apart, before it gives up.
const PAGE_CHANGE_POLLS: usize = 1500;

/// How long a started process gets to listen on its port.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The options every demo runs with: the memory provider, and device metadata on so the
/// devices table shows the browser's user agent.
const DEMO_CONFIG: &str = "[session]\nPROVIDER = memory\nDEVICE_METADATA = true\n";

/// `cargo xtask browser`.
pub fn main(args: &[String]) -> Result<()> {
    crate::no_arguments("browser", args)?;
    run()
}

/// Installs what is missing, builds the demos and drives each one; fails on the first demo
/// whose pages do not behave.
pub fn run() -> Result<()> {
    ensure_tools(BROWSER_TOOLS).context("the browser run needs Chromium and chromedriver")?;
    let work = tempfile::tempdir()?;
    let demos = DEMOS
        .iter()
        .map(|(package, name)| Ok((*name, build_demo(package, name, work.path())?)))
        .collect::<Result<Vec<_>>>()?;
    let config = work.path().join("session.ini");
    std::fs::write(&config, DEMO_CONFIG)?;

    let driver_port = free_port()?;
    let _driver = Running::start(
        "chromedriver",
        Command::new("chromedriver").arg(format!("--port={driver_port}")),
        driver_port,
        &work.path().join("chromedriver.log"),
    )?;
    let driver = format!("http://127.0.0.1:{driver_port}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (name, binary) in &demos {
        let started = Instant::now();
        let port = free_port()?;
        let log = work.path().join(format!("demo-{name}.log"));
        let _demo = Running::start(
            &format!("the {name} demo"),
            Command::new(binary)
                .arg("--config")
                .arg(&config)
                .env("SESSION_DEMO_ADDR", format!("127.0.0.1:{port}"))
                .env("RUST_LOG", "warn"),
            port,
            &log,
        )?;
        let profiles = work.path().join(format!("profiles-{name}"));
        let base = format!("http://127.0.0.1:{port}");
        let outcome = runtime.block_on(async {
            tokio::time::timeout(DEMO_DEADLINE, drive(&driver, &base, &profiles)).await
        });
        match outcome {
            Ok(Ok(())) => eprintln!(
                "xtask: browser: {name} demo passed ({:.1} s)",
                started.elapsed().as_secs_f64()
            ),
            Ok(Err(e)) => {
                bail!(
                    "browser: the {name} demo failed: {e:#}\n(demo log: {})",
                    show(&log)
                )
            }
            Err(_) => bail!(
                "browser: the {name} demo did not finish within {DEMO_DEADLINE:?}\n(demo log: {})",
                show(&log)
            ),
        }
    }
    Ok(())
}

/// Builds `package`'s `demo` example and copies it out of the target directory (the three
/// examples share a name, so each build would replace the last one's binary there).
fn build_demo(package: &str, name: &str, work: &Path) -> Result<PathBuf> {
    let args = [
        "build",
        "-p",
        package,
        "--example",
        "demo",
        "--message-format=json-render-diagnostics",
    ];
    eprintln!("xtask: cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(crate::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    ensure!(
        output.status.success(),
        "cargo build -p {package} --example demo failed ({})",
        output.status
    );
    let built = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "demo")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo build -p {package} named no demo executable"))?;
    let copy = work.join(format!("demo-{name}"));
    std::fs::copy(&built, &copy)
        .with_context(|| format!("copying the {name} demo from {}", built.display()))?;
    Ok(copy)
}

/// A process the run started, killed when dropped.
struct Running {
    child: Child,
    name: String,
}

impl Running {
    /// Starts `command` with its output in `log` and waits until it listens on `port`.
    fn start(name: &str, command: &mut Command, port: u16, log: &Path) -> Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let child = command
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut running = Running {
            child,
            name: name.to_owned(),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = running.child.try_wait()? {
                bail!("{name} exited ({status}) before listening: {}", show(log));
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "{name} does not listen on 127.0.0.1:{port} after {START_DEADLINE:?}: {}",
                    show(log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(running)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("xtask: cannot stop {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// The end of a log file, for an error message.
fn show(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("{}:\n{}", log.display(), tail.join("\n"))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// A new headless Chromium with its own profile directory under `profiles`, behind the
/// WebDriver server at `driver`.
async fn browser(driver: &str, profiles: &Path, name: &str) -> Result<Client> {
    let profile = profiles.join(name);
    std::fs::create_dir_all(&profile)?;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new",
                // The run is root in a container: Chromium's sandbox needs user namespaces.
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .with_context(|| format!("starting Chromium {name} through chromedriver"))
}

/// Both browsers through the whole story; they are closed (Chromium quits) whatever
/// happened.
async fn drive(driver: &str, base: &str, profiles: &Path) -> Result<()> {
    let laptop = browser(driver, profiles, "laptop").await?;
    let phone = match browser(driver, profiles, "phone").await {
        Ok(phone) => phone,
        Err(e) => {
            let _ = laptop.close().await;
            return Err(e);
        }
    };
    let result = story(&laptop, &phone, base).await;
    let closed = (laptop.close().await, phone.close().await);
    result?;
    closed.0?;
    closed.1?;
    Ok(())
}

/// What the run checks, as two devices of one user see it.
async fn story(laptop: &Client, phone: &Client, base: &str) -> Result<()> {
    let app = format!("{base}/app");
    let cookie_name = session_core::Options::default().cookie_name;

    // Sign in on the laptop: the flash shows once.
    laptop.goto(&app).await?;
    sign_in(laptop, "ada", false).await?;
    expect_flashes(laptop, &["Signed in as ada."]).await?;
    expect_text(laptop, "#user", "ada").await?;
    laptop.refresh().await?;
    expect_flashes(laptop, &[]).await?;
    expect_text(laptop, "#user", "ada").await?;
    let cookie = laptop.get_named_cookie(&cookie_name).await?;
    ensure!(
        cookie.expires().is_none(),
        "a plain sign-in should give a session cookie, got {cookie}"
    );

    // The same user on the phone, remembered: a persistent cookie.
    phone.goto(&app).await?;
    sign_in(phone, "ada", true).await?;
    expect_flashes(phone, &["Signed in as ada; this device will remember you."]).await?;
    let cookie = phone.get_named_cookie(&cookie_name).await?;
    let expires = cookie.expires_datetime().with_context(|| {
        format!("a remembered sign-in should give a persistent cookie, got {cookie}")
    })?;
    ensure!(
        SystemTime::from(expires) > SystemTime::now(),
        "the remembered cookie expires in the past: {cookie}"
    );

    // Both devices listed on the phone, its own marked, each with the browser's user agent.
    let rows = phone.find_all(Locator::Css("tr.device")).await?;
    ensure!(
        rows.len() == 2,
        "expected 2 devices, the page lists {}",
        rows.len()
    );
    let current = phone.find_all(Locator::Css("tr.device.current")).await?;
    ensure!(
        current.len() == 1,
        "expected 1 current device, got {}",
        current.len()
    );
    for agent in phone.find_all(Locator::Css("tr.device td.agent")).await? {
        let text = agent.text().await?;
        ensure!(
            text.contains("Chrome"),
            "device metadata is on: expected Chromium's user agent, got {text:?}"
        );
    }

    // Revoke the laptop from the phone; the laptop's next load is signed out.
    submit(phone, "tr.device:not(.current) button.revoke").await?;
    expect_flashes(phone, &["That device is signed out."]).await?;
    let rows = phone.find_all(Locator::Css("tr.device")).await?;
    ensure!(
        rows.len() == 1,
        "after the revoke the page lists {} devices",
        rows.len()
    );
    laptop.refresh().await?;
    laptop
        .find(Locator::Css("form#sign-in"))
        .await
        .context("the revoked laptop should see the sign-in form")?;

    // Sign out on the phone: the sign-in form, and no persistent cookie left.
    submit(phone, "#sign-out").await?;
    expect_flashes(phone, &["Signed out."]).await?;
    phone.find(Locator::Css("form#sign-in")).await?;
    let cookie = phone.get_named_cookie(&cookie_name).await?;
    ensure!(
        cookie.expires().is_none(),
        "after sign-out the cookie should be a session cookie again, got {cookie}"
    );
    Ok(())
}

/// Fills and sends the sign-in form of the page the browser is on.
async fn sign_in(browser: &Client, user: &str, remember: bool) -> Result<()> {
    browser
        .find(Locator::Css("#user-name"))
        .await
        .context("the page should show the sign-in form")?
        .send_keys(user)
        .await?;
    if remember {
        browser
            .find(Locator::Css("#remember"))
            .await?
            .click()
            .await?;
    }
    submit(browser, "#sign-in-button").await
}

/// Clicks the submit button at `selector` and waits until the browser has left the page
/// (POST, 303, GET of the next one): the old page's elements are stale then, and
/// chromedriver waits for the new page's load before the next command.
async fn submit(browser: &Client, selector: &str) -> Result<()> {
    let page = browser.find(Locator::Css("html")).await?;
    browser.find(Locator::Css(selector)).await?.click().await?;
    for _ in 0..PAGE_CHANGE_POLLS {
        match page.tag_name().await {
            Err(e) if left_the_page(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    bail!("clicking {selector} did not lead to another page")
}

/// Whether asking about an element of the old page failed because the browser has left it.
/// Chromium says so with a stale element reference once the new document is in place, and,
/// when asked while the old one is being torn down, with an "unknown error" from its
/// inspector that the node "does not belong to the document" (seen in CI).
fn left_the_page(error: &fantoccini::error::CmdError) -> bool {
    error.is_stale_element_reference()
        || error
            .to_string()
            .contains("does not belong to the document")
}

/// Fails unless the page shows exactly these flash messages.
async fn expect_flashes(browser: &Client, expected: &[&str]) -> Result<()> {
    let mut shown = Vec::new();
    for flash in browser.find_all(Locator::Css(".flash")).await? {
        shown.push(flash.text().await?);
    }
    ensure!(
        shown == expected,
        "{}: expected flash messages {expected:?}, the page shows {shown:?}",
        browser.current_url().await?
    );
    Ok(())
}

/// Fails unless the element at `selector` reads `expected`.
async fn expect_text(browser: &Client, selector: &str, expected: &str) -> Result<()> {
    let text = browser.find(Locator::Css(selector)).await?.text().await?;
    ensure!(
        text == expected,
        "{selector}: expected {expected:?}, got {text:?}"
    );
    Ok(())
}
