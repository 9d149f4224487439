// Benchmark of the alert rules of `taskhistory-exporter run --alerts`, with the built binary:
// a 1M-row SQLite export of the simulator (89 days of start dates), then incremental
// `run --once` runs without and with four alert rules (per-workflow failure rate over 1h,
// per-user failures over 24h, a project-wide failure rate over 1h, per-workflow silence for 6h
// watched over 7 days: ~80k executions read), alternated. Reported: the time the exporter logs
// for evaluating the rules and storing the alert state (after the run), and the ratios of wall
// time and peak RSS of the runs with alerts against those without (the baseline, same script).
// Targets: evaluation <= 1 s, peak RSS growth <= 10%.
//
//   node bench/alerts.mjs [--rows 1000000] [--repeat 5]
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const rows = Number(flag("rows", "1000000"))
const repeat = Number(flag("repeat", "5"))
const EXPORTER = fileURLToPath(new URL("../apps/exporter/dist/bin.js", import.meta.url))
const RSS_HOOK =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.TH_BENCH_RSS_OUT,String(process.resourceUsage().maxRSS)))"
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/** The median and, in parentheses, the smallest and largest of the rounds. */
const spread = (xs, digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`

const dir = mkdtempSync(join(tmpdir(), "taskhistory-bench-alerts-"))
let received = 0
const receiver = createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    received++
    res.end("ok")
  })
})
await new Promise((r) => receiver.listen(0, "127.0.0.1", r))
const hook = `http://127.0.0.1:${receiver.address().port}/hook`

/** A run of the built binary (asynchronous: the simulator answers from this process). */
const bin = (binArgs, env) =>
  new Promise((resolve, reject) => {
    const rssOut = join(dir, `rss-${Date.now()}-${Math.random()}`)
    const t0 = performance.now()
    const p = spawn(process.execPath, ["--import", RSS_HOOK, EXPORTER, ...binArgs], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env, TH_BENCH_RSS_OUT: rssOut }
    })
    let stderr = ""
    p.stdout.resume()
    p.stderr.on("data", (b) => (stderr += b))
    p.on("close", (code) => {
      const ms = performance.now() - t0
      if (code !== 0) return reject(new Error(`${binArgs.join(" ")} exited ${code}: ${stderr}`))
      resolve({ ms, maxRssMb: Number(readFileSync(rssOut, "utf8")) / 1024, stderr })
    })
  })

const loadBefore = load()
const { startSimulator } = await import("@taskhistory/simulator")
const sim = await startSimulator({ records: rows, seed: 9, span: 89 })
const env = {
  PARAGON_BASE_URL: sim.url,
  PARAGON_PROJECT_ID: sim.projectId,
  PARAGON_API_KEY: sim.apiKey,
  PARAGON_RATE_LIMIT: "1000000/1s",
  BENCH_HOOK: hook
}
const db = join(dir, "export.db")
const sink = ["--sink", `sqlite:${db}`]
const t0 = performance.now()
await bin(["run", "--once", ...sink], env)
const exportMs = performance.now() - t0

const rules = join(dir, "alerts.yml")
writeFileSync(
  rules,
  `webhooks:
  - name: ops
    urlEnv: BENCH_HOOK
rules:
  - name: workflow-failure-rate
    by: workflow
    failureRate: 0.2
    window: 1h
    minExecutions: 3
    notify: [ops]
  - name: user-failures
    by: user
    failures: 3
    window: 24h
    notify: [ops]
  - name: project-failure-rate
    by: all
    failureRate: 0.1
    window: 1h
    notify: [ops]
  - name: workflow-silent
    by: workflow
    silentFor: 6h
    window: 7d
    notify: [ops]
`
)

const base = []
const withAlerts = []
const evaluation = []
let read = 0
for (let i = 0; i < repeat; i++) {
  base.push(await bin(["run", "--once", "--verbose", ...sink], env))
  const run = await bin(["run", "--once", "--verbose", ...sink, "--alerts", rules], env)
  const m = /evaluated over (\d+) executions(?: \(counted in the sink\))? and stored in (\d+) ms/.exec(
    run.stderr
  )
  if (m === null) throw new Error(`no evaluation line in:\n${run.stderr.slice(-2000)}`)
  read = Number(m[1])
  evaluation.push(Number(m[2]))
  withAlerts.push(run)
}
const loadAfter = load()
await sim.close()
receiver.close()
rmSync(dir, { recursive: true, force: true })

const evalMs = median(evaluation)
// Ratios of each round's pair (alternated runs), then their median and spread.
const rssRatios = withAlerts.map((r, i) => r.maxRssMb / base[i].maxRssMb)
const msRatios = withAlerts.map((r, i) => r.ms / base[i].ms)
const rssRatio = median(rssRatios)
const lines = [
  "# Alert rules after a run (`bench/alerts.mjs`)",
  "",
  `A ${rows.toLocaleString("en")}-row SQLite export of the simulator (89 days; first export ${(exportMs / 1000).toFixed(0)} s), then`,
  `incremental \`run --once\` without and with \`--alerts\` (4 rules: per-workflow failure rate 1h, per-user failures 24h,`,
  `project failure rate 1h, per-workflow silence 6h watched over 7 days), alternated, ${repeat} rounds: median (min–max).`,
  `Load average before ${loadBefore}, after ${loadAfter} (2 cores, shared).`,
  "",
  "| measure | without alerts (baseline) | with alerts | ratio | target |",
  "| --- | --- | --- | --- | --- |",
  `| rules evaluated over the export and state stored (exporter's log) | — | ${spread(evaluation)} ms (${read.toLocaleString("en")} executions counted) | — | <= 1 s: ${evalMs <= 1000 ? "met" : "NOT met"} |`,
  `| wall time of the run (start-up included) | ${spread(base.map((r) => r.ms))} ms | ${spread(withAlerts.map((r) => r.ms))} ms | ${spread(msRatios, 2)}x | — |`,
  `| peak RSS of the run | ${spread(base.map((r) => r.maxRssMb))} MB | ${spread(withAlerts.map((r) => r.maxRssMb))} MB | ${spread(rssRatios, 2)}x | <= 1.10x: ${rssRatio <= 1.1 ? "met" : "NOT met"} |`,
  "",
  `Webhook requests received: ${received} (the first run with alerts fires; later ones repeat nothing).`,
  ""
]
const text = lines.join("\n")
console.log(text)
// Notes kept by hand below the marker (a comparison with an older build) stay in the file.
const results = join(here, "RESULTS-alerts.md")
const MARKER = "<!-- kept:"
const previous = existsSync(results) ? readFileSync(results, "utf8") : ""
const kept = previous.includes(MARKER) ? previous.slice(previous.indexOf(MARKER)) : ""
writeFileSync(results, kept === "" ? text : `${text}\n${kept}`)
