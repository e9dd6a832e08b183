// Page weight of the customer widget (npm run bench:page). Builds nothing: measures the
// widget bundle already built in widget/dist (raw and gzip -9), then loads the server's /demo
// page N times in headless Chromium, each in a fresh browser context (cold cache), and reports
// p50/p95 of:
//   - DOMContentLoaded (ms from navigation start),
//   - widget interactive: ms from navigation start until the widget's launcher
//     (`md-launcher` in the widget's open shadow root) is in the DOM, laid out with a size, and
//     enabled — found by a MutationObserver on every shadow root the page attaches, the moment
//     taken in the next animation frame;
//   - JS transferred: bytes of script resources (Resource Timing `transferSize`).
// Prints a Markdown table and writes test-output/browser/page-weight.json.
import { readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { chromium, test } from "@playwright/test";

import { OUT, ROOT, startServer } from "../lib/procs";

import { CHROMIUM } from "../lib/chromium";
const RUNS = Number(process.env.MEETDESK_BENCH_RUNS ?? 20);
const BUNDLE = join(ROOT, "widget/dist/meetdesk-widget.js");

type Run = {
  domContentLoadedMs: number;
  loadMs: number;
  launcherInteractiveMs: number;
  jsTransferBytes: number;
  jsDecodedBytes: number;
  jsRequests: number;
  requests: number;
};

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

// Runs in the page before its scripts: times the first frame in which md-launcher is usable.
const LAUNCHER_PROBE = () => {
  const w = window as unknown as { __mdLauncherAt?: number };
  let waiting = false;
  const check = (root: ParentNode) => {
    if (w.__mdLauncherAt !== undefined || waiting) return;
    const el = root.querySelector<HTMLElement>('[data-testid="md-launcher"]');
    if (!el) return;
    waiting = true;
    const frame = () => {
      const r = el.getBoundingClientRect();
      const enabled = !(el as HTMLButtonElement).disabled && getComputedStyle(el).visibility !== "hidden";
      if (el.isConnected && r.width > 0 && r.height > 0 && enabled) w.__mdLauncherAt = performance.now();
      else requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  };
  const observe = (root: Document | ShadowRoot) => {
    new MutationObserver(() => check(root)).observe(root, { childList: true, subtree: true, attributes: true });
    check(root);
  };
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init: ShadowRootInit) {
    const root = attach.call(this, init);
    observe(root);
    return root;
  };
  observe(document);
};

test("widget page weight on /demo", async () => {
  mkdirSync(OUT, { recursive: true });
  const raw = readFileSync(BUNDLE);
  const gzip9 = gzipSync(raw, { level: 9 }).length;

  const dir = mkdtempSync(join(tmpdir(), "meetdesk-bench-page-"));
  const { proc: server, url } = await startServer(dir, "bench-page-server");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const runs: Run[] = [];
  try {
    // One warm-up load (server-side caches, Chromium's first process start), not counted.
    for (let i = -1; i < RUNS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.addInitScript(LAUNCHER_PROBE);
      await page.goto(`${url}/demo`, { waitUntil: "load" });
      await page.waitForFunction(() => (window as any).__mdLauncherAt !== undefined, undefined, { timeout: 30_000 });
      const run = await page.evaluate((): Run => {
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        const resources = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
        const js = resources.filter((r) => r.initiatorType === "script" || /\.m?js(\?|$)/.test(r.name));
        return {
          domContentLoadedMs: nav.domContentLoadedEventEnd,
          loadMs: nav.loadEventEnd,
          launcherInteractiveMs: (window as any).__mdLauncherAt as number,
          jsTransferBytes: js.reduce((s, r) => s + r.transferSize, 0),
          jsDecodedBytes: js.reduce((s, r) => s + r.decodedBodySize, 0),
          jsRequests: js.length,
          requests: resources.length + 1,
        };
      });
      if (i >= 0) runs.push(run);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const metric = (key: keyof Run) => {
    const v = runs.map((r) => r[key]);
    return { p50: percentile(v, 50), p95: percentile(v, 95), min: Math.min(...v), max: Math.max(...v) };
  };
  const result = {
    at: new Date().toISOString(),
    runs: RUNS,
    bundle: { file: "widget/dist/meetdesk-widget.js", raw_bytes: raw.length, gzip9_bytes: gzip9 },
    dom_content_loaded_ms: metric("domContentLoadedMs"),
    load_ms: metric("loadMs"),
    launcher_interactive_ms: metric("launcherInteractiveMs"),
    js_transfer_bytes: metric("jsTransferBytes"),
    js_decoded_bytes: metric("jsDecodedBytes"),
    js_requests: metric("jsRequests"),
    samples: runs,
  };
  writeFileSync(join(OUT, "page-weight.json"), JSON.stringify(result, null, 2) + "\n");

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const kb = (x: number) => `${(x / 1024).toFixed(1)} KiB`;
  const row = (name: string, m: ReturnType<typeof metric>, f: (x: number) => string) =>
    `| ${name} | ${f(m.p50)} | ${f(m.p95)} | ${f(m.min)} | ${f(m.max)} |`;
  const table = [
    `Widget page weight (${RUNS} cold loads of /demo, headless Chromium)`,
    "",
    `Bundle widget/dist/meetdesk-widget.js: ${kb(raw.length)} raw, ${kb(gzip9)} gzip -9`,
    "",
    "| metric | p50 | p95 | min | max |",
    "|---|---|---|---|---|",
    row("DOMContentLoaded", result.dom_content_loaded_ms, ms),
    row("load", result.load_ms, ms),
    row("launcher interactive", result.launcher_interactive_ms, ms),
    row("JS transferred", result.js_transfer_bytes, kb),
    row("JS decoded", result.js_decoded_bytes, kb),
    row("JS requests", result.js_requests, (x) => String(x)),
  ].join("\n");
  console.log("\n" + table + "\n");
});
