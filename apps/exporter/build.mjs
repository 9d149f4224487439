// Bundles the `taskhistory-exporter` binary into one file, dist/bin.js (ESM, platform node), so
// that it starts fast: one file to load instead of hundreds of modules. `tsc -b` still emits the
// library modules and their declarations next to it.
//
// The database drivers stay outside the bundle: better-sqlite3 is a native addon, and pg has
// optional native parts. They are loaded at run time from where pnpm installed them, next to the
// Effect packages that depend on them (@effect/sql-sqlite-node and @effect/sql-pg, both direct
// dependencies of this package), so the binary works from any working directory.
import { chmodSync } from "node:fs"
import { build } from "esbuild"

const drivers = {
  "better-sqlite3": "@effect/sql-sqlite-node",
  pg: "@effect/sql-pg",
  "pg-cursor": "@effect/sql-pg",
  "pg-connection-string": "@effect/sql-pg",
  "pg-native": "@effect/sql-pg"
}

/** @type {import("esbuild").Plugin} */
const externalDrivers = {
  name: "external-drivers",
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(drivers).join("|")})$`)
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: "driver" }))
    b.onLoad({ filter: /.*/, namespace: "driver" }, (args) => ({
      loader: "js",
      contents: `module.exports = require("node:module").createRequire(require.resolve(${JSON.stringify(`${drivers[args.path]}/package.json`)}))(${JSON.stringify(args.path)})`
    }))
  }
}

await build({
  entryPoints: { bin: "src/bin.ts" },
  outdir: "dist",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
  plugins: [externalDrivers],
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __thCreateRequire } from "node:module";',
      'import { setFlagsFromString as __thSetFlags } from "node:v8";',
      "const require = __thCreateRequire(import.meta.url);",
      // A long export allocates briefly-lived pages at a high rate: with V8's defaults the heap
      // grows to several times the live data. Smaller young-generation spaces and a slower
      // old-space growth keep the process near its live size (see bench/RESULTS-export.md).
      // Flags given on the command line or in NODE_OPTIONS win.
      "if (!/--max-semi-space-size|--heap-growing-percent/.test(process.execArgv.join(' ') + ' ' + (process.env.NODE_OPTIONS ?? ''))) __thSetFlags('--max-semi-space-size=4 --heap-growing-percent=50');"
    ].join("\n")
  }
})
chmodSync("dist/bin.js", 0o755)
