// Benchmark of what we publish (issue 10), each figure against a baseline measured in the same
// script:
//  1. sizes: packed (.tgz) and unpacked size of every published package; the whole node_modules
//     of `npm i` of the CLI alone and of the exporter alone, against `npm i` of the Effect client
//     with its peers (what a library user installs anyway);
//  2. cold start of the installed `taskhistory --help` (first run, which writes the per-user code
//     cache, and warm runs) vs `node -e 0`, median of interleaved runs (target <= 4x);
//  3. the Promise client's `for await` over 100k records vs the Effect client's
//     `Stream.runForEachChunk` over the same query, each in a child process, against one simulator
//     (reset before each run, order alternated), best of N (target >= 0.95x).
// Usage: node bench/packaging.mjs [--runs N] [--records N] [--rounds N]   (after pnpm build;
// needs the npm registry and compiles better-sqlite3: writes bench/RESULTS-packaging.md)
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSimulator } from "@taskhistory/simulator"
import { pack, publishedPackages } from "../scripts/lib/workspace.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = arg("--runs", 15)
const RECORDS = arg("--records", 100_000)
const ROUNDS = arg("--rounds", 5)
const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? "/usr", NO_COLOR: "1" }
const loadStart = loadavg()[0]

const base = mkdtempSync(join(tmpdir(), "taskhistory bench "))
const kb = (bytes) => `${(bytes / 1024).toFixed(0)} kB`
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const du = (dir) => {
  let total = 0
  let files = 0
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name)
      if (entry.isDirectory()) walk(p)
      else if (entry.isFile()) {
        total += statSync(p).size
        files++
      }
    }
  }
  walk(dir)
  return { bytes: total, files }
}
const npmInstall = (name, args) => {
  const dir = join(base, name)
  mkdirSync(dir)
  writeFileSync(join(dir, "package.json"), `{ "name": "${name.replace(/\W/g, "-")}", "private": true }\n`)
  const t = performance.now()
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...args], {
    cwd: dir,
    env,
    encoding: "utf8"
  })
  if (r.status !== 0) throw new Error(`npm install in ${name} failed: ${r.stderr}`)
  const seconds = (performance.now() - t) / 1000
  const packages = readdirSync(join(dir, "node_modules")).flatMap((n) =>
    n.startsWith("@") ? readdirSync(join(dir, "node_modules", n)) : n.startsWith(".") ? [] : [n]
  ).length
  return { dir, seconds, packages, ...du(join(dir, "node_modules")) }
}

// 1. sizes
const packs = join(base, "packs")
mkdirSync(packs)
const sizes = []
const tarballs = new Map()
for (const pkg of publishedPackages()) {
  const file = pack(pkg, packs)
  tarballs.set(pkg.name, file)
  const listing = spawnSync("tar", ["tzvf", file], { encoding: "utf8" }).stdout.trim().split("\n")
  const unpacked = listing.reduce((sum, line) => sum + Number(line.split(/\s+/)[2] ?? 0), 0)
  sizes.push({ name: pkg.name, packed: statSync(file).size, unpacked, files: listing.length })
}
for (const s of sizes)
  console.log(`${s.name}: packed ${kb(s.packed)}, unpacked ${kb(s.unpacked)} (${s.files} files)`)

const effectPeers = ["effect@^3.22.4", "@effect/platform@^0.97.2"]
const library = npmInstall("core with peers", [tarballs.get("@taskhistory/core"), ...effectPeers])
const cli = npmInstall("cli alone", [tarballs.get("@taskhistory/cli")])
const cliNoOptional = npmInstall("cli alone without optional", [
  "--omit=optional",
  tarballs.get("@taskhistory/cli")
])
const exporter = npmInstall("exporter alone", [tarballs.get("@taskhistory/exporter")])
for (const [name, r] of [
  ["npm i @taskhistory/core effect @effect/platform (baseline)", library],
  ["npm i @taskhistory/cli", cli],
  ["npm i --omit=optional @taskhistory/cli", cliNoOptional],
  ["npm i @taskhistory/exporter", exporter]
]) {
  console.log(
    `${name}: ${mb(r.bytes)} in node_modules, ${r.packages} packages, ${r.seconds.toFixed(0)} s -> ${(r.bytes / library.bytes).toFixed(2)}x the baseline`
  )
}

// 2. cold start of the installed binary
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const bin = join(cliNoOptional.dir, "node_modules", "@taskhistory", "cli", "dist", "bin.js")
const timeRun = (args, extraEnv = {}) => {
  const t = performance.now()
  const r = spawnSync(process.execPath, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...env, ...extraEnv }
  })
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`)
  return performance.now() - t
}
const cacheDir = join(base, "code cache")
const first = []
const warm = []
const node0 = []
timeRun(["-e", "0"])
for (let i = 0; i < RUNS; i++) {
  node0.push(timeRun(["-e", "0"]))
  rmSync(cacheDir, { recursive: true, force: true })
  first.push(timeRun([bin, "--help"], { TASKHISTORY_CACHE_DIR: cacheDir }))
  warm.push(timeRun([bin, "--help"], { TASKHISTORY_CACHE_DIR: cacheDir }))
}
const warmRatio = median(warm) / median(node0)
const firstRatio = median(first) / median(node0)
console.log(
  `cold start (installed): taskhistory --help ${median(warm).toFixed(0)} ms with its code cache, ${median(first).toFixed(0)} ms on the first run (writes the cache); node -e 0 ${median(node0).toFixed(0)} ms -> ${warmRatio.toFixed(2)}x, first run ${firstRatio.toFixed(2)}x (target <= 4x)`
)

// 3. the Promise client vs the Effect client
const sim = await startSimulator({ records: RECORDS, seed: 1 })
const simEnv = {
  ...env,
  PARAGON_BASE_URL: sim.url,
  PARAGON_PROJECT_ID: sim.projectId,
  PARAGON_API_KEY: sim.apiKey,
  PARAGON_RATE_LIMIT: "100000/1s"
}
const effectClient = `
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import { Effect, Layer, Stream } from "effect"
let n = 0
const t = performance.now()
await Effect.runPromise(
  Effect.flatMap(TaskHistoryClient.TaskHistoryClient, (c) =>
    Stream.runForEachChunk(c.executions({}), (chunk) => Effect.sync(() => { for (const e of chunk) if (e.id) n++ }))
  ).pipe(Effect.provide(TaskHistoryClient.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))))
)
console.log(JSON.stringify({ n, ms: performance.now() - t }))
`
const promiseClient = `
import { TaskHistory } from "@taskhistory/client"
const th = new TaskHistory({ apiKey: process.env.PARAGON_API_KEY, projectId: process.env.PARAGON_PROJECT_ID, baseUrl: process.env.PARAGON_BASE_URL, rateLimit: process.env.PARAGON_RATE_LIMIT })
let n = 0
const t = performance.now()
for await (const e of th.executions.list()) if (e.id) n++
console.log(JSON.stringify({ n, ms: performance.now() - t }))
await th.close()
`
const measure = (source) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
      cwd: here,
      env: simEnv,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (b) => (out += b))
    child.stderr.on("data", (b) => (err += b))
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`exited ${code}: ${err}`))
      const r = JSON.parse(out.trim().split("\n").at(-1))
      if (r.n !== RECORDS) return reject(new Error(`read ${r.n} records, expected ${RECORDS}`))
      resolve({ ...r, rate: (r.n / r.ms) * 1000 })
    })
  })
const effectRuns = []
const promiseRuns = []
for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 === 0 ? [effectRuns, promiseRuns] : [promiseRuns, effectRuns]
  for (const into of order) {
    sim.reset()
    into.push(await measure(into === effectRuns ? effectClient : promiseClient))
  }
}
await sim.close()
const best = (xs) => xs.reduce((a, b) => (b.rate > a.rate ? b : a))
const e = best(effectRuns)
const p = best(promiseRuns)
const clientRatio = p.rate / e.rate
console.log(
  `list of ${RECORDS}: Promise client ${Math.round(p.rate)} records/s (${(p.ms / 1000).toFixed(2)} s), Effect client ${Math.round(e.rate)} records/s (${(e.ms / 1000).toFixed(2)} s) -> ${clientRatio.toFixed(2)}x (target >= 0.95x; best of ${ROUNDS})`
)
rmSync(base, { recursive: true, force: true })

const loadEnd = loadavg()[0]
writeFileSync(
  join(here, "RESULTS-packaging.md"),
  `## packaging (\`node bench/packaging.mjs\`)

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}, npm installs from the registry with better-sqlite3 compiled from source; load average ${loadStart.toFixed(1)} at the start, ${loadEnd.toFixed(1)} at the end.

### Package sizes (as \`pnpm pack\` builds them for publishing)

| package | packed | unpacked | files |
|---|---|---|---|
${sizes.map((s) => `| \`${s.name}\` | ${kb(s.packed)} | ${kb(s.unpacked)} | ${s.files} |`).join("\n")}

### \`npm i\` into an empty folder

| install | node_modules | packages | time | vs baseline |
|---|---|---|---|---|
| \`npm i @taskhistory/core effect@^3 @effect/platform@^0.97\` (baseline: the Effect client and its peers) | ${mb(library.bytes)} | ${library.packages} | ${library.seconds.toFixed(0)} s | 1.00x |
| \`npm i @taskhistory/cli\` (with its optional better-sqlite3) | ${mb(cli.bytes)} | ${cli.packages} | ${cli.seconds.toFixed(0)} s | ${(cli.bytes / library.bytes).toFixed(2)}x |
| \`npm i --omit=optional @taskhistory/cli\` | ${mb(cliNoOptional.bytes)} | ${cliNoOptional.packages} | ${cliNoOptional.seconds.toFixed(0)} s | ${(cliNoOptional.bytes / library.bytes).toFixed(2)}x |
| \`npm i @taskhistory/exporter\` | ${mb(exporter.bytes)} | ${exporter.packages} | ${exporter.seconds.toFixed(0)} s | ${(exporter.bytes / library.bytes).toFixed(2)}x |

The binaries are bundles: the CLI installs no package but its optional SQLite driver, the exporter
only better-sqlite3 (and what that driver needs to build or download its binding). Most of their
install time is better-sqlite3's compile on this machine (no prebuilt download here).

### Start-up and the Promise client

| measure | result | baseline | ratio | target |
|---|---|---|---|---|
| installed \`taskhistory --help\`, per-user code cache warm (median of ${RUNS}) | ${median(warm).toFixed(0)} ms | \`node -e 0\` ${median(node0).toFixed(0)} ms | ${warmRatio.toFixed(2)}x | <= 4x |
| installed \`taskhistory --help\`, first run (compiles, writes the cache) | ${median(first).toFixed(0)} ms | \`node -e 0\` ${median(node0).toFixed(0)} ms | ${firstRatio.toFixed(2)}x | |
| \`for await (const e of th.executions.list())\`, ${RECORDS} records (best of ${ROUNDS}) | ${Math.round(p.rate)} records/s | Effect client \`Stream.runForEachChunk\` ${Math.round(e.rate)} records/s | ${clientRatio.toFixed(2)}x | >= 0.95x |

The code cache: V8 accepts a cache only from the build that wrote it, so none is shipped (the
earlier 1.8 MB \`dist/main.cache\` served one Node version); the loader writes one per user, Node
version and build on the first run. The client comparison runs each contender in its own child
process against one in-process simulator with no rate limit (reset before each run, order
alternated); the Promise client pulls one chunk (a page) per Promise from the same core stream.
`
)
