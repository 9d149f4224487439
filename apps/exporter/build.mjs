// Builds the published `taskhistory-exporter` binary, as apps/cli/build.mjs builds `taskhistory`:
//   dist/main.cjs   the whole exporter bundled by esbuild (one script, node builtins external)
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
import { writeLoader } from "../../scripts/lib/loader.mjs"

const pkg = JSON.parse(readFileSync("package.json", "utf8"))

rmSync("dist/main.cjs", { force: true })
rmSync("dist/bin.js.map", { force: true })
rmSync("dist/vendor", { recursive: true, force: true })

// The HTTP client needs only undici's Agent module (`undici/lib/dispatcher/agent.js`), not its
// index (fetch, WebSocket, ...): both names are vendored, each to its own file.
const vendored = [
  "undici",
  "undici/lib/dispatcher/agent.js",
  "ioredis",
  "@observablehq/plot",
  "linkedom",
  "pg",
  "pg-cursor",
  "hyparquet-writer"
]
const vendorEntries = new Map()
/** `undici/lib/dispatcher/agent.js` -> `undici-agent.cjs` */
const vendorFile = (name) =>
  `${name
    .replace(/\/lib\/dispatcher\//, "-")
    .replace(/\.js$/, "")
    .replace(/^@/, "")
    .replace(/\//g, "-")}.cjs`
const vendorPlugin = {
  name: "vendor",
  setup(b) {
    const filter = new RegExp(`^(${vendored.map((name) => name.replace(/[./]/g, "\\$&")).join("|")})$`)
    b.onResolve({ filter }, async (args) => {
      if (args.pluginData === "vendor") return undefined
      const resolved = await b.resolve(args.path, {
        resolveDir: args.resolveDir,
        // pg-cursor's ESM entry has only a default export: vendored from it, the CommonJS file's
        // `default` is not the class (`new Cursor()` threw and `--source postgres://` failed).
        // Its CommonJS entry exports the class itself.
        kind: args.path === "pg-cursor" ? "require-call" : args.kind,
        pluginData: "vendor"
      })
      if (resolved.errors.length > 0) return { errors: resolved.errors }
      vendorEntries.set(args.path, resolved.path)
      return { path: `./vendor/${vendorFile(args.path)}`, external: true }
    })
  }
}

// effect's Schema module imports fast-check (for `Arbitrary`) at load: code initialised on every
// start-up for a feature the binary never uses. The bundle gets a stand-in that fails loudly.
const noFastCheck = {
  name: "no-fast-check",
  setup(b) {
    b.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "no-fast-check" }))
    b.onLoad({ filter: /.*/, namespace: "no-fast-check" }, () => ({
      loader: "js",
      contents:
        'module.exports = new Proxy({}, { get(_, name) { if (name === "__esModule") return false; throw new Error("fast-check is not bundled with the taskhistory-exporter binary (wanted: " + String(name) + ")") } })'
    }))
  }
}

const common = {
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "error",
  external: ["better-sqlite3", "pg-native"]
}

await build({
  ...common,
  entryPoints: ["src/bin.ts"],
  outfile: "dist/main.cjs",
  plugins: [vendorPlugin, noFastCheck],
  // The loader compiles the file as one function body (see below).
  banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
  footer: { js: "\n})" }
})
for (const [name, path] of vendorEntries) {
  await build({ ...common, entryPoints: [path], outfile: `dist/vendor/${vendorFile(name)}` })
}

writeLoader({ cachePrefix: "exporter", version: pkg.version })
