// @ts-check
// The desktop app end to end: the real release-less (debug) app under Xvfb, driven through
// tauri-driver + WebKitWebDriver, against a real `meetdesk-server --demo` (free port, temp
// SQLite), with a real Secret Service (gnome-keyring) in the D-Bus session that run.sh starts.
// HOME is a temp dir (run.sh), so the "not on disk" check reads everything the app wrote.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OUT, need, run, shot, startServerAndDriver, stopChildren, apiCall } from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
const HOME = os.homedir();

let base = "";
let driver = "";
let work = "";
/** @type {Session | null} */
let app = null;

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

/** JSON over the HTTP API (harness.mjs `apiCall`). */
const api = (/** @type {string} */ method, /** @type {string} */ p, /** @type {string | null} */ token, /** @type {unknown} */ body = undefined) =>
  apiCall(base, method, p, token, body);

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-"));
  ({ base, driver } = await startServerAndDriver(work));
});

after(async () => {
  if (app) await app.close().catch(() => {});
  await stopChildren();
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
