//! CPU time and memory of a process, from /proc.

use std::time::Instant;

/// Clock ticks per second of /proc/<pid>/stat's times (`getconf CLK_TCK`: 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// utime + stime of a process, in seconds (`None` when it is gone).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15 (1-based, man proc).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_S)
}

/// Resident memory in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// CPU use of one process over an interval, as % of one core.
pub struct CpuMeter {
    pid: u32,
    cpu: f64,
    at: Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter { pid, cpu: cpu_seconds(pid).unwrap_or(0.0), at: Instant::now() }
    }

    /// % of one core since [`CpuMeter::start`].
    pub fn percent(&self) -> f64 {
        let used = cpu_seconds(self.pid).unwrap_or(self.cpu) - self.cpu;
        100.0 * used / self.at.elapsed().as_secs_f64().max(1e-3)
    }
}
