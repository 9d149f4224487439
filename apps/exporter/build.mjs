// Bundles the `taskhistory-exporter` binary into one file, dist/bin.js (ESM, platform node), so
// that it starts fast: one file to load instead of hundreds of modules. `tsc -b` still emits the
// library modules and their declarations next to it.
//
// Everything is bundled but better-sqlite3, a native addon: it is this package's one dependency,
// loaded at run time (`require` below resolves from the installed bin.js). pg is plain JavaScript
// and is bundled; its optional native binding (pg-native) is loaded only if asked for, and never is.
import { chmodSync } from "node:fs"
import { build } from "esbuild"

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
  external: ["better-sqlite3", "pg-native"],
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __thCreateRequire } from "node:module";',
      'import { setFlagsFromString as __thSetFlags } from "node:v8";',
      "const require = __thCreateRequire(import.meta.url);",
      // A long export allocates briefly-lived pages at a high rate: with V8's defaults the heap
      // grows to several times the live data (see bench/RESULTS-export.md). Set here, before
      // anything else runs:
      // - the old generation grows by 50% of the live data between full collections (not up to 4x);
      // - the young generation keeps the size it has now (1 MB semi-spaces) instead of growing to
      //   16 MB ones: `--max-semi-space-size` only counts when the heap is created, but the growth
      //   factor is read at each growth;
      // - WebAssembly stays on V8's baseline compiler: optimizing undici's HTTP parser (one large
      //   function) takes ~30 MB of compiler memory for a moment, the peak of a short export.
      // Peak RSS for 100k-1M executions into SQLite: ~101 MB, flat (was 128-156 MB with 4 MB
      // semi-spaces requested at run time, which V8 ignores). Flags given on the command line or
      // in NODE_OPTIONS win, each on its own.
      "{ const given = process.execArgv.join(' ') + ' ' + (process.env.NODE_OPTIONS ?? ''); const flags = [];",
      " if (!given.includes('--heap-growing-percent')) flags.push('--heap-growing-percent=50');",
      " if (!/--(max|min)-semi-space-size|--semi-space-growth-factor/.test(given)) flags.push('--semi-space-growth-factor=1');",
      " if (!/liftoff|wasm-tier|wasm-dynamic-tiering/.test(given)) flags.push('--liftoff-only');",
      " if (flags.length > 0) __thSetFlags(flags.join(' ')); }"
    ].join("\n")
  }
})
chmodSync("dist/bin.js", 0o755)
