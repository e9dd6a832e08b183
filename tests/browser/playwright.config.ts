// Browser tests: real headless Chromium (Debian's /usr/bin/chromium, launched by each test
// with its own fake-microphone file), the real meetdesk-server and meetdesk-cli binaries.
// Artefacts (screenshots, logs, SDP, recordings) go to test-output/browser/.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  outputDir: "../../test-output/browser/playwright",
  // Real-time audio on a 2-core machine: one test at a time.
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [["list"], ["junit", { outputFile: "../../test-output/browser/junit.xml" }]],
  forbidOnly: !!process.env.CI,
});
