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
import {
  OUT, children, cli, need, run, shot, signInApp, signOutAndClose, startServerAndDriver, stopChildren, waitGone, waitText,
  writeTone, idle } from "./harness.mjs";
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

/** `meetdesk-cli customer` as Mina Park, its JSON lines collected (logged to NAME.log). */
function customer(/** @type {string} */ name, /** @type {string[]} */ args) {
  return cli(name, ["customer", "--server", base, "--link", minaLink, ...args]);
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
  await signInApp(app, base, "bob@demo.test", "demo");
  await app.waitFor('[data-chat-id="chat_mina"]');
});

after(async () => {
  stopFeeding = true;
  if (app) await signOutAndClose(app);
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
  // Per 100 ms window, never the whole file's Goertzel bin: over seconds that bin is 0.3 Hz
  // wide, and every phase jump in what was played (a concealed loss, the jitter buffer
  // adapting, a glitch of the busy machine) makes the whole file's sum cancel itself — a run
  // measured the customer's tone in 86 % of the speaker's windows and at -64.6 dB over the
  // file. In a window the tone holds its phase: its share of the sounding windows is the
  // measure, and the other tone's share must stay near nothing.
  const [mic, own] = measured.tones;
  assert.ok(mic.window_share > 0.25, `the customer hears the app's microphone tone: ${stdout}`);
  assert.ok(own.window_share < 0.1, `and not its own tone: ${stdout}`);

  speaker.kill("SIGINT"); // parec finishes the WAV file on SIGINT
  await speakerDone;
  const played = (await run(CLI_BIN, ["tone", speakerWav, "--hz", String(CUSTOMER_HZ), "--hz", String(MIC_HZ)])).stdout;
  await fs.writeFile(path.join(OUT, "meet-app-speaker-tone.json"), played);
  const [customerTone, micTone] = JSON.parse(played).tones;
  assert.ok(customerTone.window_share > 0.25, `the app's speaker plays the customer's tone: ${played}`);
  assert.ok(micTone.window_share < 0.1, `and not the app's own microphone: ${played}`);
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
  await s.click(await s.waitFor('[data-testid="md-chat-meet"]')); // [Meet] → [Meet audio] (P3)
  await s.click(await s.waitFor('[data-testid="md-chat-meet-audio"]'));
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

test("the app started 10 s into a ring rings at once, until the ring's own deadline (P2, P9)", async () => {
  const s0 = /** @type {Session} */ (app);
  await idle(s0);
  // Bob's app is closed (his session stays in the keyring) when Mina presses Meet.
  await s0.close();
  app = null;
  const cli = await customer("meet-customer-mid-ring", ["--start-meet", "--play", tone, "--record", path.join(work, "mid-ring.wav")]);
  const started = await cli.line("started", (l) => l.event === "started");
  // The scenario itself, not a synchronisation: the app opens 10 s into the ring.
  await new Promise((r) => setTimeout(r, 10_000));
  app = await Session.start(driver, DESKTOP_BIN);
  const s = app;
  const ring = await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  const deadline = Number(await s.cmd("GET", `/element/${ring}/attribute/data-deadline`));
  // The ring's real deadline: 120 s from when Mina pressed Meet (the CLI's clock and the
  // server's are this machine's), not 120 s from when the app opened.
  const fromPress = deadline - started.at_ms;
  assert.ok(fromPress > 118_000 && fromPress <= 120_000, `deadline ${deadline} is ${fromPress} ms after the press`);
  await shot("14-meet-ring-after-start");
  await s.click(await s.waitFor('[data-testid="md-ring-accept"]'));
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await cli.line("first_audio from the agent", (l) => l.event === "first_audio" && l.party?.kind === "agent");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await cli.line("ended", (l) => l.event === "ended");
  assert.equal(await cli.exited, 0);
  await waitGone(s, '[data-testid="md-call"]');
});
