// Builds the published `taskhistory` binary:
//   dist/main.cjs   the whole CLI bundled by esbuild (one script, node builtins external)
//   dist/vendor/    undici and ioredis, each in its own file, required on first use
//   dist/bin.js     a tiny loader: compiles main.cjs, through a V8 code cache when it has one
// Parsing and compiling ~0.8 MB of JavaScript is most of an Effect CLI's start-up. A code cache
// is only accepted by the V8 build that wrote it, so none is shipped: the loader writes one on the
// first run, per user, Node version and build, under $XDG_CACHE_HOME/taskhistory (default
// ~/.cache/taskhistory; TASKHISTORY_CACHE_DIR elsewhere, TASKHISTORY_CODE_CACHE=0 for none), and
// uses it from the second run on. A cache that cannot be read or written costs only the compile.
import { readFileSync, rmSync } from "node:fs"
import { build } from "esbuild"
import { writeLoader } from "../../scripts/lib/loader.mjs"

const pkg = JSON.parse(readFileSync("package.json", "utf8"))

rmSync("dist/chunks", { recursive: true, force: true })
rmSync("dist/main.cache", { force: true })
// tsc's map of bin.ts does not describe the loader written below
rmSync("dist/bin.js.map", { force: true })

// Large plain-CommonJS dependencies that only some commands need (the HTTP client's undici,
// the Redis limiter's ioredis) go to their own files under dist/vendor/, required on first use,
// so that the main script, its code cache, and `--help` stay small. They do not import Effect,
// so nothing is duplicated.
// The HTTP client needs only undici's Agent module (`undici/lib/dispatcher/agent.js`), not its
// index (fetch, WebSocket, ...): both names are vendored, each to its own file.
// The report's chart library and its DOM (only `taskhistory report` loads them) are vendored too.
const vendored = [
  "undici",
  "undici/lib/dispatcher/agent.js",
  "ioredis",
  "@observablehq/plot",
  "linkedom",
  "pg",
  "pg-cursor"
]
const vendorEntries = new Map()
/** `undici/lib/dispatcher/agent.js` -> `undici-agent.cjs` */
const vendorFile = (name) =>
  `${name
    .replace(/\/lib\/dispatcher\//, "-")
    .replace(/\.js$/, "")
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

// effect's Schema module imports fast-check (for `Arbitrary`, property-based test data) at load:
// ~55 kB of code initialised on every start-up for a feature the binary never uses. The bundle
// gets a stand-in that fails loudly if it ever is used.
const noFastCheck = {
  name: "no-fast-check",
  setup(b) {
    b.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "no-fast-check" }))
    b.onLoad({ filter: /.*/, namespace: "no-fast-check" }, () => ({
      loader: "js",
      contents:
        'module.exports = new Proxy({}, { get(_, name) { if (name === "__esModule") return false; throw new Error("fast-check is not bundled with the taskhistory binary (wanted: " + String(name) + ")") } })'
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
  // better-sqlite3 (for --source sqlite:) is a native addon, an optional dependency loaded at run time.
  external: ["better-sqlite3", "pg-native"]
}

rmSync("dist/vendor", { recursive: true, force: true })
await build({
  ...common,
  entryPoints: ["src/bin.ts"],
  outfile: "dist/main.cjs",
  plugins: [vendorPlugin, noFastCheck],
  define: { __TASKHISTORY_VERSION__: JSON.stringify(pkg.version) },
  // The loader compiles the file as one function body (see below).
  banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
  footer: { js: "\n})" }
})
for (const [name, path] of vendorEntries) {
  await build({ ...common, entryPoints: [path], outfile: `dist/vendor/${vendorFile(name)}` })
}

// 4 MB semi-spaces after start-up: a quarter of the scavenges of `list --all` (see the loader)
writeLoader({ cachePrefix: "main", version: pkg.version, semiSpaceMb: 4 })
