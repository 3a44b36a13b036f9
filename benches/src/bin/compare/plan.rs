//! What a `compare` run does: which scenarios, and how long each measures.

/// Every scenario, in the order they run.
pub const SCENARIOS: [&str; 11] = [
    "hit", "str", "miss", "cold", "memory", "reclaim", "stall", "growth", "ratio", "redis", "fleet",
];

/// The run's settings, from the command line.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `--quick`: fewer rounds, shorter loops, smaller maps. For a look, not a report.
    pub quick: bool,
    /// Rounds per timed figure; the median is reported.
    pub rounds: usize,
    /// Scenarios named on the command line; all when empty.
    only: Vec<String>,
}

/// Rounds per figure in a full run: an odd count, so the median is one round's figure.
const FULL_ROUNDS: usize = 7;
const QUICK_ROUNDS: usize = 3;

impl Plan {
    /// Reads `--quick` and scenario names; `Err` with the usage on anything else.
    pub fn from_args(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut quick = false;
        let mut only = Vec::new();
        for arg in args {
            match arg.as_str() {
                "--quick" => quick = true,
                name if SCENARIOS.contains(&name) => only.push(arg),
                _ => return Err(usage()),
            }
        }
        Ok(Plan {
            quick,
            rounds: if quick { QUICK_ROUNDS } else { FULL_ROUNDS },
            only,
        })
    }

    /// Whether `scenario` runs.
    pub fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|name| name == scenario)
    }

    /// `full` in a full run, a quarter of it with `--quick`.
    pub fn scaled(&self, full: u64) -> u64 {
        if self.quick {
            full / 4
        } else {
            full
        }
    }
}

/// The command line help.
pub fn usage() -> String {
    format!(
        "usage: cargo run --release -p cache-bench --bin compare -- [--quick] [SCENARIO...]\n\
         scenarios: {}",
        SCENARIOS.join(" ")
    )
}
