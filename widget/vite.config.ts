// Two builds into dist/:
//   `vite build`               the core library: dist/meetdesk.js (ES module) and
//                              dist/meetdesk.iife.js (global `MeetDesk`), plus public/ pages
//   `vite build --mode embed`  the widget a site embeds with one <script> tag:
//                              dist/meetdesk-widget.js (IIFE, Preact UI in a shadow root); the
//                              meet-link page uses the same file with data-page="meet"
import { defineConfig } from "vite";

export default defineConfig(({ mode }) => ({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build:
    mode === "embed"
      ? {
          target: "es2020",
          sourcemap: true,
          emptyOutDir: false,
          copyPublicDir: false,
          lib: { entry: "src/embed.tsx", name: "MeetDeskEmbed", formats: ["iife"], fileName: () => "meetdesk-widget.js" },
        }
      : {
          target: "es2022",
          sourcemap: true,
          lib: {
            entry: "src/index.ts",
            name: "MeetDesk",
            formats: ["es", "iife"],
            fileName: (format) => (format === "es" ? "meetdesk.js" : `meetdesk.${format}.js`),
          },
        },
}));
