// @ts-check
// The desktop app rings while its window is closed to the tray (P9; P2): bob signed in, the
// window closed (a WM_DELETE_WINDOW, as a window manager's close button sends), a customer
// (`meetdesk-cli customer --start-meet`) presses Meet. Observed from outside the app, as a
// person would notice it:
// - the notification: the Notify call on the session bus (dbus-monitor), with the caller's
//   name and the Accept/Decline actions; dunst is the notification server (started here
//   unless one runs already), and `dunstctl action 0` clicks the notification;
// - the tray: the icon image the app hands to the tray host (tray-icon writes it to
//   $XDG_RUNTIME_DIR/tray-icon/ for the StatusNotifierItem) has the ringing icon's pixels;
// - the sound: the default speaker's monitor (run.sh's PulseAudio) holds the ring tone's two
//   pitches (`meetdesk-cli tone`);
// - the window: mapped or not on the X display (xdotool --onlyvisible).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import readline from "node:readline";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  OUT, ROOT, apiCall, children, cli, need, run, shot, signInApp, signOutAndClose, start, startServerAndDriver, stopChildren,
  waitText,
} from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
const CLI_BIN = need("MEETDESK_CLI_BIN");
const SERVER_BIN = need("MEETDESK_SERVER_BIN");
need("PULSE_SERVER");
const RUNTIME_DIR = need("XDG_RUNTIME_DIR");
/** The ring tone's two pitches (src-tauri/src/ring_tone.rs). */
const RING_HZ = [660, 880];
/** One ring tone cycle is 3 s: a recording this long holds its bursts wherever it starts. */
const CYCLE_MS = 3_200;

let base = "";
let driver = "";
let work = "";
let minaLink = "";
/** @type {Session | null} */
let app = null;
/** @type {BusMonitor | null} */
let bus = null;
/** Whether dunst runs with our config (its context menu picks Accept), not one started before. */
let ourDunst = false;

/** A message dbus-monitor printed: its header line and its argument lines. */
class BusMessage {
  /** @param {string} header */
  constructor(header) {
    this.header = header;
    /** @type {string[]} */
    this.body = [];
  }
  get member() {
    return /member=(\w+)/.exec(this.header)?.[1] ?? "";
  }
  get kind() {
    return this.header.split(" time=")[0]; // "method call", "signal"
  }
  /** The argument strings and numbers, in order. */
  get args() {
    return this.body.map((l) => /^(?:string "(.*)"|u?int32 (-?\d+))$/.exec(l)).filter((m) => m !== null).map((m) => m[1] ?? m[2]);
  }
}

/** `dbus-monitor` on the notification interface, its messages parsed as they come. */
class BusMonitor {
  constructor() {
    /** @type {BusMessage[]} */
    this.messages = [];
    const log = path.join(OUT, "ring-dbus-monitor.log");
    void fs.writeFile(log, "");
    const child = spawn("dbus-monitor", ["interface='org.freedesktop.Notifications'"], { stdio: ["ignore", "pipe", "ignore"] });
    children.push(child);
    const stdout = /** @type {import("node:stream").Readable} */ (child.stdout);
    readline.createInterface({ input: stdout }).on("line", (line) => {
      void fs.appendFile(log, `${line}\n`);
      if (/^\S/.test(line)) this.messages.push(new BusMessage(line));
      else this.messages.at(-1)?.body.push(line.trim());
    });
    this.child = child;
  }

  /** Waits (bounded) for a message `pred` accepts, among those after `from`. */
  async wait(/** @type {string} */ what, /** @type {(m: BusMessage) => boolean} */ pred, from = 0, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; seen: ${this.messages.map((m) => m.member).join(", ")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Polls `check` every 100 ms until it returns something other than null/false (bounded). */
async function until(/** @type {string} */ what, /** @type {() => Promise<any>} */ check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The app's main window ids, if mapped (shown) on the X display. */
async function shownWindows() {
  const r = await run("xdotool", ["search", "--onlyvisible", "--name", "^meetdesk$"]).catch(() => ({ stdout: "" }));
  return r.stdout.split("\n").filter(Boolean);
}

/** Whether a bus name has an owner (`org.freedesktop.Notifications`: a notification server). */
async function nameHasOwner(/** @type {string} */ name) {
  const { stdout } = await run("gdbus", [
    "call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
    "--method", "org.freedesktop.DBus.NameHasOwner", name,
  ]);
  return stdout.includes("true");
}

/** Displayed notifications, as dunst counts them. */
async function displayed() {
  return Number((await run("dunstctl", ["count", "displayed"])).stdout.trim());
}

/** Whether the tray's current icon (the newest image tray-icon wrote) has `png`'s pixels. */
async function trayShows(/** @type {string} */ png) {
  const dir = path.join(RUNTIME_DIR, "tray-icon");
  const files = await fs.readdir(dir).catch(() => []);
  let newest = null;
  let newestAt = 0;
  for (const f of files.filter((f) => f.endsWith(".png"))) {
    const st = await fs.stat(path.join(dir, f)).catch(() => null);
    if (st && st.mtimeMs >= newestAt) [newest, newestAt] = [path.join(dir, f), st.mtimeMs];
  }
  if (!newest) return false;
  // ImageMagick's count of differing pixels (on stderr; exit 1 when they differ).
  const r = await run("compare", ["-metric", "AE", newest, png, "null:"]).catch((e) => e);
  return String(r.stderr).trim() === "0";
}

/** The ring tone's pitches on the default speaker, over one tone cycle. */
async function speakerTones(/** @type {string} */ name) {
  const wav = path.join(work, `${name}.wav`);
  const rec = spawn("parec", ["-d", "meetdesk_speaker.monitor", "--file-format=wav", "--format=s16le", "--rate=48000", "--channels=1", wav], { stdio: "ignore" });
  children.push(rec);
  const done = new Promise((r) => rec.once("exit", r));
  // Until the file holds a whole cycle (parec takes a moment to start delivering).
  const bytes = 44 + 2 * 48 * CYCLE_MS;
  await until(`${CYCLE_MS} ms recorded`, async () => ((await fs.stat(wav).catch(() => null))?.size ?? 0) >= bytes, 15_000);
  rec.kill("SIGINT"); // parec finishes the WAV file on SIGINT
  await done;
  const { stdout } = await run(CLI_BIN, ["tone", wav, ...RING_HZ.flatMap((hz) => ["--hz", String(hz)])]);
  await fs.writeFile(path.join(OUT, `${name}-tone.json`), stdout);
  const measured = JSON.parse(stdout);
  assert.ok(measured.seconds >= 3, `a whole ring tone cycle recorded: ${stdout}`);
  return measured;
}

// Sounding: each pitch in its share of the 100 ms windows (a whole recording's Goertzel bin is
// too narrow to survive a phase jump of a busy machine's playback; see meet.test.mjs). Quiet: no
// tone power at all over the recording (a phase jump only lowers that).
const ringing = (/** @type {any} */ m) => m.tones.every((/** @type {any} */ t) => t.window_share > 0.1);
const quiet = (/** @type {any} */ m) => m.tones.every((/** @type {any} */ t) => t.power_db < -60);

/** Closes the main window as its close button would; it must go to the tray. */
async function closeToTray() {
  const win = await until("the window on screen", async () => (await shownWindows())[0] ?? null);
  await run("python3", [path.join(ROOT, "tests/desktop/close-window.py"), win]);
  await until("the window hidden", async () => (await shownWindows()).length === 0);
  await shot("30-ring-closed-to-tray");
}

/** `meetdesk-cli customer` as Mina Park. */
function customer(/** @type {string} */ name, /** @type {string[]} */ args) {
  return cli(name, ["customer", "--server", base, "--link", minaLink, ...args]);
}

/** The Notify call for Mina Park's ring, after bus message `from`. */
async function ringNotice(/** @type {number} */ from) {
  return (/** @type {BusMonitor} */ (bus)).wait("a Notify call for Mina Park's ring", (m) => m.member === "Notify" && m.args.includes("Mina Park is calling"), from);
}

/** The ring stopped here: its notification closed (a CloseNotification after bus message
 *  `from`) and gone from the screen, the tray's normal icon back, the speaker quiet (recorded
 *  as `sound`). */
async function ringStopped(/** @type {number} */ from, /** @type {string} */ sound, closeTimeoutMs = 30_000) {
  await (/** @type {BusMonitor} */ (bus)).wait("CloseNotification", (x) => x.member === "CloseNotification", from, closeTimeoutMs);
  await until("no notification on screen", async () => (await displayed()) === 0);
  await until("the tray's normal icon", () => trayShows(path.join(ROOT, "icons/tray-64x64.png")));
  const tones = await until("the speaker quiet", async () => {
    const t = await speakerTones(sound);
    return quiet(t) ? t : null;
  }, 15_000);
  assert.ok(quiet(tones));
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-ring-"));
  ({ base, driver } = await startServerAndDriver(work, "ring-"));
  const directory = await (await fetch(`${base}/api/demo`)).json();
  minaLink = directory.customers.find((/** @type {any} */ c) => c.name === "Mina Park").link;

  // The notification server: D-Bus activation may have started one already (dunst's service
  // file); else dunst with a config of ours.
  if (!(await nameHasOwner("org.freedesktop.Notifications"))) {
    // Its context menu (`dunstctl context`) asks a dmenu for one of the lines
    // "#Accept (SUMMARY) [ID,accept]": this one picks Accept, as a person would.
    const pick = path.join(work, "pick-accept.sh");
    await fs.writeFile(pick, "#!/bin/sh\nexec grep -m1 '^#Accept '\n", { mode: 0o755 });
    const config = path.join(work, "dunstrc");
    await fs.writeFile(config, `[global]\n    dmenu = ${pick}\n`);
    await start("ring-dunst", "dunst", ["-config", config]);
    await until("dunst on the bus", () => nameHasOwner("org.freedesktop.Notifications"));
    ourDunst = true;
  }
  bus = new BusMonitor();
  // It prints its own NameLost once it has become a monitor.
  await bus.wait("dbus-monitor running", (x) => x.member === "NameLost");

  app = await Session.start(driver, DESKTOP_BIN);
  await signInApp(app, base, "bob@demo.test", "demo");
  await app.waitFor('[data-chat-id="chat_mina"]');
  await until("the tray's normal icon", () => trayShows(path.join(ROOT, "icons/tray-64x64.png")));
});

after(async () => {
  if (app) await signOutAndClose(app); // (the window may be in the tray: a DOM click)
  await stopChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("closed to the tray, the app rings: a notification with Accept/Decline, the tray, the sound; clicking it opens the ring; bob accepts", async () => {
  const s = /** @type {Session} */ (app);
  const m = /** @type {BusMonitor} */ (bus);
  await closeToTray();
  const from = m.messages.length;
  const caller = await customer("ring-customer-accept", ["--start-meet"]);
  const started = await caller.line("started", (l) => l.event === "started");

  const notify = await ringNotice(from);
  for (const action of ["default", "accept", "Accept", "decline", "Decline"]) {
    assert.ok(notify.args.includes(action), `the notification offers ${action}: ${notify.body.join(" | ")}`);
  }
  await until("the tray's ringing icon", () => trayShows(path.join(ROOT, "icons/tray-ringing-64x64.png")));
  const tones = await speakerTones("ring-sound-accept");
  assert.ok(ringing(tones), `the ring tone plays: ${JSON.stringify(tones)}`);
  assert.deepEqual(await shownWindows(), [], "the window stays in the tray while it rings");
  await until("the notification on screen", async () => (await displayed()) === 1);
  await shot("31-ring-notification");

  // Click the notification: its default action opens the window at the ring card.
  const clicked = m.messages.length;
  await run("dunstctl", ["action", "0"]);
  await m.wait("ActionInvoked default", (x) => x.member === "ActionInvoked" && x.args.includes("default"), clicked);
  await until("the window shown", async () => (await shownWindows()).length > 0);
  await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  // The ring card is on screen now: the notification goes, the ring goes on.
  await m.wait("CloseNotification", (x) => x.member === "CloseNotification", clicked);
  await shot("32-ring-window-opened");

  await s.click(await s.waitFor('[data-testid="md-ring-accept"]'));
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await caller.line("connected", (l) => l.event === "connected");
  await until("the tray's normal icon", () => trayShows(path.join(ROOT, "icons/tray-64x64.png")));
  const after = await speakerTones("ring-sound-accepted");
  // The meet's own sound is the customer's default microphone: silent here.
  assert.ok(quiet(after), `the ring tone stopped: ${JSON.stringify(after)}`);
  await shot("33-ring-accepted");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await caller.line("ended", (l) => l.event === "ended");
  assert.equal(await caller.exited, 0);
});

test("bob accepts from the notification's Accept button: the meet connects and the window opens at it", async (t) => {
  if (!ourDunst) return t.skip("a notification server other than this test's dunst runs (no Accept pick)");
  const s = /** @type {Session} */ (app);
  const m = /** @type {BusMonitor} */ (bus);
  await closeToTray();
  const from = m.messages.length;
  const caller = await customer("ring-customer-accept-button", ["--start-meet"]);
  await caller.line("started", (l) => l.event === "started");
  await ringNotice(from);
  await until("the notification on screen", async () => (await displayed()) === 1);

  const pressed = m.messages.length;
  await run("dunstctl", ["context"]);
  await m.wait("ActionInvoked accept", (x) => x.member === "ActionInvoked" && x.args.includes("accept"), pressed);
  await caller.line("connected", (l) => l.event === "connected");
  await until("the window shown", async () => (await shownWindows()).length > 0);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await until("no notification on screen", async () => (await displayed()) === 0);
  await until("the tray's normal icon", () => trayShows(path.join(ROOT, "icons/tray-64x64.png")));
  await shot("34-ring-accepted-from-notification");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await caller.line("ended", (l) => l.event === "ended");
  assert.equal(await caller.exited, 0);
});

test("the customer hangs up before anyone answers: the notification closes and the sound stops", async () => {
  const m = /** @type {BusMonitor} */ (bus);
  await closeToTray();
  const from = m.messages.length;
  const caller = await customer("ring-customer-cancel", ["--start-meet"]);
  await caller.line("started", (l) => l.event === "started");
  await ringNotice(from);
  await until("the tray's ringing icon", () => trayShows(path.join(ROOT, "icons/tray-ringing-64x64.png")));
  assert.ok(ringing(await speakerTones("ring-sound-cancel")), "the ring tone plays");

  const hangUp = m.messages.length;
  caller.child.kill("SIGTERM"); // the CLI hangs up its ringing meet as it leaves
  await caller.line("hung_up", (l) => l.event === "hung_up");
  await ringStopped(hangUp, "ring-sound-cancelled");
  assert.deepEqual(await shownWindows(), [], "the window stayed in the tray");
  await shot("35-ring-cancelled");
});

test("bob accepts on another device: the notification closes and the ring stops here (P9)", async () => {
  const m = /** @type {BusMonitor} */ (bus);
  assert.deepEqual(await shownWindows(), [], "the window is in the tray (as the last test left it)");
  const from = m.messages.length;
  const caller = await customer("ring-customer-elsewhere", ["--start-meet"]);
  const started = await caller.line("started", (l) => l.event === "started");
  await ringNotice(from);
  assert.ok(ringing(await speakerTones("ring-sound-elsewhere")), "the ring tone plays");

  // Bob's other device (a session of its own, e.g. his phone) accepts.
  const signIn = await apiCall(base, "POST", "/api/auth/sign-in", null, { email: "bob@demo.test", password: "demo" });
  assert.equal(signIn.status, 200, JSON.stringify(signIn.json));
  const other = signIn.json.token;
  const accepted = m.messages.length;
  const accept = await apiCall(base, "POST", `/api/meets/${started.meet_id}/accept`, other, {});
  assert.equal(accept.status, 200, JSON.stringify(accept.json));

  await ringStopped(accepted, "ring-sound-elsewhere-stopped");
  assert.deepEqual(await shownWindows(), [], "the window stayed in the tray: the meet is on the other device");

  const hangUp = await apiCall(base, "POST", `/api/meets/${started.meet_id}/hangup`, other, {});
  assert.equal(hangUp.status, 200, JSON.stringify(hangUp.json));
  caller.child.kill("SIGTERM");
  await apiCall(base, "POST", "/api/auth/sign-out", other, {});
});

test("nobody answers: after the ring's 120 s the meet is missed, and the ring stops here", async () => {
  const m = /** @type {BusMonitor} */ (bus);
  const from = m.messages.length;
  const caller = await customer("ring-customer-missed", ["--start-meet"]);
  const started = await caller.line("started", (l) => l.event === "started");
  await ringNotice(from);

  // 120 s later, without waiting them out: the customer's widget goes (no hang-up), and the
  // server restarts on its database with its clock 121 s ahead (MEETDESK_TEST_TIME_OFFSET_MS,
  // for tests), so its deadline sweeper finds the ring over. The app reconnects by itself.
  caller.child.kill("SIGKILL");
  const server = children.find((c) => c.spawnfile === SERVER_BIN && c.exitCode === null);
  assert.ok(server, "the server runs");
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  const port = new URL(base).port;
  process.env.MEETDESK_TEST_TIME_OFFSET_MS = "121000";
  try {
    await start("ring-server-later", SERVER_BIN, [
      "--listen", `127.0.0.1:${port}`, "--database", `sqlite://${work}/x.db?mode=rwc`, "--demo",
    ]);
  } finally {
    delete process.env.MEETDESK_TEST_TIME_OFFSET_MS;
  }
  const stopped = m.messages.length;
  await ringStopped(stopped, "ring-sound-missed", 60_000);

  // The server's word: missed, nobody answered (the reason is for admins: Alice).
  const signIn = await fetch(`${base}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "alice@demo.test", password: "demo" }),
  });
  const { token } = /** @type {any} */ (await signIn.json());
  const meet = /** @type {any} */ (await (await fetch(`${base}/api/meets/${started.meet_id}`, { headers: { authorization: `Bearer ${token}` } })).json());
  assert.equal(meet.state, "missed", JSON.stringify(meet));
  assert.equal(meet.missed_reason, "no_answer");
  await shot("36-ring-missed");
});
