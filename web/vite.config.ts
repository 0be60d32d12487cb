import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The console is built into ../internal/console/dist/app, which the hks
// binary embeds (go:embed). `npm run dev` serves it with hot reload and
// forwards the API to an hks server on 127.0.0.1:8080 (docs/console.md).
const api = process.env.HKS_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../internal/console/dist/app",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // The budget is 250 KB of JavaScript on first load, gzip-compressed as
    // served (make consolebench); Vite's warning counts uncompressed bytes.
    chunkSizeWarningLimit: 800,
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": { target: api, ws: true, changeOrigin: false },
      "/auth": { target: api },
      "/.well-known": { target: api },
      "/ca.crt": { target: api },
    },
  },
});
