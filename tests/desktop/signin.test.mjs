// @ts-check
// The desktop app end to end: the real release-less (debug) app under Xvfb, driven through
// tauri-driver + WebKitWebDriver, against a real `meetdesk-server --demo` (free port, temp
// SQLite), with a real Secret Service (gnome-keyring) in the D-Bus session that run.sh starts.
// HOME is a temp dir (run.sh), so the "not on disk" check reads everything the app wrote.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Session } from "./webdriver.mjs";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const OUT = path.join(ROOT, "test-output/desktop");
const need = (/** @type {string} */ name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run tests/desktop/run.sh)`);
  return v;
};
const SERVER_BIN = need("MEETDESK_SERVER_BIN");
const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
const TAURI_DRIVER = need("TAURI_DRIVER");
const HOME = os.homedir();

/** @type {import("node:child_process").ChildProcess[]} */
const children = [];
let base = "";
let driver = "";
let work = "";
/** @type {Session | null} */
let app = null;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a process with its output in test-output/desktop/NAME.log. */
async function start(/** @type {string} */ name, /** @type {string} */ cmd, /** @type {string[]} */ args) {
  const log = await fs.open(path.join(OUT, `${name}.log`), "w");
  const child = spawn(cmd, args, { stdio: ["ignore", log.fd, log.fd] });
  child.on("exit", () => void log.close().catch(() => {}));
  children.push(child);
  return child;
}

/** Polls `url` until it answers 200 (or the process exits). */
async function ready(/** @type {string} */ url, /** @type {import("node:child_process").ChildProcess} */ child) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited (${child.exitCode}) while starting`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The session the app keeps in the Secret Service, or null. */
async function keyringSession() {
  try {
    const { stdout } = await run("secret-tool", ["lookup", "service", "app.meetdesk.desktop", "username", "session"]);
    return stdout.trim() === "" ? null : JSON.parse(stdout);
  } catch (e) {
    if (/** @type {any} */ (e).code === 1) return null; // not found
    throw e;
  }
}

/** Every file under `dir` that contains `needle`. */
async function filesContaining(/** @type {string} */ dir, /** @type {string} */ needle) {
  const found = [];
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath ?? e.path, e.name);
    const buf = await fs.readFile(p).catch(() => null);
    if (buf?.includes(needle)) found.push(p);
  }
  return found;
}

/**
 * A PNG of the virtual display (ImageMagick's `import`): WebKitWebDriver's own screenshot
 * command was seen to stall once the chat pane scrolls.
 */
async function shot(/** @type {string} */ name) {
  await run("import", ["-window", "root", path.join(OUT, `${name}.png`)]);
}

async function api(/** @type {string} */ method, /** @type {string} */ p, /** @type {string | null} */ token, /** @type {unknown} */ body) {
  const resp = await fetch(base + p, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: resp.status, json: await resp.json().catch(() => null) };
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const server = await start("server", SERVER_BIN, [
    "--listen", `127.0.0.1:${port}`, "--database", `sqlite://${work}/x.db?mode=rwc`, "--demo",
  ]);
  await ready(`${base}/healthz`, server);
  const dport = await freePort();
  const nport = await freePort();
  const td = await start("tauri-driver", TAURI_DRIVER, [
    "--port", String(dport), "--native-port", String(nport), "--native-driver", "/usr/bin/WebKitWebDriver",
  ]);
  driver = `http://127.0.0.1:${dport}`;
  await ready(`${driver}/status`, td);
});

after(async () => {
  if (app) await app.close().catch(() => {});
  for (const c of children.reverse()) {
    if (c.exitCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("an agent signs in: the inbox shows their chats and the token is in the keyring, not on disk", async () => {
  assert.equal(await keyringSession(), null, "the keyring starts empty");
  app = await Session.start(driver, DESKTOP_BIN);
  const s = app;
  await s.type(await s.waitFor("#server"), base);
  await s.type(await s.waitFor("#email"), "bob@demo.test");
  await s.type(await s.waitFor("#password"), "demo");
  await shot("01-sign-in");
  await s.click(await s.waitFor("#sign-in"));

  const mina = await s.waitFor('[data-chat-id="chat_mina"]');
  assert.match(await s.text(mina), /Mina Park/);
  await s.waitFor("#connection.online");
  assert.equal(await s.text(await s.waitFor("#agent-name")), "Bob Baker");
  await shot("02-inbox");

  const saved = await keyringSession();
  assert.ok(saved, "a session is in the Secret Service");
  assert.equal(saved.server, base);
  assert.match(saved.token, /\S{20,}/);
  const me = await api("GET", "/api/me", saved.token, null);
  assert.equal(me.status, 200);
  assert.equal(me.json.agent.email, "bob@demo.test");
  assert.deepEqual(await filesContaining(HOME, saved.token), [], "the token is in no file under HOME");
  assert.deepEqual(await filesContaining(work, saved.token), [], "nor in the server's database (stored hashed)");

  // The chat's messages, and a new one arriving live through the app's event socket.
  await s.click(mina);
  await s.waitFor("#messages .message");
  const alice = await api("POST", "/api/auth/sign-in", null, { email: "alice@demo.test", password: "demo" });
  assert.equal(alice.status, 200);
  const text = `Live note ${Date.now()}`;
  const posted = await api("POST", "/api/chats/chat_mina/messages", alice.json.token, { body: text });
  assert.equal(posted.status, 200);
  await s.waitFor(`[data-message-id="${posted.json.id}"]`);
  await shot("03-chat");

  // Other tabs: unassigned shows chat_leo and not chat_mina.
  await s.click(await s.waitFor('.tab[data-filter="unassigned"]'));
  await s.waitFor('[data-chat-id="chat_leo"]');
  assert.equal(await s.find('[data-chat-id="chat_mina"]'), null);
  await app.close();
  app = null;
});

test("the app starts signed in from the keyring, and sign-out clears it", async () => {
  if (app) await app.close().catch(() => {}); // left open by a failed first test
  app = await Session.start(driver, DESKTOP_BIN);
  const s = app;
  await s.waitFor('[data-chat-id="chat_mina"]');
  assert.equal(await s.find("#sign-in-form"), null);
  const saved = await keyringSession();
  assert.ok(saved);

  await s.click(await s.waitFor("#sign-out"));
  await s.waitFor("#sign-in-form");
  await s.waitUntil("the keyring entry to be gone", async () => (await keyringSession()) === null);
  await shot("04-signed-out");
  const server = await s.waitFor("#server");
  assert.equal(await s.cmd("GET", `/element/${server}/property/value`), base, "the form keeps the server");
  const me = await api("GET", "/api/me", saved.token, null);
  assert.equal(me.status, 401, "the token was revoked on the server");
});
