// Builds the published `taskhistory` binary:
//   dist/main.cjs   the whole CLI bundled by esbuild (one script, node builtins external)
//   dist/vendor/    undici, ioredis, pg and the report's chart library and DOM, each in its own
//                   file, required on first use (scripts/lib/bundle.mjs)
//   dist/bin.js     a tiny loader: compiles main.cjs, through a V8 code cache when it has one
// Parsing and compiling ~0.8 MB of JavaScript is most of an Effect CLI's start-up. A code cache
// is only accepted by the V8 build that wrote it, so none is shipped: the loader writes one on the
// first run, per user, Node version and build, under $XDG_CACHE_HOME/taskhistory (default
// ~/.cache/taskhistory; TASKHISTORY_CACHE_DIR elsewhere, TASKHISTORY_CODE_CACHE=0 for none), and
// uses it from the second run on. A cache that cannot be read or written costs only the compile.
import { readFileSync, rmSync } from "node:fs"
import { build } from "esbuild"
import { bundleBinary } from "../../scripts/lib/bundle.mjs"
import { writeLoader } from "../../scripts/lib/loader.mjs"

const pkg = JSON.parse(readFileSync("package.json", "utf8"))

rmSync("dist/chunks", { recursive: true, force: true })
rmSync("dist/main.cache", { force: true })
// tsc's map of bin.ts does not describe the loader written below
rmSync("dist/bin.js.map", { force: true })

await bundleBinary(build, {
  binary: "taskhistory",
  // The HTTP client needs only undici's Agent module (`undici/lib/dispatcher/agent.js`), not its
  // index (fetch, WebSocket, ...): both names are vendored, each to its own file. The report's
  // chart library and its DOM (only `taskhistory report` loads them) are vendored too.
  vendored: [
    "undici",
    "undici/lib/dispatcher/agent.js",
    "ioredis",
    "@observablehq/plot",
    "linkedom",
    "pg",
    "pg-cursor"
  ],
  // better-sqlite3 (for --source sqlite:) is a native addon, an optional dependency loaded at run time.
  external: ["better-sqlite3", "pg-native"],
  define: { __TASKHISTORY_VERSION__: JSON.stringify(pkg.version) }
})

// 4 MB semi-spaces after start-up: a quarter of the scavenges of `list --all` (see the loader)
writeLoader({ cachePrefix: "main", version: pkg.version, semiSpaceMb: 4 })
