//! `meetdesk-cli`: a headless meetdesk client, as an agent (signed in with e-mail and
//! password) or as a customer (from a resume link or a follow-up meet link). It rings and
//! answers like the apps do, carries the meet's audio through the server's SFU (WebRTC, Opus),
//! from WAV files or the default devices, and prints one JSON line per event on stdout.
//!
//! ```text
//! meetdesk-cli agent --server URL --email E --password P [--answer auto|never]
//!     [--call-chat ID | --call-room ID | --call-customer ID | --join MEET_ID] [--media audio]
//!     [--invite AGENT_ID [--invite-after 1s]] [COMMON]
//! meetdesk-cli customer --server URL --link URL [--start-meet [--chat ID]] [--answer auto|never] [COMMON]
//! meetdesk-cli tone FILE.wav --hz 440 [--hz 660] [--skip 1s]   (measures test tones; JSON)
//! COMMON: [--play FILE.wav] [--record FILE.wav] [--hangup-after 4s] [--mute-after 1s]
//!         [--exit-after-meet[=true|false]] [--media-ip IP] [--mic NAME] [--speaker NAME]
//!         [--processing on|off] [--ice-transport all|relay]
//! ```

//!
//! The client itself (HTTP API, event socket, devices, a meet's media) is `meetdesk-client`;
//! this binary turns flags into its calls and what happens into JSON lines.

mod app;
mod duration;
mod out;
mod tone;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "meetdesk-cli",
    version,
    about = "Headless meetdesk client: rings, answers and carries a meet's audio"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// An agent device: signs in with e-mail and password.
    Agent(AgentArgs),
    /// A customer's widget: from a resume link (`…/demo?resume=…`) or a meet link (`…/m/{meet}?t=…`).
    Customer(CustomerArgs),
    /// Measure test tones in a WAV file (a `--record`ing): prints one JSON line.
    Tone(tone::ToneArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Answer {
    /// Accept every ring (while not in a meet already).
    Auto,
    /// Never accept (rings are still printed).
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MediaKind {
    Audio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum IceTransport {
    /// Host, server-reflexive and relay candidates.
    All,
    /// TURN relay candidates only.
    Relay,
}

#[derive(Debug, Args)]
struct AgentArgs {
    /// The server's URL, e.g. http://127.0.0.1:8780
    #[arg(long, env = "MEETDESK_SERVER")]
    server: String,
    #[arg(long)]
    email: String,
    #[arg(long, env = "MEETDESK_PASSWORD", hide_env_values = true)]
    password: String,
    /// Accept rings automatically.
    #[arg(long, value_enum, default_value_t = Answer::Never)]
    answer: Answer,
    /// Call the customer of this user chat (P3).
    #[arg(long, group = "action", value_name = "CHAT_ID")]
    call_chat: Option<String>,
    /// Call this team room or DM (P5).
    #[arg(long, group = "action", value_name = "ROOM_ID")]
    call_room: Option<String>,
    /// Call this customer in a new user chat (P3, from the profile).
    #[arg(long, group = "action", value_name = "CUSTOMER_ID")]
    call_customer: Option<String>,
    /// Join this meet going on (a room's meet).
    #[arg(long, group = "action", value_name = "MEET_ID")]
    join: Option<String>,
    /// The kind of meet to start (audio only in this client).
    #[arg(long, value_enum, default_value_t = MediaKind::Audio)]
    media: MediaKind,
    /// Invite this agent into the meet (P6) …
    #[arg(long, value_name = "AGENT_ID")]
    invite: Option<String>,
    /// … this long after the media connected.
    #[arg(long, value_parser = duration::parse, default_value = "0", requires = "invite")]
    invite_after: Duration,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct CustomerArgs {
    #[arg(long, env = "MEETDESK_SERVER")]
    server: String,
    /// A resume link (`…/demo?resume=TOKEN`) or a follow-up meet link (`…/m/{meet_id}?t=TOKEN`).
    #[arg(long)]
    link: String,
    /// Press Meet in the chat (P2).
    #[arg(long)]
    start_meet: bool,
    /// The chat to press Meet in (default: the first whose Meet button shows).
    #[arg(long, requires = "start_meet", value_name = "CHAT_ID")]
    chat: Option<String>,
    /// Accept rings automatically (an agent calling this customer).
    #[arg(long, value_enum, default_value_t = Answer::Never)]
    answer: Answer,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// The microphone: this WAV file, looped, in real time (default: the default microphone).
    #[arg(long, value_name = "FILE.wav")]
    play: Option<PathBuf>,
    /// The speaker: written to this WAV file at exit (default: the default speaker).
    #[arg(long, value_name = "FILE.wav")]
    record: Option<PathBuf>,
    /// Hang up this long after the media first connected.
    #[arg(long, value_parser = duration::parse, value_name = "DURATION")]
    hangup_after: Option<Duration>,
    /// Mute the microphone this long after the media first connected.
    #[arg(long, value_parser = duration::parse, value_name = "DURATION")]
    mute_after: Option<Duration>,
    /// Diagnostics: restart ICE this long after the media first connected (as after a
    /// network change).
    #[arg(long, value_parser = duration::parse, value_name = "DURATION", hide = true)]
    ice_restart_after: Option<Duration>,
    /// Exit (0) when the meet ends; `--exit-after-meet=false` stays for the next ring.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    exit_after_meet: bool,
    /// The local IP for media (default: loopback for a server on loopback, else every
    /// interface).
    #[arg(long, value_name = "IP")]
    media_ip: Option<IpAddr>,
    /// Microphone device name (exact or unique part; default device otherwise).
    #[arg(long, value_name = "NAME")]
    mic: Option<String>,
    /// Speaker device name (exact or unique part; default device otherwise).
    #[arg(long, value_name = "NAME")]
    speaker: Option<String>,
    /// Echo cancellation, noise suppression and gain control (default: on for a real
    /// microphone, off for --play).
    #[arg(long, value_enum, value_name = "on|off")]
    processing: Option<OnOff>,
    /// ICE candidates to use: `relay` sends media only through the TURN server the meetdesk
    /// server hands out (as a browser's `iceTransportPolicy: "relay"`).
    #[arg(long, value_enum, default_value_t = IceTransport::All)]
    ice_transport: IceTransport,
    /// Diagnostics (benchmarks): print an `audio_clock` line with the wall-clock time of the
    /// WAV device's first 20 ms tick, so that what --play fed and --record took can be put
    /// on one clock across processes.
    #[arg(long, hide = true)]
    audio_clock: bool,
}

/// Logs on stderr: warnings, but not the WebRTC stack's chatter about packets that arrive
/// before the answer is applied (`RUST_LOG` overrides).
const DEFAULT_LOG: &str = "warn,rtc=error,webrtc=error";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let (server, common, login, plan) = match cli.command {
        Command::Tone(t) => return tone::run(&t),
        Command::Agent(a) => {
            let start = if let Some(chat_id) = a.call_chat {
                app::Start::Call(meetdesk_protocol::MeetTarget::UserChat { chat_id })
            } else if let Some(room_id) = a.call_room {
                app::Start::Call(meetdesk_protocol::MeetTarget::Room { room_id })
            } else if let Some(customer_id) = a.call_customer {
                app::Start::Call(meetdesk_protocol::MeetTarget::Customer { customer_id })
            } else if let Some(meet_id) = a.join {
                app::Start::Join(meet_id)
            } else {
                app::Start::Wait
            };
            let plan = app::Plan {
                answer_auto: a.answer == Answer::Auto,
                start,
                invite: a.invite.map(|id| (id, a.invite_after)),
                hangup_after: a.common.hangup_after,
                mute_after: a.common.mute_after,
                ice_restart_after: a.common.ice_restart_after,
                exit_after_meet: a.common.exit_after_meet,
            };
            (a.server, a.common, app::Login::Agent { email: a.email, password: a.password }, plan)
        }
        Command::Customer(c) => {
            let start =
                if c.start_meet { app::Start::CustomerMeet { chat_id: c.chat } } else { app::Start::Wait };
            let plan = app::Plan {
                answer_auto: c.answer == Answer::Auto,
                start,
                invite: None,
                hangup_after: c.common.hangup_after,
                mute_after: c.common.mute_after,
                ice_restart_after: c.common.ice_restart_after,
                exit_after_meet: c.common.exit_after_meet,
            };
            (c.server, c.common, app::Login::Customer { link: c.link }, plan)
        }
    };
    let setup = meetdesk_client::audio::AudioSetup {
        play: common.play,
        record: common.record,
        mic_name: common.mic,
        speaker_name: common.speaker,
        processing: common.processing.map(|p| p == OnOff::On),
    };
    let relay_only = common.ice_transport == IceTransport::Relay;
    app::run(&server, login, plan, &setup, common.audio_clock, common.media_ip, relay_only).await
}
