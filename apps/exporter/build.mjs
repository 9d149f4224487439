// Builds the published `taskhistory-exporter` binary, as apps/cli/build.mjs builds `taskhistory`:
//   dist/main.cjs   the whole exporter bundled by esbuild (one script, node builtins external;
//                   scripts/lib/bundle.mjs)
//   dist/vendor/    large dependencies only some commands load (the HTTP client's undici, the
//                   Redis limiter's ioredis, Postgres' pg, the report's chart library and DOM,
//                   the Parquet writer), each in its own file, required on first use
//   dist/bin.js     a tiny loader: sets the heap flags below, then compiles main.cjs through a V8
//                   code cache when it has one
// Parsing and compiling ~3 MB of JavaScript was most of `taskhistory-exporter --help` (5.5x
// `node -e 0`). A code cache is only accepted by the V8 build that wrote it, so none is shipped:
// the loader writes one on the first run, per user, Node version and build, under
// $XDG_CACHE_HOME/taskhistory (default ~/.cache/taskhistory; TASKHISTORY_CACHE_DIR elsewhere,
// TASKHISTORY_CODE_CACHE=0 for none), and uses it from the second run on. A cache that cannot be
// read or written costs only the compile. Modules the code reaches by `import()` (the sinks, the
// report, the Redis limiter, the HTTP client) are bundled as lazily initialised parts of
// main.cjs: a command runs only the code it needs.
//
// better-sqlite3, a native addon, is this package's one dependency, loaded at run time. pg is
// plain JavaScript and is vendored; its optional native binding (pg-native) is never loaded.
import { readFileSync, rmSync } from "node:fs"
import { build } from "esbuild"
import { bundleBinary } from "../../scripts/lib/bundle.mjs"
import { writeLoader } from "../../scripts/lib/loader.mjs"

const pkg = JSON.parse(readFileSync("package.json", "utf8"))

rmSync("dist/bin.js.map", { force: true })

await bundleBinary(build, {
  binary: "taskhistory-exporter",
  // The HTTP client needs only undici's Agent module (`undici/lib/dispatcher/agent.js`), not its
  // index (fetch, WebSocket, ...): both names are vendored, each to its own file.
  vendored: [
    "undici",
    "undici/lib/dispatcher/agent.js",
    "ioredis",
    "@observablehq/plot",
    "linkedom",
    "pg",
    "pg-cursor",
    "hyparquet-writer"
  ],
  external: ["better-sqlite3", "pg-native"]
})

writeLoader({ cachePrefix: "exporter", version: pkg.version })
