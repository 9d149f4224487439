// Builds the published `taskhistory` binary:
//   dist/main.cjs   the whole CLI bundled by esbuild (one script, node builtins external)
//   dist/main.cache V8 code cache of that script, produced by running `--help` once
//   dist/bin.js     a tiny loader: compiles main.cjs with the code cache when V8 accepts it
// Parsing and compiling ~1 MB of JavaScript is most of an Effect CLI's start-up; with the cache
// `taskhistory --help` skips most of it. A rejected cache (another Node version) only costs the
// normal compile.
import { execFileSync } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { build } from "esbuild"

const pkg = JSON.parse(readFileSync("package.json", "utf8"))

rmSync("dist/chunks", { recursive: true, force: true })
rmSync("dist/main.cache", { force: true })
// tsc's map of bin.ts does not describe the loader written below
rmSync("dist/bin.js.map", { force: true })

await build({
  entryPoints: ["src/bin.ts"],
  outfile: "dist/main.cjs",
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "error",
  define: { __TASKHISTORY_VERSION__: JSON.stringify(pkg.version) }
})

const loader = `#!/usr/bin/env node
// Loads main.cjs through a V8 code cache (see build.mjs in the source repository).
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { Script } from "node:vm"

const file = new URL("./main.cjs", import.meta.url).pathname
const cacheFile = new URL("./main.cache", import.meta.url).pathname
const source = readFileSync(file, "utf8")
const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
const script = new Script(
  "(function (exports, require, module, __filename, __dirname) {" + source + "\\n})",
  { filename: file, ...(cachedData === undefined ? {} : { cachedData }) }
)
if (process.env.TASKHISTORY_WRITE_CODE_CACHE === "1") {
  process.once("exit", () => writeFileSync(cacheFile, script.createCachedData()))
}
const module = { exports: {} }
script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, new URL(".", import.meta.url).pathname)
`
writeFileSync("dist/bin.js", loader, { mode: 0o755 })

// Warm the cache with the command people run first.
execFileSync(process.execPath, ["dist/bin.js", "--help"], {
  env: { ...process.env, TASKHISTORY_WRITE_CODE_CACHE: "1", NO_COLOR: "1" },
  stdio: ["ignore", "ignore", "inherit"]
})
