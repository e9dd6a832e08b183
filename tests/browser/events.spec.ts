// The widget's event socket resumes with `?after=<last seq>`: an event written while the
// socket was down arrives once, replayed by the server, when it reconnects (and one seen
// before the drop is not handed over again). Playwright routes
// the page's WebSockets so the test decides when the socket drops and when it may come back.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, expect, test, type Browser, type WebSocketRoute } from "@playwright/test";

import { OUT, startServer, type Proc } from "./lib/procs";

const CHROMIUM = process.env.MEETDESK_CHROMIUM ?? "/usr/bin/chromium";

test.describe("widget event socket", () => {
  let dir: string;
  let server: Proc | undefined;
  let browser: Browser | undefined;
  let url: string;
  let mina: { name: string; link: string; chat_id: string };
  let bobToken: string;

  test.beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), "meetdesk-browser-events-"));
    const started = await startServer(dir, "server-events");
    server = started.proc;
    url = started.url;
    const directory = (await (await fetch(`${url}/api/demo`)).json()) as {
      customers: { name: string; link: string; chat_id: string }[];
    };
    mina = directory.customers.find((c) => c.name === "Mina Park")!;
    // Bob (the assignee) writes and changes the chat while Mina's socket is down.
    const signIn = await fetch(`${url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "bob@demo.test", password: "demo" }),
    });
    bobToken = ((await signIn.json()) as { token: string }).token;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  });

  /** Mina's test page, its event sockets routed: the first goes through, later ones wait for `open()`. */
  async function minaPage() {
    const page = await browser!.newPage();
    const sockets: { url: string; route: WebSocketRoute }[] = [];
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    await page.routeWebSocket(/\/api\/events/, async (ws) => {
      sockets.push({ url: ws.url(), route: ws });
      if (sockets.length > 1) await gate;
      ws.connectToServer();
    });
    await page.goto(`${url}/widget/interop.html?link=${encodeURIComponent(mina.link)}`);
    await expect(page.locator("#status")).toHaveText("ready");
    await page.evaluate(() => {
      const w = window as any;
      w.seen = [];
      w.states = [];
      w.interop.session.events.on((e: any) => w.seen.push(e));
      w.interop.session.socketState.on((s: string) => w.states.push(s));
    });
    return { page, sockets, open };
  }

  test.afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a message written while the socket was down is replayed once after it reconnects", async () => {
    const { page, sockets, open: openGate } = await minaPage();
    const token = bobToken;
    const post = (body: string) =>
      fetch(`${url}/api/chats/${mina.chat_id}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ body }),
      });
    const count = (body: string) =>
      page.evaluate(
        (body) => (window as any).seen.filter((e: any) => e.type === "message" && e.message.body === body).length,
        body,
      );

    // A first message arrives live: from now on the widget's cursor is that message's seq.
    const before = `Hello Mina (${Date.now()})`;
    expect((await post(before)).status).toBe(200);
    await expect.poll(() => count(before)).toBe(1);

    // Drop the socket (as a network change would); the widget starts reconnecting, held at the gate.
    await sockets[0]!.route.close({ code: 1006, reason: "test: network dropped" });
    await expect.poll(() => page.evaluate(() => (window as any).states.includes("reconnecting"))).toBe(true);
    await expect.poll(() => sockets.length).toBe(2);

    const body = `While you were away (${Date.now()})`;
    expect((await post(body)).status).toBe(200);

    openGate();
    await expect.poll(() => page.evaluate(() => (window as any).states.at(-1))).toBe("open");
    await expect.poll(() => count(body)).toBe(1);

    // The second connection asked to resume after the last event handed over.
    const resumeUrl = new URL(sockets[1]!.url);
    expect(Number(resumeUrl.searchParams.get("after"))).toBeGreaterThan(0);
    expect(new URL(sockets[0]!.url).searchParams.has("after")).toBe(false);
    // …and the message is delivered once, not again later.
    const events = await page.evaluate(() => (window as any).seen);
    const urls = sockets.map((s) => s.url.replace(/token=[^&]+/, "token=…"));
    writeFileSync(join(OUT, "events-resume.json"), JSON.stringify({ sockets: urls, events }, null, 2));
    expect(events.filter((e: any) => e.type === "message" && e.message.body === body)).toHaveLength(1);
    expect(events.filter((e: any) => e.type === "message" && e.message.body === before)).toHaveLength(1);
  });

  test("a socket that dropped before any logged event resumes from its hello's cursor", async () => {
    const { page, sockets, open } = await minaPage();
    const inputOpen = () =>
      page.evaluate((id) => (window as any).interop.session.chats.get(id).input_open as boolean, mina.chat_id);
    expect(await inputOpen()).toBe(true);
    // No logged event yet: the only cursor the widget has is the one its hello carried.
    const cursor: number = await page.evaluate(() => (window as any).interop.session.socket.lastSeq);
    expect(cursor).toBeGreaterThan(0);
    await sockets[0]!.route.close({ code: 1006, reason: "test: network dropped" });
    await expect.poll(() => sockets.length).toBe(2);
    // Bob closes the chat's input window meanwhile (the Meet button's rule, P2, changes).
    const patched = await fetch(`${url}/api/chats/${mina.chat_id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", authorization: `Bearer ${bobToken}` },
      body: JSON.stringify({ input_open: false }),
    });
    expect(patched.status).toBe(200);
    open();
    await expect.poll(() => page.evaluate(() => (window as any).states.at(-1))).toBe("open");
    expect(new URL(sockets[1]!.url).searchParams.get("after")).toBe(String(cursor));
    // The `chat_updated` written while the socket was down is replayed on the new one.
    await expect.poll(inputOpen).toBe(false);
    const replayed = await page.evaluate(
      (id) => (window as any).seen.filter((e: any) => e.type === "chat_updated" && e.chat.id === id).length,
      mina.chat_id,
    );
    expect(replayed).toBe(1);
    const button = await page.evaluate(
      (id) => (window as any).interop.session.chats.get(id).customer_meet_button,
      mina.chat_id,
    );
    expect(button).toEqual({ shown: false, reason: "input_closed" });
    await page.close();
  });
});
