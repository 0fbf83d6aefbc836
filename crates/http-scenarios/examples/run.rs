//! Runs the scenario suite against a demo app that is already listening.
//!
//! ```text
//! cargo run -p http-scenarios --example run -- http://127.0.0.1:8080 \
//!     [--cookie-name NAME] [--cookie-path PATH] [--domain DOMAIN] [--insecure]
//! ```
//!
//! Prints the table and exits with status 1 when a scenario failed. There is no outage switch
//! from outside the process, so the outage scenario is reported as not run.

use std::process::ExitCode;

use http_scenarios::Target;

const USAGE: &str = "usage: run BASE_URL [--cookie-name NAME] [--cookie-path PATH] \
                     [--domain DOMAIN] [--insecure]";

fn target() -> Result<Target, String> {
    let mut args = std::env::args().skip(1);
    let mut target = Target::new(args.next().ok_or(USAGE)?);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--cookie-name" => target.cookie_name = value()?,
            "--cookie-path" => target.cookie_path = value()?,
            "--domain" => target.domain = Some(value()?),
            "--insecure" => target.secure = false,
            _ => return Err(format!("unexpected argument {arg:?}\n{USAGE}")),
        }
    }
    Ok(target)
}

#[tokio::main]
async fn main() -> ExitCode {
    let target = match target() {
        Ok(target) => target,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let report = http_scenarios::run(&target).await;
    println!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
