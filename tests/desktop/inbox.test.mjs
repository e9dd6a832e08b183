// @ts-check
// The desktop app's inbox end to end (issue 5): the real (debug) app under Xvfb, signed in as
// bob against `meetdesk-server --demo`, other agents played by `meetdesk-cli agent` (JSON lines
// say what they saw) and checked through the HTTP API. Sending in a chat (Enter sends,
// Shift+Enter is a newline), the internal chat, the customer's profile, an internal meet (the
// panel is orange), a team meet from a new DM, and inviting an agent mid-meet. Every wait is on
// a condition: an element polled through WebDriver, a CLI line or an API answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  OUT, cli, need, shot, signInApp, signOutAndClose, startServerAndDriver, stopChildren, waitGone, waitText, apiCall, idle } from "./harness.mjs";
import { Session } from "./webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
need("PULSE_SERVER"); // the app's sound goes to run.sh's PulseAudio, never the machine's

/** WebDriver key codes (W3C "Keys"). */
const ENTER = "\uE007";
const SHIFT = "\uE008";

let base = "";
let driver = "";
let work = "";
/** @type {Session | null} */
let app = null;

/** JSON over the HTTP API (harness.mjs `apiCall`). */
const api = (/** @type {string} */ method, /** @type {string} */ p, /** @type {string | null} */ token, /** @type {unknown} */ body = undefined) =>
  apiCall(base, method, p, token, body);

/** An agent's token (a session of its own, beside the app's and the CLIs'). */
async function token(/** @type {string} */ email) {
  const r = await api("POST", "/api/auth/sign-in", null, { email, password: "demo" });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return /** @type {string} */ (r.json.token);
}

/** `meetdesk-cli agent` signed in as `email`, answering every ring. */
async function agentCli(/** @type {string} */ name, /** @type {string} */ email) {
  const c = await cli(name, ["agent", "--server", base, "--email", email, "--password", "demo", "--answer", "auto"]);
  await c.line("signed_in", (l) => l.event === "signed_in");
  return c;
}

/** Types into an element without clearing it first (keys such as Enter included). */
async function keys(/** @type {Session} */ s, /** @type {string} */ el, /** @type {string} */ text) {
  await s.cmd("POST", `/element/${el}/value`, { text });
}

/** Polls `f` until it returns something (bounded). */
async function until(/** @type {string} */ what, /** @type {() => Promise<any>} */ f) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  await fs.mkdir(OUT, { recursive: true });
  work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-desktop-inbox-"));
  ({ base, driver } = await startServerAndDriver(work, "inbox-"));
  app = await Session.start(driver, DESKTOP_BIN);
  await signInApp(app, base, "bob@demo.test", "demo");
  await app.waitFor('[data-chat-id="chat_mina"]');
});

after(async () => {
  if (app) await signOutAndClose(app);
  await stopChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test("bob replies in Mina's chat: Enter sends, Shift+Enter is a newline, the server has it", async () => {
  const s = /** @type {Session} */ (app);
  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await waitText(s, '[data-testid="md-profile-name"]', (t) => t === "Mina Park");
  assert.match(await s.text(await s.waitFor('[data-testid="md-profile-email"]')), /@/, "the profile shows her e-mail");

  const stamp = Date.now();
  const input = await s.waitFor('[data-testid="md-composer-input"]');
  await keys(s, input, `Hello from the app ${stamp}`);
  // Shift+Enter as a person presses it (WebDriver actions: Shift held while Enter goes down).
  await s.cmd("POST", "/actions", {
    actions: [{
      type: "key",
      id: "keyboard",
      actions: [{ type: "keyDown", value: SHIFT }, { type: "keyDown", value: ENTER }, { type: "keyUp", value: ENTER }, { type: "keyUp", value: SHIFT }],
    }],
  });
  await s.cmd("DELETE", "/actions");
  await keys(s, input, `second line${ENTER}`);
  const shown = await waitText(s, "#messages .message:last-of-type .body", (t) => t.includes(`${stamp}`)).catch(async (e) => {
    const seen = await s.cmd("POST", "/execute/sync", {
      script: "return [...document.querySelectorAll('#messages .body')].slice(-3).map((e) => e.textContent)",
      args: [],
    });
    throw new Error(`${e.message}; the last messages: ${JSON.stringify(seen)}`);
  });
  assert.match(shown, new RegExp(`Hello from the app ${stamp}\\s+second line`));
  const left = await s.cmd("POST", "/execute/sync", {
    script: "return document.querySelector('[data-testid=\"md-composer-input\"]').value",
    args: [],
  });
  assert.equal(left, "", "the box is emptied");
  await shot("40-inbox-composer");

  const alice = await token("alice@demo.test");
  const list = await api("GET", "/api/chats/chat_mina/messages", alice, null);
  const sent = list.json.find((/** @type {any} */ m) => m.body.includes(`${stamp}`));
  assert.ok(sent, "the server has the message");
  assert.equal(sent.body, `Hello from the app ${stamp}\nsecond line`);
  assert.equal(sent.author.name, "Bob Baker");
  assert.equal(sent.internal, false);

  // A message from someone else arrives live.
  const live = `Alice writes ${stamp}`;
  await api("POST", "/api/chats/chat_mina/messages", alice, { body: live });
  await waitText(s, "#messages .message:last-of-type .body", (t) => t === live);
});

test("the internal chat: a note reaches the managers' thread only", async () => {
  const s = /** @type {Session} */ (app);
  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await s.click(await s.waitFor('[data-testid="md-thread-internal"]'));
  const note = `Internal note ${Date.now()}`;
  await keys(s, await s.waitFor('[data-testid="md-internal-composer-input"]'), `${note}${ENTER}`);
  await waitText(s, "#internal-messages .message:last-of-type .body", (t) => t === note);
  await shot("41-inbox-internal-chat");

  const carol = await token("carol@demo.test");
  const internal = await api("GET", "/api/chats/chat_mina/internal-messages", carol, null);
  assert.ok(internal.json.some((/** @type {any} */ m) => m.body === note && m.internal), "in the internal chat");
  const visible = await api("GET", "/api/chats/chat_mina/messages", carol, null);
  assert.ok(!visible.json.some((/** @type {any} */ m) => m.body === note), "not in the customer's chat");

  // Carol's note arrives live in the internal thread (and not in the chat).
  const hers = `Carol's note ${Date.now()}`;
  await api("POST", "/api/chats/chat_mina/internal-messages", carol, { body: hers });
  await waitText(s, "#internal-messages .message:last-of-type .body", (t) => t === hers);
  await s.click(await s.waitFor('[data-testid="md-thread-chat"]'));
  await s.waitFor("#messages .message");
  const inChat = await s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll('#messages .body')].some((e) => e.textContent === arguments[0])",
    args: [hers],
  });
  assert.equal(inChat, false, "internal notes stay out of the customer's thread");
});

test("an internal meet rings the chat's managers and its panel is orange", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  // Carol writes in the internal chat: she is one of the chat's managers (P4 rings them).
  await api("POST", "/api/chats/chat_mina/internal-messages", await token("carol@demo.test"), { body: "I can help with this one." });
  const carol = await agentCli("inbox-carol-internal", "carol@demo.test");
  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await s.click(await s.waitFor('[data-testid="md-thread-internal"]'));
  await s.click(await s.waitFor('[data-testid="md-internal-meet"]'));
  await s.click(await s.waitFor('[data-testid="md-internal-meet-audio"]'));

  const ring = await carol.line("ring", (l) => l.event === "ring");
  await carol.line("accepted", (l) => l.event === "accepted" && l.meet_id === ring.meet_id);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  const panel = await s.waitFor(`[data-testid="md-call"].internal[data-meet-id="${ring.meet_id}"]`);
  assert.match(await s.text(panel), /Internal meet/);
  assert.match(await s.text(panel), /Carol Chen/);
  const colours = await s.cmd("POST", "/execute/sync", {
    script: "const st = getComputedStyle(document.querySelector('[data-testid=\"md-call\"]')); return [st.backgroundColor, st.borderTopColor]",
    args: [],
  });
  assert.deepEqual(colours, ["rgb(255, 244, 229)", "rgb(251, 133, 0)"], "orange: background and border");
  await shot("42-inbox-internal-meet");

  // The meet never reaches the customer's side: the API's meet view says internal.
  const alice = await token("alice@demo.test");
  const view = await api("GET", `/api/meets/${ring.meet_id}`, alice, null);
  assert.equal(view.json.scope.kind, "internal");

  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await waitGone(s, '[data-testid="md-call"]');
  carol.child.kill("SIGTERM");
  await carol.exited;
});

test("a team meet from a new DM, then an agent invited mid-meet", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const dave = await agentCli("inbox-dave-dm", "dave@demo.test");
  const alice = await agentCli("inbox-alice-invited", "alice@demo.test");

  await s.click(await s.waitFor('.tab[data-screen="team"]'));
  await s.waitFor('[data-room-id="room_general"]');
  assert.ok(await s.find('[data-room-id="room_billing"][data-room-kind="private"]'), "bob's private group is listed");
  assert.equal(await s.find('[data-room-id="room_escalations"]'), null, "a private group he is not in is not");
  // No DM with Dave yet: "Start a DM" makes it (P5: Dave has no operator seat; team meets need none).
  await s.click(await s.waitFor('[data-dm-agent-id="ag_dave"]'));
  await waitText(s, "#room-title", (t) => t === "Dave Diaz");
  const hello = `Hi Dave ${Date.now()}`;
  await keys(s, await s.waitFor('[data-testid="md-room-composer-input"]'), `${hello}${ENTER}`);
  await waitText(s, "#room-messages .message:last-of-type .body", (t) => t === hello);
  await shot("43-inbox-team-dm");

  await s.click(await s.waitFor('[data-testid="md-room-meet"]'));
  await s.click(await s.waitFor('[data-testid="md-room-meet-audio"]'));
  const ring = await dave.line("ring", (l) => l.event === "ring");
  await dave.line("accepted", (l) => l.event === "accepted" && l.meet_id === ring.meet_id);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await waitText(s, '[data-testid="md-call-participants"]', (t) => t.includes("Dave Diaz"));
  const room = await api("GET", `/api/meets/${ring.meet_id}`, await token("dave@demo.test"), null);
  assert.equal(room.json.scope.kind, "team_dm");
  await shot("44-inbox-team-meet");

  // P6: invite Alice; her CLI rings (and answers); the panel lists her.
  await s.click(await s.waitFor('[data-testid="md-call-invite"]'));
  assert.equal(await s.find('[data-testid="md-invite-agent"][data-agent-id="ag_dave"]'), null, "Dave is in the meet already");
  assert.equal(await s.find('[data-testid="md-invite-agent"][data-agent-id="ag_bob"]'), null, "not oneself");
  await s.click(await s.waitFor('[data-testid="md-invite-agent"][data-agent-id="ag_alice"]'));
  const invited = await alice.line("ring", (l) => l.event === "ring");
  assert.equal(invited.meet_id, ring.meet_id, "the invite rings for the same meet");
  await waitText(s, '[data-testid="md-invite-done"]', (t) => /Alice Admin/.test(t));
  await alice.line("accepted", (l) => l.event === "accepted" && l.meet_id === ring.meet_id);
  await waitText(s, '[data-testid="md-call-participants"]', (t) => t.includes("Alice Admin") && t.includes("Dave Diaz"));
  await shot("45-inbox-invited");
  const meet = await until("Alice in the meet", async () => {
    const v = await api("GET", `/api/meets/${ring.meet_id}`, await token("alice@demo.test"), null);
    return v.json.participants.some((/** @type {any} */ p) => p.party.id === "ag_alice" && p.left_at === null) ? v.json : null;
  });
  const aliceRing = meet.rings.find((/** @type {any} */ r) => r.party.id === "ag_alice");
  assert.equal(aliceRing?.invited_by?.name, "Bob Baker", "rung as invited by Bob");

  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await waitGone(s, '[data-testid="md-call"]');
  for (const c of [dave, alice]) {
    c.child.kill("SIGTERM");
    await c.exited;
  }
});

test("the profile's Voice meet opens a new chat with the customer and calls her there (P3)", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  const directory = await (await fetch(`${base}/api/demo`)).json();
  const mina = directory.customers.find((/** @type {any} */ c) => c.name === "Mina Park");
  const customer = await cli("inbox-mina-profile", ["customer", "--server", base, "--link", mina.link, "--answer", "auto"]);
  await customer.line("signed_in", (l) => l.event === "signed_in"); // her widget is connected: online

  await s.click(await s.waitFor('.tab[data-screen="inbox"]'));
  await s.click(await s.waitFor('[data-chat-id="chat_mina"]'));
  await waitText(s, '[data-testid="md-profile-online"]', (t) => t === "Online");
  await s.click(await s.waitFor('[data-testid="md-profile-meet"]'));
  await shot("49-inbox-profile-menu");
  await s.click(await s.waitFor('[data-testid="md-profile-meet-audio"]'));
  const ring = await customer.line("ring", (l) => l.event === "ring");
  await customer.line("accepted", (l) => l.event === "accepted" && l.meet_id === ring.meet_id);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");

  // The meet is in a new chat, which the app opened.
  const alice = await token("alice@demo.test");
  const meet = (await api("GET", `/api/meets/${ring.meet_id}`, alice, null)).json;
  assert.equal(meet.scope.kind, "user_chat");
  assert.notEqual(meet.scope.chat_id, "chat_mina", "a new chat");
  await s.waitFor(`.chat-item.selected[data-chat-id="${meet.scope.chat_id}"]`);
  await waitText(s, "#chat-title", (t) => t === "Mina Park");

  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await customer.line("ended", (l) => l.event === "ended");
  await waitGone(s, '[data-testid="md-call"]');
  customer.child.kill("SIGTERM");
  await customer.exited;
});

test("a meet going on in a room is joined from the room, not started twice (P5)", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  // Dave calls the Billing room (Bob and Dave): Bob's app rings, and the room offers to join.
  const dave = await cli("inbox-dave-room", [
    "agent", "--server", base, "--email", "dave@demo.test", "--password", "demo", "--call-room", "room_billing",
  ]);
  const started = await dave.line("started", (l) => l.event === "started");
  await s.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"]`);
  await s.click(await s.waitFor('.tab[data-screen="team"]'));
  await s.click(await s.waitFor('[data-room-id="room_billing"]'));
  await waitText(s, "#room-title", (t) => t === "# Billing");
  assert.equal(await s.find('[data-testid="md-room-meet"]'), null, "no second meet offered");
  await shot("46-inbox-room-join");
  await s.click(await s.waitFor('[data-testid="md-room-join"]'));
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await waitText(s, '[data-testid="md-call-participants"]', (t) => t.includes("Dave Diaz"));
  await waitGone(s, '[data-testid="md-ring"]');
  await dave.line("bob joined", (l) => l.event === "media_slots" && l.meet_id === started.meet_id && JSON.stringify(l).includes("Bob Baker"));

  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await waitGone(s, '[data-testid="md-call"]');
  dave.child.kill("SIGTERM");
  await dave.exited;
});

test("a missed meet's indicator: Open meet starts it again; only admins read why it was missed", async () => {
  const s = /** @type {Session} */ (app);
  await idle(s);
  // Bob calls the General room and hangs up before anyone answers: missed, cancelled by caller.
  await s.click(await s.waitFor('.tab[data-screen="team"]'));
  await s.click(await s.waitFor('[data-room-id="room_general"]'));
  await waitText(s, "#room-title", (t) => t === "# General");
  await s.click(await s.waitFor('[data-testid="md-room-meet"]'));
  await s.click(await s.waitFor('[data-testid="md-room-meet-audio"]'));
  const calling = await s.waitFor('[data-testid="md-call"]');
  const meetId = await s.cmd("GET", `/element/${calling}/attribute/data-meet-id`);
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Calling…");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  const indicator = await s.waitFor(`#room-messages [data-testid="md-missed"][data-meet-id="${meetId}"]`);
  assert.equal(await s.find('[data-testid="md-missed-reason"]'), null, "Bob is no admin: no reason");
  assert.match(await s.text(indicator), /Missed meet/);
  await waitGone(s, '[data-testid="md-call"]');
  await shot("47-inbox-missed-agent");

  // "Open meet" starts the room's meet again: Dave's CLI rings and answers.
  const dave = await agentCli("inbox-dave-again", "dave@demo.test");
  await s.click(await s.waitFor(`[data-meet-id="${meetId}"] [data-testid="md-missed-open"]`));
  const ring = await dave.line("ring", (l) => l.event === "ring");
  assert.notEqual(ring.meet_id, meetId, "a new meet");
  await waitText(s, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await s.click(await s.waitFor('[data-testid="md-call-hangup"]'));
  await waitGone(s, '[data-testid="md-call"]');
  dave.child.kill("SIGTERM");
  await dave.exited;

  // Alice (admin) signs in on the app: the same indicator says why.
  await s.click(await s.waitFor("#sign-out"));
  await s.waitFor("#sign-in-form");
  await signInApp(s, base, "alice@demo.test", "demo");
  await s.click(await s.waitFor('.tab[data-screen="team"]'));
  await s.click(await s.waitFor('[data-room-id="room_general"]'));
  await waitText(s, `[data-meet-id="${meetId}"] [data-testid="md-missed-reason"]`, (t) => t === "Reason: Cancelled by the caller");
  await shot("48-inbox-missed-admin");
});
