// `npm run bench:page`: the page-weight benchmark (bench/page-weight.ts), run by Playwright's
// runner (it compiles the TypeScript; Node 20 cannot run .ts by itself). Not part of `npm test`.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "page-weight.ts",
  outputDir: "../../../test-output/browser/bench",
  workers: 1,
  timeout: 300_000,
  reporter: [["list"]],
});
