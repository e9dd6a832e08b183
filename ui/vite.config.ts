import { defineConfig } from "vite";

// Preact's JSX through esbuild (no Babel plugin). The app loads the build from ui/dist
// (tauri.conf.json `frontendDist`); Tauri's WebKit on Linux is Safari-class.
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  clearScreen: false,
  build: { target: "safari15", outDir: "dist", emptyOutDir: true },
});
