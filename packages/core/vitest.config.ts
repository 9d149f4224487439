import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // The simulator depends on the core, so the core cannot depend on it in package.json (a
    // workspace cycle): its tests import the simulator's source instead.
    alias: {
      "@taskhistory/simulator": fileURLToPath(new URL("../simulator/src/index.ts", import.meta.url))
    }
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
