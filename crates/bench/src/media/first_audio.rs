//! Accept → first decoded audio, both sides, over `--meets` meets of real `meetdesk-cli`
//! processes.
//!
//! Bob (`agent --answer auto --exit-after-meet=false`) runs for all meets, as an agent's app
//! stays open; each meet is a fresh Mina (`customer --start-meet --hangup-after 1500ms`): she
//! presses Meet, bob's client accepts the ring, both connect and play a tone. Per meet:
//! each side's `connected.since_accepted_ms` and `first_audio.since_accepted_ms` (from the
//! moment that client knew the meet was accepted: bob when his accept returned, Mina when the
//! `meet_updated` event said so), and on one clock (both on this machine) from bob's
//! `accepted` line to each side's `first_audio` line.

use anyhow::Context;

use super::cli::{self, ms};
use super::{tone_wav, Env, Pct};

pub struct FirstAudio {
    meets: usize,
    agent_connected: Pct,
    customer_connected: Pct,
    agent_audio: Pct,
    customer_audio: Pct,
    /// Bob's `accepted` → each side's `first_audio`, wall clock.
    agent_audio_clock: Pct,
    customer_audio_clock: Pct,
    /// Mina's press (`started`) → bob's `accepted`.
    press_to_accept: Pct,
}

pub async fn run(env: &Env, meets: usize) -> anyhow::Result<FirstAudio> {
    let agent_tone = tone_wav(&env.dir, 440.0)?;
    let customer_tone = tone_wav(&env.dir, 660.0)?;
    let agent_rec = env.dir.join("first_audio_agent.wav");
    let mut agent = cli::agent(env, &["--exit-after-meet=false"], &agent_tone, &agent_rec).await?;
    let customer_rec = env.dir.join("first_audio_customer.wav");
    let mut v = [(); 7].map(|()| Vec::new());
    for i in 0..meets {
        let args = ["--hangup-after", "1500ms"];
        let mut customer =
            cli::customer(env, &format!("customer {i}"), &args, &customer_tone, &customer_rec)?;
        let started = customer.event("started").await?;
        let meet = started["meet_id"].as_str().context("started without a meet id")?.to_owned();
        let c_conn = customer.meet_event("connected", &meet).await?;
        let c_audio = customer.meet_event("first_audio", &meet).await?;
        let a_acc = agent.meet_event("accepted", &meet).await?;
        let a_conn = agent.meet_event("connected", &meet).await?;
        let a_audio = agent.meet_event("first_audio", &meet).await?;
        customer.exit().await?;
        agent.meet_event("ended", &meet).await?;
        let accepted_at = ms(&a_acc, "at_ms")?;
        v[0].push(ms(&a_conn, "since_accepted_ms")?);
        v[1].push(ms(&c_conn, "since_accepted_ms")?);
        v[2].push(ms(&a_audio, "since_accepted_ms")?);
        v[3].push(ms(&c_audio, "since_accepted_ms")?);
        v[4].push(ms(&a_audio, "at_ms")? - accepted_at);
        v[5].push(ms(&c_audio, "at_ms")? - accepted_at);
        v[6].push(accepted_at - ms(&started, "at_ms")?);
        eprintln!(
            "first-audio meet {}/{meets}: agent {} ms, customer {} ms after accept",
            i + 1,
            v[2][i],
            v[3][i]
        );
    }
    agent.kill().await?;
    Ok(FirstAudio {
        meets,
        agent_connected: Pct::of(&v[0]),
        customer_connected: Pct::of(&v[1]),
        agent_audio: Pct::of(&v[2]),
        customer_audio: Pct::of(&v[3]),
        agent_audio_clock: Pct::of(&v[4]),
        customer_audio_clock: Pct::of(&v[5]),
        press_to_accept: Pct::of(&v[6]),
    })
}

impl FirstAudio {
    pub fn markdown(&self, load: &str) -> String {
        format!(
            "## Accept → first audio ({} meets, load average before: {load})\n\n\
             | side | measured from | to | p50 ms | p95 ms | max ms |\n|---|---|---|---:|---:|---:|\n\
             | agent (bob) | its accept returned | `connected` | {} |\n\
             | customer (Mina) | `meet_updated` said accepted | `connected` | {} |\n\
             | agent (bob) | its accept returned | `first_audio` | {} |\n\
             | customer (Mina) | `meet_updated` said accepted | `first_audio` | {} |\n\
             | agent (bob) | bob's `accepted` line (one clock) | `first_audio` | {} |\n\
             | customer (Mina) | bob's `accepted` line (one clock) | `first_audio` | {} |\n\
             | – | Mina's `started` (pressed Meet) | bob's `accepted` | {} |\n",
            self.meets,
            self.agent_connected.cells(),
            self.customer_connected.cells(),
            self.agent_audio.cells(),
            self.customer_audio.cells(),
            self.agent_audio_clock.cells(),
            self.customer_audio_clock.cells(),
            self.press_to_accept.cells(),
        )
    }
}
