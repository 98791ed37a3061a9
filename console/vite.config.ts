import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The edge serves each built file by an exact route, so the build is a flat,
// hashed set of files under dist/ and the app routes by URL hash.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
