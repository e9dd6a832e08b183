// @ts-check
// What the desktop end-to-end tests share: their environment (set by run.sh), child processes
// with their logs in test-output/desktop/, the real server and tauri-driver on free ports of
// 127.0.0.1, and screenshots of the virtual display. Each test file runs in its own Node
// process (node --test), so the list of children is per file.
import { spawn, execFile } from "node:child_process";
import readline from "node:readline";
import { promisify } from "node:util";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";

export const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, "../..");
export const OUT = path.join(ROOT, "test-output/desktop");

/** An environment variable run.sh sets. */
export function need(/** @type {string} */ name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run tests/desktop/run.sh)`);
  return v;
}

/** @type {import("node:child_process").ChildProcess[]} */
export const children = [];

export async function freePort() {
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

/**
 * JSON over the HTTP API at `base`, as `token` (a bearer token, or null), `body` sent unless
 * undefined or null: `{status, json}`
 * (json: null for an empty or non-JSON body).
 * @param {string} base @param {string} method @param {string} p @param {string | null} token @param {unknown} [body]
 */
export async function apiCall(base, method, p, token, body) {
  const none = body === undefined || body === null;
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(none ? {} : { "content-type": "application/json" }) },
    body: none ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json };
}

/** Starts a process with its output in test-output/desktop/NAME.log. */
export async function start(/** @type {string} */ name, /** @type {string} */ cmd, /** @type {string[]} */ args) {
  const log = await fs.open(path.join(OUT, `${name}.log`), "w");
  const child = spawn(cmd, args, { stdio: ["ignore", log.fd, log.fd] });
  child.on("exit", () => void log.close().catch(() => {}));
  children.push(child);
  return child;
}

/** Polls `url` until it answers 200 (or the process exits). */
export async function ready(/** @type {string} */ url, /** @type {import("node:child_process").ChildProcess} */ child) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited (${child.exitCode}) while starting`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `meetdesk-server --demo` on a temp SQLite file in `work`, then tauri-driver in front of
 * Debian's WebKitWebDriver; `prefix` names their logs. Returns their base URLs.
 */
export async function startServerAndDriver(/** @type {string} */ work, /** @type {string} */ prefix = "") {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await start(`${prefix}server`, need("MEETDESK_SERVER_BIN"), [
    "--listen", `127.0.0.1:${port}`, "--database", `sqlite://${work}/x.db?mode=rwc`, "--demo",
  ]);
  await ready(`${base}/healthz`, server);
  const driver = await startDriver(`${prefix}tauri-driver`);
  return { base, driver };
}

/** tauri-driver in front of Debian's WebKitWebDriver, on free ports; returns its URL. */
export async function startDriver(/** @type {string} */ name) {
  const dport = await freePort();
  const nport = await freePort();
  const td = await start(name, need("TAURI_DRIVER"), [
    "--port", String(dport), "--native-port", String(nport), "--native-driver", "/usr/bin/WebKitWebDriver",
  ]);
  const driver = `http://127.0.0.1:${dport}`;
  await ready(`${driver}/status`, td);
  return driver;
}

/**
 * `meetdesk-server --demo` on `work`'s SQLite file, on `port` (0: a free one). Started again
 * with the same `work` and port it is the same server after a restart (same data, same URL);
 * `name` names its log.
 */
export async function startServer(/** @type {string} */ work, /** @type {string} */ name, /** @type {number} */ port = 0) {
  const p = port || (await freePort());
  const base = `http://127.0.0.1:${p}`;
  const server = await start(name, need("MEETDESK_SERVER_BIN"), [
    "--listen", `127.0.0.1:${p}`, "--database", `sqlite://${work}/x.db?mode=rwc`, "--demo",
  ]);
  await ready(`${base}/healthz`, server);
  return { base, port: p, server };
}

/** Stops a server `startServer` started (SIGTERM), waiting until it has exited. */
export async function stopServer(/** @type {import("node:child_process").ChildProcess} */ server) {
  if (server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  children.splice(children.indexOf(server), 1);
}

/** Stops every child still running, last started first. */
export async function stopChildren() {
  for (const c of [...children].reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
}

/**
 * A PNG of the virtual display (ImageMagick's `import`): WebKitWebDriver's screenshot command
 * was seen to stall once the chat pane scrolls.
 */
export async function shot(/** @type {string} */ name) {
  await run("import", ["-window", "root", path.join(OUT, `${name}.png`)]);
}

/**
 * A 48 kHz mono 16-bit WAV of `hz` in bursts (300 ms on, 200 ms off): speech-like enough that
 * the app's noise suppression lets them through.
 */
export async function writeTone(/** @type {string} */ file, /** @type {number} */ hz, /** @type {number} */ seconds) {
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

/**
 * `meetdesk-cli ARGS` (MEETDESK_CLI_BIN) with its JSON lines collected (and logged to NAME.log).
 * @param {string} name @param {string[]} args
 */
export async function cli(name, args) {
  const log = await fs.open(path.join(OUT, `${name}.log`), "w");
  const child = spawn(need("MEETDESK_CLI_BIN"), args, {
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
          throw new Error(`the CLI exited (${child.exitCode}) before ${what}; lines: ${JSON.stringify(lines)}`);
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
export async function waitText(/** @type {import("./webdriver.mjs").Session} */ s, /** @type {string} */ css, /** @type {(t: string) => boolean} */ pred) {
  return s.waitUntil(`${css} text`, async () => {
    const el = await s.find(css);
    if (el === null) return null;
    const t = await s.text(el).catch(() => null);
    return t !== null && pred(t) ? t : null;
  });
}

/** Waits until nothing matches `css`. */
export async function waitGone(/** @type {import("./webdriver.mjs").Session} */ s, /** @type {string} */ css) {
  await s.waitUntil(`${css} gone`, async () => (await s.find(css)) === null);
}

/**
 * Signs the app in (the sign-in form), unless a saved session already shows the inbox; then
 * waits until the event socket is online.
 * @param {import("./webdriver.mjs").Session} s @param {string} base @param {string} email @param {string} password
 */
export async function signInApp(s, base, email, password) {
  const first = await s.waitUntil("the sign-in form or the inbox", async () =>
    (await s.find("#sign-in-form")) !== null ? "form" : (await s.find("#chat-list, #no-chats")) !== null ? "inbox" : null,
  );
  if (first === "form") {
    await s.type(await s.waitFor("#server"), base);
    await s.type(await s.waitFor("#email"), email);
    await s.type(await s.waitFor("#password"), password);
    await s.click(await s.waitFor("#sign-in"));
  }
  await s.waitFor("#connection.online");
}

/** Signs out (leaving the keyring as the next test file expects: empty) and closes the app. */
export async function signOutAndClose(/** @type {import("./webdriver.mjs").Session} */ app) {
  const signOut = await app.find("#sign-out").catch(() => null);
  if (signOut) {
    // A DOM click: a dialog left open over the top bar, or the window closed to the tray, must
    // not leave the session in the keyring for the next file.
    await app.cmd("POST", "/execute/sync", { script: "document.querySelector('#sign-out').click()", args: [] }).catch(() => {});
    await app.waitFor("#sign-in-form", 10_000).catch(() => {});
  }
  await app.close().catch(() => {});
}

/** Leaves a meet a failed test left on the app, so that each test starts with none. */
export async function idle(/** @type {import("./webdriver.mjs").Session} */ s) {
  const hangup = await s.find('[data-testid="md-call-hangup"]');
  if (hangup) await s.click(hangup).catch(() => {});
  await waitGone(s, '[data-testid="md-call"]');
}
