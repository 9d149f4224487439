// Step executions within the budget: an export with `--steps failed` at a scaled rate limit
// (N requests per sliding window W, enforced by the simulator with 429s, and the same limit on
// the client), against a list-only export of the same data in the same script.
//
//   node bench/steps.mjs                  (N=100, W=10s, 2,000 executions: about 30 s)
//   STEPS_N=50 STEPS_W_MS=5000 STEPS_RECORDS=3000 node bench/steps.mjs
//
// The theoretical minimum for R requests when at most N fit in any window W is
// floor((R - 1) / N) * W: the first N go at once, every further N wait one window. Prints, for
// each run, wall time / that minimum, the server's 429s, and the largest share of a window that
// step requests took while list requests were still arriving (the budget gate: --steps-budget).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeHttpClient } from "@effect/platform-node"
import { RateLimiter, TaskHistoryClient, TaskHistoryConfig } from "@taskhistory/core"
import * as Exporter from "@taskhistory/export/Exporter"
import * as SqliteSink from "@taskhistory/export/SqliteSink"
import { startSimulator } from "@taskhistory/simulator"
import { Duration, Effect, Layer, Logger, LogLevel } from "effect"

const N = Number(process.env.STEPS_N ?? 100)
const W = Number(process.env.STEPS_W_MS ?? 10_000)
const RECORDS = Number(process.env.STEPS_RECORDS ?? 2000)
const SEED = Number(process.env.STEPS_SEED ?? 3)
const SHARE = Number(process.env.STEPS_BUDGET ?? 0.5)
const rate = `${N}/${W}ms`
const here = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "taskhistory-bench-steps-"))

const minimum = (requests) => Math.max(1, Math.floor((requests - 1) / N) * W)

const exportOnce = async (sim, path, options) => {
  const client = TaskHistoryClient.layer.pipe(
    Layer.provideMerge(RateLimiter.layerFromConfig),
    Layer.provideMerge(
      TaskHistoryConfig.layer({
        apiKey: sim.apiKey,
        projectId: sim.projectId,
        baseUrl: sim.url,
        rateLimit: rate,
        retry: { base: Duration.millis(50), cap: Duration.seconds(20), maxRetries: 20 }
      }).pipe(Layer.orDie)
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const before = sim.stats()
  const arrivalsBefore = sim.arrivals().length
  const t0 = performance.now()
  const report = await Effect.runPromise(
    Exporter.run(options).pipe(
      Effect.provide(Layer.merge(client, SqliteSink.layer({ path }))),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  )
  // The run's own duration (the report's), from its start to its last commit: the layers'
  // set-up and teardown (opening the database, closing the limiter) are not the budget's.
  const wall = performance.now() - t0
  const ms = report.durationMs
  const after = sim.stats()
  const arrivals = sim
    .arrivals()
    .slice(arrivalsBefore)
    .filter((a) => a.status !== 429)
  const lastList = Math.max(...arrivals.filter((a) => a.route === "list").map((a) => a.at))
  const steps = arrivals.filter((a) => a.route === "get" || a.route === "step").map((a) => a.at)
  let maxShare = 0
  for (const t of steps) {
    if (t > lastList) continue
    maxShare = Math.max(maxShare, steps.filter((s) => s > t - W && s <= t).length)
  }
  const requests = after.accepted - before.accepted
  return {
    ms,
    wall,
    requests,
    stepRequests: report.steps?.requests ?? 0,
    rateLimited: after.rateLimited - before.rateLimited,
    ratio: ms / minimum(requests),
    maxShare,
    report
  }
}

const sim = await startSimulator({ records: RECORDS, seed: SEED, span: 30, rateLimit: rate })
const failed = sim.dataset().filter((r) => r.status === "FAILED").length
const pct = (100 * failed) / RECORDS
console.error(`${RECORDS} executions, ${failed} failed (${pct.toFixed(1)}%), budget ${N} per ${W / 1000} s`)

const base = await exportOnce(sim, join(dir, "lists.db"), {})
// The limiter's window is per process: let the server's window empty before the next run.
await new Promise((r) => setTimeout(r, W + 200))
const withSteps = await exportOnce(sim, join(dir, "steps.db"), { steps: "failed", stepsBudget: SHARE })
await sim.close()
rmSync(dir, { recursive: true, force: true })

const line = (name, r) =>
  `| ${name} | ${r.requests} | ${r.stepRequests} | ${(r.ms / 1000).toFixed(1)} s | ${(minimum(r.requests) / 1000).toFixed(0)} s | ${r.requests <= N ? "(one window: no wait)" : `${r.ratio.toFixed(3)}x`} | ${r.rateLimited} | ${r.stepRequests === 0 ? "-" : `${r.maxShare} of ${Math.floor(SHARE * N)}`} |`
const table = [
  "| run | requests | of them steps | wall | theoretical minimum | wall / minimum | 429s | most step requests in a window while lists were read |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
  line("lists only (baseline)", base),
  line("--steps failed", withSteps)
].join("\n")
console.log(table)
console.log(
  `steps: ${withSteps.report.steps.executions} executions, ${withSteps.report.steps.rows} rows, backlog ${withSteps.report.steps.backlog}; wall / minimum ${withSteps.ratio.toFixed(3)}x (lists only: ${(base.ms / 1000).toFixed(1)} s for ${base.requests} requests)`
)

writeFileSync(
  join(here, "RESULTS-steps.md"),
  `## steps (\`node bench/steps.mjs\`)

Step executions within the budget (issue 16): an export of ${RECORDS} executions (${failed} failed,
${pct.toFixed(1)}%) into SQLite with \`--steps failed\`, at a scaled budget of ${N} requests per
${W / 1000} s enforced by the simulator (429 beyond) and configured on the client, against a
list-only export of the same data. The theoretical minimum for R requests is
floor((R - 1) / N) x W. Target: list pages plus step fetches within 1.05x of it, zero 429s, and
step requests never above \`--steps-budget\` (${SHARE}) of a window while list requests arrive.

${table}

Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (2 cores shared with other
helpers' builds and tests).
`
)
