//! Percentiles, the machine, and the markdown tables.

use std::fmt::Write;
use std::time::Duration;

pub struct Machine {
    pub cores: usize,
    cpu: String,
    memory: String,
    kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or_else(|| "unknown".to_owned(), |kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0));
        let kernel =
            std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned();
        Machine { cores, cpu, memory, kernel }
    }

    pub fn markdown(&self) -> String {
        format!(
            "- machine: {} cores (nproc), {}, {} RAM, Linux {}\n- load average (1/5/15 min) at the start: {}",
            self.cores,
            self.cpu,
            self.memory,
            self.kernel,
            loadavg()
        )
    }
}

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(|| "?".to_owned(), |kb| format!("{}", kb / 1024))
}

/// The 1-minute load average.
pub fn loadavg_1min() -> String {
    loadavg().split_whitespace().next().unwrap_or("?").to_owned()
}

/// The first three fields of /proc/loadavg.
pub fn loadavg() -> String {
    let raw = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    raw.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Stats {
    /// Nearest-rank percentiles.
    pub fn of(samples: &mut [Duration]) -> Stats {
        if samples.is_empty() {
            return Stats::default();
        }
        samples.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Stats { p50: at(50.0), p90: at(90.0), p99: at(99.0), max: samples[samples.len() - 1] }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

pub struct RingRow {
    pub sockets: usize,
    pub rounds: usize,
    pub ring: Stats,
    pub http: Stats,
    pub drain: Stats,
    pub frames_per_round: u64,
    pub connect_per_s: f64,
    pub load: String,
    /// Resident memory after the rings: server / benchmark clients, MiB.
    pub rss: String,
}

impl RingRow {
    pub fn summary(&self) -> String {
        format!(
            "ring @ {} sockets: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms (POST p50 {} ms; round incl. broadcast drain p50 {} ms)",
            self.sockets,
            ms(self.ring.p50),
            ms(self.ring.p90),
            ms(self.ring.p99),
            ms(self.ring.max),
            ms(self.http.p50),
            ms(self.drain.p50)
        )
    }
}

pub fn ring_table(devices: usize, rows: &[RingRow]) -> String {
    let mut s = format!(
        "### Ring fan-out: customer press → all {devices} assignee devices hold the ring\n\n\
         | idle sockets | rounds | ring p50 ms | p90 ms | p99 ms | max ms | POST /api/meets p50 ms | p99 ms \
         | round incl. broadcast drain p50 ms | p99 ms | broadcast frames per idle socket per round \
         | connect sockets/s | RSS server / clients MiB | load avg (1 min) before → after |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} |",
            r.sockets,
            r.rounds,
            ms(r.ring.p50),
            ms(r.ring.p90),
            ms(r.ring.p99),
            ms(r.ring.max),
            ms(r.http.p50),
            ms(r.http.p99),
            ms(r.drain.p50),
            ms(r.drain.p99),
            r.frames_per_round,
            r.connect_per_s,
            r.rss,
            r.load
        );
    }
    s
}

pub struct SignInRow {
    pub concurrency: usize,
    pub seconds: f64,
    pub count: usize,
    pub per_s: f64,
    pub latency: Stats,
}

pub fn signin_table(r: &SignInRow) -> String {
    format!(
        "### Sign-in (argon2, `POST /api/auth/sign-in`)\n\n\
         | concurrency | seconds | sign-ins | sign-ins/s | p50 ms | p90 ms | p99 ms | max ms |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {} | {:.1} | {} | {:.1} | {} | {} | {} | {} |\n",
        r.concurrency,
        r.seconds,
        r.count,
        r.per_s,
        ms(r.latency.p50),
        ms(r.latency.p90),
        ms(r.latency.p99),
        ms(r.latency.max)
    )
}

pub struct ThroughputRow {
    pub listeners: usize,
    pub posters: usize,
    pub window: usize,
    pub messages: usize,
    pub posted_per_s: f64,
    pub delivered_msgs_per_s: f64,
    pub events_per_s: f64,
    pub latency: Stats,
    pub lagged: u64,
}

impl ThroughputRow {
    pub fn summary(&self) -> String {
        format!(
            "events @ {} listeners: {} messages, {:.0} msg/s delivered everywhere, {:.0} events/s, fan-out p50 {} ms p99 {} ms, lagged {}",
            self.listeners,
            self.messages,
            self.delivered_msgs_per_s,
            self.events_per_s,
            ms(self.latency.p50),
            ms(self.latency.p99),
            self.lagged
        )
    }
}

pub fn throughput_table(rows: &[ThroughputRow]) -> String {
    let mut s = String::from(
        "### Event throughput: bob posts into `chat_mina`, every idle socket listens\n\n\
         | listening sockets | posters | window | messages | posts/s | messages/s delivered to all | \
         events/s delivered | post → last listener p50 ms | p90 ms | p99 ms | max ms | sockets dropped |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
            r.listeners,
            r.posters,
            r.window,
            r.messages,
            r.posted_per_s,
            r.delivered_msgs_per_s,
            r.events_per_s,
            ms(r.latency.p50),
            ms(r.latency.p90),
            ms(r.latency.p99),
            ms(r.latency.max),
            r.lagged
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Stats::of(&mut v);
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p90, Duration::from_millis(90));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(Stats::of(&mut []).p99, Duration::ZERO);
    }
}
