// The exporter against a distant API (issue 14), as whole processes against the simulator's
// binary in its own process:
//  1. latency: a first export (`taskhistory-exporter run --once` into a fresh SQLite file) of
//     --records executions with every answer delayed by --latency ms, against a sequential
//     page-by-page read of the same listing (fetch + JSON.parse, one request after the other: the
//     baseline, in the same script). Target: <= 0.25x the baseline's time. The client's budget is
//     --latency-budget (default: none that binds, 100000/1s) and the simulator enforces none; the
//     table says how many requests the run made (the default budget is 1,000 per 10 minutes).
//  2. budget: the same export when the budget is the limit (simulator and client at --budget,
//     default 40/4s, no latency): wall time of the run against the theoretical minimum
//     floor((requests - 1) / N) * W, and 429s. Target: <= 1.03, zero 429s.
// Rounds alternate baseline and exporter; the table gives each round and the spread.
// Usage: node bench/latency.mjs [--records 100000] [--latency 300] [--rounds 3]
//                               [--baseline-rounds 1] [--budget 40/4s] [--budget-records 16000]
//                               [--latency-budget 100000/1s] [--only latency|budget]
//        (after pnpm build; writes bench/RESULTS-latency.md)
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const RECORDS = Number(flag("records", "100000"))
const LATENCY = Number(flag("latency", "300"))
const ROUNDS = Number(flag("rounds", "3"))
const BASELINE_ROUNDS = Number(flag("baseline-rounds", "1"))
const BUDGET = flag("budget", "40/4s")
const BUDGET_RECORDS = Number(flag("budget-records", "16000"))
const LATENCY_BUDGET = flag("latency-budget", "100000/1s")
const SIM = join(dirname(require.resolve("@taskhistory/simulator/package.json")), "dist", "bin.js")
const EXPORTER = join(dirname(require.resolve("@taskhistory/exporter/package.json")), "dist", "bin.js")
const dir = mkdtempSync(join(tmpdir(), "taskhistory-bench-latency-"))
const loads = []

/** Starts the simulator's binary; resolves with its env and a stats/reset/stop handle. */
const startSim = (extra) =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SIM, "--port", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    p.stdout.on("data", (b) => {
      out += b
      const env = Object.fromEntries([...out.matchAll(/export (\w+)=(\S+)/g)].map((m) => [m[1], m[2]]))
      if (env.PARAGON_API_KEY !== undefined && env.PARAGON_BASE_URL !== undefined && env.PARAGON_PROJECT_ID) {
        p.stdout.removeAllListeners("data")
        const admin = (path, method = "GET") =>
          fetch(`${env.PARAGON_BASE_URL}/__admin/${path}`, { method }).then((r) => r.json())
        resolve({
          env,
          stats: () => admin("stats"),
          reset: () => admin("reset", "POST"),
          stop: () => p.kill("SIGTERM")
        })
      }
    })
    p.stderr.on("data", () => {})
    p.once("exit", (code) => reject(new Error(`simulator exited with ${code}`)))
  })

/** Runs a child process to its end: wall time (ms) and exit code. */
const timed = (cmd, env) =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const p = spawn(process.execPath, cmd, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    p.stdout.on("data", (b) => {
      stdout += b
    })
    p.stderr.on("data", (b) => {
      stderr = (stderr + b).slice(-20_000)
    })
    p.once("close", (code) => {
      loads.push(loadavg()[0])
      resolve({ ms: performance.now() - t0, code, stdout, stderr })
    })
  })

const sequential = `
const base = process.env.PARAGON_BASE_URL + "/projects/" + process.env.PARAGON_PROJECT_ID + "/task-history/workflow-executions"
const headers = { Authorization: "Bearer " + process.env.PARAGON_API_KEY }
let offset = 0, n = 0
for (;;) {
  const res = await fetch(base + "?offset=" + offset, { headers })
  if (!res.ok) throw new Error("HTTP " + res.status)
  const page = JSON.parse(await res.text())
  const records = page.data ?? page.workflowExecutions
  n += records.length
  if (records.length === 0 || page.nextLink == null) break
  offset += records.length
}
console.log(n)
`

const exporterRun = (sim, rateLimit) => {
  const db = join(dir, `export-${Date.now()}-${Math.random().toString(36).slice(2)}.db`)
  return timed([EXPORTER, "run", "--once", "--sink", `sqlite:${db}`], {
    ...sim.env,
    PARAGON_RATE_LIMIT: rateLimit
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const spread = (xs) => `${(Math.min(...xs) / 1000).toFixed(1)}-${(Math.max(...xs) / 1000).toFixed(1)} s`

const lines = []
const log = (line) => {
  console.log(line)
  lines.push(line)
}

const ONLY = flag("only", "all")
try {
  // 1. latency
  if (ONLY === "all" || ONLY === "latency") {
    const sim = await startSim(["--records", String(RECORDS), "--latency", String(LATENCY)])
    const base = []
    const exp = []
    for (let round = 0; round < Math.max(ROUNDS, BASELINE_ROUNDS); round++) {
      if (round < BASELINE_ROUNDS) {
        await sim.reset()
        const r = await timed(["--input-type=module", "-e", sequential], sim.env)
        if (r.code !== 0 || Number(r.stdout.trim()) !== RECORDS)
          throw new Error(`baseline: ${r.code} ${r.stdout} ${r.stderr}`)
        const s = await sim.stats()
        base.push({ ms: r.ms, requests: s.requests, rateLimited: s.rateLimited })
        console.error(
          `round ${round + 1}: sequential read ${(r.ms / 1000).toFixed(1)} s, ${s.requests} requests`
        )
      }
      if (round < ROUNDS) {
        // A fresh budget window for each run: the simulator's limiter is reset with its counters.
        await sim.reset()
        const r = await exporterRun(sim, LATENCY_BUDGET)
        if (r.code !== 0) throw new Error(`exporter exited ${r.code}: ${r.stderr}`)
        const s = await sim.stats()
        exp.push({ ms: r.ms, requests: s.requests, rateLimited: s.rateLimited, maxInFlight: s.maxInFlight })
        console.error(
          `round ${round + 1}: exporter ${(r.ms / 1000).toFixed(1)} s, ${s.requests} requests, ${s.rateLimited} x 429, at most ${s.maxInFlight} in flight`
        )
      }
    }
    sim.stop()
    const b = median(base.map((r) => r.ms))
    const e = median(exp.map((r) => r.ms))
    log(`### Export at ${LATENCY} ms per request, ${RECORDS} executions (client budget ${LATENCY_BUDGET})`)
    log("")
    log("| run | wall (median) | spread | requests | 429s | at most in flight | ratio |")
    log("|---|---:|---:|---:|---:|---:|---:|")
    log(
      `| sequential page-by-page read (baseline, ${base.length} round${base.length === 1 ? "" : "s"}) | ${(b / 1000).toFixed(1)} s | ${spread(base.map((r) => r.ms))} | ${base[0].requests} | ${base.map((r) => r.rateLimited).join(", ")} | 1 | 1.00x |`
    )
    log(
      `| \`taskhistory-exporter run --once\` into SQLite (${exp.length} rounds, start-up included) | ${(e / 1000).toFixed(1)} s | ${spread(exp.map((r) => r.ms))} | ${exp.map((r) => r.requests).join(", ")} | ${exp.map((r) => r.rateLimited).join(", ")} | ${exp.map((r) => r.maxInFlight).join(", ")} | **${(e / b).toFixed(3)}x** (target <= 0.25x) |`
    )
  }

  // 2. budget
  const [n, w] = BUDGET.split("/")
  const windowMs = /^(\d+)s$/.test(w) ? Number(w.slice(0, -1)) * 1000 : Number(w.replace(/ms$/, ""))
  const bsim = await startSim(["--records", String(BUDGET_RECORDS), "--rate-limit", BUDGET])
  const budget = []
  for (let round = 0; round < ROUNDS; round++) {
    // The simulator keeps its sliding window across a reset (same limit): let the previous
    // round's requests leave it first.
    await new Promise((resolve) => setTimeout(resolve, windowMs + 500))
    await bsim.reset()
    const r = await exporterRun(bsim, BUDGET)
    if (r.code !== 0) throw new Error(`exporter exited ${r.code}: ${r.stderr}`)
    const s = await bsim.stats()
    // The run's own duration, from its log ("..., 0 rate limited, 16s 41ms, read through ..."):
    // start-up excluded, as the bound counts requests only.
    const reported = /rate limited, ((?:\d+(?:ms|s|m|h) ?)+), read through/.exec(r.stderr)
    const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
    const ms = reported
      ? [...reported[1].matchAll(/(\d+)(ms|s|m|h)/g)].reduce((sum, [, v, u]) => sum + Number(v) * units[u], 0)
      : r.ms
    const minimum = Math.floor((s.requests - 1) / Number(n)) * windowMs
    budget.push({
      ms,
      requests: s.requests,
      rateLimited: s.rateLimited,
      maxInWindow: s.maxInWindow,
      ratio: ms / minimum
    })
    console.error(
      `budget round ${round + 1}: ${(ms / 1000).toFixed(1)} s for ${s.requests} requests (minimum ${(minimum / 1000).toFixed(1)} s), ${s.rateLimited} x 429`
    )
  }
  bsim.stop()
  log("")
  log(
    `### Export when the budget is the limit (${BUDGET} on both sides, ${BUDGET_RECORDS} executions, no latency)`
  )
  log("")
  log("| round | requests | run time | theoretical minimum | ratio | 429s | max in a window (server) |")
  log("|---|---:|---:|---:|---:|---:|---:|")
  budget.forEach((r, i) => {
    const minimum = Math.floor((r.requests - 1) / Number(n)) * windowMs
    log(
      `| ${i + 1} | ${r.requests} | ${(r.ms / 1000).toFixed(2)} s | ${(minimum / 1000).toFixed(1)} s | ${r.ratio.toFixed(3)} | ${r.rateLimited} | ${r.maxInWindow} |`
    )
  })
  log(`| median | | | | **${median(budget.map((r) => r.ratio)).toFixed(3)}** (target <= 1.03) | | |`)

  writeFileSync(
    join(here, "RESULTS-latency.md"),
    `## latency (\`node bench/latency.mjs\`)

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}; load average (1 min) after each run ${Math.min(...loads).toFixed(0)}-${Math.max(...loads).toFixed(0)}.
The simulator runs as its own process (its binary, \`--latency\` delaying every answer, \`--rate-limit\`
refusing with 429 past the budget); the baseline and the exporter are child processes. The
exporter reads windows of start dates at once (concurrency 8 by default); the sequential baseline
sends one request after the other with \`offset\`. Each exporter run starts from an empty SQLite file
and a reset simulator.

${lines.join("\n")}
`
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
}
