// Benchmark of the `taskhistory` CLI (issue 4), against baselines run in the same script:
//  1. cold start: `taskhistory --help` vs `node -e 0` (median of repeated runs; target <= 4x)
//  2. `executions list --all --format ndjson` of 100k records from the simulator (no rate
//     limit) vs a hand-written reader (fetch + JSON.parse + write to stdout), both in child
//     processes writing to a pipe this script drains: records/s ratio (target >= 0.9x), peak RSS.
// Usage: node bench/cli.mjs [--runs N] [--records N] [--rounds N]   (writes bench/RESULTS-cli.md)
import { spawn, spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSimulator } from "@taskhistory/simulator"

const here = dirname(fileURLToPath(import.meta.url))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = arg("--runs", 15)
const RECORDS = arg("--records", 100_000)
const bin = join(
  dirname(createRequire(import.meta.url).resolve("@taskhistory/cli/package.json")),
  "dist",
  "bin.js"
)

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const timeRun = (args) => {
  const t = performance.now()
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] })
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}`)
  return performance.now() - t
}

// 1. cold start, interleaved so that load on the machine hits both alike
timeRun([bin, "--help"]) // the first run after a build pays the disk cache
const help = []
const node0 = []
for (let i = 0; i < RUNS; i++) {
  node0.push(timeRun(["-e", "0"]))
  help.push(timeRun([bin, "--help"]))
}
const startRatio = median(help) / median(node0)
console.log(
  `cold start: taskhistory --help ${median(help).toFixed(0)} ms, node -e 0 ${median(node0).toFixed(0)} ms (median of ${RUNS}) -> ${startRatio.toFixed(2)}x (target <= 4x)`
)

// 2. streaming throughput
const sim = await startSimulator({ records: RECORDS, seed: 1 })
const env = {
  ...process.env,
  PARAGON_BASE_URL: sim.url,
  PARAGON_PROJECT_ID: sim.projectId,
  PARAGON_API_KEY: sim.apiKey,
  // "No rate limit": a budget far above what the run can use (the default 1000/10m would stop it).
  PARAGON_RATE_LIMIT: "100000/1s",
  NO_COLOR: "1"
}
const rssHook =
  "data:text/javascript,process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('MAXRSS '+u.maxRSS+' CPU '+(u.userCPUTime+u.systemCPUTime)+'\\n')})"

const baseline = `
const base = process.env.PARAGON_BASE_URL + "/projects/" + process.env.PARAGON_PROJECT_ID + "/task-history/workflow-executions"
const headers = { Authorization: "Bearer " + process.env.PARAGON_API_KEY }
const write = (s) => new Promise((r) => (process.stdout.write(s) ? r() : process.stdout.once("drain", r)))
let offset = 0
for (;;) {
  const res = await fetch(base + "?offset=" + offset, { headers })
  if (!res.ok) throw new Error("HTTP " + res.status)
  const page = JSON.parse(await res.text())
  const records = page.data ?? page.workflowExecutions
  if (records.length === 0) break
  let out = ""
  for (const r of records) out += JSON.stringify(r) + "\\n"
  await write(out)
  if (page.nextLink == null) break
  offset += records.length
}
`

// The core alone (no CLI, no formatting: one newline per record): where the time goes when the
// CLI trails the baseline.
const coreOnly = `
import * as TaskHistoryClient from "@taskhistory/core/TaskHistoryClient"
import * as UndiciHttpClient from "@taskhistory/core/UndiciHttpClient"
import { Effect, Layer, Stream } from "effect"
await Effect.runPromise(
  Effect.flatMap(TaskHistoryClient.TaskHistoryClient, (c) =>
    Stream.runForEachChunk(c.executions({}), (chunk) => Effect.sync(() => process.stdout.write("\\n".repeat(chunk.length))))
  ).pipe(Effect.provide(TaskHistoryClient.layerConfig().pipe(Layer.provide(UndiciHttpClient.layer))))
)
`

const measure = (args) =>
  new Promise((resolve, reject) => {
    const t = performance.now()
    const child = spawn(process.execPath, ["--import", rssHook, ...args], {
      env,
      cwd: here,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let lines = 0
    let stderr = ""
    let first
    child.stdout.on("data", (b) => {
      first ??= performance.now()
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++
    })
    child.stderr.on("data", (b) => {
      stderr += b
    })
    child.on("close", (code) => {
      const ms = performance.now() - t
      if (code !== 0) return reject(new Error(`${args.join(" ")} exited ${code}: ${stderr}`))
      const rss = Number(/MAXRSS (\d+)/.exec(stderr)?.[1] ?? Number.NaN) / 1024
      // CPU time of the child (user + system), start-up included: less sensitive than records/s
      // to the other work on a shared machine.
      const cpuMs = Number(/ CPU (\d+)/.exec(stderr)?.[1] ?? Number.NaN) / 1000
      const streaming = performance.now() - (first ?? t)
      resolve({
        ms,
        lines,
        rate: (lines / ms) * 1000,
        firstMs: (first ?? t) - t,
        steady: (lines / streaming) * 1000,
        rss,
        cpuMs
      })
    })
  })

const rounds = arg("--rounds", 5)
const base = []
const cli = []
const core = []
// Each run starts from a fresh simulator state (its counters grow with every request served), and
// the order rotates so that no contender always runs first.
const contenders = [
  [base, ["--input-type=module", "-e", baseline]],
  [cli, [bin, "executions", "list", "--all", "--format", "ndjson", "--quiet"]],
  [core, ["--input-type=module", "-e", coreOnly]]
]
for (let i = 0; i < rounds; i++) {
  for (let j = 0; j < contenders.length; j++) {
    const [into, args] = contenders[(i + j) % contenders.length]
    sim.reset()
    into.push(await measure(args))
  }
}
await sim.close()
for (const r of [...base, ...cli, ...core]) {
  if (r.lines !== RECORDS) throw new Error(`expected ${RECORDS} lines, got ${r.lines}`)
}
const best = (xs) => xs.reduce((a, b) => (b.rate > a.rate ? b : a))
const b = best(base)
const c = best(cli)
const k = best(core)
const rateRatio = c.rate / b.rate
const perPage = (r) => ((r.cpuMs / RECORDS) * 100).toFixed(2)
console.log(
  `list --all --format ndjson, ${RECORDS} records: taskhistory ${Math.round(c.rate)} records/s (${(c.ms / 1000).toFixed(2)} s, peak RSS ${c.rss.toFixed(0)} MB), baseline ${Math.round(b.rate)} records/s (${(b.ms / 1000).toFixed(2)} s, peak RSS ${b.rss.toFixed(0)} MB) -> ${rateRatio.toFixed(2)}x (target >= 0.9x); core alone ${Math.round(k.rate)} records/s (${(k.rate / b.rate).toFixed(2)}x)`
)
console.log(
  `  first record after: taskhistory ${c.firstMs.toFixed(0)} ms, baseline ${b.firstMs.toFixed(0)} ms; from the first record on: taskhistory ${Math.round(c.steady)} records/s, baseline ${Math.round(b.steady)} records/s -> ${(c.steady / b.steady).toFixed(2)}x`
)

writeFileSync(
  join(here, "RESULTS-cli.md"),
  `## cli (\`node bench/cli.mjs\`)

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}, load average at the end ${(await import("node:os")).loadavg()[0].toFixed(1)}.

| measure | taskhistory | baseline | ratio | target |
|---|---|---|---|---|
| cold start, \`--help\` vs \`node -e 0\` (median of ${RUNS}) | ${median(help).toFixed(0)} ms | ${median(node0).toFixed(0)} ms | ${startRatio.toFixed(2)}x | <= 4x |
| \`list --all --format ndjson\`, ${RECORDS} records, no rate limit (best of ${rounds}) | ${Math.round(c.rate)} records/s | ${Math.round(b.rate)} records/s | ${rateRatio.toFixed(2)}x | >= 0.9x |
| first record printed after (start-up, first request) | ${c.firstMs.toFixed(0)} ms | ${b.firstMs.toFixed(0)} ms | | |
| records/s from the first record on | ${Math.round(c.steady)} | ${Math.round(b.steady)} | ${(c.steady / b.steady).toFixed(2)}x | |
| peak RSS of that run | ${c.rss.toFixed(0)} MB | ${b.rss.toFixed(0)} MB | | |
| the core alone (\`client.executions\` drained, no formatting) | ${Math.round(k.rate)} records/s | ${Math.round(b.rate)} records/s | ${(k.rate / b.rate).toFixed(2)}x | |
| CPU time per 100-record page, CLI (best run; start-up included) | ${perPage(c)} ms | ${perPage(b)} ms | ${(c.cpuMs / b.cpuMs).toFixed(2)}x | |
| CPU time per 100-record page, core alone (best run; start-up included) | ${perPage(k)} ms | ${perPage(b)} ms | ${(k.cpuMs / b.cpuMs).toFixed(2)}x | |

The binary is one esbuild bundle (\`dist/main.cjs\`) loaded through the per-user V8 code cache its
loader writes on the first run (warm here: the script runs \`--help\` once first); the baseline reader fetches the pages one after the other,
\`JSON.parse\`s them and writes one line per record. Both run as child processes writing to a
pipe that this script drains, against the same simulator in this process (reset before each run,
order rotated). The "core alone" row drains \`client.executions\` with no formatting or output: when
the CLI matches it but trails the baseline, the gap is in the core client's request pipeline, not
in the CLI. The machine is shared (see the load average): absolute numbers move by 2x between runs.

History: before the work on the core client's CPU per request (commit 50550f4) this table read
0.46x for \`list\` and 0.40x for the core alone (17037 and 14881 records/s against 37039). That
work: one span per request (the platform's \`http.client\` span off), the debug-log pipeline and
the \`offset\` annotation only built when debug logs are kept, the in-memory limiter granting a
free slot without taking its turn, one retry schedule per configuration, and one chunk per page in
\`executions\` instead of an inner stream per page.

Second round (commits 86869f1 to dac0c4e), from 0.65-0.72x to the table above: a lean
\`HttpClient\` (\`@taskhistory/core/UndiciHttpClient\`: undici's \`Agent\` alone, its handler
interface, bodies read whole; the platform's undici client cost about 0.8 ms of CPU per request
more than undici itself); concurrent pages through a window of forked requests instead of
\`Stream.mapEffect({ concurrency })\` (~200 us per page); spans only when a tracer is installed
(each copied the fiber's context); the request timeout kept by the client's own timer instead of
a race of two forked fibers; the retry driver built only after a failure; headers built once per
client; \`CostPlan.firstPage\` so that \`--all\` does not read page 0 twice; a pattern check of
ISO timestamps before \`Date.parse\`; one hash lookup per record in the de-duplication.
`
)
