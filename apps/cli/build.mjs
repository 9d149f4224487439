// Bundles the `taskhistory` binary into dist/bin.js (ESM, node builtins external) so that it
// starts fast: one file to load instead of hundreds of modules. Rarely used code (the HTTP
// client, Redis) sits in lazily loaded chunks under dist/chunks/.
import { rmSync } from "node:fs"
import { build } from "esbuild"

rmSync("dist/chunks", { recursive: true, force: true })

await build({
  entryPoints: { bin: "src/bin.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __thCreateRequire } from "node:module";',
      "const require = __thCreateRequire(import.meta.url);"
    ].join("\n")
  }
})
