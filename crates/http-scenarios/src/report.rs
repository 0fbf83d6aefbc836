//! The result table of a run.

use std::fmt;

/// How one scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed; the message says which request and what was seen.
    Failed(String),
    /// The target answered that it cannot do this (for example 501 for "log out
    /// everywhere" on a provider without an owner index).
    Unsupported(String),
    /// The scenario needs something the target does not offer (the outage switch).
    NotRun(String),
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct ScenarioReport {
    /// The group (module) the scenario belongs to.
    pub group: &'static str,
    /// The scenario's name.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// The results of a whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The base URL that was tested.
    pub target: String,
    /// Every scenario, in run order.
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    /// Whether no scenario failed.
    pub fn passed(&self) -> bool {
        self.scenarios
            .iter()
            .all(|s| !matches!(s.outcome, Outcome::Failed(_)))
    }

    /// The scenarios that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioReport> {
        self.scenarios
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
    }

    /// A human-readable table: one line per scenario.
    pub fn table(&self) -> String {
        self.to_string()
    }

    /// Panics with the table when a scenario failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "HTTP scenarios failed:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "http scenarios against {}", self.target)?;
        for s in &self.scenarios {
            let (mark, detail) = match &s.outcome {
                Outcome::Passed => ("pass", String::new()),
                Outcome::Failed(why) => ("FAIL", format!(": {why}")),
                Outcome::Unsupported(why) => ("unsupported", format!(" ({why})")),
                Outcome::NotRun(why) => ("not run", format!(" ({why})")),
            };
            let label = format!("{}/{}", s.group, s.name);
            writeln!(f, "  {label:<60} {mark}{detail}")?;
        }
        Ok(())
    }
}
