// @ts-check
// The desktop app's footprint beside an empty Tauri window and Chromium `--app` showing the same
// UI (ui/dist), measured in one run on this machine (issue 5; docs/benchmarks.md). Run by
// scripts/bench-desktop.sh inside tests/desktop/run.sh's environment (Xvfb, a private D-Bus
// session with gnome-keyring, private PulseAudio), release binaries.
//
// - memory: PSS summed over the process tree (the app and its WebKit processes), from
//   /proc/PID/smaps_rollup, after a settle period;
// - CPU: user + system ticks of the tree over a window, as % of one core;
// - launch → inbox: from asking tauri-driver for a session to the inbox's chat list being in
//   the page (the app starts signed in from the keyring); the empty window's launch → page
//   through the same driver is given as the driver's own share.
// A bench, not a test: the settle periods are plain waits.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { cli, need, OUT, signInApp, signOutAndClose, startServerAndDriver, stopChildren, waitText, writeTone, children } from "../harness.mjs";
import { Session } from "../webdriver.mjs";

const DESKTOP_BIN = need("MEETDESK_DESKTOP_BIN");
const EMPTY_BIN = need("MEETDESK_EMPTY_WINDOW_BIN");
const CHROMIUM = process.env.MEETDESK_CHROMIUM ?? "/usr/bin/chromium";
const SETTLE_MS = Number(process.env.MEETDESK_BENCH_SETTLE_MS ?? 15_000);
const CPU_WINDOW_MS = Number(process.env.MEETDESK_BENCH_CPU_MS ?? 30_000);
const LAUNCHES = Number(process.env.MEETDESK_BENCH_LAUNCHES ?? 5);
const TICKS = 100; // USER_HZ on Linux

const wait = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** Every process's parent, from /proc. */
async function parents() {
  /** @type {Map<number, number>} */
  const out = new Map();
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, "utf8").catch(() => null);
    if (stat === null) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(Number(name), Number(fields[1]));
  }
  return out;
}

/** `root` and all its descendants. */
async function tree(/** @type {number} */ root) {
  const ppid = await parents();
  const pids = [root];
  for (let i = 0; i < pids.length; i++) {
    for (const [pid, parent] of ppid) if (parent === pids[i]) pids.push(pid);
  }
  return pids;
}

/** The newest process whose executable is `exe`. */
async function newest(/** @type {string} */ exe) {
  const real = await fs.realpath(exe);
  let best = { pid: 0, start: -1 };
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const target = await fs.readlink(`/proc/${name}/exe`).catch(() => null);
    if (target !== real) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    if (start > best.start) best = { pid: Number(name), start };
  }
  if (best.pid === 0) throw new Error(`no process runs ${exe}`);
  return best.pid;
}

/** PSS in MiB summed over `root`'s tree, with the processes' names. */
async function pss(/** @type {number} */ root) {
  let kib = 0;
  const names = [];
  for (const pid of await tree(root)) {
    const rollup = await fs.readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
    const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
    if (!m) continue;
    kib += Number(m[1]);
    const name = (await fs.readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
    names.push(`${name} ${round(Number(m[1]) / 1024)}`);
  }
  return { mib: kib / 1024, processes: names };
}

/** With MEETDESK_BENCH_SMAPS=1: the tree's PSS by mapping (file, or [heap]/[anon]), largest first, to OUT/NAME-smaps.txt. */
async function smaps(/** @type {number} */ root, /** @type {string} */ name) {
  if (!process.env.MEETDESK_BENCH_SMAPS) return;
  const lines = [];
  for (const pid of await tree(root)) {
    const text = await fs.readFile(`/proc/${pid}/smaps`, "utf8").catch(() => "");
    const comm = (await fs.readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
    /** @type {Map<string, number>} */
    const by = new Map();
    let cur = "";
    for (const line of text.split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) cur = head[1] || "[anon]";
      const m = /^Pss:\s+(\d+) kB/.exec(line);
      if (m) by.set(cur, (by.get(cur) ?? 0) + Number(m[1]));
    }
    for (const [k, v] of by) lines.push([v, `${comm}\t${(v / 1024).toFixed(1)}\t${k}`]);
  }
  lines.sort((a, b) => Number(b[0]) - Number(a[0]));
  await fs.writeFile(path.join(OUT, `${name}-smaps.txt`), lines.slice(0, 60).map((l) => l[1]).join("\n") + "\n");
}

/** CPU ticks (user + system) summed over `root`'s tree. */
async function ticks(/** @type {number} */ root) {
  let sum = 0;
  for (const pid of await tree(root)) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
    if (stat === null) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    sum += Number(f[11]) + Number(f[12]);
  }
  return sum;
}

/** % of one core used by `root`'s tree over `ms`. */
async function cpu(/** @type {number} */ root, /** @type {number} */ ms) {
  const t0 = await ticks(root);
  const start = Date.now();
  await wait(ms);
  const t1 = await ticks(root);
  return ((t1 - t0) / TICKS / ((Date.now() - start) / 1000)) * 100;
}

/** Serves ui/dist on 127.0.0.1 for Chromium. */
async function serveUi() {
  const dist = path.resolve(import.meta.dirname, "../../../ui/dist");
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
  const server = http.createServer(async (req, res) => {
    const rel = new URL(req.url ?? "/", "http://x").pathname;
    const file = path.join(dist, rel === "/" ? "index.html" : path.normalize(rel));
    if (!file.startsWith(dist)) return void res.writeHead(404).end();
    const body = await fs.readFile(file).catch(() => null);
    if (body === null) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[/** @type {keyof types} */ (path.extname(file))] ?? "application/octet-stream" });
    res.end(body);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", () => r(undefined)));
  const addr = server.address();
  return { server, url: `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/` };
}

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (/** @type {number} */ x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main() {
  await fs.mkdir(OUT, { recursive: true });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-bench-footprint-"));
  const { base, driver } = await startServerAndDriver(work, "bench-");
  /** @type {Record<string, any>} */
  const result = { machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, mem_gib: round(os.totalmem() / 2 ** 30) } };

  // 1. The empty Tauri window.
  {
    const t0 = performance.now();
    const s = await Session.start(driver, EMPTY_BIN);
    await s.waitUntil("the empty page", async () => ((await s.cmd("POST", "/execute/sync", { script: "return document.readyState", args: [] })) === "complete" ? true : null));
    const launch = performance.now() - t0;
    await wait(SETTLE_MS);
    const pid = await newest(EMPTY_BIN);
    const p = await pss(pid);
    await smaps(pid, "empty-window");
    result.empty_window = { launch_ms: round(launch, 0), idle_pss_mib: round(p.mib), processes: p.processes, idle_cpu_pct: round(await cpu(pid, CPU_WINDOW_MS), 2) };
    await s.close();
  }

  // 2. The app, signed in, idle in the inbox.
  const app = await Session.start(driver, DESKTOP_BIN);
  await signInApp(app, base, "bob@demo.test", "demo");
  await app.waitFor("#chat-list");
  await wait(SETTLE_MS);
  let pid = await newest(DESKTOP_BIN);
  const idle = await pss(pid);
  await smaps(pid, "app");
  result.app = { idle_pss_mib: round(idle.mib), processes: idle.processes, idle_cpu_pct: round(await cpu(pid, CPU_WINDOW_MS), 2) };

  // 3. In a meet: a customer presses Meet, bob accepts; tones both ways.
  const directory = await (await fetch(`${base}/api/demo`)).json();
  const mina = directory.customers.find((/** @type {any} */ c) => c.name === "Mina Park");
  const tone = path.join(work, "tone.wav");
  await writeTone(tone, 440, 4);
  let feeding = true;
  const feed = () => {
    if (!feeding) return;
    const p = spawn("paplay", ["-d", "meetdesk_mic_feed", tone], { stdio: "ignore" });
    p.on("exit", feed);
  };
  feed();
  const customer = await cli("bench-customer", ["customer", "--server", base, "--link", mina.link, "--start-meet", "--play", tone]);
  const started = await customer.line("started", (l) => l.event === "started");
  await app.click(await app.waitFor(`[data-testid="md-ring"][data-meet-id="${started.meet_id}"] [data-testid="md-ring-accept"]`));
  await waitText(app, '[data-testid="md-call-status"]', (t) => t === "Connected");
  await wait(SETTLE_MS / 3);
  result.app.meet_cpu_pct = round(await cpu(pid, CPU_WINDOW_MS), 1);
  result.app.meet_pss_mib = round((await pss(pid)).mib);
  feeding = false;
  await app.click(await app.waitFor('[data-testid="md-call-hangup"]'));
  await customer.line("ended", (l) => l.event === "ended");
  customer.child.kill("SIGTERM");

  // 4. Launch → inbox, starting signed in from the keyring (the session stays saved).
  await app.close();
  const launches = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const t0 = performance.now();
    const s = await Session.start(driver, DESKTOP_BIN);
    await s.waitFor("#chat-list", 60_000);
    launches.push(performance.now() - t0);
    if (i < LAUNCHES - 1) await s.close();
    else {
      pid = await newest(DESKTOP_BIN);
      await signOutAndClose(s);
    }
  }
  result.app.launch_to_inbox_ms = { median: round(median(launches), 0), runs: launches.map((x) => round(x, 0)) };

  // 5. Chromium --app on the same UI (served over HTTP; without the Tauri backend it stays on
  //    its first screen), under the same display: as it starts by default — compositing on
  //    its GPU path, which without a GPU is SwiftShader, as WebKit's is Mesa's llvmpipe here —
  //    and with --disable-gpu (software compositing, no GL at all).
  const { server, url } = await serveUi();
  for (const [key, extra] of /** @type {[string, string[]][]} */ ([["chromium_app", []], ["chromium_app_disable_gpu", ["--disable-gpu"]]])) {
    const profile = await fs.mkdtemp(path.join(os.tmpdir(), "meetdesk-bench-chromium-"));
    const chromium = spawn(CHROMIUM, [
      `--app=${url}`, `--user-data-dir=${profile}`, "--no-sandbox", "--no-first-run", ...extra,
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1000,680",
    ], { stdio: "ignore" });
    children.push(chromium);
    await wait(SETTLE_MS);
    const cpid = /** @type {number} */ (chromium.pid);
    const c = await pss(cpid);
    result[key] = { flags: extra, idle_pss_mib: round(c.mib), processes: c.processes.length, idle_cpu_pct: round(await cpu(cpid, CPU_WINDOW_MS), 2) };
    chromium.kill("SIGTERM");
    await new Promise((r) => chromium.once("exit", r));
    await fs.rm(profile, { recursive: true, force: true });
  }
  server.close();

  // Sizes.
  const size = async (/** @type {string} */ f) => (await fs.stat(f).catch(() => null))?.size ?? null;
  result.sizes = { app_binary_bytes: await size(DESKTOP_BIN), empty_window_binary_bytes: await size(EMPTY_BIN) };
  const debs = await fs.readdir(path.resolve(path.dirname(DESKTOP_BIN), "bundle/deb")).catch(() => []);
  const deb = debs.find((f) => f.endsWith(".deb"));
  if (deb) result.sizes.deb_bytes = await size(path.resolve(path.dirname(DESKTOP_BIN), "bundle/deb", deb));

  result.ratios = {
    app_vs_empty_window: round(result.app.idle_pss_mib / result.empty_window.idle_pss_mib, 2),
    app_vs_chromium_app: round(result.app.idle_pss_mib / result.chromium_app.idle_pss_mib, 2),
    app_vs_chromium_app_disable_gpu: round(result.app.idle_pss_mib / result.chromium_app_disable_gpu.idle_pss_mib, 2),
    empty_window_vs_chromium_app: round(result.empty_window.idle_pss_mib / result.chromium_app.idle_pss_mib, 2),
  };
  await fs.writeFile(path.join(OUT, "footprint.json"), JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result, null, 2));
  await stopChildren();
  await fs.rm(work, { recursive: true, force: true });
}

main().catch(async (e) => {
  console.error(e);
  await stopChildren();
  process.exit(1);
});
