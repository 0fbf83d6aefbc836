//! The command line and the run lengths it selects.

use anyhow::{Context, Result, bail};

use super::SECTIONS;

/// What `cargo xtask bench` was asked to do.
pub(super) struct Options {
    pub(super) plan: Plan,
    /// The sections to run, a subset of [`SECTIONS`].
    pub(super) only: Vec<String>,
}

impl Options {
    /// Parses the arguments after `bench`.
    pub(super) fn parse(rest: &[String]) -> Result<Self> {
        let mut quick = false;
        let mut only: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
        let mut args = rest.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--only" => {
                    let list = args.next().context("--only needs a comma-separated list")?;
                    only = list.split(',').map(str::to_owned).collect();
                    if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                        bail!("unknown section {bad:?}; sections: {}", SECTIONS.join(", "));
                    }
                }
                other => bail!("unknown bench option {other:?}\n\n{}", super::HELP),
            }
        }
        Ok(Options {
            plan: Plan::new(quick),
            only,
        })
    }
}

/// Run lengths: the full run and `--quick`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) quick: bool,
    /// Repetitions of every HTTP measurement (the figure is their median).
    pub(super) runs: usize,
    /// Seconds per HTTP measurement.
    pub(super) secs: u64,
    /// Sessions in the scale section and processes per contender there.
    pub(super) scale_sessions: usize,
    pub(super) scale_processes: usize,
    pub(super) scale_rounds: usize,
    /// Criterion measurement time per function, in seconds.
    pub(super) criterion_secs: u64,
    /// Seconds of the extra run that counts Redis commands / SQL round trips.
    pub(super) count_secs: u64,
    /// Requests counted under callgrind per contender and handler (the figure is per
    /// request, so fewer only shortens the run).
    pub(super) callgrind_requests: usize,
    /// Server processes counted per contender and handler (the figure is their median).
    pub(super) callgrind_processes: usize,
}

impl Plan {
    pub(super) fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                runs: 3,
                secs: 2,
                scale_sessions: 1_000_000,
                scale_processes: 1,
                scale_rounds: 3,
                criterion_secs: 1,
                count_secs: 1,
                callgrind_requests: 1_000,
                callgrind_processes: 1,
            }
        } else {
            Plan {
                quick,
                runs: 5,
                secs: 3,
                scale_sessions: 1_000_000,
                scale_processes: 3,
                scale_rounds: 3,
                criterion_secs: 2,
                count_secs: 2,
                callgrind_requests: 2_000,
                callgrind_processes: 5,
            }
        }
    }
}
