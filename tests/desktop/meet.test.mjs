// @ts-check
// The desktop app holds meets end to end: the real (debug) app under Xvfb, driven through
// tauri-driver + WebKitWebDriver, signed in as bob against `meetdesk-server --demo`, with its
// sound on the private PulseAudio server run.sh starts (the default microphone is fed a tone
// with paplay; the default speaker is a null sink). The customer is `meetdesk-cli customer`
// (WAV files for its sound), whose JSON lines say what it saw. Every wait is on a condition:
// an element polled through WebDriver, or a line from the CLI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { OUT, children, need, run, shot, startServerAndDriver, stopChildren } from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
const CLI_BIN = need("MEETDESK_CLI_BIN");
need("PULSE_SERVER"); // the app's sound goes to run.sh's PulseAudio, never the machine's
/** The sink whose monitor is the default microphone (run.sh). */
const MIC_FEED = "meetdesk_mic_feed";

let base = "";
let driver = "";
let work = "";
let minaLink = "";
let tone = "";
let micTone = "";
/** @type {Session | null} */
let app = null;
let stopFeeding = false;

/** The app's microphone: bursts of this tone (paplay into the virtual source). */
const MIC_HZ = 1000;
/** The customer's microphone (the CLI's --play). */
const CUSTOMER_HZ = 440;

/**
 * A 48 kHz mono 16-bit WAV of `hz` in bursts (300 ms on, 200 ms off): speech-like enough that
 * the app's noise suppression lets them through.
 */
async function writeTone(/** @type {string} */ file, /** @type {number} */ hz, /** @type {number} */ seconds) {
  const rate = 48_000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + n * 2);
  buf.write("RIFF", 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write("WAVEfmt ", 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const on = t % 0.5 < 0.3;
    const v = on ? 0.3 * Math.sin(2 * Math.PI * hz * t) : 0;
    buf.writeInt16LE(Math.round(v * 32767), 44 + i * 2);
  }
  await fs.writeFile(file, buf);
}

/** Plays `file` into the virtual microphone over and over until the tests end. */
function feedMicrophone(/** @type {string} */ file) {
  const once = () => {
    if (stopFeeding) return;
    const p = spawn("paplay", ["-d", MIC_FEED, file], { stdio: "ignore" });
    children.push(p);
    p.on("exit", () => {
      children.splice(children.indexOf(p), 1);
      once();
    });
  };
  once();
}

/**
 * `meetdesk-cli customer` with its JSON lines collected (and logged to NAME.log).
 * @param {string} name @param {string[]} args
 */
async function customer(name, args) {
  const log = await fs.open(path.join(OUT, `${name}.log`), "w");
  const child = spawn(CLI_BIN, ["customer", "--server", base, "--link", minaLink, ...args], {
    stdio: ["ignore", "pipe", log.fd],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info" },
  });
  children.push(child);
  /** @type {any[]} */
  const lines = [];
  /** @type {(() => void)[]} */
  const waiters = [];
  const stdout = /** @type {import("node:stream").Readable} */ (child.stdout);
  readline.createInterface({ input: stdout }).on("line", (line) => {
    void log.write(`${line}\n`);
    try {
      lines.push(JSON.parse(line));
    } catch {
      return;
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise((resolve) =>
    child.on("exit", (code) => {
      for (const w of waiters.splice(0)) w();
      void log.close().catch(() => {});
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    /**
     * The first line `pred` accepts, waiting for it (bounded).
     * @param {string} what @param {(l: any) => boolean} pred @param {number} [timeoutMs]
     */
    async line(what, pred, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (child.exitCode !== null) {
          throw new Error(`the customer CLI exited (${child.exitCode}) before ${what}; lines: ${JSON.stringify(lines)}`);
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for the CLI's ${what}; lines: ${JSON.stringify(lines)}`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => (clearTimeout(timer), resolve(undefined)));
        });
      }
    },
  };
}

/** The text of the first element `css` matches, waiting until `pred` accepts it. */
async function waitText(/** @type {Session} */ s, /** @type {string} */ css, /** @type {(t: string) => boolean} */ pred) {
  return s.waitUntil(`${css} text`, async () => {
    const el = await s.find(css);
    if (el === null) return null;
    const t = await s.text(el).catch(() => null);
    return t !== null && pred(t) ? t : null;
  });
}

/** Leaves a meet a failed test left on the app, so that each test starts with none. */
async function idle(/** @type {Session} */ s) {
  const hangup = await s.find('[data-testid="md-call-hangup"]');
  if (hangup) await s.click(hangup).catch(() => {});
  await s.waitUntil("no meet on the app", async () => (await s.find('[data-testid="md-call"]')) === null);
}

/** Waits until nothing matches `css`. */
async function waitGone(/** @type {Session} */ s, /** @type {string} */ css) {
  await s.waitUntil(`${css} gone`, async () => (await s.find(css)) === null);
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-meet-"));
  ({ base, driver } = await startServerAndDriver(work, "meet-"));
  const directory = await (await fetch(`${base}/api/demo`)).json();
  const mina = directory.customers.find((/** @type {any} */ c) => c.name === "Mina Park");
  assert.ok(mina, "the demo has Mina Park");
  minaLink = mina.link;

  tone = path.join(work, "customer.wav");
  await writeTone(tone, CUSTOMER_HZ, 4);
  micTone = path.join(work, "mic.wav");
  await writeTone(micTone, MIC_HZ, 4);
  feedMicrophone(micTone);

  // Bob signs in (the keyring is empty after signin.test.mjs; a saved session is fine too).
  app = await Session.start(driver, DESKTOP_BIN);
  const s = app;
  const first = await s.waitUntil("the sign-in form or the inbox", async () =>
    (await s.find("#sign-in-form")) !== null ? "form" : (await s.find("#chat-list")) !== null ? "inbox" : null,
  );
  if (first === "form") {
    await s.type(await s.waitFor("#server"), base);
    await s.type(await s.waitFor("#email"), "bob@demo.test");
    await s.type(await s.waitFor("#password"), "demo");
    await s.click(await s.waitFor("#sign-in"));
  }
  await s.waitFor('[data-chat-id="chat_mina"]');
  await s.waitFor("#connection.online");
});

after(async () => {
  stopFeeding = true;
  if (app) {
    // Leave the keyring as found: signed out.
    const signOut = await app.find("#sign-out").catch(() => null);
    if (signOut) {
      await app.click(signOut).catch(() => {});
      await app.waitFor("#sign-in-form", 10_000).catch(() => {});
    }
    await app.close().catch(() => {});
  }
  await stopChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("a customer presses Meet: the app rings, bob accepts, both hear each other, bob hangs up", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const out = path.join(work, "accept.wav");
  const cli = await customer("meet-customer-accept", ["--start-meet", "--play", tone, "--record", out]);
  const started = await cli.line("started", (l) => l.event === "started");

  const ring = await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  assert.match(await s.text(ring), /Mina Park/);
  assert.ok(await s.find('[data-testid="md-ring-decline"]'), "a Decline button");
  await shot("10-meet-ring");

  await s.click(await s.waitFor('[data-testid="md-ring-accept"]'));
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await waitGone(s, '[data-testid="md-ring"]');
  assert.match(await s.text(await s.waitFor('[data-testid="md-call"]')), /Mina Park/, "the participant is shown");

  // What the app plays: its default speaker's monitor, recorded until the hang-up.
  const speakerWav = path.join(work, "speaker.wav");
  const speaker = spawn("parec", ["-d", "meetdesk_speaker.monitor", "--file-format=wav", "--rate=48000", "--channels=1", speakerWav], { stdio: "ignore" });
  children.push(speaker);
  const speakerDone = new Promise((r) => speaker.once("exit", r));

  // The customer's side: media up, and the app's microphone (the tone fed into PulseAudio's
  // virtual source) reaches it as the agent's party.
  await cli.line("connected", (l) => l.event === "connected");
  const heard = await cli.line("first_audio from the agent", (l) => l.event === "first_audio" && l.party?.kind === "agent");
  assert.equal(heard.party.name, "Bob Baker");

  // The panel: a running duration, a moving input level, mute.
  await waitText(s, '[data-testid="md-call-duration"]', (t) => /^\d\d:\d\d$/.test(t) && t !== "00:00");
  await s.waitUntil("the input level to move", async () => {
    const v = await s.cmd("POST", "/execute/sync", {
      script: "const m = document.querySelector('[data-testid=\"md-call-level\"]'); return m ? Number(m.getAttribute('aria-valuenow')) : 0",
      args: [],
    });
    return v > 0;
  });
  await shot("11-meet-connected");
  const mute = await s.waitFor('[data-testid="md-call-mute"]');
  await s.click(mute);
  await s.waitFor('[data-testid="md-call-mute"][aria-pressed="true"]');
  await s.click(await s.waitFor('[data-testid="md-call-mute"]'));
  await s.waitFor('[data-testid="md-call-mute"][aria-pressed="false"]');

  // Two seconds of the meet on the clock, then hang up: the customer's recording holds the
  // app's microphone tone, and not its own.
  await waitText(s, '[data-testid="md-call-duration"]', (t) => /^\d\d:\d\d$/.test(t) && t >= "00:03");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await cli.line("ended", (l) => l.event === "ended");
  assert.equal(await cli.exited, 0, "the customer CLI exits after the meet");
  const { stdout } = await run(CLI_BIN, ["tone", out, "--hz", String(MIC_HZ), "--hz", String(CUSTOMER_HZ)]);
  await fs.writeFile(path.join(OUT, "meet-customer-accept-tone.json"), stdout);
  const measured = JSON.parse(stdout);
  // (Shares, not the whole file's Goertzel bin: the bursts, the app's audio processing and
  // the codec leave sound between the bursts too. The whole file's tone power also counts the
  // silence before the meet connected, so its floor is a loose -50 dBFS — the null devices'
  // silence is -100 — and the other tone must be 30 dB below it.)
  const [mic, own] = measured.tones;
  assert.ok(mic.window_share > 0.25 && mic.power_db > -50, `the customer hears the app's microphone tone: ${stdout}`);
  assert.ok(own.window_share < 0.1 && own.power_db < mic.power_db - 30, `and not its own tone: ${stdout}`);

  speaker.kill("SIGINT"); // parec finishes the WAV file on SIGINT
  await speakerDone;
  const played = (await run(CLI_BIN, ["tone", speakerWav, "--hz", String(CUSTOMER_HZ), "--hz", String(MIC_HZ)])).stdout;
  await fs.writeFile(path.join(OUT, "meet-app-speaker-tone.json"), played);
  const [customerTone, micTone] = JSON.parse(played).tones;
  assert.ok(customerTone.window_share > 0.25 && customerTone.power_db > -50, `the app's speaker plays the customer's tone: ${played}`);
  assert.ok(micTone.power_db < customerTone.power_db - 30, `and not the app's own microphone: ${played}`);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Ended").catch(() => {}); // shown for a moment
  await waitGone(s, '[data-testid="md-call"]');
});

test("bob declines: the ring goes and the customer sees the meet end", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const cli = await customer("meet-customer-decline", ["--start-meet", "--play", tone, "--record", path.join(work, "decline.wav")]);
  const started = await cli.line("started", (l) => l.event === "started");
  await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  await s.click(await s.waitFor('[data-testid="md-ring-decline"]'));
  await waitGone(s, '[data-testid="md-ring"]');
  const ended = await cli.line("ended", (l) => l.event === "ended");
  assert.equal(ended.meet_id, started.meet_id);
  assert.equal(await cli.exited, 0);
  assert.equal(await s.find('[data-testid="md-call"]'), null, "no meet on the app");
  await shot("12-meet-declined");
});

test("bob presses Meet in Mina's chat: her widget answers and the meet connects", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const cli = await customer("meet-customer-called", ["--answer", "auto", "--play", tone, "--record", path.join(work, "called.wav")]);
  await cli.line("signed_in", (l) => l.event === "signed_in"); // her event socket is open: she is online

  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await s.click(await s.waitFor('[data-testid="md-chat-meet"]'));
  await cli.line("ring", (l) => l.event === "ring");
  await cli.line("accepted", (l) => l.event === "accepted");
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await cli.line("first_audio from the agent", (l) => l.event === "first_audio" && l.party?.kind === "agent");
  assert.equal(await s.find('[data-testid="md-chat-meet"]'), null, "no Meet button while in a meet");
  await shot("13-meet-outgoing");

  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await cli.line("ended", (l) => l.event === "ended");
  assert.equal(await cli.exited, 0);
  await waitGone(s, '[data-testid="md-call"]');
  await s.waitFor('[data-testid="md-chat-meet"]'); // offered again
});
