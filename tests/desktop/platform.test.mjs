// @ts-check
// The desktop app's platform parts end to end (issue 5): the real (debug) app under Xvfb,
// signed in as bob against `meetdesk-server --demo`. The server is stopped and started again
// on the same port and database (the app goes offline, comes back, and shows what happened
// meanwhile without a reload); the Settings screen lists the private PulseAudio's devices
// (through ALSA's pulse plugin) and checks the microphone for real; a second launch of the
// binary hands over to the first and exits; a `meetdesk://` link reaches the running app.
// Every wait is on a condition: an element polled through WebDriver, a process exit, a file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  OUT, children, cli, run, shot, signInApp, signOutAndClose, startDriver, startServer, stopChildren, stopServer, waitText,
  need, writeTone, apiCall } from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
need("PULSE_SERVER"); // the app's sound goes to run.sh's PulseAudio, never the machine's
/** Where the app keeps settings.json (Tauri's app config dir: XDG config + the identifier). */
const CONFIG_DIR = path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), ".config"), "app.meetdesk.desktop");

let work = "";
let base = "";
let port = 0;
/** @type {import("node:child_process").ChildProcess | null} */
let server = null;
/** @type {Session | null} */
let app = null;

/** JSON over the HTTP API (harness.mjs `apiCall`). */
const api = (/** @type {string} */ method, /** @type {string} */ p, /** @type {string | null} */ token, /** @type {unknown} */ body = undefined) =>
  apiCall(base, method, p, token, body);

/** The texts of the elements `css` matches. */
async function texts(/** @type {Session} */ s, /** @type {string} */ css) {
  return /** @type {string[]} */ (await s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent)",
    args: [css],
  }));
}

/** Runs the binary as a person launching it again; resolves with its exit code and time. */
function launchAgain(/** @type {string[]} */ args) {
  const started = Date.now();
  const child = spawn(DESKTOP_BIN, args, { stdio: "ignore", env: process.env });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error("the second launch did not exit within 20 s"))), 20_000);
    child.once("exit", (code) => (clearTimeout(timer), resolve({ code, ms: Date.now() - started })));
  });
}

/** The X windows titled exactly "meetdesk" that are mapped (xdotool). */
async function mainWindows() {
  const out = await run("xdotool", ["search", "--onlyvisible", "--name", "^meetdesk$"]).catch((e) => e);
  return String(out.stdout ?? "").split("\n").filter((l) => l.trim() !== "");
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-platform-"));
  ({ base, port, server } = await startServer(work, "platform-server"));
  const driver = await startDriver("platform-tauri-driver");
  app = await Session.start(driver, DESKTOP_BIN);
  await signInApp(app, base, "bob@demo.test", "demo");
});

after(async () => {
  if (app) await signOutAndClose(app);
  await stopChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("the server restarts: offline banner, back online, and what happened meanwhile shows", async () => {
  const s = /** @type {Session} */ (app);
  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await s.waitFor("#messages .message");

  await stopServer(/** @type {any} */ (server));
  await s.waitFor("#offline-banner");
  await waitText(s, "#connection", (t) => t.startsWith("Offline"));
  await shot("50-platform-offline");

  // Back on the same port and database; alice writes at once, before the app is back
  // (it reconnects with backoff), and the message shows in the open chat by itself.
  ({ server } = await startServer(work, "platform-server-2", port));
  const signIn = await api("POST", "/api/auth/sign-in", null, { email: "alice@demo.test", password: "demo" });
  assert.equal(signIn.status, 200, JSON.stringify(signIn.json));
  const body = `Written while the app was away ${Date.now()}`;
  const sent = await api("POST", "/api/chats/chat_mina/messages", signIn.json.token, { body });
  assert.ok(sent.status < 300, JSON.stringify(sent.json));

  await s.waitFor("#connection.online", 60_000);
  assert.equal(await s.find("#offline-banner"), null, "the banner is gone");
  const shown = await s.waitUntil("alice's message in the open chat", async () =>
    (await texts(s, "#messages .body")).some((t) => t === body) || null,
  );
  assert.ok(shown);
  await shot("51-platform-back-online");
});

test("Settings: the PulseAudio devices, the microphone check, a pick saved to settings.json", async () => {
  const s = /** @type {Session} */ (app);
  await s.click(await s.waitFor('[data-screen="settings"]'));
  await s.waitFor('[data-testid="md-settings"]');
  assert.equal(await s.text(await s.waitFor('[data-testid="md-settings-server"]')), base, "the server is shown");

  // cpal lists ALSA's PCMs by their descriptions: run.sh's PulseAudio is reached through the
  // `default` and `pulse` PCMs ("Playback/recording through the PulseAudio sound server",
  // "PulseAudio Sound Server"); the sinks and sources themselves (meetdesk_speaker,
  // meetdesk_microphone) are PulseAudio's names and do not show through ALSA. ALSA's plugin
  // PCMs (rate converters, JACK, OSS, …) are listed too: that is what the host reports.
  const mics = await s.waitUntil("microphones listed", async () => {
    const list = await texts(s, '[data-testid="md-microphone-picker"] option');
    return list.length > 1 ? list : null;
  });
  const speakers = await texts(s, '[data-testid="md-speaker-picker"] option');
  await fs.writeFile(path.join(OUT, "platform-devices.json"), JSON.stringify({ mics, speakers }, null, 2));
  assert.match(mics[0], /^System default/);
  assert.ok(mics.some((m) => /^(default|pulse)$/i.test(m) || /pulse/i.test(m)), `PulseAudio through ALSA: ${mics}`);
  assert.ok(speakers.some((m) => /^(default|pulse)$/i.test(m) || /pulse/i.test(m)), `PulseAudio through ALSA: ${speakers}`);

  // The real Linux check: a capture stream on the default device opens (PulseAudio's source).
  await waitText(s, '[data-testid="md-mic-status"]', (t) => t === "Allowed");

  // "Test microphone" hears a tone played into the virtual microphone (run.sh's feed sink),
  // played again and again until the result shows: the 2 s the check listens to all hold
  // bursts of it, however long the click and the capture's start took (a one-shot 4 s file
  // once ended before a busy machine's check had heard it: level 0.149).
  const tone = path.join(work, "mic.wav");
  await writeTone(tone, 1000, 4);
  let feeding = true;
  const feed = () => {
    if (!feeding) return;
    const p = spawn("paplay", ["-d", "meetdesk_mic_feed", tone], { stdio: "ignore" });
    children.push(p);
    p.on("exit", () => {
      children.splice(children.indexOf(p), 1);
      feed();
    });
  };
  feed();
  // Click once PulseAudio plays the tone (a busy machine can take a while to start paplay).
  await s.waitUntil("the tone playing into the feed sink", async () => {
    const out = await new Promise((resolve) => execFile("pactl", ["list", "short", "sink-inputs"], (e, stdout) => resolve(e ? "" : stdout)));
    return String(out).trim() ? true : null;
  });
  await s.click(await s.waitFor('[data-testid="md-mic-test"]'));
  const heard = await s.waitFor('[data-testid="md-mic-test-result"]', 15_000);
  feeding = false;
  const level = Number(await s.cmd("GET", `/element/${heard}/attribute/data-level`));
  // The tone's bursts are at -13.5 dBFS RMS: a bar of 0.78 (-60…0 dBFS); the null source's
  // silence reads 0. 0.3 is far from both.
  assert.ok(level > 0.3, `the tone was heard (level ${level})`);
  await shot("52-platform-mic-test");

  // Pick a named microphone: saved in the app's config dir, used by the next meet.
  const named = mics.slice(1); // [0] is "System default (…)"
  const pick = named.find((m) => m === "PulseAudio Sound Server") ?? named[0];
  await s.cmd("POST", "/execute/sync", {
    script: `const sel = document.querySelector('[data-testid="md-microphone-picker"]');
      sel.value = arguments[0]; sel.dispatchEvent(new Event("change", { bubbles: true }));`,
    args: [pick],
  });
  const file = path.join(CONFIG_DIR, "settings.json");
  const saved = await s.waitUntil("settings.json with the pick", async () => {
    const text = await fs.readFile(file, "utf8").catch(() => null);
    return text && JSON.parse(text).devices?.microphone === pick ? text : null;
  });
  assert.ok(saved);
  await shot("53-platform-settings");

  // "Start meetdesk when I sign in": off by default; on writes the session's autostart entry
  // (Linux: ~/.config/autostart/*.desktop running this binary), off removes it.
  const autostartDir = path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), ".config"), "autostart");
  const entries = async () => {
    const names = await fs.readdir(autostartDir).catch(() => /** @type {string[]} */ ([]));
    const texts = await Promise.all(names.map((n) => fs.readFile(path.join(autostartDir, n), "utf8")));
    return texts.filter((t) => t.includes(DESKTOP_BIN));
  };
  const toggle = await s.waitFor('[data-testid="md-autostart"]');
  assert.equal(await s.cmd("GET", `/element/${toggle}/property/checked`), false, "off by default");
  assert.equal((await entries()).length, 0);
  await s.click(toggle);
  await s.waitUntil("an autostart entry", async () => ((await entries()).length === 1 ? true : null));
  await s.click(toggle);
  await s.waitUntil("no autostart entry", async () => ((await entries()).length === 0 ? true : null));

  // Back to the default, so that other test files meet with the default devices.
  await s.cmd("POST", "/execute/sync", {
    script: `const sel = document.querySelector('[data-testid="md-microphone-picker"]');
      sel.value = ""; sel.dispatchEvent(new Event("change", { bubbles: true }));`,
    args: [],
  });
  await s.waitUntil("the default again", async () => {
    const text = await fs.readFile(file, "utf8").catch(() => null);
    return text && JSON.parse(text).devices?.microphone === null ? true : null;
  });
});

test("a second launch hands over to the first and exits; a meetdesk:// link reaches it", async () => {
  const s = /** @type {Session} */ (app);
  const before = await mainWindows();
  assert.equal(before.length, 1, `one main window first: ${before}`);

  const second = /** @type {{ code: number, ms: number }} */ (await launchAgain([]));
  assert.equal(second.code, 0, "the second launch exits cleanly");
  assert.deepEqual(await mainWindows(), before, "still the one window");
  await s.waitFor("#connection.online"); // the first instance is unharmed

  // A link opened while the app runs: on the Settings screen, a chat link shows the inbox.
  await s.click(await s.waitFor('[data-screen="settings"]'));
  await s.waitFor('[data-testid="md-settings"]');
  const link = /** @type {{ code: number, ms: number }} */ (await launchAgain(["meetdesk://chat/chat_mina"]));
  assert.equal(link.code, 0);
  await s.waitFor('[data-screen="inbox"][aria-pressed="true"]');
  await shot("54-platform-link-opened");
  console.log(`second launch exited in ${second.ms} ms; with a link in ${link.ms} ms`);
});

test("a meetdesk://meet/{id} link joins that meet", async () => {
  const s = /** @type {Session} */ (app);
  // Dave calls the Billing room (Bob and Dave); Bob joins through the link, not the ring.
  const dave = await cli("platform-dave-room", [
    "agent", "--server", base, "--email", "dave@demo.test", "--password", "demo", "--call-room", "room_billing",
  ]);
  const started = await dave.line("started", (l) => l.event === "started");
  await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  const link = /** @type {{ code: number }} */ (await launchAgain([`meetdesk://meet/${started.meet_id}`]));
  assert.equal(link.code, 0);
  await s.waitFor(`[data-testid="md-call"][data-meet-id="${started.meet_id}"]`);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await dave.line("bob joined", (l) => l.event === "media_slots" && l.meet_id === started.meet_id && JSON.stringify(l).includes("Bob Baker"));
  await shot("55-platform-meet-link");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await s.waitUntil("the meet panel gone", async () => (await s.find('[data-testid="md-call"]')) === null);
  dave.child.kill("SIGTERM");
  await dave.exited;
});
