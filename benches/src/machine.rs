//! The machine a report was measured on: figures mean little without it.

use std::fmt;
use std::fs;
use std::thread;

/// Cores, CPU model and kernel, read from the OS.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Cores this process may use (`nproc`).
    pub cores: usize,
    /// The first `model name` line of `/proc/cpuinfo`, or "unknown".
    pub cpu: String,
    /// `/proc/sys/kernel/osrelease`, or "unknown".
    pub kernel: String,
}

impl Machine {
    /// Reads the machine this process runs on.
    pub fn current() -> Self {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cores: thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            kernel,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cores (nproc), CPU: {}, Linux {}",
            self.cores, self.cpu, self.kernel
        )
    }
}
