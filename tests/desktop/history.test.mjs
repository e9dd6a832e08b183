// @ts-check
// The call history screen end to end (P8): the real (debug) app under Xvfb, signed in as bob
// against `meetdesk-server --demo` (records made first through the HTTP API: a customer's missed
// meet, two DM meets Carol started and cancelled, an internal meet Alice started). The history
// lists them from the app's local cache; with the server stopped the app shows it offline, a
// delete is gone at once, and reaches the server once it is back on the same port and database
// (checked through the HTTP API as bob); a record calls its counterpart back (a customer CLI
// that answers; Carol's agent CLI sees the ring of a team record); a missed meet called back
// says it was handled; the new-team-meet search lists groups then DMs. Every wait is on a
// condition: an element polled through WebDriver, a CLI's JSON line, or the HTTP API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  OUT, cli, need, shot, signInApp, signOutAndClose, startDriver, startServer, stopChildren, stopServer, waitGone,
  waitText, writeTone, apiCall, idle } from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
need("PULSE_SERVER"); // the app's sound goes to run.sh's PulseAudio, never the machine's

let base = "";
let port = 0;
let work = "";
let minaLink = "";
let tone = "";
/** @type {import("node:child_process").ChildProcess | null} */
let server = null;
/** @type {Session | null} */
let app = null;
/** Bob's token for the HTTP checks (a device of his own, not the app's). */
let bob = "";

/** JSON over the HTTP API (harness.mjs `apiCall`). */
const api = (/** @type {string} */ method, /** @type {string} */ p, /** @type {string | null} */ token, /** @type {unknown} */ body = undefined) =>
  apiCall(base, method, p, token, body);

async function signIn(/** @type {string} */ email) {
  const res = await fetch(`${base}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "demo" }),
  });
  assert.equal(res.status, 200, `${email} signs in`);
  return (await res.json()).token;
}

/** Starts a meet as `token` and hangs it up before anyone answers: a record for whoever rang. */
async function ringAndCancel(/** @type {string} */ token, /** @type {unknown} */ target) {
  const started = await api("POST", "/api/meets", token, { target, media: "audio" });
  assert.equal(started.status, 200, JSON.stringify(started.json));
  const hung = await api("POST", `/api/meets/${started.json.id}/hangup`, token, {});
  assert.equal(hung.status, 200, JSON.stringify(hung.json));
  return started.json.id;
}

/** Runs a script in the app's page. */
function js(/** @type {Session} */ s, /** @type {string} */ script, /** @type {unknown[]} */ ...args) {
  return s.cmd("POST", "/execute/sync", { script, args });
}

/** The records the screen shows: `{id, direction, internal, handled, text}` in order. */
async function shownRecords(/** @type {Session} */ s) {
  return /** @type {{id: string, direction: string, internal: string, handled: string, text: string}[]} */ (
    await js(s, `return [...document.querySelectorAll('[data-testid="md-history-record"]')].map((e) => ({
      id: e.dataset.recordId, direction: e.dataset.direction, internal: e.dataset.internal, handled: e.dataset.handled,
      text: e.textContent }))`)
  );
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-history-"));
  ({ base, port, server } = await startServer(work, "history-server"));
  const driver = await startDriver("history-tauri-driver");
  const directory = await (await fetch(`${base}/api/demo`)).json();
  const mina = directory.customers.find((/** @type {any} */ c) => c.name === "Mina Park");
  assert.ok(mina, "the demo has Mina Park");
  minaLink = mina.link;
  tone = path.join(work, "customer.wav");
  await writeTone(tone, 440, 4);

  // Records for bob, oldest first: Mina calls and gives up (missed), Alice starts an internal
  // meet in Mina's chat (bob, its assignee, is invited), Carol calls bob in their DM twice.
  const resume = new URL(minaLink).searchParams.get("resume");
  const session = await fetch(`${base}/api/widget/resume`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: resume }),
  }).then((r) => r.json());
  await ringAndCancel(session.token, { kind: "user_chat", chat_id: "chat_mina" });
  const alice = await signIn("alice@demo.test");
  await ringAndCancel(alice, { kind: "internal", chat_id: "chat_mina" });
  const carol = await signIn("carol@demo.test");
  await ringAndCancel(carol, { kind: "room", room_id: "dm_bob_carol" });
  await ringAndCancel(carol, { kind: "room", room_id: "dm_bob_carol" });
  bob = await signIn("bob@demo.test");
  const records = await api("GET", "/api/history/changes?since=0", bob);
  assert.equal(records.json.changes.length, 4, `bob has 4 records: ${JSON.stringify(records.json)}`);

  app = await Session.start(driver, DESKTOP_BIN);
  await signInApp(app, base, "bob@demo.test", "demo");
  await app.click(await app.waitFor('[data-screen="history"]'));
});

after(async () => {
  if (app) await signOutAndClose(app);
  await stopChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("the history lists bob's records with their kind, counterpart and time", async () => {
  const s = /** @type {Session} */ (app);
  await s.waitUntil("4 records shown", async () => (await shownRecords(s)).length === 4);
  const shown = await shownRecords(s);
  assert.deepEqual(shown.map((r) => r.direction), ["invited", "invited", "invited", "missed"], "newest first");
  assert.match(shown[0].text, /Carol Chen/);
  assert.match(shown[0].text, /Invited by Carol Chen/);
  assert.equal(shown[2].internal, "true", "the internal meet");
  assert.ok(await s.find(`[data-record-id="${shown[2].id}"] [data-testid="md-history-lock"]`), "with a lock");
  assert.match(shown[3].text, /Mina Park/);
  assert.match(shown[3].text, /Missed audio meet/);
  assert.match(shown[3].text, /\d\d:\d\d/, "the start time");
  await waitGone(s, '[data-testid="md-history-sync"]'); // synced: no sync line
  await shot("20-history-list");

  // An internal record is not returned: it says so and starts nothing.
  await s.click(await s.waitFor(`[data-record-id="${shown[2].id}"] [data-testid="md-history-call"]`));
  await waitText(s, '[data-testid="md-history-message"]', (t) => t === "Internal meets cannot be returned");
  assert.equal(await s.find('[data-testid="md-call"]'), null, "no meet started");
});

test("offline: the history still shows, a delete is gone at once and reaches the server when it is back", async () => {
  const s = /** @type {Session} */ (app);
  const before = await shownRecords(s);
  const gone = before[1]; // Carol's older DM record
  await stopServer(/** @type {any} */ (server));
  await s.waitFor("#offline-banner");
  await waitText(s, '[data-testid="md-history-sync"]', (t) => t.startsWith("Offline"));
  assert.equal((await shownRecords(s)).length, 4, "the cache is read offline");

  await s.click(await s.waitFor(`[data-record-id="${gone.id}"] [data-testid="md-history-delete"]`));
  await waitGone(s, `[data-record-id="${gone.id}"]`);
  await waitText(s, '[data-testid="md-history-sync"]', (t) => t.includes("1 delete waits to be sent"));
  await shot("21-history-offline-delete");

  // The same server again (port and database): the app reconnects, sends the delete.
  ({ server } = await startServer(work, "history-server-again", port));
  await s.waitFor("#connection.online", 60_000);
  await waitGone(s, '[data-testid="md-history-sync"]');
  const rec = await api("GET", `/api/history/records/${gone.id}`, bob);
  assert.equal(rec.status, 404, "the offline delete reached the server");
  const kept = await api("GET", `/api/history/records/${before[0].id}`, bob);
  assert.equal(kept.status, 200, "the other records stay");
  assert.equal((await shownRecords(s)).length, 3);
  await shot("22-history-back-online");
});

test("a missed record calls the customer back; pressed again it says the call was handled", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const missed = (await shownRecords(s)).find((r) => r.direction === "missed");
  assert.ok(missed);
  const mina = await cli("history-customer", ["customer", "--server", base, "--link", minaLink, "--answer", "auto", "--play", tone,
    "--record", path.join(work, "called.wav")]);
  await mina.line("signed_in", (l) => l.event === "signed_in");
  await s.click(await s.waitFor(`[data-record-id="${missed.id}"] [data-testid="md-history-call"]`));
  await mina.line("ring", (l) => l.event === "ring");
  await mina.line("accepted", (l) => l.event === "accepted");
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await shot("23-history-called-back");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await mina.line("ended", (l) => l.event === "ended");
  await waitGone(s, '[data-testid="md-call"]');

  // The call back marked the missed record handled (synced through `history_changed`).
  await s.waitFor(`[data-record-id="${missed.id}"][data-handled="true"]`);
  await s.click(await s.waitFor(`[data-record-id="${missed.id}"] [data-testid="md-history-call"]`));
  await waitText(s, '[data-testid="md-history-handled-text"]', (t) => t === "This missed call has already been handled");
  await shot("24-history-already-handled");
  // Call still starts a new meet (Mina's widget is gone now: she is sent a link).
  await s.click(await s.waitFor('[data-testid="md-history-handled-call"]'));
  await s.waitFor('[data-testid="md-call"]');
  await idle(s);
});

test("a team record rings the other agent; the new-team-meet search lists groups, then DMs", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const carol = await cli("history-carol", ["agent", "--server", base, "--email", "carol@demo.test", "--password", "demo"]);
  await carol.line("signed_in", (l) => l.event === "signed_in");
  const dm = (await shownRecords(s)).find((r) => r.direction === "invited" && r.internal === "false");
  assert.ok(dm);
  await s.click(await s.waitFor(`[data-record-id="${dm.id}"] [data-testid="md-history-call"]`));
  const ring = await carol.line("ring", (l) => l.event === "ring");
  assert.ok(ring, "Carol's device rings");
  await s.waitFor('[data-testid="md-call"]');
  await idle(s);

  await s.click(await s.waitFor('[data-testid="md-history-new-team-meet"]'));
  await s.waitFor('[data-testid="md-history-search-result"]');
  const kinds = /** @type {string[]} */ (await js(s,
    `return [...document.querySelectorAll('[data-testid="md-history-search-result"]')].map((e) => e.dataset.kind)`));
  const rank = (/** @type {string} */ k) => ["public", "private", "dm"].indexOf(k);
  assert.deepEqual(kinds, [...kinds].sort((a, b) => rank(a) - rank(b)), `groups, then DMs: ${kinds}`);
  assert.ok(kinds.includes("public") && kinds.includes("dm"), `${kinds}`);
  await s.type(await s.waitFor('[data-testid="md-history-search-input"]'), "Support");
  await s.waitUntil("the search to narrow", async () => {
    const names = /** @type {string[]} */ (await js(s,
      `return [...document.querySelectorAll('[data-testid="md-history-search-result"] .name')].map((e) => e.textContent)`));
    return names.length === 1 && names[0] === "Support leads";
  });
  await shot("25-history-new-team-meet");
  await s.click(await s.waitFor('[data-testid="md-history-search-close"]'));
  await waitGone(s, '[data-testid="md-history-search"]');
});

test("delete all (menu, confirmed) leaves a blank history with suggestions; a suggestion rings", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  // Bob writes in DMs with three agents: the server then suggests them on an empty history.
  const dave = await api("POST", "/api/rooms/dm", bob, { agent_id: "ag_dave" });
  for (const room of ["dm_alice_bob", "dm_bob_carol", dave.json.id]) {
    const posted = await api("POST", `/api/rooms/${room}/messages`, bob, { body: "Quick call later?" });
    assert.equal(posted.status, 200, JSON.stringify(posted.json));
  }

  await s.click(await s.waitFor('[data-testid="md-history-menu"]'));
  await s.click(await s.waitFor('[data-testid="md-history-delete-all"]'));
  await s.waitFor('[data-testid="md-history-confirm"]');
  await shot("26-history-delete-all-confirm");
  await s.click(await s.waitFor('[data-testid="md-history-confirm-delete"]'));
  await s.waitFor('[data-testid="md-history-empty"]');
  await waitGone(s, '[data-testid="md-history-sync"]'); // sent: nothing waits
  const page = await api("GET", "/api/history/changes?since=0", bob);
  const live = page.json.changes.filter((/** @type {any} */ c) => c.op === "upsert");
  assert.deepEqual(live, [], "no record left on the server");

  // The suggestions: the three agents. The context menu offers audio, and video disabled.
  const carolSuggestion = '[data-testid="md-history-suggestion"][data-id="ag_carol"]';
  await s.waitFor(carolSuggestion);
  const agents = /** @type {string[]} */ (await js(s,
    `return [...document.querySelectorAll('[data-testid="md-history-suggestion"][data-kind="agent"]')].map((e) => e.dataset.id)`));
  assert.deepEqual([...agents].sort(), ["ag_alice", "ag_carol", "ag_dave"]);
  await shot("27-history-empty-suggestions");
  await js(s, `document.querySelector(arguments[0] + " button").dispatchEvent(
    new MouseEvent("contextmenu", { bubbles: true, cancelable: true, clientX: 120, clientY: 160 }))`, carolSuggestion);
  const video = await s.waitFor('[data-testid="md-history-menu-video"]');
  assert.equal(await s.cmd("GET", `/element/${video}/enabled`), false, "video is not offered yet");
  assert.match(/** @type {string} */ (await s.cmd("GET", `/element/${video}/attribute/title`)), /not supported/);
  const carol = await cli("history-carol-2", ["agent", "--server", base, "--email", "carol@demo.test", "--password", "demo"]);
  await carol.line("signed_in", (l) => l.event === "signed_in");
  await s.click(await s.waitFor('[data-testid="md-history-menu-audio"]'));
  await carol.line("ring", (l) => l.event === "ring");
  await s.waitFor('[data-testid="md-call"]');
  await idle(s);
});
