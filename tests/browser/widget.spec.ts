// The customer widget end to end (docs/widget.md, "Test ids"): real headless Chromium (Debian's),
// its microphone a 440 Hz file, on the server's /demo page and /m/{meet} meet page; the real
// meetdesk-server with its demo data; agents as the real meetdesk-cli (660 Hz microphone,
// speaker recorded) and over HTTP (lib/agent.ts). Journeys:
//   1. the Meet button rule (P2) in every demo chat state, and for a fresh visitor;
//   2. the button follows the chat live (input window, assignee, channel switch), messages
//      both ways, internal notes never shown;
//   3. the customer calls, the agent answers: audio both ways, mute, hang-up from the page;
//      3b. a reload mid-meet offers to rejoin, and the audio comes back;
//   4. an agent calls the online customer: accept (audio), and decline (seen as "ended" only);
//   5. an agent calls an offline customer: the follow-up message's link opens the meet page;
//   6. bad meet links: tampered, wrong meet, unknown meet, used, expired (server restarted
//      11 minutes "later");
//   7. microphone denied: the browser's help (P7), and no meet started on the server;
//   8. embedded on another origin (CORS): a new visitor chats, reloads, keeps the conversation.
// Screenshots of every state: test-output/browser/widget/NN-name.png.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";

import type { DemoCustomer, DemoDirectory } from "../../widget/src/bindings";
import { CHROMIUM, chromiumArgs, type Reading } from "./lib/chromium";
import { AgentClient, CustomerClient, demoCustomer, demoDirectory } from "./lib/agent";
import { linkSigningKey, signMeetToken } from "./lib/links";
import { Cli, OUT, binary, measureWav, startServer, type CliEvent, type Proc } from "./lib/procs";
import { writeSineWav } from "./lib/wav";

const SHOTS = join(OUT, "widget");
const CUSTOMER_HZ = 440;
const AGENT_HZ = 660;


// ---- Chromium ------------------------------------------------------------------------------


/** Temp files of this worker (the microphone file, recordings), removed at the end. */
const scratch = mkdtempSync(join(tmpdir(), "meetdesk-widget-"));
const customerWav = join(scratch, `customer-${CUSTOMER_HZ}.wav`);
const agentWav = join(scratch, `agent-${AGENT_HZ}.wav`);
writeSineWav(customerWav, CUSTOMER_HZ, 10);
writeSineWav(agentWav, AGENT_HZ, 10);
mkdirSync(SHOTS, { recursive: true });

/** The Chromium with a granted 440 Hz microphone, launched once and shared by the describes that need it. */
let granted: Promise<Browser> | undefined;
function grantedBrowser(): Promise<Browser> {
  granted ??= chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(customerWav, "granted") });
  return granted;
}

// The widget never throws at the page: no uncaught exception in any page of a test.
test.afterEach(() => {
  const errors = [...consoles.values()].flat().filter((l) => l.startsWith("[pageerror]"));
  consoles.clear();
  expect(errors, "uncaught exceptions in the page").toEqual([]);
});

test.afterAll(async () => {
  await (await granted?.catch(() => undefined))?.close();
  granted = undefined;
  rmSync(scratch, { recursive: true, force: true });
});

// ---- pages ---------------------------------------------------------------------------------

/** Browser console and page errors, kept per page and written next to the screenshots. */
const consoles = new Map<Page, string[]>();

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  watch(page);
  return page;
}

function watch(page: Page): void {
  const lines: string[] = [];
  consoles.set(page, lines);
  page.on("console", (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`[pageerror] ${e.message}`));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  const lines = consoles.get(page);
  if (lines?.length) writeFileSync(join(SHOTS, `${name}.console.log`), lines.join("\n") + "\n");
}

/** Waits until the widget's global exists and its event socket said hello. */
async function widgetReady(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).MeetDeskWidget != null, undefined, { timeout: 20_000 });
  await page.evaluate(
    () =>
      Promise.race([
        (window as any).MeetDeskWidget.ready,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error("MeetDeskWidget.ready did not resolve within 20 s")), 20_000),
        ),
      ]) as Promise<void>,
  );
}

/** The customer's chat as the widget's session holds it (null until the session has it). */
function sessionChat(page: Page, chatId: string): Promise<{ customer_meet_button: { shown: boolean } } | null> {
  return page.evaluate((id) => (window as any).MeetDeskWidget?.session?.chats?.get(id) ?? null, chatId);
}

/** Opens a customer's resume link (a fresh browser context: its own localStorage) and waits for the open panel. */
async function openCustomer(browser: Browser, c: DemoCustomer): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
  const page = await newPage(context);
  await page.goto(c.link);
  await expect(page.getByTestId("md-panel")).toBeVisible();
  await widgetReady(page);
  await expect.poll(() => sessionChat(page, c.chat_id), { message: `the widget's session has ${c.chat_id}` }).not.toBeNull();
  return { context, page };
}

/** The text a person sees in the page, shadow roots included (not <style> contents). */
function visibleText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const out: string[] = [document.body.innerText];
    const walk = (root: Document | ShadowRoot) => {
      for (const el of Array.from(root.querySelectorAll("*"))) {
        const sr = (el as HTMLElement).shadowRoot;
        if (sr) {
          for (const child of Array.from(sr.children)) {
            if (child instanceof HTMLElement && child.tagName !== "STYLE") out.push(child.innerText);
          }
          walk(sr);
        }
      }
    };
    walk(document);
    return out.join("\n");
  });
}

/**
 * Test tones through the browser's echo cancellation / noise suppression / gain control come
 * out mangled (a steady sine is "noise"): the meets whose recording is measured turn them off
 * (`MeetDeskWidget.audioProcessing`, a diagnostics switch of the widget).
 */
async function withoutProcessing(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).MeetDeskWidget != null);
  await page.evaluate(() => {
    (window as any).MeetDeskWidget.audioProcessing = false;
  });
}

function toneOf(page: Page, hz: number): Promise<Reading | null> {
  return page.evaluate((hz) => (window as any).MeetDeskWidget?.toneOf(hz) ?? null, hz);
}

/** `count` readings of `hz`, `everyMs` apart, taken in the page. */
function sampleTone(page: Page, hz: number, count: number, everyMs: number): Promise<(Reading | null)[]> {
  return page.evaluate(
    async ({ hz, count, everyMs }) => {
      const out = [];
      for (let i = 0; i < count; i++) {
        out.push((window as any).MeetDeskWidget?.toneOf(hz) ?? null);
        if (i + 1 < count) await new Promise((r) => setTimeout(r, everyMs));
      }
      return out;
    },
    { hz, count, everyMs },
  );
}

/** Polls until the page hears `hz` from the agent (the best remote slot). */
async function expectHears(page: Page, hz: number): Promise<void> {
  await expect
    .poll(async () => (await toneOf(page, hz))?.detected ?? false, {
      message: `the page hears ${hz} Hz (window.MeetDeskWidget.toneOf(${hz}))`,
      timeout: 20_000,
    })
    .toBe(true);
}

/** A page in error must not show a stack trace or a raw exception. */
async function expectNoStackTrace(page: Page): Promise<void> {
  const text = await visibleText(page);
  expect(text, "no exception text").not.toMatch(/\b\w*Error:/);
  expect(text, "no stack frames").not.toMatch(/^\s*at \S+/m);
  expect(text, "no source locations").not.toMatch(/\.(js|ts):\d+/);
}

// ---- agents --------------------------------------------------------------------------------

function agentCli(name: string, url: string, email: string, args: string[]): Cli {
  return new Cli(name, binary("meetdesk-cli"), [
    "agent",
    "--server",
    url,
    "--email",
    email,
    "--password",
    "demo",
    ...args,
  ]);
}

const isCustomer = (e: CliEvent) => (e.party as { kind?: string } | undefined)?.kind === "customer";

/** P2: the Meet button shows iff assigned, input open, native (meets on). */
function buttonRule(c: DemoCustomer): boolean {
  return c.assignee !== null && c.input_open && c.source === "native";
}

const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-");

// =============================================================================================

test.describe("customer widget journeys", () => {
  let dir: string;
  let server: Proc | undefined;
  let url: string;
  let directory: DemoDirectory;
  let alice: AgentClient;
  let bob: AgentClient;
  let browser: Browser;
  const clis: Proc[] = [];
  const contexts: BrowserContext[] = [];

  test.beforeAll(async () => {
    binary("meetdesk-cli"); // fail early with a clear message
    dir = mkdtempSync(join(tmpdir(), "meetdesk-widget-journeys-"));
    const started = await startServer(dir, "widget-server");
    server = started.proc;
    url = started.url;
    directory = await demoDirectory(url);
    alice = await AgentClient.signIn(url, "alice@demo.test");
    bob = await AgentClient.signIn(url, "bob@demo.test");
    browser = await grantedBrowser();
  });

  test.afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
    for (const p of clis.splice(0)) await p.stop();
  });

  test.afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(c: DemoCustomer) {
    const opened = await openCustomer(browser, c);
    contexts.push(opened.context);
    return opened;
  }

  function cli(name: string, email: string, args: string[]): Cli {
    const p = agentCli(name, url, email, args);
    clis.push(p);
    return p;
  }

  test("1. the Meet button shows exactly when the chat is assigned, open and native (P2), in every demo chat", async () => {
    expect(directory.customers.length).toBeGreaterThanOrEqual(5);
    // The demo has both sides of each condition, or the journey proves little.
    expect(directory.customers.some(buttonRule)).toBe(true);
    expect(directory.customers.some((c) => c.assignee === null)).toBe(true);
    expect(directory.customers.some((c) => !c.input_open)).toBe(true);
    expect(directory.customers.some((c) => c.source !== "native")).toBe(true);

    let n = 10;
    for (const c of directory.customers) {
      const shown = buttonRule(c);
      await test.step(`${c.name}: assignee ${c.assignee}, input ${c.input_open ? "open" : "closed"}, ${c.source}, ${c.state} → button ${shown ? "shown" : "hidden"}`, async () => {
        const { context, page } = await open(c);
        // The server's rule agrees with the product rule (else the widget cannot be right).
        expect((await sessionChat(page, c.chat_id))!.customer_meet_button.shown).toBe(shown);
        // The chat's history is on screen (every demo chat has the customer's first message).
        await expect(page.getByTestId("md-message").first()).toBeVisible();
        if (shown) {
          await expect(page.getByTestId("md-meet-button")).toBeVisible();
        } else {
          await expect(page.getByTestId("md-meet-button")).toHaveCount(0);
        }
        if (c.input_open) {
          await expect(page.getByTestId("md-composer")).toBeVisible();
          await expect(page.getByTestId("md-input-closed")).toHaveCount(0);
        } else {
          await expect(page.getByTestId("md-input-closed")).toBeVisible();
          await expect(page.getByTestId("md-composer")).toHaveCount(0);
        }
        await shot(page, `${n++}-button-${shown ? "shown" : "hidden"}-${slug(c.name)}`);
        await context.close();
      });
    }

    await test.step("a fresh visitor on /demo (no resume link): unassigned, no Meet button", async () => {
      const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
      contexts.push(context);
      const page = await newPage(context);
      await page.goto(`${url}/demo`);
      await expect(page.getByTestId("md-launcher")).toBeVisible();
      await expect(page.getByTestId("md-panel")).toHaveCount(0);
      await shot(page, `${n++}-visitor-launcher`);
      await page.getByTestId("md-launcher").click();
      await expect(page.getByTestId("md-panel")).toBeVisible();
      await widgetReady(page);
      await expect
        .poll(() => page.evaluate(() => (window as any).MeetDeskWidget.session?.chats?.size ?? 0))
        .toBeGreaterThan(0);
      await expect(page.getByTestId("md-composer")).toBeVisible();
      await expect(page.getByTestId("md-meet-button")).toHaveCount(0);
      await shot(page, `${n++}-visitor-no-button`);
    });
  });

  test("2. the button follows the chat live; messages both ways; internal notes never reach the widget", async () => {
    const mina = demoCustomer(directory, "Mina Park");
    expect(buttonRule(mina)).toBe(true);
    const bobId = bob.agent.id;
    const { page } = await open(mina);
    const button = () => page.getByTestId("md-meet-button");
    await expect(button()).toBeVisible();
    let n = 20;

    try {
      await test.step("input window closed → hidden; reopened → shown", async () => {
        await alice.updateChat(mina.chat_id, { input_open: false });
        await expect(button()).toHaveCount(0);
        await expect(page.getByTestId("md-input-closed")).toBeVisible();
        await shot(page, `${n++}-live-input-closed`);
        await alice.updateChat(mina.chat_id, { input_open: true });
        await expect(button()).toBeVisible();
        await expect(page.getByTestId("md-composer")).toBeVisible();
      });

      await test.step("unassigned → hidden; assigned again → shown", async () => {
        await alice.assign(mina.chat_id, null);
        await expect(button()).toHaveCount(0);
        await shot(page, `${n++}-live-unassigned`);
        await alice.assign(mina.chat_id, bobId);
        await expect(button()).toBeVisible();
      });

      await test.step("meets switched off for the channel → hidden; on → shown", async () => {
        await alice.setSettings({ audio_enabled: false, video_enabled: false });
        await expect(button()).toHaveCount(0);
        await shot(page, `${n++}-live-meets-off`);
        await alice.setSettings({ audio_enabled: true, video_enabled: true });
        await expect(button()).toBeVisible();
        await shot(page, `${n++}-live-shown-again`);
      });
    } finally {
      // Leave the demo as it was for the next journeys.
      await alice.setSettings({ audio_enabled: true, video_enabled: true });
      await alice.updateChat(mina.chat_id, { input_open: true });
      await alice.assign(mina.chat_id, bobId);
    }

    await test.step("the customer writes: the agent gets it", async () => {
      const text = `Can we talk about my order? (${Date.now()})`;
      await page.getByTestId("md-composer").fill(text);
      await page.getByTestId("md-send").click();
      await expect(page.getByTestId("md-message").filter({ hasText: text })).toHaveAttribute("data-author", "customer");
      await expect(page.getByTestId("md-composer")).toHaveValue("");
      await expect
        .poll(async () => (await bob.messages(mina.chat_id)).find((m) => m.body === text)?.author.kind ?? null)
        .toBe("customer");
      await shot(page, `${n++}-customer-wrote`);
    });

    await test.step("the agent writes: it appears as an agent's message", async () => {
      const text = `Sure, Mina! Let me look (${Date.now()})`;
      const posted = await bob.postMessage(mina.chat_id, text);
      const msg = page.getByTestId("md-message").filter({ hasText: text });
      await expect(msg).toHaveAttribute("data-author", "agent");
      await expect(msg).toHaveAttribute("data-message-id", posted.id);
      await shot(page, `${n++}-agent-wrote`);
    });

    await test.step("an internal note never shows, though a later public message does", async () => {
      const note = `INTERNAL: refund approved, do not tell yet (${Date.now()})`;
      const after = `Your refund is on its way (${Date.now()})`;
      await alice.postInternal(mina.chat_id, note);
      await bob.postMessage(mina.chat_id, after);
      await expect(page.getByTestId("md-message").filter({ hasText: after })).toBeVisible();
      await expect(page.getByTestId("md-message").filter({ hasText: note })).toHaveCount(0);
      expect(await visibleText(page)).not.toContain("INTERNAL: refund approved");
      const seenByWidget = await page.evaluate(() => JSON.stringify((window as any).MeetDeskWidget.session?.chats ?? {}));
      expect(seenByWidget).not.toContain("INTERNAL: refund approved");
      await shot(page, `${n++}-internal-note-not-shown`);
    });
  });

  test("3. the customer presses Meet, the agent answers: audio both ways, duration, mute, hang-up from the page", async () => {
    const mina = demoCustomer(directory, "Mina Park");
    const { page } = await open(mina);
    const bobHeard = join(OUT, "widget-bob-heard.wav");
    let n = 30;
    await withoutProcessing(page);

    await page.getByTestId("md-meet-button").click();
    const meet = page.getByTestId("md-meet");
    await expect(meet).toHaveAttribute("data-phase", "ringing");
    // The contract's example text is "Calling…"; the UI may say whom ("Calling the team…").
    await expect(page.getByTestId("md-meet-status")).toHaveText(/^Calling\b.*…$/);
    await shot(page, `${n++}-customer-calling`);

    // Bob's devices ring (P2: 120 s). The ring is checked on the server, and answered by a
    // new device of Bob's (the CLI, joining the meet = accepting its ring): a CLI already
    // running with --answer auto would answer within milliseconds, before the ringing state
    // could be seen.
    await expect
      .poll(async () => (await bob.chat(mina.chat_id)).ongoing_meet, { message: "the chat's ongoing meet" })
      .not.toBeNull();
    const meetId = (await bob.chat(mina.chat_id)).ongoing_meet!;
    const view = await bob.meet(meetId);
    expect(view.state).toBe("ringing");
    const ring = view.rings.find((r) => r.party.id === bob.agent.id);
    expect(ring?.status).toBe("ringing");
    expect(ring!.deadline - view.created_at).toBe(120_000);

    const agent = cli("widget-bob-answers", "bob@demo.test", ["--join", meetId, "--play", agentWav, "--record", bobHeard]);
    await agent.waitForEvent("accepted", (e) => e.meet_id === meetId);
    await agent.waitForEvent("connected", (e) => e.meet_id === meetId);

    await expect(meet).toHaveAttribute("data-phase", "connected");
    await expect(page.getByTestId("md-meet-status")).toHaveText("Connected");
    const duration = page.getByTestId("md-duration");
    await expect(duration).toHaveText(/^\d\d:\d\d$/);
    const first = await duration.innerText();
    await expect.poll(() => duration.innerText(), { message: "the duration ticks" }).not.toBe(first);

    // Agent → customer: Bob's 660 Hz reaches the page (and keeps coming, 1.5 s); the customer
    // does not hear herself.
    await expectHears(page, AGENT_HZ);
    const heard = await sampleTone(page, AGENT_HZ, 15, 100);
    expect(heard.filter((r) => r?.detected).length, "660 Hz in ≥ 80 % of 15 windows").toBeGreaterThanOrEqual(12);
    const echo = await sampleTone(page, CUSTOMER_HZ, 5, 100);
    expect(echo.filter((r) => r?.detected).length, "the customer does not hear her own 440 Hz").toBe(0);
    // Customer → agent: Bob's CLI decodes audio from her slot.
    await agent.waitForEvent("first_audio", (e) => e.meet_id === meetId && isCustomer(e));
    // The input level meter moves with the 440 Hz microphone.
    await expect
      .poll(async () => Number(await page.getByTestId("md-level").getAttribute("data-level")), {
        message: "md-level data-level",
      })
      .toBeGreaterThan(0);
    await shot(page, `${n++}-connected`);

    await page.getByTestId("md-mute").click();
    await expect(page.getByTestId("md-mute")).toHaveAttribute("aria-pressed", "true");
    await shot(page, `${n++}-muted`);
    await page.getByTestId("md-mute").click();
    await expect(page.getByTestId("md-mute")).toHaveAttribute("aria-pressed", "false");
    // Heard again after the unmute, so that Bob's recording has sound after the silence.
    await expectHears(page, AGENT_HZ);

    await page.getByTestId("md-hangup").click();
    const ended = await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
    expect(ended.state).toBe("ended");
    await expect(meet).toHaveAttribute("data-phase", "ended");
    await expect(page.getByTestId("md-meet-status")).toHaveText("Meet ended");
    await shot(page, `${n++}-ended`);
    expect(await agent.waitForExit(30_000)).toBe(0);
    await page.getByTestId("md-meet-dismiss").click();
    await expect(meet).toHaveCount(0);

    // Bob's recording holds the page's 440 Hz (per 100 ms window: see interop.spec.ts on drift).
    const report = measureWav(bobHeard, [CUSTOMER_HZ, AGENT_HZ]);
    writeFileSync(join(OUT, "widget-bob-heard.json"), JSON.stringify(report, null, 2));
    expect(report.sounding_windows, JSON.stringify(report)).toBeGreaterThanOrEqual(10);
    expect(report.tones[0]!.window_share, JSON.stringify(report)).toBeGreaterThanOrEqual(0.8);
    expect(report.tones[1]!.window_share, JSON.stringify(report)).toBe(0);
  });

  test("3b. the customer reloads the page mid-meet: the widget offers to rejoin, and the audio comes back", async () => {
    const ivy = demoCustomer(directory, "Ivy Chen"); // assigned to alice, input open
    const { page } = await open(ivy);
    let n = 35;
    await withoutProcessing(page);
    await page.getByTestId("md-meet-button").click();
    await expect(page.getByTestId("md-meet")).toHaveAttribute("data-phase", "ringing");
    await expect.poll(async () => (await alice.chat(ivy.chat_id)).ongoing_meet).not.toBeNull();
    const meetId = (await alice.chat(ivy.chat_id)).ongoing_meet!;
    const agent = cli("widget-alice-answers", "alice@demo.test", ["--join", meetId, "--play", agentWav, "--record", join(OUT, "widget-alice-heard.wav")]);
    await agent.waitForEvent("connected", (e) => e.meet_id === meetId);
    await expect(page.getByTestId("md-meet")).toHaveAttribute("data-phase", "connected");
    await expectHears(page, AGENT_HZ);

    await page.reload();
    await widgetReady(page);
    await expect(page.getByTestId("md-rejoin")).toBeVisible();
    await expect(page.getByTestId("md-meet-button")).toHaveCount(0);
    await shot(page, `${n++}-rejoin-offered`);
    await withoutProcessing(page);
    await page.getByTestId("md-rejoin-button").click();
    await expect(page.getByTestId("md-meet")).toHaveAttribute("data-phase", "connected");
    await expectHears(page, AGENT_HZ);
    await shot(page, `${n++}-rejoined`);
    await page.getByTestId("md-hangup").click();
    await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
  });

  test("4a. an agent calls the online customer, who accepts: audio reaches the page", async () => {
    const mina = demoCustomer(directory, "Mina Park");
    const { page } = await open(mina);
    let n = 40;

    const agent = cli("widget-bob-calls", "bob@demo.test", ["--call-chat", mina.chat_id, "--play", agentWav, "--record", join(scratch, "bob-4a.wav")]);
    const started = await agent.waitForEvent("started");
    expect(started.state, "the customer's widget is connected: she is rung, not sent a link").toBe("ringing");
    const meetId = started.meet_id!;

    const incoming = page.getByTestId("md-incoming");
    await expect(incoming).toBeVisible();
    await expect(incoming).toContainText("Bob Baker is calling");
    await expect(page.getByTestId("md-decline")).toBeVisible();
    await shot(page, `${n++}-incoming`);

    await page.getByTestId("md-accept").click();
    await expect(incoming).toHaveCount(0);
    await agent.waitForEvent("connected", (e) => e.meet_id === meetId);
    await expect(page.getByTestId("md-meet")).toHaveAttribute("data-phase", "connected");
    await expectHears(page, AGENT_HZ);
    await agent.waitForEvent("first_audio", (e) => e.meet_id === meetId && isCustomer(e));
    await shot(page, `${n++}-accepted-connected`);

    await page.getByTestId("md-hangup").click();
    await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
    await expect(page.getByTestId("md-meet")).toHaveAttribute("data-phase", "ended");
  });

  test("4b. the customer declines an agent's call: the agent sees it end, the customer only 'ended' (P3)", async () => {
    const mina = demoCustomer(directory, "Mina Park");
    const { page } = await open(mina);
    let n = 45;

    const agent = cli("widget-bob-calls-declined", "bob@demo.test", ["--call-chat", mina.chat_id, "--play", agentWav, "--record", join(scratch, "bob-4b.wav")]);
    const started = await agent.waitForEvent("started");
    expect(started.state).toBe("ringing");
    const meetId = started.meet_id!;
    const systemBefore = await page.locator('[data-testid="md-message"][data-author="system"]').count();

    await expect(page.getByTestId("md-incoming")).toContainText("Bob Baker is calling");
    await page.getByTestId("md-decline").click();
    const ended = await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
    expect(["ended", "missed"]).toContain(ended.state);
    await expect(page.getByTestId("md-incoming")).toHaveCount(0);
    // The chat's indicator reaches the customer as "Meet ended" (and the check below is not vacuous).
    const system = page.locator('[data-testid="md-message"][data-author="system"]');
    await expect.poll(() => system.count()).toBeGreaterThan(systemBefore);
    await expect(system.last()).toContainText("Meet ended");
    const text = await visibleText(page);
    expect(text).not.toMatch(/declin|missed|no answer|rejected/i);
    await expect(page.getByTestId("md-error")).toHaveCount(0);
    await shot(page, `${n++}-declined-shows-ended`);
  });

  test("4c. a page the customer opens while an agent's call rings rings at once, and answering there stops the first (P3)", async () => {
    const mina = demoCustomer(directory, "Mina Park");
    const first = await open(mina);
    let n = 48;
    const agent = cli("widget-bob-calls-mid-ring", "bob@demo.test", ["--call-chat", mina.chat_id, "--play", agentWav, "--record", join(scratch, "bob-4c.wav")]);
    const started = await agent.waitForEvent("started");
    expect(started.state).toBe("ringing");
    const meetId = started.meet_id!;
    await expect(first.page.getByTestId("md-incoming")).toContainText("Bob Baker is calling");

    // Another tab of the shop, opened mid-ring: its widget's socket opens now, and rings.
    const second = await open(mina);
    await expect(second.page.getByTestId("md-incoming")).toContainText("Bob Baker is calling");
    await shot(second.page, `${n++}-second-page-rings`);
    await withoutProcessing(second.page);
    await second.page.getByTestId("md-accept").click();
    await agent.waitForEvent("connected", (e) => e.meet_id === meetId);
    await expect(second.page.getByTestId("md-meet")).toHaveAttribute("data-phase", "connected");
    await expect(first.page.getByTestId("md-incoming")).toHaveCount(0);
    await expectHears(second.page, AGENT_HZ);
    await second.page.getByTestId("md-hangup").click();
    await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
  });

  test("5. an agent calls an offline customer: the follow-up message's link opens the meet page and the meet", async () => {
    const eva = demoCustomer(directory, "Eva Rossi");
    const chat = await bob.chat(eva.chat_id);
    await expect.poll(async () => (await bob.customer(chat.customer.id)).online, { message: "Eva is offline" }).toBe(false);
    const evaHeard = join(OUT, "widget-bob-heard-link.wav");
    let n = 50;

    const agent = cli("widget-bob-calls-offline", "bob@demo.test", ["--call-chat", eva.chat_id, "--play", agentWav, "--record", evaHeard]);
    const started = await agent.waitForEvent("started");
    expect(started.state, "an offline customer gets a link").toBe("waiting_for_link");
    const meetId = started.meet_id!;

    const { context, page } = await open(eva);
    const link = page.getByTestId("md-message-link");
    await expect(link).toHaveCount(1);
    const href = (await link.getAttribute("href"))!;
    expect(href).toContain(`/m/${meetId}?t=`);
    await expect(link).toHaveAttribute("target", "_blank");
    await shot(page, `${n++}-follow-up-link`);

    const [meetPage] = await Promise.all([context.waitForEvent("page"), link.click()]);
    watch(meetPage);
    await meetPage.waitForLoadState("domcontentloaded");
    await withoutProcessing(meetPage);
    expect(new URL(meetPage.url()).pathname).toBe(`/m/${meetId}`);
    const root = meetPage.getByTestId("md-meet-page");
    await expect(root).toHaveAttribute("data-state", "ready");
    await expect(root).toContainText("Bob Baker would like to talk with you");
    await shot(meetPage, `${n++}-meet-page-ready`);

    await meetPage.getByTestId("md-join").click();
    await expect(meetPage.getByTestId("md-meet")).toHaveAttribute("data-phase", "connected");
    await expect(root).toHaveAttribute("data-state", "in_meet");
    await agent.waitForEvent("connected", (e) => e.meet_id === meetId);
    await agent.waitForEvent("first_audio", (e) => e.meet_id === meetId && isCustomer(e));
    await expectHears(meetPage, AGENT_HZ);
    // 1.5 s of talk both ways (the agent's recording is checked below).
    const heard = await sampleTone(meetPage, AGENT_HZ, 15, 100);
    expect(heard.filter((r) => r?.detected).length, "660 Hz in ≥ 80 % of 15 windows").toBeGreaterThanOrEqual(12);
    await shot(meetPage, `${n++}-meet-page-connected`);

    await meetPage.getByTestId("md-hangup").click();
    await agent.waitForEvent("ended", (e) => e.meet_id === meetId);
    await expect(root).toHaveAttribute("data-state", "ended");
    await shot(meetPage, `${n++}-meet-page-ended`);
    expect(await agent.waitForExit(30_000)).toBe(0);
    const report = measureWav(evaHeard, [CUSTOMER_HZ]);
    writeFileSync(join(OUT, "widget-bob-heard-link.json"), JSON.stringify(report, null, 2));
    expect(report.sounding_windows, JSON.stringify(report)).toBeGreaterThanOrEqual(10);
    expect(report.tones[0]!.window_share, JSON.stringify(report)).toBeGreaterThanOrEqual(0.8);
  });

  test("8. embedded on another company's site (another origin): a new visitor chats, comes back, keeps the conversation", async () => {
    // The shop's own page, on its own origin, with the one script tag pointing at the server.
    const shop = createServer((_, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html><head><title>Another shop</title></head><body><h1>Another shop</h1>
<script src="${url}/widget/meetdesk-widget.js" data-channel="demo" async></script></body></html>`);
    });
    await new Promise<void>((resolve) => shop.listen(0, "127.0.0.1", resolve));
    const shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}/`;
    expect(new URL(shopUrl).origin).not.toBe(new URL(url).origin);
    const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
    contexts.push(context);
    let n = 80;
    try {
      const page = await newPage(context);
      await page.goto(shopUrl);
      await page.getByTestId("md-launcher").click();
      await expect(page.getByTestId("md-panel")).toBeVisible();
      await widgetReady(page);
      const chatId = await page.evaluate(() => [...(window as any).MeetDeskWidget.session.chats.keys()][0] as string);
      expect(chatId).toMatch(/^chat_/);
      // A new visitor's chat has no assignee yet: no Meet button (P2).
      await expect(page.getByTestId("md-meet-button")).toHaveCount(0);

      const hello = `Hello from another site (${Date.now()})`;
      await page.getByTestId("md-composer").fill(hello);
      await page.getByTestId("md-send").click();
      await expect.poll(async () => (await alice.messages(chatId)).some((m) => m.body === hello)).toBe(true);

      // An agent takes the chat and answers: the answer and the Meet button arrive live.
      await alice.assign(chatId, bob.agent.id);
      const answer = `Hi! Bob here (${Date.now()})`;
      await bob.postMessage(chatId, answer);
      await expect(page.getByTestId("md-message").filter({ hasText: answer })).toHaveAttribute("data-author", "agent");
      await expect(page.getByTestId("md-meet-button")).toBeVisible();
      await shot(page, `${n++}-other-origin-chat`);

      // The visitor comes back later: same customer, same chat, the conversation is there.
      await page.reload();
      await widgetReady(page);
      await page.getByTestId("md-launcher").click();
      await expect(page.getByTestId("md-message").filter({ hasText: hello })).toBeVisible();
      await expect(page.getByTestId("md-message").filter({ hasText: answer })).toBeVisible();
      expect(await page.evaluate(() => [...(window as any).MeetDeskWidget.session.chats.keys()])).toEqual([chatId]);
      await shot(page, `${n++}-other-origin-back`);
    } finally {
      await new Promise<void>((resolve) => shop.close(() => resolve()));
    }
  });
});

// =============================================================================================

test.describe("meet links that do not open a meet", () => {
  test.describe.configure({ mode: "serial" });

  let dir: string;
  let server: Proc | undefined;
  let url: string;
  let browser: Browser;
  const clis: Proc[] = [];
  const contexts: BrowserContext[] = [];
  /** Two meets waiting for their link: Leo's (A) and Eva's (B). */
  let a: { meetId: string; link: string; cli: Cli };
  let b: { meetId: string; link: string; cli: Cli };

  test.beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetdesk-widget-links-"));
    const started = await startServer(dir, "widget-links-server");
    server = started.proc;
    url = started.url;
    const directory = await demoDirectory(url);
    browser = await grantedBrowser();
    const call = async (name: string, customerName: string) => {
      const c = demoCustomer(directory, customerName);
      const cli = agentCli(`widget-links-${name}`, url, "bob@demo.test", [
        "--call-chat",
        c.chat_id,
        "--play",
        agentWav,
        "--record",
        join(scratch, `links-${name}.wav`),
      ]);
      clis.push(cli);
      const started = await cli.waitForEvent("started");
      expect(started.state).toBe("waiting_for_link");
      // The link is in the customer's chat (agents never see it): read it as the customer.
      const customer = await CustomerClient.resume(url, c.link);
      const messages = await customer.messages(c.chat_id);
      const link = messages.find((m) => m.meet_id === started.meet_id && m.link)?.link;
      expect(link, `the follow-up message of ${started.meet_id}`).toBeTruthy();
      return { meetId: started.meet_id!, link: link!, cli };
    };
    a = await call("a", "Leo Martin");
    b = await call("b", "Eva Rossi");
  });

  test.afterAll(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
    await server?.stop();
    for (const p of clis.splice(0)) await p.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openLink(href: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
    contexts.push(context);
    const page = await newPage(context);
    await page.goto(href);
    return page;
  }

  async function expectLinkError(page: Page, code: string, human: RegExp, name: string): Promise<void> {
    const root = page.getByTestId("md-meet-page");
    await expect(root).toHaveAttribute("data-state", "error");
    const error = page.getByTestId("md-link-error");
    await expect(error).toHaveAttribute("data-code", code);
    await expect(error).toContainText(human);
    await expect(error.locator("h1, h2, h3")).not.toHaveCount(0);
    await expect(error).not.toContainText(code); // a person reads words, not codes
    await expect(page.getByTestId("md-join")).toHaveCount(0);
    await expectNoStackTrace(page);
    await shot(page, name);
  }

  const token = (link: string) => new URL(link).searchParams.get("t")!;

  test("6a. tampered, wrong meet, unknown meet", async () => {
    // Change one character in the middle of the signature part (base64url: still decodes).
    const [payload, sig] = token(b.link).split(".") as [string, string];
    const i = Math.floor(sig.length / 2);
    const tampered = `${payload}.${sig.slice(0, i)}${sig[i] === "A" ? "B" : "A"}${sig.slice(i + 1)}`;
    await expectLinkError(
      await openLink(`${url}/m/${b.meetId}?t=${tampered}`),
      "link_invalid",
      /does not work|not valid|changed|altered/i,
      "60-link-tampered",
    );
    await expectLinkError(
      await openLink(`${url}/m/${b.meetId}?t=${token(a.link)}`),
      "link_wrong_meet",
      /another|different|other/i,
      "61-link-wrong-meet",
    );
    // A meet that does not exist: a link correctly signed for it (with the server's own key;
    // another meet's token in this path would be `link_wrong_meet`, checked above).
    const claims = JSON.parse(Buffer.from(token(a.link).split(".")[0]!, "base64url").toString()) as {
      c: string;
      e: number;
    };
    const ghost = signMeetToken(linkSigningKey(join(dir, "meetdesk.db")), { m: "meet_doesnotexist", c: claims.c, e: claims.e });
    await expectLinkError(
      await openLink(`${url}/m/meet_doesnotexist?t=${ghost}`),
      "not_found",
      /find|found|exist/i,
      "62-link-unknown-meet",
    );
  });

  test("6b. a link already used (opened and joined elsewhere)", async () => {
    const first = await openLink(a.link);
    await expect(first.getByTestId("md-meet-page")).toHaveAttribute("data-state", "ready");
    await first.getByTestId("md-join").click();
    await expect(first.getByTestId("md-meet-page")).toHaveAttribute("data-state", "in_meet");
    await a.cli.waitForEvent("connected", (e) => e.meet_id === a.meetId);

    await expectLinkError(await openLink(a.link), "link_used", /already/i, "63-link-used");

    await first.getByTestId("md-hangup").click();
    await a.cli.waitForEvent("ended", (e) => e.meet_id === a.meetId);
  });

  test("6c. an expired link (the server restarted 11 minutes later; links last 10)", async () => {
    // The server first, so that Bob's CLI cannot hang up the meet on its way out.
    await server!.stop();
    await b.cli.stop();
    const restarted = await startServer(dir, "widget-links-server-later", {
      env: { MEETDESK_TEST_TIME_OFFSET_MS: String(11 * 60_000) },
    });
    server = restarted.proc;
    url = restarted.url;
    const later = new URL(b.link);
    const moved = `${url}${later.pathname}${later.search}`;
    await expectLinkError(await openLink(moved), "link_expired", /expired/i, "64-link-expired");
  });
});

// =============================================================================================

test.describe("microphone denied (P7)", () => {
  let dir: string;
  let server: Proc | undefined;
  let bobCli: Cli | undefined;
  let denied: Browser | undefined;

  test.beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meetdesk-widget-mic-"));
  });

  test.afterAll(async () => {
    await denied?.close();
    await bobCli?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("7. pressing Meet with the microphone blocked shows Chrome's steps and starts nothing", async () => {
    const started = await startServer(dir, "widget-mic-server");
    server = started.proc;
    const url = started.url;
    const mina = demoCustomer(await demoDirectory(url), "Mina Park");
    const bob = await AgentClient.signIn(url, "bob@demo.test");
    bobCli = agentCli("widget-mic-bob", url, "bob@demo.test", [
      "--answer",
      "never",
      "--play",
      agentWav,
      "--record",
      join(scratch, "mic-bob.wav"),
    ]);
    await bobCli.waitForEvent("signed_in");

    denied = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(customerWav, "denied") });
    const { page } = await openCustomer(denied, mina);
    await page.getByTestId("md-meet-button").click();

    const help = page.getByTestId("md-mic-help");
    await expect(help).toBeVisible();
    await expect(help).toHaveAttribute("data-browser", "chrome");
    await expect(help).toHaveAttribute("data-problem", "denied");
    await expect(help.locator("li").filter({ hasText: "Site settings" })).not.toHaveCount(0);
    await expect(page.getByTestId("md-mic-retry")).toBeVisible();
    await expectNoStackTrace(page);
    await shot(page, "70-mic-denied-help");

    // Nothing started on the server: no meet in the chat, no ring for Bob.
    expect((await bob.chat(mina.chat_id)).ongoing_meet).toBeNull();
    await expect(page.getByTestId("md-meet")).toHaveCount(0);

    // Retrying while still blocked says the same, and still starts nothing.
    await page.getByTestId("md-mic-retry").click();
    await expect(help).toHaveAttribute("data-problem", "denied");
    expect((await bob.chat(mina.chat_id)).ongoing_meet).toBeNull();
    expect(bobCli.events().filter((e) => e.event === "ring")).toEqual([]);
    await shot(page, "71-mic-denied-after-retry");
  });
});
