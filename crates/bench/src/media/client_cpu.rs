//! CPU and memory of the client: a two-party meet of release `meetdesk-cli` processes (bob
//! and Mina, each playing a tone and recording), measured from /proc/<pid>/stat (utime +
//! stime) over `secs`, starting 2 s after both connected. Each process sends one stream and
//! receives one. Twice: with the WAV default (no audio processing) and with `--processing on`
//! (echo cancellation, noise suppression, gain control: what a real microphone gets).

use std::time::Duration;

use super::cli;
use super::procfs::{rss_mib, CpuMeter};
use super::{tone_wav, Env};

pub struct Row {
    processing: bool,
    secs: f64,
    agent_cpu: f64,
    customer_cpu: f64,
    agent_rss: f64,
    customer_rss: f64,
    load: String,
}

pub struct ClientCpu {
    rows: Vec<Row>,
}

pub async fn run(env: &Env, secs: f64) -> anyhow::Result<ClientCpu> {
    let mut rows = Vec::new();
    for processing in [false, true] {
        rows.push(one(env, secs, processing).await?);
    }
    Ok(ClientCpu { rows })
}

async fn one(env: &Env, secs: f64, processing: bool) -> anyhow::Result<Row> {
    let agent_tone = tone_wav(&env.dir, 440.0)?;
    let customer_tone = tone_wav(&env.dir, 660.0)?;
    let on_off = if processing { "on" } else { "off" };
    let load_before = crate::report::loadavg_1min();
    let mut agent =
        cli::agent(env, &["--processing", on_off], &agent_tone, &env.dir.join("cpu_agent.wav")).await?;
    let hangup_after = format!("{}ms", ((secs + 3.0) * 1000.0) as u64);
    let args = ["--processing", on_off, "--hangup-after", &hangup_after];
    let mut customer =
        cli::customer(env, "customer", &args, &customer_tone, &env.dir.join("cpu_customer.wav"))?;
    agent.event("first_audio").await?;
    customer.event("first_audio").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (a, c) = (CpuMeter::start(agent.pid), CpuMeter::start(customer.pid));
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let row = Row {
        processing,
        secs,
        agent_cpu: a.percent(),
        customer_cpu: c.percent(),
        agent_rss: rss_mib(agent.pid).unwrap_or(f64::NAN),
        customer_rss: rss_mib(customer.pid).unwrap_or(f64::NAN),
        load: format!("{load_before} → {}", crate::report::loadavg_1min()),
    };
    customer.exit().await?;
    agent.exit().await?;
    eprintln!(
        "client cpu (processing {on_off}): agent {:.1} %, customer {:.1} %",
        row.agent_cpu, row.customer_cpu
    );
    Ok(row)
}

impl ClientCpu {
    pub fn markdown(&self, load: &str) -> String {
        let mut s = format!(
            "## Client CPU (one two-party meet: each client sends 1 stream and receives 1; load average before: {load})\n\n\
             | audio processing | seconds | agent CPU % of one core | customer CPU % | agent RSS MiB | customer RSS MiB | load avg (1 min) before → after |\n\
             |---|---:|---:|---:|---:|---:|---|\n"
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} |\n",
                if r.processing { "on (AEC3 + NS + AGC2)" } else { "off (WAV default)" },
                r.secs,
                r.agent_cpu,
                r.customer_cpu,
                r.agent_rss,
                r.customer_rss,
                r.load
            ));
        }
        s
    }
}
