// The bundle of a published binary (apps/cli, apps/exporter), built by esbuild:
//   dist/main.cjs   the whole program in one script (node builtins external), wrapped as one
//                   function body for the loader (scripts/lib/loader.mjs) to compile
//   dist/vendor/    large plain-CommonJS dependencies that only some commands need (the HTTP
//                   client's undici, the Redis limiter's ioredis, Postgres' pg, ...), each in its own
//                   file, required on first use, so that the main script, its code cache and
//                   `--help` stay small. They do not import Effect, so nothing is duplicated.
// esbuild is each app's own dev dependency: the app passes its `build`.
import { rmSync } from "node:fs"

/** `undici/lib/dispatcher/agent.js` -> `undici-agent.cjs`, `@observablehq/plot` -> `observablehq-plot.cjs` */
const vendorFile = (name) =>
  `${name
    .replace(/\/lib\/dispatcher\//, "-")
    .replace(/\.js$/, "")
    .replace(/^@/, "")
    .replace(/\//g, "-")}.cjs`

/** Resolves each of `vendored` (exact module names) to its own file under dist/vendor/. */
const vendorPlugin = (vendored, entries) => ({
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
      entries.set(args.path, resolved.path)
      return { path: `./vendor/${vendorFile(args.path)}`, external: true }
    })
  }
})

// effect's Schema module imports fast-check (for `Arbitrary`, property-based test data) at load:
// ~55 kB of code initialised on every start-up for a feature the binaries never use. The bundle
// gets a stand-in that fails loudly if it ever is used.
const noFastCheck = (binary) => ({
  name: "no-fast-check",
  setup(b) {
    b.onResolve({ filter: /^fast-check$/ }, () => ({ path: "fast-check", namespace: "no-fast-check" }))
    b.onLoad({ filter: /.*/, namespace: "no-fast-check" }, () => ({
      loader: "js",
      contents: `module.exports = new Proxy({}, { get(_, name) { if (name === "__esModule") return false; throw new Error(${JSON.stringify(`fast-check is not bundled with the ${binary} binary (wanted: `)} + String(name) + ")") } })`
    }))
  }
})

/**
 * Bundles `src/bin.ts` of the current directory into dist/main.cjs and dist/vendor/.
 * `external`: modules loaded at run time (native addons); `define`: esbuild's.
 */
export const bundleBinary = async (build, { binary, vendored, external = [], define }) => {
  rmSync("dist/main.cjs", { force: true })
  rmSync("dist/vendor", { recursive: true, force: true })
  const common = {
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "error",
    external
  }
  const entries = new Map()
  await build({
    ...common,
    entryPoints: ["src/bin.ts"],
    outfile: "dist/main.cjs",
    plugins: [vendorPlugin(vendored, entries), noFastCheck(binary)],
    ...(define === undefined ? {} : { define }),
    // The loader compiles the file as one function body.
    banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
    footer: { js: "\n})" }
  })
  for (const [name, path] of entries) {
    await build({ ...common, entryPoints: [path], outfile: `dist/vendor/${vendorFile(name)}` })
  }
}
