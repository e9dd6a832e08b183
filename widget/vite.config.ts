// Library build: one ES module (`dist/meetdesk.js`) the server serves at /widget/meetdesk.js,
// plus an IIFE (`dist/meetdesk.iife.js`, global `MeetDesk`) for a plain <script> tag. Files in
// public/ (the interop page) are copied to dist/ as they are.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    target: "es2022",
    sourcemap: true,
    lib: {
      entry: "src/index.ts",
      name: "MeetDesk",
      formats: ["es", "iife"],
      fileName: (format) => (format === "es" ? "meetdesk.js" : `meetdesk.${format}.js`),
    },
  },
});
