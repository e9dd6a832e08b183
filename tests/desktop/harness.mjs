// @ts-check
// What the desktop end-to-end tests share: their environment (set by run.sh), child processes
// with their logs in test-output/desktop/, the real server and tauri-driver on free ports of
// 127.0.0.1, and screenshots of the virtual display. Each test file runs in its own Node
// process (node --test), so the list of children is per file.
import { spawn, execFile } from "node:child_process";
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
  const dport = await freePort();
  const nport = await freePort();
  const td = await start(`${prefix}tauri-driver`, need("TAURI_DRIVER"), [
    "--port", String(dport), "--native-port", String(nport), "--native-driver", "/usr/bin/WebKitWebDriver",
  ]);
  const driver = `http://127.0.0.1:${dport}`;
  await ready(`${driver}/status`, td);
  return { base, driver };
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
